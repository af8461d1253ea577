"""Multi-output XGBoost / CatBoost regressors (multi-target, multi-quantile) keep no ``n_outputs_``: their PD
and ALE have one curve per output, each the float64 mean of that output's predictions; a regressor whose
outputs are not known in advance is refused, never cut to its first output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from inspectcli import partial_dependence
from inspectcli.engines.ale import accumulated_local_effects
from inspectcli.errors import ComputationError

xgb = pytest.importorskip("xgboost")
catboost = pytest.importorskip("catboost")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    return X, np.c_[X.a + 0.5 * X.b, X.b - X.a**2]


def _models(X, y):
    yield xgb.XGBRegressor(n_estimators=4, max_depth=2, nthread=1).fit(X, y)
    yield xgb.XGBRegressor(
        n_estimators=4,
        max_depth=2,
        nthread=1,
        objective="reg:quantileerror",
        quantile_alpha=np.array([0.2, 0.8]),
    ).fit(X, y[:, 0])
    yield catboost.CatBoostRegressor(
        loss_function="MultiRMSE",
        iterations=4,
        depth=2,
        verbose=False,
        thread_count=1,
        allow_writing_files=False,
    ).fit(X, y)


def test_each_output_has_its_own_curve(data):
    X, y = data
    for model in _models(X, y):
        [res] = partial_dependence(model, X, ["a"], grid_resolution=4, kind="both")
        assert res.average.shape == (2, 4), type(model).__name__
        for g, v in enumerate(res.grid_values[0]):
            preds = np.asarray(model.predict(X.assign(a=v)), dtype=np.float64)
            assert np.array_equal(res.individual[:, :, g], preds.T)
            assert np.max(np.abs(res.average[:, g] - preds.mean(axis=0))) <= 1e-12
        [ale] = accumulated_local_effects(model, X, ["a"], bins=3)
        assert np.asarray(ale.ale).shape == (2, 4)


class TwoColumns(RegressorMixin, BaseEstimator):
    """A regressor that predicts two columns but says nothing of it (no n_outputs_, no coef_)."""

    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        a = np.asarray(X)[:, 0]
        return np.c_[a, -a]


def test_a_regressor_with_unannounced_outputs_is_refused_not_cut_to_one(data):
    X, y = data
    model = TwoColumns().fit(X, y)
    with pytest.raises(ComputationError, match=r"returned \(2,\) values per row, expected 1"):
        partial_dependence(model, X, ["a"], grid_resolution=3)
    with pytest.raises(ComputationError, match="expected 1"):
        accumulated_local_effects(model, X, ["a"], bins=3)
