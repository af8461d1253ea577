"""`inspect diff OLD NEW` on result files the tool wrote, and the diff engine on hand-made ones."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from inspectcli.compare import diff_results
from inspectcli.errors import ValidationError
from tests.conftest import Run

PDP_GRID = ["--values", "bmi=-0.05,0,0.05,0.1", "--values", "age=-0.05,0.05", "--values", "s5=-0.05,0,0.05"]


def invoke(*args: object) -> Run:
    from inspectcli.cli.app import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
    exc = None if isinstance(result.exception, SystemExit) else result.exception
    return Run(result.exit_code, result.stdout, result.stderr, exc)


@pytest.fixture(scope="module")
def runs(samples, tmp_path_factory):
    """Result files of a few runs on the diabetes model (computed once for this module)."""
    base = tmp_path_factory.mktemp("diff_runs")
    data = [samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target"]
    common = ["--no-plot", "--format", "json", "--quiet"]
    paths = {}

    def run(name, command, *extra):
        r = invoke(command, *data, *common, "--out", base / name, *extra)
        assert r.exit_code == 0, r.stderr
        paths[name] = base / name / f"{command}.json"

    run("imp0", "importance", "-r", "3")
    run("imp1", "importance", "-r", "3", "--random-state", "1")
    run("pdp_all", "pdp", "-f", "bmi,age", "--pair", "bmi,s5", "--method", "brute", *PDP_GRID)
    run(
        "pdp_sub",
        "pdp",
        "-f",
        "bmi,age",
        "--pair",
        "bmi,s5",
        "--method",
        "brute",
        "--subsample",
        "150",
        *PDP_GRID,
    )
    # files of runs that differ in what they compute: made from the ones above, as a run would write them
    clustered = load(paths["imp0"])
    feats = clustered["results"][0]["features"]
    feats[4:6] = [{**feats[4], "feature": "cluster_1", "columns": ["s1", "s2"]}]
    paths["imp_clustered"] = base / "imp_clustered.json"
    paths["imp_clustered"].write_text(json.dumps(clustered))
    regrid = load(paths["pdp_all"])
    for entry in regrid["results"]:
        entry["grid"][0] = [v + 0.001 for v in entry["grid"][0]]
    paths["pdp_grid"] = base / "pdp_grid.json"
    paths["pdp_grid"].write_text(json.dumps(regrid))
    return paths


def load(path):
    return json.loads(path.read_text())


def test_importance_diff_numbers(cli, runs):
    r = cli("diff", runs["imp0"], runs["imp1"], "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kind"] == "diff" and doc["compared"] == "importance"
    assert doc["old"]["sha256"] == hashlib.sha256(runs["imp0"].read_bytes()).hexdigest()
    assert doc["old"]["random_state"] == 0 and doc["new"]["random_state"] == 1
    [block] = doc["results"]
    old = {f["feature"]: f for f in load(runs["imp0"])["results"][0]["features"]}
    new = {f["feature"]: f for f in load(runs["imp1"])["results"][0]["features"]}
    assert [f["feature"] for f in block["features"]] == list(old)
    for f in block["features"]:
        a, b = old[f["feature"]], new[f["feature"]]
        assert f["change"] == b["importances_mean"] - a["importances_mean"]
        assert f["abs_change"] == abs(f["change"])
        assert (f["rank_old"], f["rank_new"]) == (a["rank"], b["rank"])
        assert f["rank_change"] == abs(b["rank"] - a["rank"])
        half_a = 2 * np.std(a["importances"]) / math.sqrt(3)
        half_b = 2 * np.std(b["importances"]) / math.sqrt(3)
        assert f["interval_new"] == pytest.approx(
            [b["importances_mean"] - half_b, b["importances_mean"] + half_b]
        )
        assert f["interval_old"] == pytest.approx(
            [a["importances_mean"] - half_a, a["importances_mean"] + half_a]
        )
        apart = f["interval_new"][0] > f["interval_old"][1] or f["interval_old"][0] > f["interval_new"][1]
        assert f["beyond_noise"] is apart and (f["gap"] > 0) is apart
    assert "importance diff — r2" in r.stderr and "beyond noise" in r.stderr  # --json: table on stderr


def test_importance_diff_gates(cli, runs, tmp_path):
    r = cli(
        "diff", runs["imp0"], runs["imp1"], "--fail-if", "rank_change > 9", "--fail-if", "abs_change(bmi) > 1"
    )
    assert r.exit_code == 0, r.stderr
    assert "none of 2 condition(s) held" in r.stdout and "importance diff" in r.stdout

    r = cli("diff", runs["imp0"], runs["imp1"], "--fail-if", "abs_change(age) >= 0", "--out", tmp_path)
    assert r.exit_code == 1
    doc = load(tmp_path / "diff.json")
    [cond] = doc["gates"]["conditions"]
    assert cond["status"] == "fail" and cond["scorer"] == "r2" and cond["features"] == ["age"]
    age = next(f for f in doc["results"][0]["features"] if f["feature"] == "age")
    assert cond["value"] == age["abs_change"]
    assert "'abs_change(age) >= 0'" in r.stderr and "diff.json was written" in r.stderr

    r = cli("diff", runs["imp0"], runs["imp1"], "--fail-if", "max_abs_diff(age) > 1")
    assert r.exit_code == 2 and "compares PD curves, not importances" in r.stderr
    r = cli("diff", runs["imp0"], runs["imp1"], "--fail-if", "abs_change(agg) > 1")
    assert r.exit_code == 2 and "did you mean 'age'" in r.stderr
    r = cli("diff", runs["imp0"], runs["imp1"], "--fail-if", "abs_change(age) >")
    assert r.exit_code == 2 and "at the end" in r.stderr


def test_pdp_diff_numbers_and_gates(cli, runs):
    r = cli("diff", runs["pdp_all"], runs["pdp_sub"], "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["compared"] == "pdp"
    old = {tuple(e["features"]): e for e in load(runs["pdp_all"])["results"]}
    new = {tuple(e["features"]): e for e in load(runs["pdp_sub"])["results"]}
    for c in doc["results"]:
        key = tuple(c["features"])
        delta = np.asarray(new[key]["average"]) - np.asarray(old[key]["average"])
        assert c["n_points"] == delta.size
        assert c["max_abs_diff"] == np.abs(delta).max() and c["max_abs_diff"] > 0
        assert c["mean_diff"] == pytest.approx(delta.mean(), rel=1e-12)
        assert c["mean_abs_diff"] == pytest.approx(np.abs(delta).mean(), rel=1e-12)
        pos = np.unravel_index(np.argmax(np.abs(delta)), delta.shape)
        assert c["max_at"] == [old[key]["grid"][d][i] for d, i in enumerate(pos)]
    pair = next(c for c in doc["results"] if len(c["features"]) == 2)
    assert pair["h2_old"] == old[("bmi", "s5")]["h2"] and pair["h2_new"] == new[("bmi", "s5")]["h2"]

    r = cli(
        "diff",
        runs["pdp_all"],
        runs["pdp_sub"],
        "--fail-if",
        "max_abs_diff(bmi) > 1e6",
        "--fail-if",
        "mean_abs_diff > 0",
    )
    assert r.exit_code == 1
    assert "PD diff" in r.stdout and "1 of 2 condition(s) held" in r.stdout
    r = cli("diff", runs["pdp_all"], runs["pdp_sub"], "--fail-if", "gap > 0")
    assert r.exit_code == 2 and "compares importances, not PD curves" in r.stderr
    r = cli("diff", runs["pdp_all"], runs["pdp_sub"], "--fail-if", "max_abs_diff(bp) > 0")
    assert (
        r.exit_code == 2
        and "unknown feature 'bp' in these files — their curves: bmi, age, bmi,s5" in r.stderr
    )
    r = cli("diff", runs["pdp_all"], runs["pdp_sub"], "--fail-if", "mean_diff(s5, bmi) > 1e9")
    assert r.exit_code == 0, r.stderr  # a pair named in either order


def test_files_that_cannot_be_compared_exit_3(cli, runs, tmp_path):
    cases = [
        (runs["imp0"], runs["pdp_all"], "cannot compare an importance result with a pdp result"),
        (
            runs["imp0"],
            runs["imp_clustered"],
            "different features or groups (only in OLD: 's1', 's2'; only in NEW: 'cluster_1')",
        ),
        (
            runs["pdp_all"],
            runs["pdp_grid"],
            "the grids of bmi differ (feature 'bmi': 4 values [-0.05 … 0.1] vs",
        ),
    ]
    for old, new, why in cases:
        r = cli("diff", old, new)
        assert r.exit_code == 3, (old, new, r.stderr)
        assert why in r.stderr, r.stderr
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    (tmp_path / "info.json").write_text('{"schema_version": 1, "kind": "info"}')
    (tmp_path / "future.json").write_text('{"schema_version": 99, "kind": "pdp"}')
    for name, why in [
        ("bad.json", "is not JSON (line 1"),
        ("other.json", "is not an inspectcli result"),
        ("info.json", "cannot compare a pdp result with an info result"),
        ("future.json", "schema_version 99"),
        ("missing.json", "does not exist"),
    ]:
        r = cli("diff", runs["pdp_all"], tmp_path / name)
        assert r.exit_code == 3 and why in r.stderr, (name, r.stderr)
        assert len(r.err_lines) == 1
    r = cli("diff", tmp_path / "info.json", tmp_path / "info.json")
    assert r.exit_code == 3 and "cannot diff 'info' results" in r.stderr


def doc(features, repeats, kind="importance"):
    return {
        "schema_version": 1,
        "kind": kind,
        "parameters": {},
        "results": [
            {
                "scorer": "r2",
                "baseline_score": 0.5,
                "features": [
                    {
                        "feature": f,
                        "columns": [f],
                        "importances_mean": float(np.mean(r)),
                        "importances_std": float(np.std(r)),
                        "importances": r,
                        "rank": i + 1,
                    }
                    for i, (f, r) in enumerate(zip(features, repeats))
                ],
            }
        ],
    }


def test_noise_rule_and_gap():
    old = doc(["a", "b"], [[1.0, 1.2, 0.8, 1.0], [0.5, 0.5, 0.5, 0.5]])
    new = doc(["b", "a"], [[0.5, 0.6, 0.4, 0.5], [1.5, 1.7, 1.3, 1.5]])
    d = diff_results(old, new)
    a, b = d.scorers[0].features
    half = 2 * np.std([1.0, 1.2, 0.8, 1.0]) / 2
    assert a.interval_old == pytest.approx((1.0 - half, 1.0 + half))
    assert a.gap == pytest.approx((1.5 - half) - (1.0 + half)) and a.beyond_noise is True
    assert a.rank_old == 1 and a.rank_new == 2 and a.rank_change == 1
    assert b.gap == 0 and b.beyond_noise is False  # the new interval contains the old point
    one = doc(["a", "b"], [[1.0], [0.5]])
    d = diff_results(one, new)
    assert d.scorers[0].features[0].beyond_noise is None and d.scorers[0].features[0].gap is None
    assert any("fewer than 2 repeats" in n for n in d.notes)


def test_scorers_in_one_file_only_are_a_note():
    old = doc(["a"], [[1.0, 1.0]])
    new = doc(["a"], [[1.0, 1.0]])
    new["results"].append({**new["results"][0], "scorer": "neg_mean_absolute_error"})
    d = diff_results(old, new)
    assert [s.scorer for s in d.scorers] == ["r2"]
    assert d.notes == ["scorer(s) in one file only, not compared: neg_mean_absolute_error"]
    new["results"] = new["results"][1:]
    with pytest.raises(ValidationError, match="share no scorer"):
        diff_results(old, new)
