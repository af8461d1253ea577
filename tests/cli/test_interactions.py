"""`inspect interactions` through the real CLI: files, JSON numbers, gates, schema, bad input."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from inspectcli.engines.h_statistic import h_statistics
from inspectcli.plots.interactions import plot_interactions
from inspectcli.schemas import validate

ARGS = ("--target", "target", "--rows", "40", "--top-k", "4", "--random-state", "2")


def _run(cli, samples, out, *extra):
    return cli(
        "interactions",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        *ARGS,
        "--out",
        out,
        *extra,
    )


def test_files_numbers_and_schema(cli, samples, tmp_path):
    r = _run(cli, samples, tmp_path)
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "interactions.json").read_text())
    validate(doc)
    assert doc["kind"] == "interactions" and doc["parameters"]["rows"] == 40
    assert len(doc["rows"]) == 40 and doc["parameters"]["random_state"] == 2
    [entry] = doc["results"]
    assert len(entry["features"]) == 4 and len(entry["pairs"]) == 6
    # the same numbers from the library on the same rows
    model = joblib.load(samples / "diabetes_hgb.joblib")
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target")
    lib = h_statistics(model, X, n_rows=40, top_k=4, random_state=2)
    assert doc["rows"] == lib.rows.tolist()
    by_pair = {tuple(p["features"]): p for p in entry["pairs"]}
    for i, pair in enumerate(lib.pairs):
        assert by_pair[pair]["h2"] == pytest.approx(lib.pair_h2[i, 0], rel=1e-12)
        assert by_pair[pair]["share"] == pytest.approx(lib.pair_share[i, 0], rel=1e-12)
    assert [p["rank"] for p in entry["pairs"]] == list(range(1, 7))
    shares = [p["share"] for p in entry["pairs"]]
    assert shares == sorted(shares, reverse=True)
    csv = pd.read_csv(tmp_path / "interactions.csv")
    assert set(csv["kind"]) == {"pair", "overall"} and (csv["kind"] == "pair").sum() == 6
    assert (tmp_path / "interactions.png").stat().st_size > 1000
    assert "interactions — diabetes_hgb.joblib" in r.stdout


def test_rerun_is_byte_identical_but_elapsed(cli, samples, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(cli, samples, a, "--no-plot").exit_code == 0
    assert _run(cli, samples, b, "--no-plot").exit_code == 0
    da, db = (json.loads((d / "interactions.json").read_text()) for d in (a, b))
    da.pop("elapsed_s"), db.pop("elapsed_s")
    assert da == db
    assert (a / "interactions.csv").read_bytes() == (b / "interactions.csv").read_bytes()


def test_gate_on_a_named_pair_outside_the_top_k(cli, samples, tmp_path):
    r = _run(cli, samples, tmp_path, "--no-plot", "--fail-if", "h2(age,s3) > -1")
    assert r.exit_code == 1, r.stderr
    assert r.err_lines[-1].startswith("error: 1 --fail-if condition held: 'h2(age,s3) > -1'")
    doc = json.loads((tmp_path / "interactions.json").read_text())
    assert ["age", "s3"] in [p["features"] for p in doc["results"][0]["pairs"]]
    ok = _run(cli, samples, tmp_path / "ok", "--no-plot", "--fail-if", "h2 > 0.99")
    assert ok.exit_code == 0, ok.stderr


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--top-k", "1"), "--top-k"),
        (("--rows", "1"), "--rows"),
        (("--pairs", "bmi"), "--pairs"),
        (("--pairs", "bmi,nope"), "nope"),
        (("--pairs", "bmi,bmi"), "error: --pairs: a pair needs two different features"),  # not pdp's --pair
        (("--fail-if", "range(bmi) > 1"), "range() is a measure of pdp"),
    ],
)
def test_usage_errors(cli, samples, tmp_path, extra, needle):
    r = _run(cli, samples, tmp_path / "out", *extra)
    assert r.exit_code == 2, r.stderr
    assert len(r.err_lines) == 1 and needle in r.err_lines[0]
    assert not (tmp_path / "out").exists()


def test_heatmap_shows_the_shares(samples):
    model = joblib.load(samples / "diabetes_hgb.joblib")
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target")
    res = h_statistics(model, X, n_rows=30, top_k=3, random_state=0)
    display = plot_interactions(res)
    i, j = display.labels_.index(res.pairs[0][0]), display.labels_.index(res.pairs[0][1])
    assert display.matrix_[i, j] == display.matrix_[j, i] == res.pair_share[0, 0]
    assert np.isnan(display.matrix_[0, 0])
    assert [t.get_text() for t in display.heatmap_ax_.get_xticklabels()] == display.labels_
    assert display.overall_ax_ is not None and len(display.overall_ax_.patches) == 3
