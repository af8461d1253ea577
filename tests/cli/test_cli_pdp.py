"""`inspect pdp` through the real CLI on the sample models' real files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import partial_dependence as sk_pd

from inspectcli.loading.model import load_model
from tests.conftest import WINE_TRUST


def read_json(path):
    return json.loads(path.read_text())


def test_diabetes_files_json_and_numbers(cli, samples, tmp_path):
    out = tmp_path / "out"
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi,s5",
        "--pair",
        "bmi,s5",
        "--grid-resolution",
        "20",
        "--method",
        "brute",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pdp.csv", "pdp.json", "pdp.png"]
    doc = read_json(out / "pdp.json")
    assert list(doc)[:8] == [
        "schema_version",
        "kind",
        "tool",
        "sklearn_version",
        "model",
        "data",
        "parameters",
        "results",
    ]
    assert doc["kind"] == "pdp" and doc["data"]["n_rows"] == 442 and doc["data"]["n_used"] == 442
    assert len(doc["model"]["sha256"]) == 64
    entries = {tuple(e["features"]): e for e in doc["results"]}
    assert set(entries) == {("bmi",), ("s5",), ("bmi", "s5")}
    bmi = entries[("bmi",)]
    assert bmi["categorical"] == [False] and bmi["target"] is None and bmi["method"] == "brute"
    # the numbers are scikit-learn's
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target")
    ref = sk_pd(model, X, ["bmi"], method="brute", grid_resolution=20)
    np.testing.assert_allclose(bmi["average"], ref["average"][0], rtol=1e-10)
    np.testing.assert_array_equal(bmi["grid"][0], ref["grid_values"][0])
    pair = entries[("bmi", "s5")]
    assert np.asarray(pair["average"]).shape == (20, 20)
    assert 0 <= pair["h2"] <= 1
    csv = pd.read_csv(out / "pdp.csv")
    assert list(csv.columns) == ["features", "target", "grid_1", "grid_2", "kind", "row", "value", "se"]
    assert len(csv) == 20 + 20 + 400
    # the table names every curve
    assert "bmi × s5" in r.stdout and "H²=" in r.stdout


def test_json_to_stdout_only(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "age",
        "--grid-resolution",
        "5",
        "--json",
        "--format",
        "none",
        "--no-plot",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert doc["results"][0]["features"] == ["age"]
    assert not (tmp_path / "o").exists()


def test_ice_centered_and_subsample(cli, samples, tmp_path):
    out = tmp_path / "ice"
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi",
        "--kind",
        "both",
        "--centered",
        "--ice-lines",
        "30",
        "--subsample",
        "200",
        "--grid-resolution",
        "10",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    [entry] = read_json(out / "pdp.json")["results"]
    ind = np.asarray(entry["individual"])
    assert ind.shape == (30, 10) and len(entry["rows"]) == 30
    np.testing.assert_allclose(ind[:, 0], 0)  # centred: every line starts at 0
    assert entry["average"][0] == 0
    doc = read_json(out / "pdp.json")
    assert doc["data"]["n_used"] == 200 and doc["parameters"]["subsample"] == 200


def test_binary_csv_model(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "cancer_logreg.joblib",
        samples / "cancer.csv",
        "--target",
        "target",
        "-f",
        "mean radius",
        "-f",
        "worst texture",
        "--grid-resolution",
        "15",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    doc = read_json(tmp_path / "pdp.json")
    assert [e["target"] for e in doc["results"]] == [1, 1]  # positive class
    assert doc["results"][0]["response_method"] == "predict_proba"
    assert all(0 <= v <= 1 for v in doc["results"][0]["average"])


def test_multiclass_skops_with_class(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "wine_rf.skops",
        samples / "wine.parquet",
        *WINE_TRUST,
        "--target",
        "target",
        "-f",
        "proline",
        "--class",
        "2",
        "--grid-resolution",
        "10",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    [entry] = read_json(tmp_path / "pdp.json")["results"]
    assert entry["target"] == 2
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
        "10",
        "--out",
        tmp_path / "all",
    )
    assert [e["target"] for e in read_json(tmp_path / "all" / "pdp.json")["results"]] == [0, 1, 2]


def test_bikes_categoricals_integers_and_pair(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "bikes_hgb.joblib",
        samples / "bikes.parquet",
        "--target",
        "count",
        "-f",
        "hour",
        "-f",
        "season",
        "--pair",
        "hour,weekday",
        "--subsample",
        "3000",
        "--rank",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    entries = {tuple(e["features"]): e for e in read_json(tmp_path / "pdp.json")["results"]}
    assert entries[("season",)]["categorical"] == [True]
    assert entries[("season",)]["grid"] == [["fall", "spring", "summer", "winter"]]
    assert entries[("hour",)]["grid"][0] == list(range(24))  # an int64 column, numeric
    assert entries[("hour", "weekday")]["categorical"] == [False, True]
    assert {entries[("hour",)]["rank"], entries[("season",)]["rank"]} == {1, 2}
    assert entries[("hour", "weekday")]["h2"] > 0.05  # commute peaks only on workdays


def test_three_way_grid_in_json_without_plot(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--pair",
        "bmi,s5,bp",
        "--grid-resolution",
        "4",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    [entry] = read_json(tmp_path / "pdp.json")["results"]
    assert np.asarray(entry["average"]).shape == (4, 4, 4)
    assert not (tmp_path / "pdp.png").exists()  # nothing to draw


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "bmj"], "unknown feature 'bmj' (did you mean 'bmi'?)"),
        (["-f", "target"], "is the --target column"),
        (["-f", "bmi", "--method", "recursion", "--kind", "both"], "averages only"),
        (["-f", "bmi", "--percentiles", "0.9,0.1"], "out of order"),
        (["-f", "bmi", "--class", "1"], "--class applies to classifiers"),
        (["-f", "bmi", "--kind", "sideways"], "--kind 'sideways'"),
        (["-f", "bmi", "--memory-budget", "lots"], "--memory-budget 'lots'"),
        (["-f", "bmi", "--values", "bmi=a,b"], "give numbers"),
    ],
)
def test_usage_errors(cli, samples, tmp_path, args, message):
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        *args,
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("error: ")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_wrong_class_and_recursion_on_pipeline(cli, samples, tmp_path):
    r = cli(
        "pdp",
        samples / "wine_rf.skops",
        samples / "wine.parquet",
        *WINE_TRUST,
        "--target",
        "target",
        "-f",
        "proline",
        "--class",
        "7",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 2 and "--class '7' is not a class" in r.stderr and "0, 1, 2" in r.stderr
    r = cli(
        "pdp",
        samples / "bikes_hgb.joblib",
        samples / "bikes.parquet",
        "--target",
        "count",
        "-f",
        "temp",
        "--method",
        "recursion",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 2 and "does not support Pipeline" in r.stderr
