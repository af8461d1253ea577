"""A catalogue of bad inputs, run through the real CLI on real files.

Each case builds its bad file(s) in a fresh directory, runs `inspect info|pdp|importance` and checks:
the exit code (DESIGN.md), exactly one `error: …` line on stderr that names the file / column /
option and says what to do (`<what> — <hint>`), no traceback (without --debug), and that a
pre-existing --out directory holding earlier results is byte-for-byte unchanged.

A second, shorter table lists inputs that look wrong but are read anyway, with a note.

The README's "Bad input" tables are generated from these cases (and checked against them):

    python -m tests.test_bad_inputs > /tmp/table.md     # then paste into README.md
"""

from __future__ import annotations

import bz2
import json
import os
import pickle
import shutil
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from tests.bad_models import RAISING_MESSAGE, RaisingRegressor

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PREVIOUS = {"pdp.json": b'{"previous": "run"}\n', "pdp.csv": b"previous\n", "importance.json": b"{}\n"}
LONG_NAME = "feature_" + "x" * 300
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------------------------------
# The good files every case starts from
# --------------------------------------------------------------------------------------------------


@dataclass
class Workspace:
    """Small fitted models and the data they were fitted on, shared by every case."""

    root: Path
    frame: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Path:
        try:
            return self.__dict__["files"][name]
        except KeyError:
            raise AttributeError(name) from None


def build_workspace(root: Path) -> Workspace:
    rng = np.random.RandomState(0)
    n = 40
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n), "c": rng.randint(0, 5, n)})
    y = 2 * X["a"] - X["b"] + 0.5 * X["c"] + rng.normal(scale=0.1, size=n)
    label = (y > np.median(y)).astype(int)
    frame = X.assign(y=y, label=label)
    w = Workspace(root, frame)
    root.mkdir(parents=True, exist_ok=True)

    def dump(name: str, obj: object) -> None:
        joblib.dump(obj, root / name)
        w.files[name.replace(".", "_")] = root / name

    dump("reg.joblib", LinearRegression().fit(X, y))
    dump("clf.joblib", LogisticRegression().fit(X, label))
    dump("hgb.joblib", HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=2).fit(X, y))
    dump("raising.joblib", RaisingRegressor().fit(X, y))
    colors = pd.DataFrame({"a": X["a"], "color": np.array(["red", "green", "blue", "red"] * 10)})
    pipe = Pipeline(
        [
            ("cols", ColumnTransformer([("onehot", OneHotEncoder(), ["color"])], remainder="passthrough")),
            ("lin", LinearRegression()),
        ]
    )
    dump("pipe.joblib", pipe.fit(colors, y))
    dump("arrays.joblib", LinearRegression().fit(X.to_numpy(), y))
    frame.to_csv(root / "data.csv", index=False)
    frame.to_parquet(root / "data.parquet", index=False)
    colors.assign(y=y).to_csv(root / "colors.csv", index=False)
    w.files.update(data_csv=root / "data.csv", data_parquet=root / "data.parquet")
    w.files["colors_csv"] = root / "colors.csv"
    return w


# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # the README's words for the input
    code: int
    must: tuple[str, ...]  # substrings of the error line: what is named, and what to do
    build: Callable[[Workspace, Path], list[object]]
    env: dict[str, str] | None = None
    stdin: str | None = None
    needs_permissions: bool = False  # chmod-based: run without root's override of file modes


CASES: list[Case] = []
NOTE_CASES: list[Case] = []


def case(id: str, input: str, code: int, *must: str, **kw: object) -> Callable:
    def register(fn: Callable[[Workspace, Path], list[object]]) -> Callable:
        target = NOTE_CASES if code == 0 else CASES
        target.append(Case(id, input, code, must, fn, **kw))  # type: ignore[arg-type]
        return fn

    return register


def pdp(w: Workspace, model: Path, data: Path | str, *extra: object) -> list[object]:
    return ["pdp", model, data, "--target", "y", "--grid-resolution", "5", *extra]


def importance(w: Workspace, model: Path, data: Path | str, *extra: object) -> list[object]:
    return ["importance", model, data, "--n-repeats", "2", *extra]


def write_csv(path: Path, frame: pd.DataFrame, **kw: object) -> Path:
    frame.to_csv(path, index=False, **kw)
    return path


# --- model files ----------------------------------------------------------------------------------


@case("empty-model", "empty model file", 3, "'empty.joblib' is empty", "joblib.dump")
def _(w, t):
    (t / "empty.joblib").write_bytes(b"")
    return ["info", t / "empty.joblib"]


