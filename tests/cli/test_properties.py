"""Property-based tests: odd data and odd option combinations never end in an uncaught exception.

hypothesis draws small tables (mixed dtypes, NaN and infinities, text where numbers belong,
unicode / long / duplicate column names, 0 to 12 rows) and option combinations for `pdp` and
`importance`, runs the real CLI on them against small fitted models, and checks: no uncaught
exception and no "unexpected" error, a documented exit code with one `error:` line on failure,
and on success a JSON file that parses and has the documented keys.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from inspectcli.cli.app import app

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` skips this module

ENVELOPE = ["schema_version", "kind", "tool", "sklearn_version", "model", "data", "parameters", "results"]
#: INSPECT_PROPERTY_EXAMPLES=500 explores further (random seeds); CI runs a fixed, modest set.
EXPLORE = int(os.environ.get("INSPECT_PROPERTY_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=EXPLORE or 50,
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _fit_models(root: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (file, input columns, target column)."""
    rng = np.random.RandomState(0)
    n = 60
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n), "c": rng.randint(0, 4, n)})
    y = X["a"] - 2 * X["b"] + X["c"]
    label = (y > y.median()).astype(int)
    kinds = np.array(["red", "green", "blue"])[rng.randint(0, 3, n)]
    models = {
        "lin": (LinearRegression().fit(X, y), ["a", "b", "c"], "y"),
        "hgb": (HistGradientBoostingRegressor(max_iter=3).fit(X, y), ["a", "b", "c"], "y"),
        "logit": (LogisticRegression().fit(X, label), ["a", "b", "c"], "label"),
    }
    S = pd.DataFrame({"a": X["a"], "s": kinds})
    pipe = Pipeline(
        [
            (
                "cols",
                ColumnTransformer(
                    [("onehot", OneHotEncoder(handle_unknown="ignore"), ["s"])], remainder="passthrough"
                ),
            ),
            ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ]
    )
    models["pipe"] = (pipe.fit(S, np.where(y > 0, "hi", "lo")), ["a", "s"], "klass")
    out = {}
    for name, (model, cols, target) in models.items():
        joblib.dump(model, root / f"{name}.joblib")
        out[name] = (root / f"{name}.joblib", cols, target)
    return out


MODELS_DIR = Path(tempfile.mkdtemp(prefix="inspect-properties-"))
MODELS = _fit_models(MODELS_DIR)

odd_names = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(" ,;|\"'\t-_."),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["température", "日本語", "a b", "a,b", 'say "hi"', "x" * 200, "1", "NaN"]),
)


def column(kind: str, n: int, draw) -> list:
    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind == "float":
        return draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n))
    if kind == "wild":
        return draw(st.lists(st.one_of(floats, st.floats(-5, 5)), min_size=n, max_size=n))
    if kind == "int":
        return draw(st.lists(st.integers(-3, 5), min_size=n, max_size=n))
    if kind == "comma":
        return [f"{v:.1f}".replace(".", ",") for v in draw(st.lists(st.floats(0, 9), min_size=n, max_size=n))]
    if kind == "text":
        return draw(
            st.lists(st.sampled_from(["red", "green", "blue", "purple", "", "n/a"]), min_size=n, max_size=n)
        )
    if kind == "bool":
        return draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if kind == "nan":
        return [np.nan] * n
    if kind == "mixed":
        return draw(
            st.lists(st.one_of(st.floats(-3, 3), st.sampled_from(["x", "1.5"])), min_size=n, max_size=n)
        )
    if kind == "dates":
        return list(pd.date_range("2024-01-01", periods=n, freq="D"))
    return [3.0] * n  # constant


KINDS = [
    "float",
    "float",
    "wild",
    "wild",
    "int",
    "comma",
    "text",
    "bool",
    "nan",
    "mixed",
    "constant",
    "dates",
]


