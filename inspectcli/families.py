"""The one registry of supported model families: which engines apply to which estimators.

Each row names a family, the classes that belong to it (matched against the estimator's class and
its bases, so subclasses belong too) and the engines that apply beyond the model-agnostic ones
(batched PD/ICE, ALE and permutation importance apply to every estimator):

- ``recursion``: scikit-learn's ``method="recursion"`` partial dependence;
- ``tree-paths``: inspectcli's exact tree-path engine (PD/ICE and permutation importance);
- ``impurity``: impurity (MDI) importance from ``feature_importances_``;
- ``coefficients``: ``inspect coefficients``.

To support a new library, add its row here and its spec builder in
``engines/trees/_specs.py`` (the only code that reads a family's private attributes);
``tests/engines/test_families.py`` checks that the two agree. The tree engine itself accepts
exact classes only (a subclass may predict differently); the rows here match subclasses too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Family:
    """A family of estimators and the engines that apply to it."""

    name: str
    classes: tuple[str, ...]  # qualified names: module.Class, as in the class's __mro__
    engines: frozenset[str]


def _f(name: str, classes: tuple[str, ...], *engines: str) -> Family:
    return Family(name, classes, frozenset(engines))


_SKE = "sklearn.ensemble"
_TREE = "sklearn.tree._classes"
FAMILIES: tuple[Family, ...] = (
    # name, classes (module.Class as in the __mro__), engines
    _f(
        "HistGradientBoosting",
        (f"{_SKE}._hist_gradient_boosting.gradient_boosting.BaseHistGradientBoosting",),
        "recursion",
        "tree-paths",
    ),
    _f("GradientBoosting", (f"{_SKE}._gb.BaseGradientBoosting",), "recursion", "tree-paths", "impurity"),
    _f(
        "RandomForestRegressor",
        (f"{_SKE}._forest.RandomForestRegressor",),
        "recursion",
        "tree-paths",
        "impurity",
    ),
    _f("RandomForestClassifier", (f"{_SKE}._forest.RandomForestClassifier",), "tree-paths", "impurity"),
    _f(
        "ExtraTrees",
        (f"{_SKE}._forest.ExtraTreesRegressor", f"{_SKE}._forest.ExtraTreesClassifier"),
        "tree-paths",
        "impurity",
    ),
    _f("DecisionTreeRegressor", (f"{_TREE}.DecisionTreeRegressor",), "recursion", "tree-paths", "impurity"),
    _f(
        "DecisionTreeClassifier and ExtraTree",
        (f"{_TREE}.DecisionTreeClassifier", f"{_TREE}.ExtraTreeRegressor", f"{_TREE}.ExtraTreeClassifier"),
        "tree-paths",
        "impurity",
    ),
    # Gradient-boosting libraries (inspectcli/gbm.py; their built-in importances are labelled for
    # what they are, not MDI): LightGBM through its model text, XGBoost and CatBoost (numeric
    # features only: CTRs are predicted) through their JSON (engines/trees/_lightgbm.py, _xgboost.py,
    # _catboost.py).
    _f(
        "LightGBM",
        ("lightgbm.sklearn.LGBMRegressor", "lightgbm.sklearn.LGBMClassifier"),
        "tree-paths",
        "impurity",
    ),
    _f(
        "XGBoost",
        ("xgboost.sklearn.XGBRegressor", "xgboost.sklearn.XGBClassifier"),
        "tree-paths",
        "impurity",
    ),
    _f(
        "CatBoost",
        ("catboost.core.CatBoostRegressor", "catboost.core.CatBoostClassifier"),
        "tree-paths",
        "impurity",
    ),
    _f(
        "linear",
        ("sklearn.linear_model._base.LinearModel", "sklearn.linear_model._base.LinearClassifierMixin"),
        "coefficients",
    ),
)


def _qualnames(estimator: Any) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(estimator).__mro__}


def family_of(estimator: Any) -> Family | None:
    """The registry row of a bare estimator (not looking into pipelines), or None."""
    names = _qualnames(estimator)
    return next((f for f in FAMILIES if names.intersection(f.classes)), None)


def applies(engine: str, estimator: Any) -> bool:
    """Whether ``engine`` (``recursion``, ``tree-paths``, ``impurity``, ``coefficients``) applies."""
    family = family_of(estimator)
    return family is not None and engine in family.engines
