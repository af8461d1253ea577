"""The one registry of supported model families: which engines apply to which estimators.

Each row names a family, the classes that belong to it (matched against the estimator's class and
its bases, so subclasses belong too) and the engines that apply beyond the model-agnostic ones
(batched PD/ICE, ALE and permutation importance apply to every estimator):

- ``recursion``: scikit-learn's ``method="recursion"`` partial dependence;
- ``tree-paths``: inspectcli's exact tree-path engine (PD/ICE and permutation importance);
- ``impurity``: impurity (MDI) importance from ``feature_importances_``;
- ``coefficients``: ``inspect coefficients``.

Rows with ``tree-paths`` also list ``exact``: the concrete classes the tree engine reads. It takes
those classes only (a subclass may predict differently, and is predicted), while ``classes`` match
subclasses too. To support a new library, add its row here and its spec builder, under the row's
name, to ``_BUILDERS`` in ``engines/trees/_specs.py`` (the only code that reads a family's private
attributes); ``tests/engines/test_families.py`` checks that the two agree.
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
    exact: tuple[str, ...] = ()  # the classes the tree-path engine reads (module.Class)


def _f(name: str, classes: tuple[str, ...], *engines: str, exact: tuple[str, ...] = ()) -> Family:
    return Family(name, classes, frozenset(engines), exact)


_SKE = "sklearn.ensemble"
_TREE = "sklearn.tree._classes"
_HGB = f"{_SKE}._hist_gradient_boosting.gradient_boosting"
FAMILIES: tuple[Family, ...] = (
    # name, classes (module.Class as in the __mro__), engines
    _f(
        "HistGradientBoosting",
        (f"{_HGB}.BaseHistGradientBoosting",),
        "recursion",
        "tree-paths",
        exact=(f"{_HGB}.HistGradientBoostingRegressor", f"{_HGB}.HistGradientBoostingClassifier"),
    ),
    _f(
        "GradientBoosting",
        (f"{_SKE}._gb.BaseGradientBoosting",),
        "recursion",
        "tree-paths",
        "impurity",
        exact=(f"{_SKE}._gb.GradientBoostingRegressor", f"{_SKE}._gb.GradientBoostingClassifier"),
    ),
    _f(
        "RandomForestRegressor",
        (f"{_SKE}._forest.RandomForestRegressor",),
        "recursion",
        "tree-paths",
        "impurity",
        exact=(f"{_SKE}._forest.RandomForestRegressor",),
    ),
    _f(
        "RandomForestClassifier",
        (f"{_SKE}._forest.RandomForestClassifier",),
        "tree-paths",
        "impurity",
        exact=(f"{_SKE}._forest.RandomForestClassifier",),
    ),
    _f(
        "ExtraTrees",
        (f"{_SKE}._forest.ExtraTreesRegressor", f"{_SKE}._forest.ExtraTreesClassifier"),
        "tree-paths",
        "impurity",
        exact=(f"{_SKE}._forest.ExtraTreesRegressor", f"{_SKE}._forest.ExtraTreesClassifier"),
    ),
    _f(
        "DecisionTreeRegressor",
        (f"{_TREE}.DecisionTreeRegressor",),
        "recursion",
        "tree-paths",
        "impurity",
        exact=(f"{_TREE}.DecisionTreeRegressor",),
    ),
    _f(
        "DecisionTreeClassifier and ExtraTree",
        (f"{_TREE}.DecisionTreeClassifier", f"{_TREE}.ExtraTreeRegressor", f"{_TREE}.ExtraTreeClassifier"),
        "tree-paths",
        "impurity",
        exact=(
            f"{_TREE}.DecisionTreeClassifier",
            f"{_TREE}.ExtraTreeRegressor",
            f"{_TREE}.ExtraTreeClassifier",
        ),
    ),
    # Gradient-boosting libraries (inspectcli/gbm.py; their built-in importances are labelled for
    # what they are, not MDI): LightGBM through its model text, XGBoost and CatBoost (CTRs of
    # feature combinations are predicted) through their JSON (engines/trees/_lightgbm.py,
    # _xgboost.py, _catboost.py).
    _f(
        "LightGBM",
        ("lightgbm.sklearn.LGBMRegressor", "lightgbm.sklearn.LGBMClassifier"),
        "tree-paths",
        "impurity",
        exact=("lightgbm.sklearn.LGBMRegressor", "lightgbm.sklearn.LGBMClassifier"),
    ),
    _f(
        "XGBoost",
        ("xgboost.sklearn.XGBRegressor", "xgboost.sklearn.XGBClassifier"),
        "tree-paths",
        "impurity",
        exact=("xgboost.sklearn.XGBRegressor", "xgboost.sklearn.XGBClassifier"),
    ),
    _f(
        "CatBoost",
        ("catboost.core.CatBoostRegressor", "catboost.core.CatBoostClassifier"),
        "tree-paths",
        "impurity",
        exact=("catboost.core.CatBoostRegressor", "catboost.core.CatBoostClassifier"),
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


def tree_family(estimator: Any) -> Family | None:
    """The row whose ``exact`` classes hold the estimator's own class (the tree engine reads it)."""
    kind = type(estimator)
    name = f"{kind.__module__}.{kind.__qualname__}"
    return next((f for f in FAMILIES if name in f.exact), None)


def applies(engine: str, estimator: Any) -> bool:
    """Whether ``engine`` (``recursion``, ``tree-paths``, ``impurity``, ``coefficients``) applies."""
    family = family_of(estimator)
    return family is not None and engine in family.engines
