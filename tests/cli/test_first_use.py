"""A new user's first runs, through the real CLI: honest defaults, fitting tables, clear errors.

(issue 14: honest PD by default, shared scales, bounded outputs, categorical order, 80 columns,
scorers, hints on the statistical traps, rough edges.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import joblib
import pandas as pd
import pytest

from tests.conftest import ROOT, WINE_TRUST


def run_cli(*args, columns=None, env=None):
    """The real command in a subprocess, as a terminal of ``columns`` columns would run it."""
    full = {k: v for k, v in os.environ.items() if k not in ("INSPECT_WIDTH", "COLUMNS")}
    if columns is not None:
        full["COLUMNS"] = str(columns)
    full.update(env or {})
    cmd = [sys.executable, "-m", "inspectcli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=ROOT, timeout=300)


# --------------------------------------------------------------------------------------------
# 2. honest PD by default


def test_pd_default_is_on_the_model_output_scale(cli, samples, tmp_path):
    base = [samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target", "-f", "bmi"]
    r = cli("pdp", *base, "--json", "--no-plot", "--format", "none", "--grid-resolution", "20")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["parameters"]["method"] == "auto" and doc["parameters"]["method_used"] == ["brute"]
    [entry] = doc["results"]
    assert entry["method"] == "brute" and entry["engine"] == "tree-paths"
    y = pd.read_parquet(samples / "diabetes.parquet")["target"]
    assert y.min() < min(entry["average"]) and max(entry["average"]) < y.max()  # on the target's scale
    assert "notes" not in doc or not any("recursion" in n for n in doc["notes"])


# --------------------------------------------------------------------------------------------
# 6. terminal at 80 columns

NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:e[+-]\d+)?")


@pytest.mark.parametrize("columns", [80, 200])
def test_tables_fit_the_terminal_without_cutting_numbers(samples, tmp_path, columns):
    r = run_cli(
        "ale",
        samples / "friedman_hgb.joblib",
        samples / "friedman.parquet",
        "--target",
        "y",
        "--with-pdp",
        "--subsample",
        "2000",
        "--no-plot",
        "--format",
        "none",
        columns=columns,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and max(len(ln) for ln in lines) <= columns
    rows = [ln for ln in lines if re.match(r"^[│ ]+x\d ", ln)]
    assert len(rows) == 10  # one line per feature: nothing wrapped
    assert not re.search(r"[\w.]…", "\n".join(rows))  # no number or name cut short ('-0.07…')
    assert all(len(NUMBER.findall(ln)) >= 7 for ln in rows)
    title = lines[0]
    assert title.startswith("accumulated local effects") and lines[1][:2] in ("┏━", " f")  # title on one line
    spark = any(ch in r.stdout for ch in "▁▂▃▄▅▆▇█")
    assert spark == (columns == 200)  # at 80 columns the sparkline column gives way first


# --------------------------------------------------------------------------------------------
# 7. scorers


def test_scorer_did_you_mean_and_task_checks(cli, samples, tmp_path):
    diabetes = [samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    r = cli("importance", *diabetes, "-s", "rmse", "--out", tmp_path)
    assert r.exit_code == 2
    assert "unknown scorer 'rmse' (did you mean 'neg_root_mean_squared_error'?)" in r.stderr
    wine = [samples / "wine_rf.skops", samples / "wine.parquet", *WINE_TRUST, "--target", "target"]
    r = cli("importance", *wine, "-s", "roc_auc", "--out", tmp_path)
    assert r.exit_code == 2 and r.err_lines == [
        "error: --scoring roc_auc applies to two classes; this target has 3 — use --scoring roc_auc_ovr "
        "(or accuracy)"
    ]
    from sklearn.svm import LinearSVC

    frame = pd.read_csv(samples / "cancer.csv")
    X, y = frame.drop(columns="target"), frame["target"]
    joblib.dump(LinearSVC(max_iter=200).fit(X / X.std(), y), tmp_path / "svc.joblib")
    r = cli(
        "importance",
        tmp_path / "svc.joblib",
        samples / "cancer.csv",
        "--target",
        "target",
        "-s",
        "neg_log_loss",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 2 and "neg_log_loss needs predict_proba, which LinearSVC does not have" in r.stderr
    assert not (tmp_path / "o").exists()


def test_importance_axis_in_plain_words(cli, samples, tmp_path):
    r = cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-s",
        "neg_root_mean_squared_error",
        "-r",
        "2",
        "--max-samples",
        "200",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    from inspectcli.engines.permutation import scorer_change_label

    assert scorer_change_label("neg_root_mean_squared_error") == "increase in RMSE"


# --------------------------------------------------------------------------------------------
# 9. rough edges


def test_quiet_keeps_the_table(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi",
        "--grid-resolution",
        "5",
        "--no-plot",
        "--out",
        tmp_path,
        "-q",
    )
    assert r.exit_code == 0 and r.stderr == "" and "partial dependence" in r.stdout


def test_help_has_no_python_type_placeholders(cli):
    for command in ("pdp", "importance", "ale", "diff", "schema", "info", "coefficients"):
        r = cli(command, "--help", env={"COLUMNS": "120"})
        assert r.exit_code == 0
        assert "<bool>" not in r.stdout and "<list[" not in r.stdout and "<str>" not in r.stdout, command
        if command in ("diff", "schema"):
            assert "Execution" not in r.stdout  # they run nothing in parallel
        assert "Messages" in r.stdout and "--quiet" in r.stdout


def test_eta_from_the_average_pace():
    from inspectcli.cli.console import remaining_text

    assert remaining_text(None, 0, 10) == "eta …"
    assert remaining_text(10.0, 2, 10) == "eta 0:00:40"
    assert remaining_text(9000.0, 1, 2) == "eta 2:30:00"
