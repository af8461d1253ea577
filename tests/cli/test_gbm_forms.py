"""LightGBM / XGBoost / CatBoost models in every form a user saves them, through the real CLI.

Forms: a Pipeline (ColumnTransformer scaling the numeric columns, the categorical one passed
through by name) saved with joblib, the library's own file, an MLflow folder of the library's
flavour and an MLflow ``sklearn`` folder of the pipeline (both made with mlflow's ``save_model``).
The bare model saved with joblib is in test_gbm_cli.py. Each (form, task) pair is met once per
library rotation, so the 12 cases cover every form for every library and every task.

Oracles, on the original in-memory model: ``sklearn.inspection.partial_dependence`` on our grid
(1e-10 relative; XGBoost: the float64 mean of its float32 predictions, exactly as documented),
ICE lines bit for bit;
``permutation_importance`` bit for bit; the built-in importance equal to the model's own
``feature_importances_``; ALE of the numeric column with NaN equal to its definition computed
from the model's predictions (accumulated mean differences across each bin, centred).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from tests.gbm_models import LIBS, TASKS, ale_by_definition, make_data, make_model, make_pipeline, save_native

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytest.importorskip("catboost")

FORMS = ("pipeline", "native", "mlflow", "mlflow-pipeline")
CASES = [
    pytest.param(lib, form, TASKS[(i + j) % 3], marks=[pytest.mark.slow] if "mlflow" in form else [])
    for j, lib in enumerate(LIBS)
    for i, form in enumerate(FORMS)
]
NATIVE = {"lightgbm": "m.txt", "xgboost": "m.json", "catboost": "m.cbm"}
BUILTIN = {"lightgbm": "split count", "xgboost": "gain", "catboost": "PredictionValuesChange"}
# mlflow.lightgbm writes the scikit-learn API model with skops: its types are trusted by name
LGBM_TRUST = ["collections.OrderedDict", "lightgbm.basic.Booster"]


def _save(lib: str, form: str, task: str, root: Path) -> tuple[Path, object, list[str]]:
    """The file or folder of ``form``, the in-memory model it holds, extra CLI options."""
    X, y = make_data(lib, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = (make_pipeline(lib, task) if "pipeline" in form else make_model(lib, task)).fit(X, y)
        if form == "pipeline":
            joblib.dump(model, root / "p.joblib")
            return root / "p.joblib", model, []
        if form == "native":
            save_native(model, lib, str(root / NATIVE[lib]))
            return root / NATIVE[lib], model, []
        import importlib

        pytest.importorskip("mlflow")
        # pip_requirements given: mlflow would otherwise infer them in a subprocess (~15 s)
        if form == "mlflow-pipeline":
            import mlflow.sklearn

            mlflow.sklearn.save_model(
                model, root / "mlflow", serialization_format="cloudpickle", pip_requirements=[]
            )
            return root / "mlflow", model, []
        importlib.import_module(f"mlflow.{lib}").save_model(model, root / "mlflow", pip_requirements=[])
    trust = [*LGBM_TRUST, f"lightgbm.sklearn.{type(model).__name__}"] if lib == "lightgbm" else []
    return root / "mlflow", model, [a for t in trust for a in ("--trust", t)]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize(("lib", "form", "task"), CASES)
def test_every_command_on_every_form(lib, form, task, cli, tmp_path):
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    path, model, extra = _save(lib, form, task, tmp_path)
    X, y = make_data(lib, task)
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    common = (path, tmp_path / "d.parquet", "--target", "y", *extra)
    classes = list(getattr(model, "classes_", []))

    run = cli("info", *common, "--json")
    assert run.exit_code == 0, run.stderr
    m = json.loads(run.stdout)["model"]
    assert [(f["name"], f["kind"]) for f in m["features"]] == [
        ("x0", "numeric"),
        ("x1", "numeric"),
        ("x2", "numeric"),
        ("c", "categorical"),
    ]
    assert m["library"]["name"] == lib and m["library"]["version"] == __import__(lib).__version__
    assert m["builtin_importance"].split(" (")[0].endswith(BUILTIN[lib])
    assert m["task"] == task if task == "regression" else task in m["task"]

    run = cli(
        "pdp",
        *common,
        "-f",
        "x1",
        "-f",
        "c",
        "--kind",
        "both",
        "--grid-resolution",
        "6",
        "--no-plot",
        "--json",
        "--out",
        tmp_path / "p",
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert ("average_note" in doc["parameters"]) == (lib == "xgboost")
    for entry in doc["results"]:
        [feature] = entry["features"]
        assert entry["categorical"] == [feature == "c"]
        grid = entry["grid"][0]
        theirs = sk_pd(
            model,
            X,
            [feature],
            kind="both",
            method="brute",
            custom_values={feature: grid},
            categorical_features=["c"] if feature == "c" else None,
        )
        k = (
            0
            if entry["target"] is None or theirs["average"].shape[0] == 1
            else classes.index(entry["target"])
        )
        # ICE: the model's own predictions, bit for bit
        assert entry["individual"] == theirs["individual"][k][entry["rows"]].tolist()
        if lib == "xgboost":  # the float32 rule: the float64 mean of the model's float32 predictions
            exact = np.asarray(theirs["individual"][k], dtype=np.float64).mean(axis=0)
            assert _rel(entry["average"], exact) <= 1e-14
        else:
            assert _rel(entry["average"], theirs["average"][k]) <= 1e-10

    run = cli(
        "importance",
        *common,
        "-r",
        "2",
        "--random-state",
        "0",
        "--no-plot",
        "--json",
        "--out",
        tmp_path / "i",
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    theirs = sk_pi(model, X, y, n_repeats=2, random_state=0)
    for row in doc["results"][0]["features"]:
        assert row["importances"] == theirs.importances[list(X.columns).index(row["feature"])].tolist()
    assert doc["impurity"]["kind"] == BUILTIN[lib]
    final = model[-1] if hasattr(model, "steps") else model
    builtin = dict(zip(["x0", "x1", "x2", "c"], np.asarray(final.feature_importances_, dtype=float).tolist()))
    assert doc["impurity"]["values"] == builtin

    run = cli(
        "ale", *common, "-f", "x1", "-f", "c", "--bins", "8", "--no-plot", "--json", "--out", tmp_path / "a"
    )
    assert run.exit_code == 0, run.stderr
    results = json.loads(run.stdout)["results"]
    num = [r for r in results if r["features"] == ["x1"]]
    expected, counts = ale_by_definition(model, X, "x1", np.asarray(num[0]["grid"][0]))
    for r in num:
        k = 0 if r["target"] is None or expected.shape[0] == 1 else classes.index(r["target"])
        assert r["counts"] == counts.tolist() and r["n_missing"] == 22
        np.testing.assert_allclose(r["ale"], expected[k], rtol=0, atol=1e-12)
    cat = [r for r in results if r["features"] == ["c"]]
    assert cat and all(r["categorical"] == [True] and sum(r["counts"]) == len(X) for r in cat)
