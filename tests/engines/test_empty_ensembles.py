"""An XGBoost model without trees (n_estimators=0) predicts its base score: the tree-path engine has no
trees to walk and once averaged uninitialised sums (1.4e35 and NaN for a model predicting 0.5), silently,
under engine=auto. Such a model now goes to predicting: every PD is its own predictions' mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inspectcli import partial_dependence, permutation_importance
from inspectcli.errors import UsageError

xgb = pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    return X, X.a + X.b, (X.a > 0).astype(int)


@pytest.mark.parametrize("task", ["regression", "binary"])
@pytest.mark.parametrize("kind", ["average", "both"])
def test_a_model_without_trees_is_predicted(data, task, kind):
    X, y_reg, y_bin = data
    if task == "regression":
        model = xgb.XGBRegressor(n_estimators=0, nthread=1).fit(X, y_reg)
        own = model.predict
    else:
        model = xgb.XGBClassifier(n_estimators=0, nthread=1).fit(X, y_bin)

        def own(Z):
            return model.predict_proba(Z)[:, 1]

    [res] = partial_dependence(model, X, ["a"], grid_resolution=4, kind=kind, standard_error=True)
    assert res.engine == "batched"
    expected = [np.asarray(own(X.assign(a=v)), dtype=np.float64).mean() for v in res.grid_values[0]]
    assert np.array_equal(res.average[0], expected)
    assert np.array_equal(res.se[0], np.zeros(4))
    with pytest.raises(UsageError, match="tree-paths engine does not support"):
        partial_dependence(model, X, ["a"], grid_resolution=4, engine="tree-paths")
    imp = permutation_importance(model, X, y_reg if task == "regression" else y_bin, n_repeats=2)
    assert np.all(np.asarray(imp.scorers[0].importances) == 0.0)
