"""The registry of model families agrees with scikit-learn's own rules."""

from __future__ import annotations

import warnings

import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.ensemble._gb import BaseGradientBoosting
from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.discovery import all_estimators

from inspectcli.families import FAMILIES, applies, family_of

RECURSION = (BaseGradientBoosting, BaseHistGradientBoosting, DecisionTreeRegressor, RandomForestRegressor)


def _instances():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            try:
                yield name, cls()
            except TypeError:  # meta-estimators need an estimator
                continue


def test_recursion_rows_are_scikit_learns_rule():
    checked = 0
    for name, est in _instances():
        assert applies("recursion", est) == isinstance(est, RECURSION), name
        checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Ridge", "linear"),
        ("LogisticRegression", "linear"),
        ("HistGradientBoostingClassifier", "HistGradientBoosting"),
    ],
)
def test_family_of(name, family):
    est = dict(_instances())[name]
    assert family_of(est).name == family


def test_table_is_well_formed():
    known = {"recursion", "tree-paths", "impurity", "coefficients"}
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    for f in FAMILIES:
        assert f.classes and f.engines <= known, f


def test_tree_paths_rows_are_the_tree_engines_families():
    """Every estimator the tree engine reads has the 'tree-paths' engine in the table, and back."""
    import numpy as np

    from inspectcli.engines.trees import supports_tree_paths

    X = np.random.RandomState(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    checked = 0
    for name, est in _instances():
        if not hasattr(est, "fit") or family_of(est) is None or family_of(est).name == "linear":
            continue
        if "n_estimators" in est.get_params():
            est.set_params(n_estimators=3)
        est.fit(X, y)
        method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
        assert applies("tree-paths", est) == bool(supports_tree_paths(est, method)), name
        checked += 1
    assert checked >= 10


def test_tree_engine_builders_are_the_rows_with_tree_paths():
    """One registry: the tree engine builds a spec for exactly the rows that list tree-paths."""
    from inspectcli.engines.trees._specs import _BUILDERS

    rows = {f.name for f in FAMILIES if "tree-paths" in f.engines}
    assert set(_BUILDERS) == rows
    for f in FAMILIES:
        assert bool(f.exact) == ("tree-paths" in f.engines), f.name


def test_a_subclass_is_in_its_family_but_not_read_by_the_tree_engine():
    """A subclass may predict differently: engines apply by family; the tree engine reads exact classes."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    from inspectcli.engines.trees import supports_tree_paths
    from inspectcli.families import tree_family

    class Shifted(HistGradientBoostingRegressor):
        def predict(self, X):
            return super().predict(X) + 1.0

    X = np.random.RandomState(0).normal(size=(60, 2))
    y = X[:, 0]
    plain = HistGradientBoostingRegressor(max_iter=3).fit(X, y)
    sub = Shifted(max_iter=3).fit(X, y)
    assert family_of(sub).name == tree_family(plain).name == "HistGradientBoosting"
    assert tree_family(sub) is None
    assert supports_tree_paths(plain, "predict") and not supports_tree_paths(sub, "predict")