@case(
    "truncated-joblib", "truncated joblib file", 3, "'truncated.joblib'", "truncated", "save the model again"
)
def _(w, t):
    raw = w.reg_joblib.read_bytes()
    (t / "truncated.joblib").write_bytes(raw[: len(raw) // 2])
    return pdp(w, t / "truncated.joblib", w.data_csv, "-f", "a")


@case(
    "truncated-compressed",
    "truncated compressed joblib (zlib)",
    3,
    "'truncated.z.joblib'",
    "save the model again",
)
def _(w, t):
    joblib.dump(LinearRegression().fit(w.frame[["a", "b", "c"]], w.frame["y"]), t / "full.joblib", compress=3)
    raw = (t / "full.joblib").read_bytes()
    (t / "truncated.z.joblib").write_bytes(raw[: len(raw) // 2])
    return importance(w, t / "truncated.z.joblib", w.data_csv, "--target", "y")


@case(
    "pickle-dict", "a pickle of a dict", 3, "'dict.pkl' holds a dict", "no predict method", "fitted estimator"
)
def _(w, t):
    (t / "dict.pkl").write_bytes(pickle.dumps({"coef": [1.0, 2.0]}))
    return importance(w, t / "dict.pkl", w.data_csv, "--target", "y")


@case("unfitted", "an unfitted estimator", 3, "'unfitted.joblib'", "never fitted", "after calling fit")
def _(w, t):
    joblib.dump(LinearRegression(), t / "unfitted.joblib")
    return pdp(w, t / "unfitted.joblib", w.data_csv, "-f", "a")


@case("transformer", "a transformer with no predict", 3, "'scaler.joblib'", "transformer", "ends in one")
def _(w, t):
    joblib.dump(StandardScaler().fit(w.frame[["a", "b"]]), t / "scaler.joblib")
    return ["info", t / "scaler.joblib", w.data_csv]


@case("model-is-csv", "a CSV file given as the model", 3, "'table.joblib'", "data table", "joblib.dump")
def _(w, t):
    shutil.copy(w.data_csv, t / "table.joblib")
    return pdp(w, t / "table.joblib", w.data_csv, "-f", "a")


@case("model-unknown-bytes", "unknown content, unknown extension", 3, "'model.bin'", "not a model file")
def _(w, t):
    (t / "model.bin").write_bytes(bytes(range(7, 200)))
    return ["info", t / "model.bin"]


@case("model-is-dir", "a directory instead of the model file", 3, "'models'", "is a directory", "model file")
def _(w, t):
    (t / "models").mkdir()
    return ["info", t / "models"]


@case("model-missing", "a model path that does not exist", 3, "'regg.joblib' does not exist", "reg.joblib")
def _(w, t):
    shutil.copy(w.reg_joblib, t / "reg.joblib")
    return ["info", t / "regg.joblib"]


@case(
    "model-unreadable",
    "an unreadable model file (permissions)",
    3,
    "'locked.joblib'",
    "permission denied",
    "permissions",
    needs_permissions=True,
)
def _(w, t):
    shutil.copy(w.reg_joblib, t / "locked.joblib")
    (t / "locked.joblib").chmod(0)
    return ["info", t / "locked.joblib"]


@case(
    "sha256-mismatch",
    "--sha256 that does not match",
    3,
    "'reg.joblib' does not match --sha256",
    "check where",
)
def _(w, t):
    return ["info", w.reg_joblib, "--sha256", "ab" * 32]


@case("sha256-malformed", "--sha256 that is not a digest", 2, "--sha256 'abc'", "64 hex characters")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--sha256", "abc")


@case("no-pickle", "a joblib file with --no-pickle", 3, "'reg.joblib'", "--no-pickle", "skops.io.dump")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv, "--target", "y", "--no-pickle")


@case(
    "no-pickle-env",
    "a pickle file with INSPECT_NO_PICKLE=1",
    3,
    "'reg.pkl'",
    "INSPECT_NO_PICKLE",
    "skops.io.dump",
    env={"INSPECT_NO_PICKLE": "1"},
)
def _(w, t):
    shutil.copy(w.reg_joblib, t / "reg.pkl")
    return ["info", t / "reg.pkl"]


@case(
    "skops-untrusted",
    "a .skops file with untrusted types",
    3,
    "'tree.skops'",
    "sklearn.tree._tree.Tree",
    "--trust sklearn.tree._tree.Tree",
)
def _(w, t):
    sio.dump(DecisionTreeRegressor(max_depth=2).fit(w.frame[["a", "b", "c"]], w.frame["y"]), t / "tree.skops")
    return pdp(w, t / "tree.skops", w.data_parquet, "-f", "a")


@case("skops-damaged", "a zip file that is not a skops file", 3, "'fake.skops'", "skops.io.dump")
def _(w, t):
    with zipfile.ZipFile(t / "fake.skops", "w") as zf:
        zf.writestr("readme.txt", "not a model")
    return ["info", t / "fake.skops"]


@case(
    "version-strict",
    "a model from another scikit-learn, with --strict",
    3,
    "'old.pkl'",
    "scikit-learn 0.24.2",
    "--strict",
)
def _(w, t):
    model = LinearRegression().fit(w.frame[["a", "b", "c"]], w.frame["y"])
    state = model.__getstate__()
    state["_sklearn_version"] = "0.24.2"
    model.__getstate__ = lambda: state
    (t / "old.pkl").write_bytes(pickle.dumps(model))
    return ["info", t / "old.pkl", "--strict"]


@case(
    "missing-module",
    "a pickle that needs a module not installed",
    3,
    "'custom.pkl'",
    "'inspect_catalogue_gone'",
    "install",
)
def _(w, t):
    module = types.ModuleType("inspect_catalogue_gone")
    exec("class Model:\n    def predict(self, X):\n        return X\n", module.__dict__)
    module.Model.__module__ = "inspect_catalogue_gone"
    sys.modules["inspect_catalogue_gone"] = module
    try:
        (t / "custom.pkl").write_bytes(pickle.dumps(module.Model()))
    finally:
        del sys.modules["inspect_catalogue_gone"]
    return ["info", t / "custom.pkl"]


# --- data files -----------------------------------------------------------------------------------


@case("empty-data", "empty data file", 3, "'empty.csv' is empty", "header and rows")
def _(w, t):
    (t / "empty.csv").write_bytes(b"")
    return pdp(w, w.reg_joblib, t / "empty.csv", "-f", "a")


@case("data-is-dir", "an empty directory as the data", 3, "data directory 'tables'", "holds no data files")
def _(w, t):
    (t / "tables").mkdir()
    return importance(w, w.reg_joblib, t / "tables", "--target", "y")


@case("data-missing", "a data path that does not exist", 3, "'dta.csv' does not exist", "data.csv")
def _(w, t):
    shutil.copy(w.data_csv, t / "data.csv")
    return ["info", w.reg_joblib, t / "dta.csv"]


@case(
    "data-unreadable",
    "an unreadable data file (permissions)",
    3,
    "'locked.csv'",
    "permission denied",
    "permissions",
    needs_permissions=True,
)
def _(w, t):
    shutil.copy(w.data_csv, t / "locked.csv")
    (t / "locked.csv").chmod(0)
    return pdp(w, w.reg_joblib, t / "locked.csv", "-f", "a")


@case("data-excel", "an Excel workbook (zip) as data", 3, "'book.xlsx'", "zip", "export it as CSV or Parquet")
def _(w, t):
    with zipfile.ZipFile(t / "book.xlsx", "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    return ["info", w.reg_joblib, t / "book.xlsx"]


@case("data-binary", "binary content, unknown extension", 3, "'data.xyz'", "binary", ".parquet, .csv")
def _(w, t):
    (t / "data.xyz").write_bytes(bz2.compress(b"a,b,c\n1,2,3\n"))
    return pdp(w, w.reg_joblib, t / "data.xyz", "-f", "a")


@case("latin1", "a latin-1 CSV read as UTF-8", 3, "'latin1.csv'", "not valid utf-8", "--encoding latin-1")
def _(w, t):
    text = w.frame.assign(city="Montréal").to_csv(index=False)
    (t / "latin1.csv").write_bytes(text.encode("latin-1"))
    return importance(w, w.reg_joblib, t / "latin1.csv", "--target", "y")


@case("bad-encoding", "--encoding that does not exist", 2, "--encoding 'utf-9'", "latin-1")
def _(w, t):
    return ["info", w.reg_joblib, w.data_csv, "--encoding", "utf-9"]


@case("bad-sep", "--sep of two characters", 2, "--sep '::'", "one character")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--sep", "::")


@case("dup-columns-csv", "CSV with duplicate column names", 3, "'dupes.csv'", "'a'", "unique name")
def _(w, t):
    (t / "dupes.csv").write_text("a,b,c,a,y\n" + "1,2,3,4,5\n" * 5)
    return pdp(w, w.reg_joblib, t / "dupes.csv", "-f", "a")


@case(
    "dup-columns-parquet", "Parquet with duplicate column names", 3, "'dupes.parquet'", "'b'", "unique name"
)
def _(w, t):
    cols = [pa.array(w.frame[c]) for c in ("a", "b", "c", "b", "y")]
    pq.write_table(pa.Table.from_arrays(cols, names=["a", "b", "c", "b", "y"]), t / "dupes.parquet")
    return importance(w, w.reg_joblib, t / "dupes.parquet", "--target", "y")


@case("zero-rows", "zero rows (a header only)", 3, "'header.csv' has 0 row(s)", "at least 2")
def _(w, t):
    (t / "header.csv").write_text("a,b,c,y\n")
    return pdp(w, w.reg_joblib, t / "header.csv", "-f", "a")


@case("zero-rows-parquet", "zero rows (Parquet)", 3, "'none.parquet' has 0 row(s)", "more rows")
def _(w, t):
    w.frame.iloc[:0].to_parquet(t / "none.parquet")
    return importance(w, w.reg_joblib, t / "none.parquet", "--target", "y")


@case("one-row", "one row", 3, "'one.csv' has 1 row(s)", "at least 2")
def _(w, t):
    return pdp(w, w.reg_joblib, write_csv(t / "one.csv", w.frame.iloc[:1]), "-f", "a")


@case("truncated-parquet", "a truncated Parquet file", 3, "'cut.parquet'", "Parquet", "written completely")
def _(w, t):
    raw = w.data_parquet.read_bytes()
    (t / "cut.parquet").write_bytes(raw[: len(raw) // 2])
    return pdp(w, w.reg_joblib, t / "cut.parquet", "-f", "a")


@case("ragged-csv", "CSV rows with more fields than the header", 3, "'ragged.csv'", "--sep")
def _(w, t):
    (t / "ragged.csv").write_text("a,b,c,y\n1,2,3,4\n1,2,3,4,5,6\n1,2,3,4\n")
    return importance(w, w.reg_joblib, t / "ragged.csv", "--target", "y")


@case("damaged-gzip", "a damaged .csv.gz", 3, "'data.csv.gz'", "gzip")
def _(w, t):
    import gzip

    raw = gzip.compress(w.data_csv.read_bytes())
    (t / "data.csv.gz").write_bytes(raw[: len(raw) // 2])
    return pdp(w, w.reg_joblib, t / "data.csv.gz", "-f", "a")


@case("empty-stdin", "nothing on stdin (-)", 3, "stdin", "pipe a CSV", stdin="")
def _(w, t):
    return pdp(w, w.reg_joblib, "-", "-f", "a")


# --- model and data together ----------------------------------------------------------------------


@case(
    "missing-columns",
    "data lacking columns the model expects",
    3,
    "'ab.csv' lacks 1 column",
    "'c'",
    "trained on",
)
def _(w, t):
    return pdp(w, w.reg_joblib, write_csv(t / "ab.csv", w.frame.drop(columns="c")), "-f", "a")


@case(
    "decimal-commas",
    'numbers as strings with decimal commas ("1,5")',
    3,
    "column 'b'",
    "'0,5'",
    "--decimal ,",
)
def _(w, t):
    frame = w.frame.assign(b=[f"{v:.1f}".replace(".", ",") for v in w.frame["b"]])
    frame.loc[0, "b"] = "0,5"
    return pdp(w, w.reg_joblib, write_csv(t / "commas.csv", frame), "-f", "a")


@case("text-in-numbers", "text in a numeric column", 3, "column 'c'", "2 row(s)", "'unknown'", "numbers")
def _(w, t):
    frame = w.frame.astype({"c": object})
    frame.loc[3, "c"] = "unknown"
    frame.loc[33, "c"] = "to be checked"
    return importance(w, w.reg_joblib, write_csv(t / "text.csv", frame), "--target", "y")


@case("nan", "NaN where the model cannot take NaN", 3, "'nan.csv'", "'b' (3 rows)", "impute")
def _(w, t):
    frame = w.frame.copy()
    frame.loc[[2, 5, 30], "b"] = np.nan
    return pdp(w, w.reg_joblib, write_csv(t / "nan.csv", frame), "-f", "a")


@case("all-nan", "an all-NaN column", 3, "'allnan.csv'", "'c' (40 rows)", "impute")
def _(w, t):
    return importance(
        w, w.clf_joblib, write_csv(t / "allnan.csv", w.frame.assign(c=np.nan)), "--target", "label"
    )


@case(
    "all-nan-feature",
    "pdp of an all-NaN feature (model takes NaN)",
    2,
    "'c' has only missing",
    "another feature",
)
def _(w, t):
    return pdp(w, w.hgb_joblib, write_csv(t / "allnan.csv", w.frame.assign(c=np.nan)), "-f", "c")


@case("infinite", "infinite values", 3, "'inf.csv'", "'a' (2 rows)", "replace or drop")
def _(w, t):
    frame = w.frame.copy()
    frame.loc[[1, 7], "a"] = np.inf
    return importance(w, w.reg_joblib, write_csv(t / "inf.csv", frame), "--target", "y")


@case("dates", "dates where the model expects numbers", 3, "'b' holds dates", "convert those columns")
def _(w, t):
    w.frame.assign(b=pd.date_range("2024-01-01", periods=len(w.frame))).to_parquet(t / "dates.parquet")
    return importance(w, w.reg_joblib, t / "dates.parquet", "--target", "y")


@case(
    "float32-overflow", "a number too large for a tree model (float32)", 3, "'a' (1 rows)", "replace or drop"
)
def _(w, t):
    X = w.frame[["a", "b", "c"]]
    joblib.dump(DecisionTreeRegressor(max_depth=2).fit(X, w.frame["y"]), t / "tree.joblib")
    frame = w.frame.copy()
    frame.loc[5, "a"] = 1e39
    return pdp(w, t / "tree.joblib", write_csv(t / "huge.csv", frame), "-f", "b")


@case("constant-feature", "a constant feature for pdp", 2, "'c' is constant", "--values c=")
def _(w, t):
    return pdp(w, w.reg_joblib, write_csv(t / "const.csv", w.frame.assign(c=3)), "-f", "c")


@case("target-missing", "--target naming no column", 3, "--target", "'yy'", "columns are")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv, "--target", "yy")


@case("features-target", "--features naming the target", 2, "--features 'y'", "--target", "model's features")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "y")


@case("unknown-feature", "--features naming no feature", 2, "unknown feature 'bb'", "features are")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "bb")


@case("long-name-missing", "a very long feature name the data lacks", 3, "lacks 1 column", "feature_xxx")
def _(w, t):
    X = w.frame[["a", "b"]].rename(columns={"b": LONG_NAME})
    joblib.dump(LinearRegression().fit(X, w.frame["y"]), t / "long.joblib")
    return pdp(w, t / "long.joblib", w.data_csv, "-f", "a")


@case("unseen-class", "a target with a class the model never saw", 3, "'label'", "'7'", "classes are")
def _(w, t):
    frame = w.frame.copy()
    frame.loc[[0, 1], "label"] = 7
    return importance(w, w.clf_joblib, write_csv(t / "classes.csv", frame), "--target", "label")


@case("one-class", "a target with one class, scored with log loss", 3, "neg_log_loss", "every class")
def _(w, t):
    frame = w.frame.assign(label=0)
    path = write_csv(t / "one_class.csv", frame)
    return importance(w, w.clf_joblib, path, "--target", "label", "--scoring", "neg_log_loss")


@case(
    "unknown-category",
    "a category the model's encoder never saw",
    3,
    "column 'color'",
    "'purple' (1 rows)",
    "handle_unknown",
)
def _(w, t):
    frame = pd.read_csv(w.colors_csv)
    frame.loc[0, "color"] = "purple"
    return pdp(w, w.pipe_joblib, write_csv(t / "colors.csv", frame), "-f", "a")


@case("nan-target", "missing values in the target", 3, "target column 'y'", "drop those rows")
def _(w, t):
    frame = w.frame.copy()
    frame.loc[4, "y"] = np.nan
    return importance(w, w.reg_joblib, write_csv(t / "nan_y.csv", frame), "--target", "y")


@case("no-target", "importance without --target, two candidates", 2, "--target", "'y'", "'label'")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv)


@case("negative-weights", "negative sample weights", 3, "sample-weight column 'w'", "weights must be >= 0")
def _(w, t):
    frame = w.frame.assign(w=1.0)
    frame.loc[0, "w"] = -1.0
    return importance(w, w.reg_joblib, write_csv(t / "w.csv", frame), "--target", "y", "--sample-weight", "w")


@case("array-model-width", "an array-fitted model, data of another width", 3, "3 unnamed columns", "--target")
def _(w, t):
    return pdp(w, w.arrays_joblib, write_csv(t / "wide.csv", w.frame.assign(d=1.0)), "-f", "a")


@case(
    "predict-raises",
    "a model whose predict raises",
    4,
    "'data.csv'",
    "RuntimeError",
    RAISING_MESSAGE,
    "estimator's own error",
)
def _(w, t):
    return pdp(w, w.raising_joblib, w.data_csv, "-f", "a")


# --- options and output ---------------------------------------------------------------------------


@case("out-is-file", "--out naming a file", 2, "--out", "is a file", "directory")
def _(w, t):
    (t / "results").write_text("not a directory")
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--out", t / "results")


@case("out-under-file", "--out inside a file", 2, "--out", "'notes.txt' is a file", "another directory")
def _(w, t):
    (t / "notes.txt").write_text("not a directory")
    return importance(w, w.reg_joblib, w.data_csv, "--target", "y", "--out", t / "notes.txt" / "sub")


@case(
    "out-read-only",
    "a read-only --out directory",
    2,
    "--out",
    "not writable",
    "you can write to",
    needs_permissions=True,
)
def _(w, t):
    (t / "ro").mkdir()
    (t / "ro" / "pdp.json").write_bytes(PREVIOUS["pdp.json"])
    (t / "ro").chmod(0o555)
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--out", t / "ro")


@case("bad-percentiles", "--percentiles that are not numbers", 2, "--percentiles 'low,high'", "0.05,0.95")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--percentiles", "low,high")


@case("bad-scoring", "an unknown --scoring name", 2, "'r3'", "r2")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv, "--target", "y", "--scoring", "r3")


@case("bad-repeats", "--n-repeats 0", 2, "--n-repeats 0", "at least 1")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv, "--target", "y", "--n-repeats", "0")


@case("bad-int-option", "--grid-resolution that is not a number", 2, "--grid-resolution", "--help")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a", "--grid-resolution", "many")


@case("unknown-option", "an option that does not exist", 2, "--n-repeat", "--help")
def _(w, t):
    return importance(w, w.reg_joblib, w.data_csv, "--target", "y", "--n-repeat", "3")


# --- inputs that look wrong but are read anyway (exit 0 and a note) -------------------------------


@case("parquet-named-csv", "a Parquet file named .csv", 0, "'really_parquet.csv'", "reading it as parquet")
def _(w, t):
    shutil.copy(w.data_parquet, t / "really_parquet.csv")
    return pdp(w, w.reg_joblib, t / "really_parquet.csv", "-f", "a")


@case("csv-named-parquet", "a CSV file named .parquet", 0, "'really_csv.parquet'", "reading it as csv")
def _(w, t):
    shutil.copy(w.data_csv, t / "really_csv.parquet")
    return importance(w, w.reg_joblib, t / "really_csv.parquet", "--target", "y")


@case("data-unknown-ext", "CSV with an unknown extension", 0, "'data.dat'", "reading it as csv")
def _(w, t):
    shutil.copy(w.data_csv, t / "data.dat")
    return pdp(w, w.reg_joblib, t / "data.dat", "-f", "a")


@case("pickle-named-skops", "a joblib file named .skops", 0, "'model.skops'", "content is pickle")
def _(w, t):
    shutil.copy(w.reg_joblib, t / "model.skops")
    return pdp(w, t / "model.skops", w.data_csv, "-f", "a")


@case("model-unknown-ext", "a joblib file with an unknown extension", 0, "'model.bin'", "content is pickle")
def _(w, t):
    shutil.copy(w.reg_joblib, t / "model.bin")
    return importance(w, t / "model.bin", w.data_csv, "--target", "y")


@case("semicolon-decimals", "a ;-separated file with decimal commas", 0, "'euro.csv'", "decimal commas")
def _(w, t):
    return pdp(w, w.reg_joblib, write_csv(t / "euro.csv", w.frame, sep=";", decimal=","), "-f", "a")


@case(
    "version-warning", "a model from another scikit-learn", 0, "'old.pkl'", "scikit-learn 0.24.2", "--strict"
)
def _(w, t):
    model = LinearRegression().fit(w.frame[["a", "b", "c"]], w.frame["y"])
    state = model.__getstate__()
    state["_sklearn_version"] = "0.24.2"
    model.__getstate__ = lambda: state
    (t / "old.pkl").write_bytes(pickle.dumps(model))
    return pdp(w, t / "old.pkl", w.data_csv, "-f", "a")


@case("extra-columns", "data with columns the model does not use", 0, "ignoring 1 column", "'label'")
def _(w, t):
    return pdp(w, w.reg_joblib, w.data_csv, "-f", "a")


@case("unicode-names", "unicode column names", 0, "cannot draw", "日")
def _(w, t):
    names = {"a": "température", "b": "日本語", "c": "naïve β"}
    frame = w.frame.rename(columns=names)
    joblib.dump(LinearRegression().fit(frame[list(names.values())], frame["y"]), t / "unicode.joblib")
    return pdp(w, t / "unicode.joblib", write_csv(t / "données.csv", frame), "-f", "température,日本語")


@case("long-name", "a very long feature name", 0, "wrote")
def _(w, t):
    frame = w.frame.rename(columns={"b": LONG_NAME})
    joblib.dump(LinearRegression().fit(frame[["a", LONG_NAME]], frame["y"]), t / "long.joblib")
    return pdp(w, t / "long.joblib", write_csv(t / "long.csv", frame), "-f", LONG_NAME)


@case(
    "constant-in-all", "a constant feature among all features (no -f)", 0, "skipping feature 'c'", "constant"
)
def _(w, t):
    return pdp(w, w.reg_joblib, write_csv(t / "const.csv", w.frame.assign(c=3)))


# --------------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]


def _argv(c: Case, w: Workspace, tmp: Path) -> tuple[list[str], Path]:
    out = tmp / "out"
    argv = [str(a) for a in c.build(w, tmp)]
    if argv[0] in ("pdp", "importance") and "--out" not in argv:
        argv += ["--out", str(out)]
    if "--out" in argv:
        out = Path(argv[argv.index("--out") + 1])
    return argv, out


def run_argv(argv: list[str], *, env: dict[str, str] | None, stdin: str | None, drop_root: bool) -> Outcome:
    """In-process through Typer's CliRunner; chmod cases as root run in a subprocess without
    the capabilities that let root read and write files whatever their mode."""
    if drop_root and IS_ROOT:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        cmd = [
            setpriv,
            "--inh-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search",
            "--",
            sys.executable,
            "-m",
            "inspectcli",
            *argv,
        ]
        full_env = {**os.environ, "INSPECT_NO_PROGRESS": "1", **(env or {})}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, input=stdin, cwd=ROOT)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    result = CliRunner().invoke(app, argv, input=stdin, env=env, catch_exceptions=True)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, exc)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (hidden ones too) with its bytes."""
    if not directory.exists():
        return {}
    files = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file() and os.access(p, os.R_OK):
            files[str(p.relative_to(directory))] = p.read_bytes()
        elif p.is_file():
            files[str(p.relative_to(directory))] = b"<unreadable>"
    return files


def run_case(c: Case, w: Workspace, tmp: Path) -> tuple[Outcome, dict[str, bytes], dict[str, bytes]]:
    tmp.mkdir(parents=True, exist_ok=True)
    argv, out = _argv(c, w, tmp)
    if not out.exists() and not out.parent.is_file() and out.parent.exists():
        out.mkdir()
        for name, data in PREVIOUS.items():
            (out / name).write_bytes(data)
    before = snapshot(out) if out.is_dir() else {}
    outcome = run_argv(argv, env=c.env, stdin=c.stdin, drop_root=c.needs_permissions)
    after = snapshot(out) if out.is_dir() else {}
    return outcome, before, after


def normalise(text: str, *dirs: Path) -> str:
    for d in dirs:
        text = text.replace(str(d) + os.sep, "")
    return text


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("good"))


def test_catalogue_covers_every_command(ws: Workspace, tmp_path: Path):
    assert len(CASES) >= 30
    ids = [c.id for c in CASES + NOTE_CASES]
    assert len(ids) == len(set(ids))
    commands = []
    for c in CASES:
        (tmp_path / c.id).mkdir()
        commands.append(str(c.build(ws, tmp_path / c.id)[0]))
    for command in ("info", "pdp", "importance"):
        assert commands.count(command) >= 8, command


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, ws: Workspace, tmp_path: Path):
    outcome, before, after = run_case(c, ws, tmp_path)
    assert outcome.exception is None, f"uncaught {outcome.exception!r}\n{outcome.stderr}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code == c.code, outcome.stderr
    lines = outcome.error_lines
    assert len(lines) == 1, outcome.stderr
    line = normalise(lines[0], tmp_path, ws.root)
    assert " — " in line, f"no hint in: {line}"
    for text in c.must:
        assert text in line, f"{text!r} not in: {line}"
    assert after == before, "--out changed"
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert not leftovers


@pytest.mark.parametrize("c", NOTE_CASES, ids=[c.id for c in NOTE_CASES])
def test_read_anyway_with_a_note(c: Case, ws: Workspace, tmp_path: Path):
    outcome, before, after = run_case(c, ws, tmp_path)
    assert outcome.exception is None, f"uncaught {outcome.exception!r}\n{outcome.stderr}"
    assert outcome.code == 0, outcome.stderr
    assert not outcome.error_lines
    text = normalise(" ".join(outcome.stderr.split()), tmp_path, ws.root)
    for must in c.must:
        assert must in text, f"{must!r} not in: {outcome.stderr}"
    kind = "pdp" if "pdp.json" in after and after["pdp.json"] != before.get("pdp.json") else "importance"
    doc = json.loads(after[f"{kind}.json"])
    assert doc["kind"] == kind and len(doc["model"]["sha256"]) == 64
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_debug_shows_the_traceback(ws: Workspace, tmp_path: Path):
    c = next(c for c in CASES if c.id == "truncated-joblib")
    argv, _ = _argv(c, ws, tmp_path)
    outcome = run_argv([*argv, "--debug"], env=None, stdin=None, drop_root=False)
    assert outcome.code == 3
    assert "Traceback (most recent call last)" in outcome.stderr
    assert outcome.error_lines and "truncated" in outcome.error_lines[0]


def test_sha256_recorded_and_pinned(ws: Workspace, tmp_path: Path):
    from inspectcli.loading.paths import sha256_of

    digest = sha256_of(ws.reg_joblib)
    argv = pdp(ws, ws.reg_joblib, ws.data_csv, "-f", "a", "--sha256", digest.upper(), "--out", tmp_path)
    outcome = run_argv([str(a) for a in argv], env=None, stdin=None, drop_root=False)
    assert outcome.code == 0, outcome.stderr
    doc = json.loads((tmp_path / "pdp.json").read_text())
    assert doc["model"]["sha256"] == digest
    assert doc["data"]["sha256"] == sha256_of(ws.data_csv)


# --------------------------------------------------------------------------------------------------
# The README's tables
# --------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_tables(w: Workspace, tmp: Path) -> str:
    """The markdown of both tables, from real runs of every case."""
    lines = ["| input | message (stderr) | exit |", "|---|---|---|"]
    notes = ["| input | note (stderr) | exit |", "|---|---|---|"]
    for i, c in enumerate(CASES + NOTE_CASES):
        d = tmp / f"case{i}"
        outcome, *_ = run_case(c, w, d)
        stderr = normalise(outcome.stderr, d, w.root)
        if c.code:
            said = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
        else:
            said = [ln for ln in stderr.splitlines() if c.must[0] in ln]
        message = said[0] if said else "?"
        if len(message) > 220:  # shorten what went wrong, keep what to do
            what, _, hint = message.rpartition(" — ")
            message = what[: max(60, 216 - len(hint))] + "… — " + hint
        tick = "``" if "`" in message else "`"
        row = f"| {_cell(c.input)} | {tick}{_cell(message)}{tick} | {outcome.code} |"
        (lines if c.code else notes).append(row)
    return "\n".join(lines) + "\n\nRead anyway, with a note:\n\n" + "\n".join(notes) + "\n"


def _readme_rows() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    rows = []
    for ln in section.splitlines():
        if ln.startswith("| ") and not ln.startswith(("| input", "|---")):
            cells = [c.strip() for c in ln.strip("|").split(" | ")]
            rows.append(cells)
    return rows


def test_readme_table_matches_the_catalogue():
    rows = _readme_rows()
    cases = CASES + NOTE_CASES
    assert [r[0] for r in rows] == [_cell(c.input) for c in cases], (
        "README's Bad input tables differ from the catalogue: regenerate with "
        "`python -m tests.test_bad_inputs`"
    )
    for row, c in zip(rows, cases):
        assert int(row[-1]) == c.code, c.id
        message = row[1].replace("\\|", "|")
        for must in c.must[:2]:
            if len(must) < 60:
                assert must in message, f"{c.id}: {must!r} not in the README's message {message!r}"


if __name__ == "__main__":  # python -m tests.test_bad_inputs: print the README tables
    import tempfile

    os.environ.setdefault("INSPECT_NO_PROGRESS", "1")
    with tempfile.TemporaryDirectory() as d:
        ws_ = build_workspace(Path(d) / "good")
        sys.stdout.write(readme_tables(ws_, Path(d)))
        sys.stdout.flush()


def test_our_bugs_are_not_blamed_on_the_model(ws: Workspace):
    """An exception raised in inspectcli's code is 'unexpected'; one raised in the model is exit 4."""
    from inspectcli.errors import raised_in_our_code, shorten

    model = joblib.load(ws.reg_joblib)
    with pytest.raises(ValueError) as in_model:
        model.predict(pd.DataFrame(np.zeros((2, 7))).add_prefix("x"))
    assert not raised_in_our_code(in_model.value)
    with pytest.raises(TypeError) as in_ours:
        shorten(None)  # type: ignore[arg-type]
    assert raised_in_our_code(in_ours.value)