@st.composite
def frames(draw, model: str, clean: bool | None = None) -> pd.DataFrame:
    """A clean table (only odd extra columns), or one with wild columns; half and half by default."""
    _, cols, target = MODELS[model]
    if clean is None:
        clean = draw(st.booleans())
    n = draw(st.sampled_from([5, 8, 12] if clean else [0, 1, 2, 3, 5, 8, 12]))
    data: dict[str, list] = {}
    names: list[str] = []
    for col in cols:
        if not clean and draw(st.integers(0, 5)) == 0:
            continue  # a column the model needs is missing
        if model == "pipe" and col == "s":
            kind = "text" if clean else draw(st.sampled_from(["text", "int", "nan", "mixed"]))
        elif clean:
            kind = draw(st.sampled_from(["float", "float", "int"]))
        else:
            kind = draw(st.sampled_from(KINDS))
        names.append(col)
        data[col] = column(kind, n, draw)
    if clean or draw(st.integers(0, 5)):
        if target == "klass":
            values = draw(
                st.lists(
                    st.sampled_from(["hi", "lo"] if clean else ["hi", "lo", "new"]), min_size=n, max_size=n
                )
            )
        elif target == "label":
            values = draw(st.lists(st.sampled_from([0, 1] if clean else [0, 1, 7]), min_size=n, max_size=n))
        else:
            values = column(
                "float" if clean else draw(st.sampled_from(["float", "int", "nan", "text"])), n, draw
            )
            if clean:
                values = [v if np.isfinite(v) else 0.0 for v in values]
        names.append(target)
        data[target] = values
    for name in draw(st.lists(odd_names, max_size=2, unique=True)):
        names.append(name)
        data[name] = column(draw(st.sampled_from(KINDS)), n, draw)
    frame = pd.DataFrame({i: data[name] for i, name in enumerate(names)}) if names else pd.DataFrame()
    frame.columns = names  # duplicates allowed: a name drawn twice stays twice
    return frame


def write(frame: pd.DataFrame, directory: Path, fmt: str) -> Path:
    if fmt == "parquet":
        try:
            path = directory / "data.parquet"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame.to_parquet(path, index=False)
            return path
        except Exception:  # mixed object columns, duplicate names: fall back to CSV
            pass
    sep = ";" if fmt == "semicolon" else ","
    path = directory / "data.csv"
    frame.to_csv(path, index=False, sep=sep)
    return path


def run(argv: list[object]):
    result = CliRunner().invoke(app, [str(a) for a in argv], catch_exceptions=True)
    exc = None if isinstance(result.exception, SystemExit) else result.exception
    return result.exit_code, result.stdout, result.stderr, exc


def output_options(draw) -> list[object]:
    """--format / --json / --plot combinations."""
    args: list[object] = []
    fmt = draw(st.sampled_from([None, None, "json", "csv", "none", "json,csv"]))
    if fmt is not None:
        args += ["--format", fmt]
    if draw(st.integers(0, 3)) == 0:
        args.append("--json")
    if draw(st.integers(0, 4)):
        args.append("--no-plot")
    return args


def check(
    code: int, stdout: str, stderr: str, exc: BaseException | None, out: Path, kind: str, args: list
) -> dict | None:
    event(f"exit {code}")
    assert exc is None, f"uncaught {type(exc).__name__}: {exc}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert "unexpected" not in stderr, stderr
    assert code in (0, 2, 3), stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    if code:
        assert len(errors) == 1, stderr
        assert " — " in errors[0], errors[0]
        if code == 4:
            assert "the model failed" in errors[0], errors[0]
        return None
    assert not errors, stderr
    formats = str(args[args.index("--format") + 1]) if "--format" in args else "json,csv"
    if "--json" in args:
        doc = json.loads(stdout)
        if "json" in formats:
            assert json.loads((out / f"{kind}.json").read_text(encoding="utf-8")) == doc
    elif "json" in formats:
        doc = json.loads((out / f"{kind}.json").read_text(encoding="utf-8"))
    else:
        assert not (out / f"{kind}.json").exists()
        return None
    assert ("csv" in formats) == (out / f"{kind}.csv").exists()
    assert ("--no-plot" not in args) == (out / f"{kind}.png").exists()
    assert list(doc)[: len(ENVELOPE)] == ENVELOPE and list(doc)[-1] == "elapsed_s"
    assert doc["kind"] == kind and len(doc["model"]["sha256"]) == 64
    assert doc["data"]["n_rows"] >= 2
    return doc


