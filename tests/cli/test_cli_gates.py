"""--fail-if on `inspect importance` and `inspect pdp` through the real CLI."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import WINE_TRUST


def read_json(path):
    return json.loads(path.read_text())


def importance(cli, samples, out, *extra):
    return cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--n-repeats",
        "3",
        "--no-plot",
        "--out",
        out,
        *extra,
    )


def test_importance_gates_pass(cli, samples, tmp_path):
    conditions = ["sex > 0.5", "rank(bmi) > 3", "mean < 0", "low(bmi) > 1"]
    r = importance(cli, samples, tmp_path, *[a for c in conditions for a in ("--fail-if", c)])
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "importance.json")
    gates = doc["gates"]
    assert gates["passed"] is True and gates["n_failed"] == 0
    assert [c["condition"] for c in gates["conditions"]] == conditions
    assert [c["status"] for c in gates["conditions"]] == ["pass"] * 4
    # the values are the file's own numbers
    feats = {f["feature"]: f for f in doc["results"][0]["features"]}
    assert gates["conditions"][0]["value"] == feats["sex"]["importances_mean"]
    assert gates["conditions"][1]["value"] == feats["bmi"]["rank"]
    lowest = min(feats.values(), key=lambda f: f["importances_mean"])
    assert gates["conditions"][2]["features"] == [lowest["feature"]]
    bmi = feats["bmi"]["importances"]
    assert gates["conditions"][3]["value"] == float(np.mean(bmi) - 2 * np.std(bmi) / np.sqrt(3))
    assert list(doc)[-2:] == ["gates", "elapsed_s"]
    assert "none of 4 condition(s) held" in r.stdout


def test_importance_gate_fails_with_exit_1_table_and_files(cli, samples, tmp_path):
    r = importance(
        cli, samples, tmp_path, "--fail-if", "sex > 0.01", "--fail-if", "low(s5) < 0", "--format", "json,csv"
    )
    assert r.exit_code == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["importance.csv", "importance.json"]
    doc = read_json(tmp_path / "importance.json")
    assert doc["gates"]["passed"] is False and doc["gates"]["n_failed"] == 1
    assert [c["status"] for c in doc["gates"]["conditions"]] == ["fail", "pass"]
    # the table of conditions (stdout), the one-line error naming the failed one (stderr)
    assert "1 of 2 condition(s) held" in r.stdout and "FAIL" in r.stdout and "low(s5) < 0" in r.stdout
    [error] = [ln for ln in r.err_lines if ln.startswith("error:")]
    assert "'sex > 0.01'" in error and "low(s5)" not in error and "(r2)" in error


def test_malformed_condition_is_a_usage_error_before_any_work(cli, samples, tmp_path):
    out = tmp_path / "out"
    # the model file does not even exist: the condition is rejected first
    r = cli(
        "importance",
        tmp_path / "nope.joblib",
        samples / "diabetes.parquet",
        "--out",
        out,
        "--fail-if",
        "sex >> 1",
    )
    assert r.exit_code == 2
    assert r.err_lines == [
        "error: --fail-if 'sex >> 1', character 6: expected a number after the comparison, found '>' — "
        'e.g. "sex > 0.01", "rank(bmi) > 3", "low(r2:bmi) < 0.05", "mean < 0"; see \'Use in CI\' in '
        "the README for the grammar"
    ]
    r = cli(
        "pdp", tmp_path / "nope.joblib", samples / "diabetes.parquet", "--out", out, "--fail-if", "age > 1"
    )
    assert r.exit_code == 2 and "'age' is not a measure" in r.stderr
    assert not out.exists()


def test_unknown_names_are_usage_errors_before_computing(cli, samples, tmp_path):
    r = importance(cli, samples, tmp_path, "--fail-if", "sxe > 0.01")
    assert r.exit_code == 2
    assert "unknown feature 'sxe' (did you mean 'sex'?)" in r.stderr
    r = importance(cli, samples, tmp_path, "--cluster-threshold", "0.5", "--fail-if", "s1 > 0.01")
    assert r.exit_code == 2 and "group 'cluster_1'" in r.stderr
    r = importance(cli, samples, tmp_path, "--fail-if", "accuracy:sex > 0.01")
    assert r.exit_code == 2 and "no scorer 'accuracy'" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_pdp_gates_range_and_h2(cli, samples, tmp_path):
    args = [
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi,age",
        "--pair",
        "bmi,s5",
        "--grid-resolution",
        "8",
        "--no-plot",
        "--out",
        tmp_path,
    ]
    r = cli(*args, "--fail-if", "range(age) > 1000", "--fail-if", "h2(s5,bmi) > 0.99")
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "pdp.json")
    entries = {tuple(e["features"]): e for e in doc["results"]}
    age, pair = doc["gates"]["conditions"]
    assert age["value"] == max(entries[("age",)]["average"]) - min(entries[("age",)]["average"])
    assert pair["value"] == entries[("bmi", "s5")]["h2"] and pair["features"] == ["bmi", "s5"]
    keys = list(doc)  # gates after the results, then any notes, elapsed_s last
    assert keys.index("gates") > keys.index("results") and keys[-1] == "elapsed_s"

    r = cli(*args, "--fail-if", "range > 50", "--fail-if", "h2(bmi,s5) > 0")
    assert r.exit_code == 1
    assert (tmp_path / "pdp.json").exists() and (tmp_path / "pdp.csv").exists()
    doc = read_json(tmp_path / "pdp.json")
    assert [c["status"] for c in doc["gates"]["conditions"]] == ["fail", "fail"]
    assert doc["gates"]["conditions"][0]["features"] == ["bmi"]
    assert "2 --fail-if conditions held" in r.stderr

    r = cli(*args, "--fail-if", "range(s6) > 1")
    assert r.exit_code == 2 and "computes no curve of 's6' — add -f s6" in r.stderr


def test_pdp_gate_per_class(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "wine_rf.skops",
        samples / "wine.parquet",
        *WINE_TRUST,
        "--target",
        "target",
        "-f",
        "proline",
        "--grid-resolution",
        "6",
        "--no-plot",
        "--out",
        tmp_path,
        "--fail-if",
        "range(proline, target=2) > 0.5",
        "--fail-if",
        "range(proline) > 0.2",
    )
    assert r.exit_code == 1, r.stderr
    doc = read_json(tmp_path / "pdp.json")
    conds = doc["gates"]["conditions"]
    assert [c["target"] for c in conds] == [2, 0, 1, 2]
    spans = {e["target"]: max(e["average"]) - min(e["average"]) for e in doc["results"]}
    assert [c["value"] for c in conds] == [spans[2], spans[0], spans[1], spans[2]]
    assert [c["status"] for c in conds] == ["pass"] + [
        "fail" if spans[t] > 0.2 else "pass" for t in (0, 1, 2)
    ]
    assert "target" in r.stdout


def test_quiet_failing_gate_leaves_only_the_error(cli, samples, tmp_path):
    args = [
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi",
    ]
    r = cli(*args, "--grid-resolution", "4", "--out", tmp_path, "--fail-if", "range(bmi) > 1", "--quiet")
    assert r.exit_code == 1
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("error: 1 --fail-if condition held")
    assert "partial dependence" in r.stdout  # --quiet silences messages, not the result table
    assert (tmp_path / "pdp.json").exists()
