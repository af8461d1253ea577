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
