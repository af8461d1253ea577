"""LightGBM / XGBoost / CatBoost models: our PD, ICE and permutation importance equal scikit-learn's.

scikit-learn's functions on the libraries' scikit-learn-API wrappers are the oracle. Two
documented differences, both tested here:

- a column with NaN: scikit-learn's grid is NaN (``mquantiles`` of a column with NaN), ours skips
  NaN, so scikit-learn is given our grid as ``custom_values``;
- XGBoost predicts in float32. Our PD is the float64 mean of the model's own float32 predictions
  (exact for what the model outputs); scikit-learn averages in float32 and differs by ~1e-7
  relative. ICE values, the model's own predictions, agree bit for bit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from inspectcli import partial_dependence, permutation_importance
from tests.gbm_models import LIBS, TASKS, fit

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytest.importorskip("catboost")


@pytest.fixture(scope="module")
def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(lib, task): fit(lib, task) for lib in LIBS for task in TASKS}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("task", TASKS)
def test_pd_and_ice_equal_sklearn(models, lib, task):
    from sklearn.inspection import partial_dependence as sk_pd

    model, X, _ = models[lib, task]
    for feature in ("x0", "x1", "c"):
        [ours] = partial_dependence(model, X, [feature], kind="both", grid_resolution=12)
        theirs = sk_pd(
            model,
            X,
            [feature],
            kind="both",
            method="brute",
            custom_values={feature: ours.grid_values[0]},
            categorical_features=["c"] if feature == "c" else None,
        )
        np.testing.assert_array_equal(ours.individual, theirs["individual"])
        if lib == "xgboost":
            # the float32 rule: float64 mean of the model's float32 predictions
            assert theirs["average"].dtype == np.float32
            assert _rel(ours.average, theirs["average"].astype(np.float64)) < 1e-5
            exact = np.asarray(theirs["individual"], dtype=np.float64).mean(axis=1)
            assert _rel(ours.average, exact) <= 1e-14
        else:
            assert _rel(ours.average, theirs["average"]) <= 1e-10


def test_xgboost_pd_is_the_float64_mean_of_its_float32_predictions(models):
    model, X, _ = models["xgboost", "regression"]
    [ours] = partial_dependence(model, X, ["x0"], grid_resolution=5)
    for j, v in enumerate(ours.grid_values[0]):
        pred = model.predict(X.assign(x0=v))
        assert pred.dtype == np.float32
        assert ours.average[0, j] == np.mean(pred.astype(np.float64))


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("task", TASKS)
def test_permutation_importance_bit_for_bit(models, lib, task):
    from sklearn.inspection import permutation_importance as sk_pi

    model, X, y = models[lib, task]
    scoring = "r2" if task == "regression" else "accuracy"
    ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=0)
    theirs = sk_pi(model, X, y, scoring=scoring, n_repeats=3, random_state=0)
    order = [list(X.columns).index(f) for f in ours.features]
    np.testing.assert_array_equal(ours.scorers[0].importances, theirs.importances[order])


@pytest.mark.parametrize("lib", LIBS)
def test_pipeline_ending_in_a_gbm(models, lib):
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from tests.gbm_models import make_data, make_model

    X, y = make_data(lib, "binary")
    pipe = Pipeline([("keep", FunctionTransformer()), ("gbm", make_model(lib, "binary"))]).fit(X, y)
    [ours] = partial_dependence(pipe, X, ["c"], kind="both")
    theirs = sk_pd(pipe, X, ["c"], kind="both", categorical_features=["c"])
    np.testing.assert_array_equal(ours.individual, theirs["individual"])
    assert _rel(ours.average, theirs["average"]) <= (1e-5 if lib == "xgboost" else 1e-10)