@st.composite
def pdp_case(draw):
    """Half the time options that make sense on a clean table, else anything."""
    model = draw(st.sampled_from(sorted(MODELS)))
    sane = draw(st.booleans())
    frame = draw(frames(model, clean=True if sane else None))
    _, cols, target = MODELS[model]
    names = list(dict.fromkeys(str(c) for c in frame.columns))
    pool = cols if sane else [*cols, target, "zz", *names]
    numeric = [c for c in cols if c != "s"]
    args: list[object] = ["--target", target] if sane or draw(st.booleans()) else []
    for f in draw(st.lists(st.sampled_from(pool), max_size=2)):
        args += ["-f", f]
    if draw(st.booleans()):
        pair = draw(st.lists(st.sampled_from(cols), min_size=2, max_size=2, unique=sane))
        args += ["--pair", ",".join(pair)]
    args += ["--kind", draw(st.sampled_from(["average", "individual", "both"]))]
    args += ["--grid-resolution", draw(st.sampled_from([2, 3, 5, 10]))]
    methods = ["auto", "brute"] if sane else ["auto", "auto", "brute", "recursion"]
    args += ["--method", draw(st.sampled_from(methods))]
    if draw(st.booleans()):
        spans = ["0,1", "0.1,0.9"] if sane else ["0,1", "0.1,0.9", "0.5,0.5", "0.9,0.1"]
        args += ["--percentiles", draw(st.sampled_from(spans))]
    if draw(st.booleans()):
        args.append("--centered")
    if draw(st.integers(0, 3)) == 0:
        args += ["--categorical", draw(st.sampled_from(cols))]
    if draw(st.integers(0, 3)) == 0:
        if sane:
            args += [
                "--values",
                f"{draw(st.sampled_from(numeric))}=" + draw(st.sampled_from(["1,2,3", "0.5,1"])),
            ]
        else:
            feature = draw(st.sampled_from(cols))
            args += ["--values", f"{feature}=" + draw(st.sampled_from(["1,2,3", "red,blue", "x"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--subsample", draw(st.sampled_from(["3", "0.5"] if sane else ["3", "0.5", "1"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--ice-lines", draw(st.sampled_from(["1", "3"]))]
    if draw(st.integers(0, 4)) == 0 and model in ("logit", "pipe"):
        classes = {"logit": ["0", "1"], "pipe": ["hi", "lo"]}[model]
        args += ["--class", draw(st.sampled_from(classes if sane else [*classes, "9"]))]
    args += output_options(draw)
    fmt = draw(st.sampled_from(["csv", "csv", "parquet", "semicolon"]))
    return model, frame, fmt, args


@st.composite
def importance_case(draw):
    model = draw(st.sampled_from(sorted(MODELS)))
    frame = draw(frames(model))
    _, cols, target = MODELS[model]
    args: list[object] = []
    if draw(st.integers(0, 4)):
        args += ["--target", draw(st.sampled_from([target, target, target, cols[0], "zz"]))]
    scorers = {
        "lin": ["r2", "neg_mean_absolute_error", "accuracy"],
        "hgb": ["r2", "neg_mean_squared_error"],
        "logit": ["accuracy", "roc_auc", "neg_log_loss", "r2"],
        "pipe": ["accuracy", "balanced_accuracy", "roc_auc"],
    }[model]
    for s in draw(st.lists(st.sampled_from(scorers), max_size=2, unique=True)):
        args += ["--scoring", s]
    args += ["--n-repeats", draw(st.sampled_from([1, 2, 3]))]
    if draw(st.booleans()):
        args += ["--max-samples", draw(st.sampled_from(["0.5", "1.0", "2", "3", "100"]))]
    if draw(st.integers(0, 3)) == 0:
        args += [
            "--group",
            "g=" + ",".join(draw(st.lists(st.sampled_from([*cols, "zz"]), min_size=1, max_size=2))),
        ]
    if draw(st.integers(0, 3)) == 0:
        args += ["--cluster-threshold", draw(st.sampled_from(["0.1", "0.5", "1.5"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--top", draw(st.sampled_from(["1", "2"]))]
    if draw(st.integers(0, 3)) == 0:
        args.append("--no-mdi")
    if draw(st.integers(0, 5)) == 0:
        args += ["--compare", "SAME"]  # the same file again
    args += output_options(draw)
    fmt = draw(st.sampled_from(["csv", "csv", "parquet", "semicolon"]))
    return model, frame, fmt, args


@SETTINGS
@given(pdp_case())
def test_pdp_never_crashes(case):
    model, frame, fmt, args = case
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d)
        data = write(frame, directory, fmt)
        out = directory / "out"
        code, stdout, stderr, exc = run(["pdp", MODELS[model][0], data, *args, "--out", out])
        doc = check(code, stdout, stderr, exc, out, "pdp", args)
        if doc is not None:
            assert doc["results"], "a successful pdp has at least one curve"
            for entry in doc["results"]:
                assert {"features", "categorical", "target", "method", "grid"} <= set(entry)
                assert "average" in entry or "individual" in entry


@SETTINGS
@given(importance_case())
def test_importance_never_crashes(case):
    model, frame, fmt, args = case
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d)
        data = write(frame, directory, fmt)
        out = directory / "out"
        args = [data if a == "SAME" else a for a in args]
        code, stdout, stderr, exc = run(["importance", MODELS[model][0], data, *args, "--out", out])
        doc = check(code, stdout, stderr, exc, out, "importance", args)
        if doc is not None:
            assert doc["results"]
            for block in doc["results"]:
                assert {"scorer", "baseline_score", "features"} <= set(block)
                for feat in block["features"]:
                    assert {
                        "feature",
                        "columns",
                        "importances_mean",
                        "importances_std",
                        "importances",
                    } <= set(feat)
            assert {"impurity", "clusters", "compare"} <= set(doc)


@pytest.fixture(scope="module", autouse=True)
def _cleanup_models():
    yield
    import shutil

    shutil.rmtree(MODELS_DIR, ignore_errors=True)
