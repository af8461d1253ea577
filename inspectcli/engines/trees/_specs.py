"""Model families: the only code that reads estimators' private attributes.

Each supported family has one *spec builder*: a function ``build(est, response_method, labels)``
that returns a :class:`_Spec`, everything the engines need to reproduce one response method of
the fitted estimator ``est`` exactly:

* ``trees``: the fitted trees as :class:`~inspectcli.engines.trees._model._Tree` (flat node arrays
  in the model's column space, going left iff ``x <= threshold`` in float64; a family whose
  predict tests ``x < t`` stores ``np.nextafter(t, -inf)``; NaN goes the way of ``missing_left``;
  categorical splits as 256-entry tables), listed in the estimator's own prediction order, each
  adding its leaf values to the raw columns ``out_cols``;
* ``to_model`` / ``model_source``: the estimator's own input validation (the matrix its trees
  see) and, per column of that matrix, the column of the estimator's input that feeds it;
* ``init``, ``divisor``, ``init_on_zeros``, ``order``: how the raw sums start, what they are
  divided by, and how the estimator lays them out in memory (bit-identical outputs depend on it);
* ``finalize`` / ``linear``: the estimator's link or decision rule on the raw sums, and whether it
  is linear (then averages are taken on the raw scale).

``labels=True`` also admits a classifier's ``"predict"`` (class labels, used by permutation
importance).  A builder raises :class:`_Unsupported` for anything it cannot reproduce exactly
(the estimator then goes to brute force).

To add a family: give it a row in inspectcli/families.py (with its ``exact`` classes) and its
builder here in :data:`_BUILDERS`, under the row's name. Nothing else changes: pipelines, walks,
grids, permutations and self-checks work on the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)
from sklearn.utils.validation import check_is_fitted

from inspectcli.engines.trees._model import (
    _Tree,
    _Unsupported,
)
from inspectcli.engines.trees._pipeline import (
    _ct_source_with_names,
)
from inspectcli.families import tree_family

_FORESTS = (
    RandomForestRegressor,
    RandomForestClassifier,
    ExtraTreesRegressor,
    ExtraTreesClassifier,
)
_SINGLE_TREES = (
    DecisionTreeRegressor,
    DecisionTreeClassifier,
    ExtraTreeRegressor,
    ExtraTreeClassifier,
)
_CLASSIFIERS = (
    HistGradientBoostingClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
    ExtraTreesClassifier,
    DecisionTreeClassifier,
    ExtraTreeClassifier,
)
_RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")


def _sklearn_tree(tree: Any, values: np.ndarray, out_cols: tuple[int, ...], nan: bool) -> _Tree:
    """Wrap a fitted ``sklearn.tree._tree.Tree``.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The fitted low-level tree.
    values : ndarray of shape (n_nodes, k)
        Leaf contributions to the raw outputs ``out_cols``.
    out_cols : tuple of int
        Raw output columns the tree adds to.
    nan : bool
        Whether NaN is routed with ``missing_go_to_left`` (``Tree.apply``) or always right
        (gradient boosting's ``predict_stages``, which only ever sees finite data).
    """
    left = np.asarray(tree.children_left, dtype=np.intp)
    is_leaf = left == -1
    right = np.asarray(tree.children_right, dtype=np.intp)
    feature = np.where(is_leaf, 0, np.asarray(tree.feature, dtype=np.intp))
    if nan:
        mgl = getattr(tree, "missing_go_to_left", None)
        if mgl is None:
            mgl = tree.__getstate__()["nodes"]["missing_go_to_left"]
        missing_left = np.asarray(mgl).astype(bool)
    else:
        missing_left = np.zeros(left.shape[0], dtype=bool)
    return _Tree(
        left=np.where(is_leaf, -1, left),
        right=np.where(is_leaf, -1, right),
        feature=feature,
        threshold=np.asarray(tree.threshold, dtype=np.float64),
        missing_left=missing_left,
        is_leaf=is_leaf,
        values=np.ascontiguousarray(values, dtype=np.float64),
        out_cols=out_cols,
    )


def _bit(bitsets: np.ndarray, row: int, codes: np.ndarray) -> np.ndarray:
    return ((bitsets[row, codes >> 5] >> (codes & 31).astype(np.uint32)) & 1).astype(bool)


def _hgb_tree(predictor: Any, k: int, known_bitsets: np.ndarray, f_idx_map: np.ndarray) -> _Tree:
    """Wrap one HistGradientBoosting ``TreePredictor`` contributing to raw column ``k``."""
    nodes = predictor.nodes
    is_leaf = nodes["is_leaf"].astype(bool)
    left = np.where(is_leaf, -1, nodes["left"].astype(np.intp))
    right = np.where(is_leaf, -1, nodes["right"].astype(np.intp))
    feature = np.where(is_leaf, 0, nodes["feature_idx"].astype(np.intp))
    missing_left = nodes["missing_go_to_left"].astype(bool)
    is_cat = nodes["is_categorical"].astype(bool) & ~is_leaf
    cat_row = cat_tables = None
    if is_cat.any():
        # Reproduce _predict_one_from_raw_data for every possible uint8 code: in the raw
        # left bitset -> left; else known category -> right; else treated as missing.
        raw_bitsets = np.asarray(predictor.raw_left_cat_bitsets)
        cat_nodes = np.flatnonzero(is_cat)
        cat_row = np.full(nodes.shape[0], -1, dtype=np.intp)
        cat_row[cat_nodes] = np.arange(cat_nodes.size)
        codes = np.arange(256, dtype=np.int64)
        cat_tables = np.empty((cat_nodes.size, 256), dtype=bool)
        for r, node in enumerate(cat_nodes):
            in_left = _bit(raw_bitsets, int(nodes["bitset_idx"][node]), codes)
            in_known = _bit(known_bitsets, int(f_idx_map[feature[node]]), codes)
            cat_tables[r] = np.where(in_left, True, np.where(in_known, False, missing_left[node]))
    return _Tree(
        left=left,
        right=right,
        feature=feature,
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=missing_left,
        is_leaf=is_leaf,
        values=nodes["value"].astype(np.float64)[:, None],
        out_cols=(k,),
        cat_row=cat_row,
        cat_tables=cat_tables,
    )


@dataclass
class _Spec:
    """Everything needed to reproduce one response method of a bare tree model."""

    trees: list[_Tree]
    n_raw: int
    to_model: Callable[[Any], np.ndarray]  # validated numeric matrix, as the trees see it
    model_source: Callable[[Any], np.ndarray]  # model column -> column of the model's input
    init: Callable[[np.ndarray], np.ndarray] | None  # constant raw offset, added first
    divisor: float | None  # raw sums are divided by this (forests)
    finalize: Callable[[np.ndarray], np.ndarray]  # (m, n_raw) raw -> (m, *out)
    linear: bool  # finalize is linear, so averages can be taken on the raw scale
    # How the estimator itself holds the raw sums: starting from zeros (the constant offset is
    # added to them) or from the offset, and in which memory order (for the permuted responses,
    # which hand ``finalize`` raw arrays laid out exactly as the estimator's own).
    init_on_zeros: bool = True
    order: str = "C"
    # The floating type the estimator adds its trees in: float64, or float32 for XGBoost, whose
    # running sums are rounded to float32 after every tree (the engines then sum in float32 too).
    raw_dtype: Any = np.float64
    # PD grids of fewer points than this are predicted under engine="auto": the model's own
    # prediction walks its trees so much faster than the numpy walks (CatBoost's oblivious trees)
    # that the walks cost more than predicting that many times.
    predicts_faster_below: int = 0


def _identity_source(est: Any, Xt: Any) -> np.ndarray:
    return np.arange(int(est.n_features_in_))


def _check_response(est: Any, response_method: str, allowed: tuple[str, ...]) -> None:
    if response_method not in allowed:
        raise _Unsupported(f"{type(est).__name__} does not support {response_method!r}")
    if not hasattr(est, response_method):
        raise _Unsupported(f"{type(est).__name__} has no {response_method!r}")


def _labels(est: Any, encoded: np.ndarray) -> np.ndarray:
    return est.classes_[encoded]


def _check_probability_response(est: Any, response_method: str, is_clf: bool, labels: bool) -> None:
    """Forests, trees, LightGBM, XGBoost: regressors predict; classifiers give probabilities (and
    labels, for permutation importance's scorers, with ``labels``)."""
    allowed: tuple[str, ...] = ("predict",)
    if is_clf:
        allowed = ("predict_proba", "predict") if labels else ("predict_proba",)
    _check_response(est, response_method, allowed)


def _check_boosting_response(est: Any, response_method: str, is_clf: bool, labels: bool) -> None:
    """Boosting: regressors predict; classifiers give probabilities, decisions (and labels)."""
    allowed: tuple[str, ...] = ("predict_proba", "decision_function") if is_clf else ("predict",)
    if is_clf and labels:
        allowed += ("predict",)
    _check_response(est, response_method, allowed)


def _raw_decision(raw: np.ndarray) -> np.ndarray:
    """A boosting classifier's decision_function: (n,) for one raw column, else (n, k)."""
    return raw.ravel() if raw.shape[1] == 1 else raw


def _boosting_labels(est: Any, raw: np.ndarray, *, strict: bool) -> np.ndarray:
    """Predicted classes from raw decisions: one column positive (``> 0`` when ``strict``, as
    HistGradientBoosting; ``>= 0`` as GradientBoosting), else the argmax."""
    if raw.shape[1] == 1:
        positive = raw.ravel() > 0 if strict else raw.ravel() >= 0
        return _labels(est, positive.astype(int))
    return _labels(est, np.argmax(raw, axis=1))


def _hgb_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    from sklearn._loss.link import IdentityLink

    is_clf = isinstance(est, HistGradientBoostingClassifier)
    _check_boosting_response(est, response_method, is_clf, labels)
    for attr in ("_predictors", "_baseline_prediction", "_bin_mapper", "_loss", "_preprocess_X"):
        if not hasattr(est, attr):
            raise _Unsupported(f"HistGradientBoosting lacks {attr}")
    known_bitsets, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
    trees = [
        _hgb_tree(pred, k, known_bitsets, f_idx_map)
        for preds in est._predictors
        for k, pred in enumerate(preds)
    ]
    n_raw = int(est.n_trees_per_iteration_)
    baseline = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    if baseline.shape[0] != n_raw:
        raise _Unsupported("unexpected baseline shape")
    loss = est._loss
    if is_clf and response_method == "predict_proba":

        def finalize(raw: np.ndarray) -> np.ndarray:
            return loss.predict_proba(raw)

        linear = False
    elif is_clf and response_method == "predict":
        # HistGradientBoostingClassifier.predict: "> 0" for one raw column (argmax([0.5, 0.5])
        # is 0), argmax otherwise.

        def finalize(raw: np.ndarray) -> np.ndarray:
            return _boosting_labels(est, raw, strict=True)

        linear = False
    elif is_clf:

        def finalize(raw: np.ndarray) -> np.ndarray:
            return _raw_decision(raw)

        linear = True
    else:

        def finalize(raw: np.ndarray) -> np.ndarray:
            return loss.link.inverse(raw.ravel())

        linear = type(loss.link) is IdentityLink

    def to_model(Xt: Any) -> np.ndarray:
        return est._preprocess_X(Xt, reset=False)

    def model_source(Xt: Any) -> np.ndarray:
        pre = est._preprocessor
        if pre is None:
            return _identity_source(est, Xt)
        # The internal ColumnTransformer puts the (ordinal-encoded) categorical columns
        # first; both of its transformers are one-to-one.
        return _ct_source_with_names(pre, Xt, one_to_one_ok=True)

    return _Spec(
        trees=trees,
        n_raw=n_raw,
        to_model=to_model,
        model_source=model_source,
        init=lambda Xv: baseline,
        divisor=None,
        finalize=finalize,
        linear=linear,
        init_on_zeros=True,  # np.zeros(order="F") += baseline, then the trees
        order="F",
    )


def _gb_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    from sklearn.utils.validation import validate_data

    is_clf = isinstance(est, GradientBoostingClassifier)
    _check_boosting_response(est, response_method, is_clf, labels)
    init = est.init_
    if isinstance(init, str):
        if init != "zero":
            raise _Unsupported(f"unknown init {init!r}")
    elif type(init) is DummyRegressor:
        pass
    elif type(init) is DummyClassifier:
        if init._strategy not in ("prior", "most_frequent", "constant"):
            raise _Unsupported("random DummyClassifier init")
    else:
        # A non-constant init estimator would make the baseline depend on the free features.
        raise _Unsupported(f"init estimator {type(init).__name__} is not constant")
    if not hasattr(est, "_raw_predict_init"):
        raise _Unsupported("GradientBoosting lacks _raw_predict_init")
    estimators = np.asarray(est.estimators_, dtype=object)
    n_raw = int(estimators.shape[1])
    lr = float(est.learning_rate)
    trees = []
    for i in range(estimators.shape[0]):  # predict_stages: stages, then outputs
        for k in range(n_raw):
            tree = estimators[i, k].tree_
            # out[i, k] += scale * value[node]: the product is formed in float64 first.
            values = lr * np.asarray(tree.value, dtype=np.float64)[:, 0, 0]
            trees.append(_sklearn_tree(tree, values[:, None], (k,), nan=False))
    loss = est._loss

    if is_clf and response_method == "predict_proba":

        def finalize(raw: np.ndarray) -> np.ndarray:
            return loss.predict_proba(_raw_decision(raw))

        linear = False
    elif is_clf and response_method == "predict":
        # GradientBoostingClassifier.predict: ">= 0" on the raveled decision, argmax otherwise.

        def finalize(raw: np.ndarray) -> np.ndarray:
            return _boosting_labels(est, raw, strict=False)

        linear = False
    else:

        def finalize(raw: np.ndarray) -> np.ndarray:
            return _raw_decision(raw)

        linear = True

    def to_model(Xt: Any) -> np.ndarray:
        return validate_data(est, Xt, dtype=np.float32, order="C", accept_sparse="csr", reset=False)

    def init_raw(Xv: np.ndarray) -> np.ndarray:
        raw = np.asarray(est._raw_predict_init(Xv[:1]), dtype=np.float64)
        return raw.reshape(-1)

    return _Spec(
        trees=trees,
        n_raw=n_raw,
        to_model=to_model,
        model_source=lambda Xt: _identity_source(est, Xt),
        init=init_raw,
        divisor=None,
        finalize=finalize,
        linear=linear,
        init_on_zeros=False,  # raw = _raw_predict_init(X), then predict_stages adds the trees
    )


def _forest_or_tree_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    is_clf = isinstance(est, _CLASSIFIERS)
    is_forest = isinstance(est, _FORESTS)
    _check_probability_response(est, response_method, is_clf, labels)
    n_outputs = int(est.n_outputs_)
    if is_clf and n_outputs != 1:
        raise _Unsupported("multi-output classifiers return lists of probabilities")
    members = list(est.estimators_) if is_forest else [est]
    trees = []
    for member in members:
        if type(member) not in _SINGLE_TREES:
            raise _Unsupported(f"unexpected forest member {type(member).__name__}")
        value = np.asarray(member.tree_.value, dtype=np.float64)
        if is_clf:
            n_classes = int(member.n_classes_)
            values = value[:, 0, :n_classes]
        else:
            values = value[:, :, 0]
        trees.append(_sklearn_tree(member.tree_, values, tuple(range(values.shape[1])), nan=True))
    n_raw = trees[0].values.shape[1]
    if any(t.values.shape[1] != n_raw for t in trees):
        raise _Unsupported("forest members disagree on the number of outputs")

    def finalize(raw: np.ndarray) -> np.ndarray:
        if is_clf and response_method == "predict":
            # classes_.take(argmax(proba)): the forest's averaged probabilities, or a single
            # tree's leaf values (the same argmax as its predict's tree_.predict).
            return est.classes_.take(np.argmax(raw, axis=1), axis=0)
        if not is_clf and n_outputs == 1:
            return raw[:, 0]
        return raw

    def to_model(Xt: Any) -> np.ndarray:
        if is_forest:
            return est._validate_X_predict(Xt)
        return est._validate_X_predict(Xt, check_input=True)

    return _Spec(
        trees=trees,
        n_raw=n_raw,
        to_model=to_model,
        model_source=lambda Xt: _identity_source(est, Xt),
        init=None,
        divisor=float(len(members)) if is_forest else None,
        finalize=finalize,
        linear=not (is_clf and response_method == "predict"),
    )


def _lightgbm_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    from inspectcli.engines.trees._lightgbm import lightgbm_spec

    return lightgbm_spec(est, response_method, labels)


def _xgboost_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    from inspectcli.engines.trees._xgboost import xgboost_spec

    return xgboost_spec(est, response_method, labels)


def _catboost_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    from inspectcli.engines.trees._catboost import catboost_spec

    return catboost_spec(est, response_method, labels)


#: Each tree-path family of inspectcli/families.py (by its row's name; the row lists the exact
#: classes) and the builder of its spec.
_BUILDERS: dict[str, Callable[[Any, str, bool], _Spec]] = {
    "HistGradientBoosting": _hgb_spec,
    "GradientBoosting": _gb_spec,
    "RandomForestRegressor": _forest_or_tree_spec,
    "RandomForestClassifier": _forest_or_tree_spec,
    "ExtraTrees": _forest_or_tree_spec,
    "DecisionTreeRegressor": _forest_or_tree_spec,
    "DecisionTreeClassifier and ExtraTree": _forest_or_tree_spec,
    # LightGBM's scikit-learn API, from its model text (_lightgbm.py); XGBoost's, from its JSON,
    # summed in float32 with its float32 links as XGBoost does (_xgboost.py); CatBoost's oblivious
    # trees from its JSON export, categorical splits (one-hot and CTR) read through CatBoost's own
    # leaf indexes (_catboost.py; CTRs of feature combinations are predicted).
    "LightGBM": _lightgbm_spec,
    "XGBoost": _xgboost_spec,
    "CatBoost": _catboost_spec,
}


def _model_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    """The spec of a bare (not pipelined) estimator, from the first family that takes it."""
    if response_method not in _RESPONSE_METHODS:
        raise _Unsupported(f"unknown response method {response_method!r}")
    kind = type(est)
    try:
        check_is_fitted(est)
    except Exception as exc:  # NotFittedError, or not an estimator at all
        raise _Unsupported(str(exc)) from exc
    family = tree_family(est)
    if family is None:
        raise _Unsupported(f"{kind.__name__} is not a supported tree model")
    spec = _BUILDERS[family.name](est, response_method, labels)
    if not spec.trees:  # e.g. XGBoost with n_estimators=0: the walks have nothing to fill their sums
        raise _Unsupported(f"{kind.__name__} without trees")
    return spec
