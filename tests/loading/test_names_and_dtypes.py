"""Column names and dtypes flow from every reader to the model unchanged (issue #13, items 11-12).

CSV headers keep their whitespace (' a' is not 'a'; 'a' and 'a ' are two columns), as Parquet,
Arrow and JSON Lines already do; numbers stored as text are read as numbers when the model reads
them as numbers, and say so, instead of becoming one PD category per distinct text.
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from inspectcli.loading.data import load_dataset


def _frame(names: list[str], n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({c: rng.normal(size=n).round(3) for c in names})
    X["y"] = X.sum(axis=1) + rng.normal(scale=0.1, size=n)
    return X


def _fit(frame: pd.DataFrame, path) -> None:
    model = LinearRegression().fit(frame.drop(columns="y"), frame["y"])
    joblib.dump(model, path)


@pytest.mark.parametrize("names", [[" a", "b"], ["a", "a "], ["a", " a ", "b\t"]])
def test_csv_header_whitespace_is_kept(tmp_path, names):
    frame = _frame(names)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    assert list(load_dataset(tmp_path / "d.csv").frame.columns) == [*names, "y"]
    assert list(load_dataset(tmp_path / "d.parquet").frame.columns) == [*names, "y"]


def test_csv_header_whitespace_through_the_cli(cli, tmp_path):
    names = [" a", "a", "a "]
    frame = _frame(names)
    frame.to_csv(tmp_path / "d.csv", index=False)
    _fit(frame, tmp_path / "m.joblib")
    docs = []
    for data in ("d.csv", "d.parquet"):
        if data == "d.parquet":
            frame.to_parquet(tmp_path / data, index=False)
        r = cli(
            "pdp", tmp_path / "m.joblib", tmp_path / data, "--target", "y", "-f", " a", "-f", "a ",
            "--grid-resolution", "5", "--json", "--no-plot", "--format", "none",
        )  # fmt: skip
        assert r.exit_code == 0, r.stderr
        docs.append(json.loads(r.stdout))
    assert [c["features"] for c in docs[0]["results"]] == [[" a"], ["a "]]
    assert docs[0]["results"] == docs[1]["results"]
    r = cli(
        "importance", tmp_path / "m.joblib", tmp_path / "d.csv", "--target", "y", "-r", "2",
        "--group", "g= a,a ", "--json", "--no-plot", "--format", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    feats = json.loads(r.stdout)["results"][0]["features"]
    assert [(f["feature"], f["columns"]) for f in feats] == [("g", [" a", "a "]), ("a", ["a"])]
    # a model trained on 'a' does not silently read ' a'
    _fit(_frame(["a", "b"]), tmp_path / "plain.joblib")
    _frame([" a", "b"]).to_csv(tmp_path / "spaced.csv", index=False)
    r = cli("info", tmp_path / "plain.joblib", tmp_path / "spaced.csv", "--target", "y")
    assert r.exit_code == 3 and "lacks 1 column(s)" in r.stderr and "' a'" in r.stderr, r.stderr


def _text_numbers(tmp_path):
    frame = _frame(["x", "z"], n=120)
    _fit(frame, tmp_path / "m.joblib")
    frame.to_parquet(tmp_path / "numbers.parquet", index=False)
    text = pa.Table.from_pandas(frame, preserve_index=False)
    text = text.set_column(0, "x", pa.array([f"{v:.6f}" for v in frame["x"]]))
    pq.write_table(text, tmp_path / "text.parquet")
    return frame


def test_numbers_stored_as_text_follow_the_model(cli, tmp_path):
    _text_numbers(tmp_path)
    args = ["--target", "y", "-f", "x", "--grid-resolution", "7", "--json", "--no-plot", "--format", "none"]
    ref = cli("pdp", tmp_path / "m.joblib", tmp_path / "numbers.parquet", *args)
    got = cli("pdp", tmp_path / "m.joblib", tmp_path / "text.parquet", *args)
    assert ref.exit_code == 0 and got.exit_code == 0, got.stderr
    assert "'x' in 'text.parquet' hold numbers stored as text; the model reads them as numbers" in got.stderr
    a, b = json.loads(ref.stdout)["results"][0], json.loads(got.stdout)["results"][0]
    assert b["categorical"] == [False] and len(b["grid"][0]) == 7
    assert a["grid"] == b["grid"] and a["average"] == b["average"]
    imp = ["--target", "y", "-r", "2", "--json", "--no-plot", "--format", "none", "--no-mdi"]
    ref = cli("importance", tmp_path / "m.joblib", tmp_path / "numbers.parquet", *imp)
    got = cli("importance", tmp_path / "m.joblib", tmp_path / "text.parquet", *imp)
    assert got.exit_code == 0, got.stderr
    assert json.loads(ref.stdout)["results"] == json.loads(got.stdout)["results"]


def test_numbers_as_text_the_model_encodes_stay_categories(cli, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"code": rng.choice(["10", "20", "35"], 90), "v": rng.normal(size=90)})
    frame["y"] = frame["code"].astype(float) + frame["v"]
    pre = ColumnTransformer([("oh", OneHotEncoder(), ["code"])], remainder="passthrough")
    joblib.dump(
        make_pipeline(pre, LinearRegression()).fit(frame[["code", "v"]], frame["y"]), tmp_path / "m.joblib"
    )
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    r = cli(
        "pdp", tmp_path / "m.joblib", tmp_path / "d.parquet", "--target", "y", "-f", "code",
        "--json", "--no-plot", "--format", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "stored as text" not in r.stderr
    res = json.loads(r.stdout)["results"][0]
    assert res["categorical"] == [True] and res["grid"] == [["10", "20", "35"]]


def test_numbers_as_text_a_model_reads_differently_are_kept(tmp_path):
    """A model whose predictions on the text differ from those on the numbers keeps the text."""
    from inspectcli.loading.match import prepare
    from inspectcli.loading.probe import check_predicts

    class TextLength(LinearRegression):
        def predict(self, X):
            return np.array([len(str(v)) for v in X["x"]], dtype=float)

    frame = _text_numbers(tmp_path)
    model = TextLength().fit(frame[["x", "z"]], frame["y"])
    data = load_dataset(tmp_path / "text.parquet")
    prep = prepare(model, data, target="y")
    assert prep.X["x"].dtype == np.float64
    check_predicts(model, prep, "text.parquet")
    assert not pd.api.types.is_numeric_dtype(prep.X["x"]) and "kept as text" in prep.notes[-1]
