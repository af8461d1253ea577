"""`inspect info`, the loaders for every format on real files, and the top-level CLI."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression

from inspectcli import __version__
from inspectcli.loading.data import load_dataset
from inspectcli.loading.model import load_model
from tests.conftest import WINE_TRUST


@pytest.fixture(scope="module")
def small():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    y = 2 * X["a"] - X["b"]
    return LinearRegression().fit(X, y), X.assign(y=y)


def test_version_and_help(cli):
    r = cli("--version")
    assert r.exit_code == 0 and __version__ in r.stdout
    r = cli("--help")
    assert r.exit_code == 0
    for command in ("info", "pdp", "importance"):
        assert command in r.stdout


@pytest.mark.parametrize(
    ("model", "data", "extra", "task"),
    [
        ("diabetes_hgb.joblib", "diabetes.parquet", ["--target", "target"], "regression"),
        ("cancer_logreg.joblib", "cancer.csv", ["--target", "target"], "binary"),
        ("wine_rf.skops", "wine.parquet", ["--target", "target", *WINE_TRUST], "multiclass"),
        ("bikes_hgb.joblib", "bikes.parquet", ["--target", "count"], "regression"),
    ],
)
def test_info_on_sample_models(cli, samples, model, data, extra, task):
    r = cli("info", samples / model, samples / data, *extra, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kind"] == "info" and doc["model"]["task"] == task
    assert doc["data"]["missing"] == [] and doc["data"]["prediction"]["ok"] is True
    assert len(doc["model"]["sha256"]) == 64


def test_info_table_and_facts(cli, samples):
    r = cli("info", samples / "bikes_hgb.joblib", samples / "bikes.parquet", "--target", "count")
    assert r.exit_code == 0, r.stderr
    for text in ("Pipeline", "HistGradientBoostingRegressor", "season*", "works", "20,000"):
        assert text in r.stdout
    r = cli("info", samples / "diabetes_hgb.joblib", "--json")
    doc = json.loads(r.stdout)
    assert "recursion" in doc["model"]["pdp_methods"] and doc["data"] is None
    assert doc["model"]["features"][2] == {"name": "bmi", "kind": "numeric"}


def test_info_reports_missing_columns_with_exit_3(cli, samples, tmp_path):
    frame = pd.read_parquet(samples / "diabetes.parquet").drop(columns=["bmi", "s5"])
    frame.to_parquet(tmp_path / "d.parquet")
    r = cli("info", samples / "diabetes_hgb.joblib", tmp_path / "d.parquet", "--json")
    assert r.exit_code == 3
    assert json.loads(r.stdout)["data"]["missing"] == ["bmi", "s5"]
    assert "lacks 2 column(s) the model expects" in r.stderr


def test_model_formats(tmp_path, small):
    model, _ = small
    joblib.dump(model, tmp_path / "m.joblib")
    joblib.dump(model, tmp_path / "m.z.joblib", compress=3)
    joblib.dump(model, tmp_path / "m.gz", compress=("gzip", 3))
    joblib.dump(model, tmp_path / "m.bz2", compress=("bz2", 3))
    joblib.dump(model, tmp_path / "m.xz", compress=("xz", 3))
    with open(tmp_path / "m.pkl", "wb") as fh:
        pickle.dump(model, fh)
    sio.dump(model, tmp_path / "m.skops")
    formats = {}
    for name in ("m.joblib", "m.z.joblib", "m.gz", "m.bz2", "m.xz", "m.pkl", "m.skops"):
        loaded = load_model(tmp_path / name)
        np.testing.assert_array_equal(loaded.estimator.coef_, model.coef_)
        formats[name] = loaded.format
        assert not loaded.notes
    assert (
        formats["m.skops"] == "skops"
        and formats["m.pkl"] == "pickle"
        and formats["m.z.joblib"] == "joblib-zlib"
    )


def test_name_content_mismatch_is_a_note(tmp_path, small):
    model, _ = small
    joblib.dump(model, tmp_path / "model.skops")  # a pickle named .skops
    loaded = load_model(tmp_path / "model.skops")
    assert loaded.format == "pickle"
    assert "named like a skops file but its content is pickle" in loaded.notes[0]


def test_sha256_pin_and_no_pickle(cli, samples, tmp_path):
    good = load_model(samples / "diabetes_hgb.joblib").sha256
    r = cli("info", samples / "diabetes_hgb.joblib", "--sha256", good)
    assert r.exit_code == 0
    r = cli("info", samples / "diabetes_hgb.joblib", "--sha256", "0" * 64)
    assert r.exit_code == 3 and f"has SHA-256 {good}" in r.stderr
    r = cli("info", samples / "diabetes_hgb.joblib", "--no-pickle")
    assert r.exit_code == 3 and "pickle-based files are refused" in r.stderr
    r = cli("info", samples / "diabetes_hgb.joblib", env={"INSPECT_NO_PICKLE": "1"})
    assert r.exit_code == 3 and "skops.io.dump" in r.stderr
    r = cli("info", samples / "wine_rf.skops", *WINE_TRUST, env={"INSPECT_NO_PICKLE": "1"})
    assert r.exit_code == 0  # skops files are allowed


def test_skops_untrusted_types_listed(cli, samples):
    r = cli("info", samples / "wine_rf.skops")
    assert r.exit_code == 3
    assert "sklearn.tree._tree.Tree" in r.stderr and "--trust sklearn.tree._tree.Tree" in r.stderr


def test_version_mismatch_warning_and_strict(cli, tmp_path, small):
    model, _ = small
    state = model.__getstate__()
    state["_sklearn_version"] = "0.24.2"  # what an old scikit-learn would have written
    model.__getstate__ = lambda: state
    try:
        (tmp_path / "old.pkl").write_bytes(pickle.dumps(model))
    finally:
        del model.__getstate__
    r = cli("info", tmp_path / "old.pkl")
    assert r.exit_code == 0, r.stderr
    assert "saved with scikit-learn 0.24.2 and is loaded with" in r.stderr
    r = cli("info", tmp_path / "old.pkl", "--strict")
    assert r.exit_code == 3 and "(--strict)" in r.stderr and "install scikit-learn==0.24.2" in r.stderr


def test_data_formats(tmp_path, small):
    _, frame = small
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.csv.gz", index=False)
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    frame.to_csv(tmp_path / "pipe.csv", sep="|", index=False)
    frame.to_csv(tmp_path / "euro.csv", sep=";", decimal=",", index=False)
    for name in ("d.parquet", "d.csv", "d.csv.gz", "d.tsv", "semi.csv", "pipe.csv", "euro.csv"):
        ds = load_dataset(tmp_path / name)
        pd.testing.assert_frame_equal(ds.frame.reset_index(drop=True), frame, check_exact=False, rtol=1e-12)
    assert "decimal commas" in load_dataset(tmp_path / "euro.csv").notes[0]
    with gzip.open(tmp_path / "d.csv.gz") as fh:
        assert fh.read(1) == b"a"


def test_stdin_csv(cli, samples, monkeypatch, small, tmp_path):
    model, frame = small
    joblib.dump(model, tmp_path / "m.joblib")
    text = frame.to_csv(index=False)
    r = cli("info", tmp_path / "m.joblib", "-", "--target", "y", "--json", input=text)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["data"]["path"] == "-" and doc["data"]["n_rows"] == 50
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert load_dataset("-").n_rows == 50


def test_python_api_exports():
    import inspectcli

    for name in ("partial_dependence", "permutation_importance", "load_model", "load_dataset"):
        assert callable(getattr(inspectcli, name))


def test_names_that_look_like_markup_are_shown_literally(cli, tmp_path):
    X = pd.DataFrame({"a[1]": np.arange(20.0), "[red]b": np.linspace(0, 1, 20) ** 2})
    y = 2 * X["a[1]"] + X["[red]b"]
    joblib.dump(LinearRegression().fit(X, y), tmp_path / "m.joblib")
    X.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    for args in (
        ["info"],
        ["importance", "--format", "none", "--no-plot"],
        ["pdp", "--format", "none", "--no-plot"],
    ):
        r = cli(args[0], tmp_path / "m.joblib", tmp_path / "d.csv", "--target", "y", *args[1:])
        assert r.exit_code == 0, r.stderr
        assert "a[1]" in r.stdout and "[red]b" in r.stdout
