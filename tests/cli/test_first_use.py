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


# --------------------------------------------------------------------------------------------
# 2. recursion only when asked, with its note


def test_recursion_when_asked_says_it_omits_the_baseline(cli, samples):
    r = cli(
        "pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target",
        "-f", "bmi", "--method", "recursion", "--grid-resolution", "5", "--json", "--no-plot",
        "--format", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["parameters"]["method_used"] == ["recursion"]
    [note] = doc["notes"]
    assert "omit the baseline" in note and "HistGradientBoostingRegressor" in note
    assert "omit the baseline" in r.stderr  # table (on stderr with --json) and note


# --------------------------------------------------------------------------------------------
# 3, 4, 5. shared scales, bounded ICE, level order — through the CLI


def _pdp_png_axes(monkeypatch):
    """Capture the PDPDisplay the CLI draws."""
    from inspectcli.plots import pdp as plots

    seen = {}
    original = plots.plot_pdp

    def spy(*args, **kwargs):
        seen["display"] = display = original(*args, **kwargs)
        seen["kwargs"] = kwargs
        return display

    monkeypatch.setattr(plots, "plot_pdp", spy)
    return seen


def test_pdp_panels_share_y_ranked_and_independent(cli, samples, tmp_path, monkeypatch):
    seen = _pdp_png_axes(monkeypatch)
    base = [samples / "friedman_hgb.joblib", samples / "friedman.parquet", "--target", "y"]
    base += ["-f", "x5", "-f", "x3", "--grid-resolution", "10", "--subsample", "3000", "--format", "none"]
    r = cli("pdp", *base, "--rank", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.stderr
    display = seen["display"]
    assert [ax.get_xlabel() for ax in display.axes_] == ["x3", "x5"]  # rank order
    (lo3, hi3), (lo5, hi5) = (ax.get_ylim() for ax in display.axes_)
    assert (lo3, hi3) == (lo5, hi5) and hi5 - lo5 > 5  # noise x5 drawn on x3's scale
    assert r.stdout.index("x3") < r.stdout.index("x5")  # table in rank order too
    r = cli("pdp", *base, "--independent-y", "--out", tmp_path / "b")
    lo5, hi5 = seen["display"].axes_[0].get_ylim()
    assert r.exit_code == 0 and hi5 - lo5 < 1


def test_ice_is_bounded_sampled_and_announced(cli, samples, tmp_path, monkeypatch):
    seen = _pdp_png_axes(monkeypatch)
    base = [samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count", "-f", "hour"]
    r = cli("pdp", *base, "--kind", "ice", "--ice-rows", "300", "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "pdp.json").read_text())
    assert doc["parameters"]["kind"] == "individual"  # ice is another name for it
    assert doc["parameters"]["ice_rows"] == 300 and doc["parameters"]["ice_rows_kept"] == 300
    [entry] = doc["results"]
    assert len(entry["individual"]) == len(entry["rows"]) == 300
    assert entry["rows"] == sorted(entry["rows"]) and max(entry["rows"]) < 20_000
    assert any("ICE kept for 300 of 20,000 rows" in n for n in doc["notes"])
    assert "ICE kept for 300 of 20,000 rows" in r.stderr
    labels = [t.get_text() for t in seen["display"].legend_.get_texts()]
    assert labels[0] == "ICE (250 of 20,000 rows)"
    # wrote … comes after the table
    assert r.stdout.strip() and "wrote" in r.stderr


def test_large_ice_outputs_are_announced_before_computing(cli, samples, tmp_path, monkeypatch):
    from inspectcli.reports import pdp as report

    monkeypatch.setattr(report, "LARGE_OUTPUT", 10_000)  # "large" made small, for a quick run
    r = cli(
        "pdp", samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count",
        "--kind", "both", "--ice-rows", "all", "--no-plot", "--out", tmp_path, "--subsample", "500",
        "-f", "temp", "-f", "season",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    err = " ".join(r.stderr.split())
    found = re.search(
        r"ICE of 500 rows on 104 grid points: the result files will take about ([\d.]+) MB", err
    )
    assert found, err
    written = sum((tmp_path / f).stat().st_size for f in ("pdp.json", "pdp.csv"))
    assert 0.5 < float(found.group(1)) * 2**20 / written < 2  # a fair estimate
    assert err.index("ICE of 500 rows") < err.index("wrote")
    assert "ICE kept for" not in err  # every row kept: no cap note


def test_pdp_order_and_model_order(cli, samples, tmp_path):
    week = "mon,tue,wed,thu,fri,sat,sun"
    base = [samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count", "-f", "weekday"]
    base += ["--subsample", "2000", "--no-plot", "--format", "none", "--json"]
    r = cli("pdp", *base, "--order", f"weekday={week}")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["results"][0]["grid"] == [week.split(",")]
    assert doc["parameters"]["level_order"] == {"weekday": "given"}
    r = cli("pdp", *base)
    doc = json.loads(r.stdout)
    assert doc["parameters"]["level_order"] == {"weekday": "model"}  # the encoder's categories_
    r = cli("pdp", *base, "--order", "weekday=mon,tue")
    assert r.exit_code == 2 and "--order weekday must list every level of 'weekday' once" in r.stderr


# --------------------------------------------------------------------------------------------
# 8. hints on the statistical traps


def test_hints_perfect_baseline_correlation_constant_target(cli, samples, tmp_path):
    wine = [samples / "wine_rf.skops", samples / "wine.parquet", *WINE_TRUST, "--target", "target"]
    r = cli("importance", *wine, "-s", "accuracy", "-r", "2", "--no-plot", "--out", tmp_path / "w")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "w" / "importance.json").read_text())
    perfect = [n for n in doc["notes"] if n.startswith("baseline accuracy is 1 on wine.parquet")]
    assert perfect and "features show 0 ± 0" in perfect[0] and "compare=TEST_DATA" in perfect[0]
    corr = [n for n in doc["notes"] if n.startswith("strongly correlated features")]
    assert corr and "flavanoids" in corr[0] and "cluster_threshold=0.5" in corr[0]
    assert "--cluster-threshold 0.5" in " ".join(r.stderr.split())
    assert perfect[0].replace("compare=TEST_DATA", "--compare TEST_DATA") in " ".join(r.stderr.split())
    r = cli("importance", *wine, "-s", "accuracy", "-r", "2", "--no-plot", "--cluster-threshold", "0.5",
            "--out", tmp_path / "c")  # fmt: skip
    doc = json.loads((tmp_path / "c" / "importance.json").read_text())
    assert not any(n.startswith("strongly correlated") for n in doc["notes"])
    frame = pd.read_parquet(samples / "diabetes.parquet").assign(target=100.0)
    frame.to_parquet(tmp_path / "flat.parquet")
    r = cli("importance", samples / "diabetes_hgb.joblib", tmp_path / "flat.parquet", "--target", "target",
            "-s", "neg_mean_absolute_error", "-r", "1", "--no-plot", "--out", tmp_path / "f")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "'target' is constant (every row is 100.0)" in " ".join(r.stderr.split())


def test_compare_shows_both_baselines(cli, samples, tmp_path):
    frame = pd.read_parquet(samples / "diabetes.parquet")
    frame.iloc[:200].to_parquet(tmp_path / "a.parquet")
    frame.iloc[200:].to_parquet(tmp_path / "b.parquet")
    r = cli("importance", samples / "diabetes_hgb.joblib", tmp_path / "a.parquet", "--target", "target",
            "--compare", tmp_path / "b.parquet", "-r", "2", "--no-plot", "--out", tmp_path / "o")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "o" / "importance.json").read_text())
    b1 = doc["results"][0]["baseline_score"]
    b2 = doc["compare"]["results"][0]["baseline_score"]
    assert f"{b2:.4g}" in r.stdout and f"{b1:.4g}" in r.stdout and "b.parquet" in r.stdout


# --------------------------------------------------------------------------------------------
# 9. info rounds


def test_info_rounds_trial_predictions(cli, samples):
    r = cli("info", samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count")
    assert r.exit_code == 0
    [line] = [ln for ln in r.stdout.splitlines() if "trial of rows" in ln]
    assert re.search(r"e\.g\. \[[\d.]+, [\d.]+, [\d.]+\]", line)
    assert not re.search(r"\d\.\d{6}", line)
