"""Exact, fast model responses on partial-dependence grids for tree models.

scikit-learn's brute-force partial dependence calls the model once per grid point, so for
``G`` grid points and ``n`` rows it walks every tree ``G * n`` times.  This module returns the
same numbers by using the structure of the trees instead.

For a tree and the set ``F`` of *free* features (the ones the grid sets):

* ``A[i, l] = 1`` when leaf ``l`` is reachable by row ``i`` if the splits on ``F`` go both ways
  and every other split follows the row, exactly as the estimator's own ``predict`` decides;
* ``B[g, l] = 1`` when leaf ``l`` is reachable by grid point ``g`` if the splits on ``F`` follow
  the grid point and every other split goes both ways.

The leaf that row ``i`` lands in when its free features are set to grid point ``g`` is the
unique ``l`` with ``A[i, l] * B[g, l] = 1``, so the raw output of the ensemble for every
``(i, g)`` is ``A @ diag(v) @ B.T`` summed over trees.  Three refinements keep this cheap:

* ``B`` only needs the *upper* part of a tree (the nodes whose subtree contains a free split);
  it is stored per *frontier* node (root of a subtree without free splits).  Every leaf lies
  below exactly one frontier node.  Grid points that reach the same frontier nodes send every
  row to the same leaf, so ``B`` is kept per *class* of grid points.
* Rows that reach the same set of leaves of a tree (the same *pattern*) have identical outputs
  from that tree for every grid point, so each tree becomes a small ``(n_patterns, G)`` table
  and a row touches exactly one entry per tree.
* The ensemble output is a CSR matrix with one ``1.0`` per (row, tree) times a dense stack of
  those tables.  scipy's CSR-times-dense kernel adds the stored entries of a row in storage
  order, which we arrange to be the estimator's own order (baseline first, then the trees in
  prediction order; when the tables are split into blocks, the running sum goes first), so
  the raw sums are bit-for-bit the estimator's own.

When the output is linear in the tree outputs (regressors with an identity link,
``decision_function``, forests' averaged probabilities) the weighted average over rows only
needs the per-leaf weight totals ``w @ A``, which costs one pass over the rows instead of ``G``.
Otherwise (probabilities of boosted classifiers, log links) the per-row raw values are computed
in row chunks bounded by ``max_bytes`` and the estimator's own link is applied before averaging.

Pipelines whose transformers work column by column (each output column depends on exactly one
input column) are reduced to the final tree model on the transformed matrix: ``X`` is
transformed once, the ``G`` grid rows are transformed once, and the transformed columns that
come from the free inputs become the free set.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "PermutedTreePaths",
    "TreePathMismatchError",
    "supports_permuted_tree_paths",
    "supports_tree_paths",
    "tree_path_permuted_responses",
    "tree_path_responses",
]

_HGB = (HistGradientBoostingRegressor, HistGradientBoostingClassifier)
_GB = (GradientBoostingRegressor, GradientBoostingClassifier)
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
_ONE_TO_ONE = (OrdinalEncoder, StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)
_RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")

# Number of (row, grid point) pairs checked against the estimator's real predictions.
_CHECK_ROWS = 4
_CHECK_POINTS = 3
# Trees with more nodes than ``rows / _NODE_WALK_RATIO`` are walked level by level.
_NODE_WALK_RATIO = 64
_HASH_SEED = 0x5EED_7BEE


class TreePathMismatchError(RuntimeError):
    """The tree-path result disagreed with the estimator's own predictions.

    Raised by :func:`tree_path_responses` when its built-in self-check (a few (row, grid
    point) pairs recomputed with the estimator's real response method) finds a difference.
    Callers should fall back to brute-force evaluation.
    """


class TreePathsTooSlow(Exception):
    """Raised by :meth:`PermutedTreePaths.responses` when it would exceed its ``give_up_after``."""


class _Unsupported(Exception):
    """Internal: the estimator cannot be reproduced exactly."""


# --------------------------------------------------------------------------------------
# Tree representation
# --------------------------------------------------------------------------------------


@dataclass
class _Tree:
    """One tree in flat arrays, in the model's own column space.

    ``values[:, j]`` is what a leaf adds to raw output column ``out_cols[j]``.
    """

    left: np.ndarray  # intp, -1 for leaves
    right: np.ndarray  # intp, -1 for leaves
    feature: np.ndarray  # intp, 0 for leaves
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    is_leaf: np.ndarray  # bool
    values: np.ndarray  # (n_nodes, k) float64
    out_cols: tuple[int, ...]
    cat_row: np.ndarray | None = None  # intp row into cat_tables, -1 for numerical splits
    cat_tables: np.ndarray | None = None  # (n_cat_splits, 256) bool: go left for code c

    def __post_init__(self) -> None:
        self.n_nodes = int(self.left.shape[0])
        levels = []
        level = np.zeros(1, dtype=np.intp)
        while level.size:
            levels.append(level)
            internal = level[~self.is_leaf[level]]
            level = np.concatenate([self.left[internal], self.right[internal]])
        self.levels: list[np.ndarray] = levels
        self.leaf_rank = np.cumsum(self.is_leaf) - 1  # leaf index among leaves
        self.n_leaves = int(self.is_leaf.sum())

    @cached_property
    def lists(self) -> _NodeLists:
        """Python lists of the node arrays, for the node-by-node walk (small trees only)."""
        return _NodeLists(
            left=self.left.tolist(),
            right=self.right.tolist(),
            feature=self.feature.tolist(),
            threshold=self.threshold.tolist(),
            missing_left=self.missing_left.tolist(),
            cat_row=None if self.cat_row is None else self.cat_row.tolist(),
        )


@dataclass
class _NodeLists:
    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    missing_left: list[bool]
    cat_row: list[int] | None


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


# --------------------------------------------------------------------------------------
# Estimator specifications
# --------------------------------------------------------------------------------------


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


def _identity_source(est: Any, Xt: Any) -> np.ndarray:
    return np.arange(int(est.n_features_in_))


def _check_response(est: Any, response_method: str, allowed: tuple[str, ...]) -> None:
    if response_method not in allowed:
        raise _Unsupported(f"{type(est).__name__} does not support {response_method!r}")
    if not hasattr(est, response_method):
        raise _Unsupported(f"{type(est).__name__} has no {response_method!r}")


def _labels(est: Any, encoded: np.ndarray) -> np.ndarray:
    return est.classes_[encoded]


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
    allowed: tuple[str, ...] = ("predict",)
    if is_clf:
        allowed = ("predict_proba", "predict") if labels else ("predict_proba",)
    _check_response(est, response_method, allowed)
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


def _model_spec(est: Any, response_method: str, labels: bool = False) -> _Spec:
    if response_method not in _RESPONSE_METHODS:
        raise _Unsupported(f"unknown response method {response_method!r}")
    kind = type(est)
    try:
        check_is_fitted(est)
    except Exception as exc:  # NotFittedError, or not an estimator at all
        raise _Unsupported(str(exc)) from exc
    if kind in _HGB:
        return _hgb_spec(est, response_method, labels)
    if kind in _GB:
        return _gb_spec(est, response_method, labels)
    if kind in _FORESTS or kind in _SINGLE_TREES:
        return _forest_or_tree_spec(est, response_method, labels)
    raise _Unsupported(f"{kind.__name__} is not a supported tree model")


# --------------------------------------------------------------------------------------
# Column-wise transformers (stage 2)
# --------------------------------------------------------------------------------------


def _names_to_positions(names: Any, X: Any) -> np.ndarray | None:
    """Positions in ``X`` of the fit-time feature ``names`` (None when not applicable)."""
    if names is None or not hasattr(X, "columns"):
        return None
    where = {c: i for i, c in enumerate(X.columns)}
    try:
        return np.array([where[name] for name in names], dtype=np.intp)
    except KeyError as exc:
        raise ValueError(f"column {exc.args[0]!r} seen at fit time is missing from X") from exc


def _ct_source_with_names(ct: ColumnTransformer, X: Any, *, one_to_one_ok: bool) -> np.ndarray:
    src = _column_transformer_source(ct, one_to_one_ok=one_to_one_ok)
    positions = _names_to_positions(getattr(ct, "feature_names_in_", None), X)
    return src if positions is None else positions[src]


def _column_transformer_source(ct: ColumnTransformer, *, one_to_one_ok: bool) -> np.ndarray:
    """Input column (fit-time position) of every output column of a fitted ColumnTransformer."""
    inputs = getattr(ct, "_transformer_to_input_indices", None)
    out_idx = getattr(ct, "output_indices_", None)
    if inputs is None or out_idx is None:
        raise _Unsupported("ColumnTransformer lacks output_indices_")
    n_out = max((s.stop for s in out_idx.values()), default=0)
    src = np.full(n_out, -1, dtype=np.intp)
    for name, trans, _cols in ct.transformers_:
        sl = out_idx.get(name, slice(0, 0))
        in_idx = np.asarray(inputs.get(name, []), dtype=np.intp)
        width = sl.stop - sl.start
        if isinstance(trans, str) and trans == "drop":
            if width:
                raise _Unsupported("dropped transformer with output")
            continue
        if width == 0:
            continue
        if isinstance(trans, str) and trans == "passthrough":
            sub = np.arange(in_idx.size)
        elif one_to_one_ok and type(trans) is not ColumnTransformer:
            # Only used for HistGradientBoosting's own preprocessor (OrdinalEncoder +
            # FunctionTransformer(check_array)), which is one-to-one by construction.
            sub = np.arange(in_idx.size)
        else:
            sub = _transformer_source(trans, in_idx.size)
        if sub.size != width or (sub.size and sub.max() >= in_idx.size):
            raise _Unsupported(f"cannot map the outputs of transformer {name!r}")
        src[sl] = in_idx[sub]
    if (src < 0).any():
        raise _Unsupported("ColumnTransformer output not fully mapped")
    return src


def _transformer_source(trans: Any, n_in: int) -> np.ndarray:
    """Input column of every output column of a whitelisted column-wise transformer."""
    if trans is None or (isinstance(trans, str) and trans == "passthrough"):
        return np.arange(n_in)
    kind = type(trans)
    if kind is Pipeline:
        src = np.arange(n_in)
        for _, step in trans.steps:
            src = src[_transformer_source(step, src.size)]
        return src
    if kind is ColumnTransformer:
        return _column_transformer_source(trans, one_to_one_ok=False)
    if kind is FunctionTransformer:
        # The identity (what ColumnTransformer stores for 'passthrough').
        if trans.func is not None:
            raise _Unsupported("FunctionTransformer with a function")
        return np.arange(n_in)
    if kind in _ONE_TO_ONE:
        return np.arange(n_in)
    if kind is OneHotEncoder:
        counts = getattr(trans, "_n_features_outs", None)
        if counts is None or len(counts) != n_in:
            raise _Unsupported("OneHotEncoder without _n_features_outs")
        return np.repeat(np.arange(n_in), np.asarray(counts, dtype=np.intp))
    if kind is SimpleImputer:
        stats = trans.statistics_
        if trans.keep_empty_features:
            kept = np.arange(n_in)
        else:
            kept = np.flatnonzero(~pd.isna(stats).astype(bool))
        src = [kept]
        if trans.add_indicator and getattr(trans, "indicator_", None) is not None:
            src.append(np.asarray(trans.indicator_.features_, dtype=np.intp))
        return np.concatenate(src).astype(np.intp)
    raise _Unsupported(f"{kind.__name__} is not a whitelisted column-wise transformer")


@dataclass
class _Plan:
    """A tree model plus the column-wise prefix that feeds it."""

    spec: _Spec
    prefix: Any | None  # fitted Pipeline of transformers, or None
    prefix_source: Callable[[Any], np.ndarray]  # prefix output column -> column of X


def _plan(estimator: Any, response_method: str, labels: bool = False) -> _Plan:
    """The tree model and its column-wise prefix; ``labels`` admits a classifier's ``predict``."""
    if type(estimator) is not Pipeline:
        return _Plan(_model_spec(estimator, response_method, labels), None, lambda X: None)
    steps = estimator.steps
    final = steps[-1][1]
    if final is None or isinstance(final, str):
        raise _Unsupported("pipeline without a final estimator")
    if not hasattr(estimator, response_method):
        raise _Unsupported(f"pipeline has no {response_method!r}")
    spec = _model_spec(final, response_method, labels)
    transformers = [step for _, step in steps[:-1]]
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is None:
        raise _Unsupported("pipeline is not fitted")
    src = np.arange(int(n_in))
    for step in transformers:
        src = src[_transformer_source(step, src.size)]
    prefix = estimator[:-1] if transformers else None
    names = getattr(estimator, "feature_names_in_", None)

    def prefix_source(X: Any) -> np.ndarray:
        positions = _names_to_positions(names, X)
        return src if positions is None else positions[src]

    return _Plan(spec, prefix, prefix_source)


# --------------------------------------------------------------------------------------
# Building the inputs
# --------------------------------------------------------------------------------------


def _checked_plan(estimator: Any, response_method: str, labels: bool = False) -> _Plan:
    """:func:`_plan`, its refusal as the ValueError of the public functions."""
    try:
        return _plan(estimator, response_method, labels=labels)
    except _Unsupported as exc:
        raise ValueError(f"tree paths cannot reproduce this estimator: {exc}") from exc


@dataclass
class _ModelSpace:
    """X as the trees see it, and where each of their input columns comes from."""

    cols: np.ndarray  # (n_model_columns, n) float64, one row per model input column
    nan_cols: np.ndarray  # (n_model_columns,) the column holds a NaN
    source: np.ndarray  # (n_model_columns,) the column of X that feeds it
    init: np.ndarray | None  # the estimator's starting raw values, when it has them


def _model_space(plan: _Plan, X: Any) -> _ModelSpace:
    """X through the column-wise prefix and the model's own validation, transformed once."""
    spec = plan.spec
    Xt = X if plan.prefix is None else plan.prefix.transform(X)
    Xv, cols = _dense_model(spec, Xt)
    source = spec.model_source(Xt)
    prefix_src = plan.prefix_source(X)
    if prefix_src is not None:
        source = prefix_src[source]
    if source.shape[0] != cols.shape[0]:
        raise ValueError("could not map the model's columns to the columns of X")
    init = None if spec.init is None else np.asarray(spec.init(Xv), dtype=np.float64)
    return _ModelSpace(cols, np.isnan(cols).any(axis=1), source, init)


def _with_free(X: Any, rows: np.ndarray, free: Sequence[int], values: np.ndarray) -> Any:
    """Rows ``rows`` of ``X`` with the columns ``free`` set to ``values`` (one row each)."""
    if hasattr(X, "iloc"):
        Xs = X.iloc[rows].copy()
        for j, col in enumerate(free):
            vals = np.asarray(values[:, j])
            if vals.dtype == object:
                inferred = pd.Series(list(vals), dtype=object).infer_objects()
                if inferred.dtype.kind in "biuf":
                    vals = inferred.to_numpy()
            dtype = Xs.dtypes.iloc[col]
            if isinstance(dtype, np.dtype) and dtype.kind in "biuf" and vals.dtype.kind in "biuf":
                with np.errstate(invalid="ignore", over="ignore"):
                    cast = vals.astype(dtype)
                if not np.array_equal(cast, vals, equal_nan=dtype.kind == "f"):
                    # pandas refuses lossy setitem: hold the exact grid values instead.
                    cast = vals.astype(np.result_type(dtype, vals.dtype))
                Xs.isetitem(col, cast)
            elif pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
                # (iloc setitem of a one-row string column reads the array as one value)
                Xs.isetitem(col, pd.array(list(vals), dtype=dtype))
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    Xs.iloc[:, col] = vals
        return Xs
    Xs = np.asarray(X)[rows].copy()
    Xs[:, list(free)] = values
    return Xs


def _dense_model(spec: _Spec, Xt: Any) -> tuple[np.ndarray, np.ndarray]:
    """(validated matrix as the model holds it, the same as float64 column-major rows)."""
    Xv = spec.to_model(Xt)
    if sp.issparse(Xv):
        Xv = Xv.toarray()
    Xv = np.asarray(Xv)
    # float32 -> float64 is exact: comparisons against float64 thresholds are unchanged.
    cols = np.ascontiguousarray(Xv.T, dtype=np.float64)
    return Xv, cols


# --------------------------------------------------------------------------------------
# Traversals
# --------------------------------------------------------------------------------------


def _go_left_node(
    tree: _Tree,
    lists: _NodeLists,
    node: int,
    x: np.ndarray,
    has_nan: bool,
) -> np.ndarray:
    """Vectorised split decision at one node, exactly as the estimator's predict."""
    if lists.cat_row is not None and lists.cat_row[node] >= 0:
        return _go_left_cat(tree.cat_tables[lists.cat_row[node]], lists.missing_left[node], x)
    left = x <= lists.threshold[node]
    if has_nan and lists.missing_left[node]:
        left |= np.isnan(x)
    return left


def _go_left_cat(table: np.ndarray, missing_left: bool, x: np.ndarray) -> np.ndarray:
    # NaN, negative codes: missing.  Otherwise <uint8> cast (truncation) and bitset lookup.
    missing = ~(x >= 0)
    if x.size and not missing.all() and np.nanmax(np.where(missing, 0.0, x)) >= 256:
        raise ValueError("categorical code out of range")
    codes = np.where(missing, 0.0, x).astype(np.intp)
    return np.where(missing, missing_left, table[codes])


def _go_left_many(tree: _Tree, nodes: np.ndarray, x: np.ndarray, has_nan: bool) -> np.ndarray:
    left = x <= tree.threshold[nodes]
    if has_nan:
        nan = np.isnan(x)
        if nan.any():
            left[nan] = tree.missing_left[nodes[nan]]
    if tree.cat_row is not None:
        rows = tree.cat_row[nodes]
        cat = rows >= 0
        if cat.any():
            xc = x[cat]
            missing = ~(xc >= 0)
            if not missing.all() and np.where(missing, 0.0, xc).max() >= 256:
                raise ValueError("categorical code out of range")
            codes = np.where(missing, 0.0, xc).astype(np.intp)
            looked_up = tree.cat_tables[rows[cat], codes]
            left[cat] = np.where(missing, tree.missing_left[nodes[cat]], looked_up)
    return left


def _walk(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
    ratio: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Send ``n`` rows down ``tree``.

    At a node with ``follow`` the rows follow their own values in ``cols`` (feature-major);
    at other internal nodes they go both ways.  Rows are emitted at nodes with ``stop``.

    Returns
    -------
    rows, nodes : ndarray
        One entry per (row, stop node) reached.
    """
    ratio = _NODE_WALK_RATIO if ratio is None else ratio
    if tree.n_nodes * ratio <= max(n, 1) or tree.n_nodes <= 3:
        return _walk_nodes(tree, cols, nan_cols, follow, stop, n)
    return _walk_levels(tree, cols, nan_cols, follow, stop, n)


def _partition(idx: np.ndarray | None, go_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions going left and right (``idx`` None: all rows).

    (take / compress: several times faster than fancy and boolean indexing here.)
    """
    if idx is None:
        return np.flatnonzero(go_left), np.flatnonzero(~go_left)
    return idx.compress(go_left), idx.compress(~go_left)


def _walk_nodes(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Node-by-node traversal over index arrays (few nodes, many rows)."""
    follow_l = follow.tolist()
    stop_l = stop.tolist()
    nan_l = nan_cols.tolist()
    lists = tree.lists
    left_l, right_l, feature_l = lists.left, lists.right, lists.feature
    out_rows: list[np.ndarray] = []
    out_nodes: list[int] = []
    everyone = np.arange(n, dtype=np.intp)
    # ``None`` stands for all rows, which saves the gathers near the root.
    stack: list[tuple[int, np.ndarray | None]] = [(0, None)]
    while stack:
        node, idx = stack.pop()
        while True:
            if stop_l[node]:
                out_rows.append(everyone if idx is None else idx)
                out_nodes.append(node)
                break
            if not follow_l[node]:
                stack.append((right_l[node], idx))
                node = left_l[node]
                continue
            f = feature_l[node]
            x = cols[f] if idx is None else cols[f].take(idx)
            li, ri = _partition(idx, _go_left_node(tree, lists, node, x, nan_l[f]))
            if li.size and ri.size:
                stack.append((right_l[node], ri))
                node, idx = left_l[node], li
            elif li.size:
                node = left_l[node]
            else:
                node = right_l[node]
    if not out_rows:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    sizes = [r.size for r in out_rows]
    return np.concatenate(out_rows), np.repeat(np.asarray(out_nodes, dtype=np.intp), sizes)


def _walk_levels(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Level-synchronous traversal of (row, node) particles (many nodes)."""
    n_total = cols.shape[1]
    rows = np.arange(n, dtype=np.intp)
    nodes = np.zeros(n, dtype=np.intp)
    out_rows: list[np.ndarray] = []
    out_nodes: list[np.ndarray] = []
    has_nan = bool(nan_cols.any())
    flat = cols.reshape(-1)
    while rows.size:
        done = stop[nodes]
        if done.any():
            out_rows.append(rows[done])
            out_nodes.append(nodes[done])
            keep = ~done
            rows, nodes = rows[keep], nodes[keep]
            if not rows.size:
                break
        fol = follow[nodes]
        if fol.all():
            rf, nf = rows, nodes
            rb = nb = None
        else:
            rf, nf = rows[fol], nodes[fol]
            both = ~fol
            rb, nb = rows[both], nodes[both]
        x = flat[tree.feature[nf] * n_total + rf]
        go_left = _go_left_many(tree, nf, x, has_nan)
        nxt = np.where(go_left, tree.left[nf], tree.right[nf])
        if rb is None:
            nodes = nxt
        else:
            rows = np.concatenate([rf, rb, rb])
            nodes = np.concatenate([nxt, tree.left[nb], tree.right[nb]])
    if not out_rows:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(out_rows), np.concatenate(out_nodes)


def _set_codes(
    owners: np.ndarray, members: np.ndarray, n_owners: int, n_members: int
) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct member sets of the owners.

    ``(owners[e], members[e])`` are the (owner, member) incidences, each at most once and
    every owner with at least one member.

    Returns
    -------
    codes : ndarray of shape (n_owners,)
        Set id of every owner, numbered in order of first appearance.
    rep : ndarray of shape (n_sets,)
        One owner holding each set.
    """
    if n_members <= 64:
        # Exact: one bit per member.
        weight = np.left_shift(np.uint64(1), np.arange(n_members, dtype=np.uint64))
        check = None
    else:
        # 64-bit random fingerprints, verified by a second independent fingerprint.
        rng = np.random.Generator(np.random.PCG64(_HASH_SEED))
        hi = np.iinfo(np.uint64).max
        weight = rng.integers(0, hi, size=n_members, dtype=np.uint64, endpoint=True)
        check = rng.integers(0, hi, size=n_members, dtype=np.uint64, endpoint=True)
    key = np.zeros(n_owners, dtype=np.uint64)
    np.add.at(key, owners, weight[members])
    codes = np.asarray(pd.factorize(key)[0], dtype=np.intp)
    rep = np.empty(int(codes.max()) + 1, dtype=np.intp)
    rep[codes] = np.arange(n_owners)
    if check is not None:
        key2 = np.zeros(n_owners, dtype=np.uint64)
        np.add.at(key2, owners, check[members])
        if not np.array_equal(key2[rep[codes]], key2):  # fingerprint collision
            pairs = np.stack([key, key2], axis=1)
            codes = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
            codes = codes.astype(np.intp)
            rep = np.empty(int(codes.max()) + 1, dtype=np.intp)
            rep[codes] = np.arange(n_owners)
    return codes, rep


@dataclass
class _Topo:
    """Per-tree structure that depends on the free set and on the grid."""

    follow_rows: np.ndarray  # bool per node: rows follow their values (non-free splits)
    leaf_stop: np.ndarray  # bool per node: leaves
    front_of: np.ndarray  # intp per node: frontier column of the node's frontier ancestor
    n_front: int
    g_class: np.ndarray  # (G,) class of each grid point (same frontier set, same leaves)
    bt: sp.csr_matrix  # (n_front, n_classes) 1.0 where a grid class reaches a frontier


@dataclass
class _Frontiers:
    """Where the free splits of a tree are: the part above the frontier depends on them."""

    free_split: np.ndarray  # bool per node: internal node splitting on a free feature
    has_free: np.ndarray  # bool per node: a free split at or below the node
    n_front: int  # frontier nodes: roots of subtrees without free splits (parent has one)
    col_of: np.ndarray  # intp per node: frontier column of a frontier node, else -1
    front_of: np.ndarray  # intp per node: frontier column of the node's frontier ancestor


def _frontiers(tree: _Tree, model_free: np.ndarray) -> _Frontiers:
    internal = ~tree.is_leaf
    free_split = internal & model_free[tree.feature]
    has_free = np.zeros(tree.n_nodes, dtype=bool)
    for level in reversed(tree.levels):
        nodes = level[internal[level]]
        if nodes.size:
            below = has_free[tree.left[nodes]] | has_free[tree.right[nodes]]
            has_free[nodes] = free_split[nodes] | below
    # Frontier: roots of subtrees without free splits whose parent has one (or the root).
    anc = np.full(tree.n_nodes, -1, dtype=np.intp)
    if not has_free[0]:
        anc[0] = 0
    for level in tree.levels:
        nodes = level[internal[level]]
        if not nodes.size:
            continue
        parent_anc = anc[nodes]
        for child in (tree.left[nodes], tree.right[nodes]):
            anc[child] = np.where(parent_anc >= 0, parent_anc, np.where(has_free[child], -1, child))
    fronts = np.flatnonzero(anc == np.arange(tree.n_nodes))
    col_of = np.full(tree.n_nodes, -1, dtype=np.intp)
    col_of[fronts] = np.arange(fronts.size)
    front_of = np.where(anc >= 0, col_of[np.maximum(anc, 0)], -1)
    return _Frontiers(free_split, has_free, int(fronts.size), col_of, front_of)


def _topology(tree: _Tree, model_free: np.ndarray, gcols: np.ndarray, gnan: np.ndarray) -> _Topo:
    fr = _frontiers(tree, model_free)
    internal = ~tree.is_leaf
    free_split, has_free, col_of, front_of = fr.free_split, fr.has_free, fr.col_of, fr.front_of
    fronts = np.flatnonzero(col_of >= 0)
    # Grid points: follow free splits, both ways elsewhere, stop at frontier nodes.  Grid
    # points reaching the same frontier set give every row the same leaf: one class.
    n_grid = gcols.shape[1]
    g_rows, g_nodes = _walk(tree, gcols, gnan, free_split, ~has_free, n_grid)
    g_fronts = col_of[g_nodes]
    g_class, g_rep = _set_codes(g_rows, g_fronts, n_grid, int(fronts.size))
    is_rep = np.zeros(n_grid, dtype=bool)
    is_rep[g_rep] = True
    keep = is_rep[g_rows]
    bt = sp.csr_matrix(
        (np.ones(int(keep.sum())), (g_fronts[keep], g_class[g_rows[keep]])),
        shape=(fronts.size, g_rep.size),
    )
    return _Topo(
        follow_rows=internal & ~free_split,
        leaf_stop=tree.is_leaf,
        front_of=front_of,
        n_front=int(fronts.size),
        g_class=g_class,
        bt=bt,
    )


# --------------------------------------------------------------------------------------
# Core computations
# --------------------------------------------------------------------------------------


@dataclass
class _Context:
    spec: _Spec
    topos: list[_Topo]
    cols: np.ndarray  # (p, n) float64 model matrix, feature-major
    nan_cols: np.ndarray  # (p,) bool
    init: np.ndarray | None  # (n_raw,)
    n_grid: int


def _patterns(
    tree: _Tree, topo: _Topo, rows: np.ndarray, nodes: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by the set of leaves they reach and tabulate each group's outputs.

    Returns
    -------
    codes : ndarray of shape (n,)
        Pattern id of every row.
    table : ndarray of shape (n_patterns, n_grid_classes, k)
        The tree's contribution for each pattern and class of grid points.
    """
    codes, rep = _set_codes(rows, tree.leaf_rank[nodes], n, tree.n_leaves)
    is_rep = np.zeros(n, dtype=bool)
    is_rep[rep] = True
    sel = is_rep[rows]
    p = codes[rows[sel]]
    leaf = nodes[sel]
    f = topo.front_of[leaf]
    k = tree.values.shape[1]
    table = np.empty((rep.size, topo.bt.shape[1], k), dtype=np.float64)
    for j in range(k):
        s = sp.csr_matrix((tree.values[leaf, j], (p, f)), shape=(rep.size, topo.n_front))
        # Exactly one stored product per (pattern, grid class) is non-zero: exact.
        table[:, :, j] = (s @ topo.bt).toarray()
    return codes, table


def _groups(spec: _Spec) -> list[tuple[tuple[int, ...], list[int]]]:
    """Trees grouped by the raw columns they add to, each group in prediction order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for t, tree in enumerate(spec.trees):
        groups.setdefault(tree.out_cols, []).append(t)
    return list(groups.items())


class _Accumulator:
    """Sums per-tree tables into ``(n, G*k)`` raw outputs in the estimator's own order.

    Rows of ``stack`` hold one (tree, pattern) output for every grid point; a CSR matrix
    with one ``1.0`` per (row, tree) picks them.  scipy's CSR-times-dense kernel adds a row's
    stored entries in storage order starting from zero, so putting the baseline (or the
    running sum of earlier blocks) first and then the trees in prediction order reproduces the
    estimator's float64 sums exactly, however the trees are split into blocks.
    """

    def __init__(self, n: int, width: int, init: np.ndarray | None, capacity: int) -> None:
        self.n = n
        self.width = width
        self.capacity = max(capacity, 2 * n + 1)
        self.acc: np.ndarray | None = None
        self.init = init
        self.stack = np.empty((min(self.capacity, n + 64), width), dtype=np.float64)
        self.codes: list[np.ndarray] = []
        self._start_block()

    def _start_block(self) -> None:
        self.codes = []
        if self.acc is not None:
            self.lead = np.arange(self.n)
            self.stack[: self.n] = self.acc
            self.offset = self.n
        elif self.init is not None:
            self.lead = np.zeros(self.n, dtype=np.intp)
            self.stack[0] = self.init
            self.offset = 1
        else:
            self.lead = None
            self.offset = 0

    def add(self, codes: np.ndarray, table: np.ndarray, g_class: np.ndarray) -> None:
        """Add one tree: row ``i`` gets ``table[codes[i], g_class]``."""
        n_pat = table.shape[0]
        need = self.offset + n_pat
        if need > self.stack.shape[0]:
            if need > self.capacity:
                self.flush()
                need = self.offset + n_pat
            if need > self.stack.shape[0]:
                size = min(self.capacity, max(need, 2 * self.stack.shape[0]))
                grown = np.empty((max(size, need), self.width), dtype=np.float64)
                grown[: self.offset] = self.stack[: self.offset]
                self.stack = grown
        view = self.stack[self.offset : need].reshape(n_pat, g_class.size, -1)
        np.take(table, g_class, axis=1, out=view)
        self.codes.append(codes + self.offset)
        self.offset = need

    def flush(self) -> None:
        if not self.codes:
            return
        columns = ([] if self.lead is None else [self.lead]) + self.codes
        per_row = len(columns)
        nnz = self.n * per_row
        idx_dtype = np.int32 if max(self.offset, nnz) < np.iinfo(np.int32).max else np.int64
        indices = np.empty((self.n, per_row), dtype=idx_dtype)
        for j, column in enumerate(columns):
            indices[:, j] = column
        a = sp.csr_matrix(
            (np.ones(nnz), indices.reshape(-1), np.arange(0, nnz + 1, per_row, dtype=idx_dtype)),
            shape=(self.n, self.offset),
        )
        del indices
        self.acc = np.asarray(a @ self.stack[: self.offset])
        self._start_block()

    def result(self) -> np.ndarray:
        self.flush()
        if self.acc is None:  # no trees
            base = np.zeros(self.width) if self.init is None else self.init
            self.acc = np.tile(base, (self.n, 1))
        return self.acc


def _raw_rows(ctx: _Context, sel: slice | np.ndarray, max_bytes: int) -> np.ndarray:
    """Raw outputs ``(n_rows, G, n_raw)`` for the rows ``sel`` and every grid point."""
    spec = ctx.spec
    cols = np.ascontiguousarray(ctx.cols[:, sel])
    n = cols.shape[1]
    nan_cols = np.isnan(cols).any(axis=1)
    G = ctx.n_grid
    groups = _groups(spec)
    whole = len(groups) == 1 and groups[0][0] == tuple(range(spec.n_raw))
    raw = None if whole else np.empty((n, G, spec.n_raw), dtype=np.float64)
    for out_cols, members in groups:
        k = len(out_cols)
        init = None
        if ctx.init is not None:
            init = np.broadcast_to(ctx.init[list(out_cols)], (G, k)).reshape(-1)
        capacity = max_bytes // (2 * G * k * 8)
        acc = _Accumulator(n, G * k, init, capacity)
        for t in members:
            tree, topo = spec.trees[t], ctx.topos[t]
            rows, nodes = _walk(tree, cols, nan_cols, topo.follow_rows, topo.leaf_stop, n)
            codes, table = _patterns(tree, topo, rows, nodes, n)
            del rows, nodes
            acc.add(codes, table, topo.g_class)
        prod = acc.result().reshape(n, G, k)
        del acc
        if raw is None:
            raw = prod
        else:
            raw[:, :, list(out_cols)] = prod
    if spec.divisor is not None:
        raw /= spec.divisor
    return raw


def _chunk_rows(spec: _Spec, n: int, n_grid: int, max_bytes: int) -> int:
    """Rows per chunk so that the temporaries stay (approximately) within ``max_bytes``.

    Per row: the running sums, their copy in the stack, the product, the finalized and
    averaged copies (about 6 ``(G, n_raw)`` float64 rows) and the CSR entries.  The other half
    of the budget holds the per-tree tables.
    """
    per_row = 6 * n_grid * spec.n_raw * 8 + (len(spec.trees) + 2) * 24
    return max(1, min(n, (max_bytes // 2) // per_row))


def _finalize(spec: _Spec, raw: np.ndarray) -> np.ndarray:
    n, G, n_raw = raw.shape
    out = np.asarray(spec.finalize(raw.reshape(n * G, n_raw)))
    return out.reshape((n, G, *out.shape[1:]))


def _linear_average(ctx: _Context, weights: np.ndarray | None, total: float) -> np.ndarray:
    """Weighted average raw output per grid point, from per-leaf weight totals."""
    spec = ctx.spec
    n = ctx.cols.shape[1]
    avg = np.zeros((ctx.n_grid, spec.n_raw), dtype=np.float64)
    for tree, topo in zip(spec.trees, ctx.topos, strict=True):
        r, nd = _walk(tree, ctx.cols, ctx.nan_cols, topo.follow_rows, topo.leaf_stop, n)
        w = None if weights is None else weights[r]
        leaf_w = np.bincount(nd, weights=w, minlength=tree.n_nodes)
        leaves = np.flatnonzero(tree.is_leaf & (leaf_w != 0))
        fronts = topo.front_of[leaves]
        k = tree.values.shape[1]
        front_w = np.empty((topo.n_front, k), dtype=np.float64)
        for j in range(k):
            front_w[:, j] = np.bincount(
                fronts, weights=leaf_w[leaves] * tree.values[leaves, j], minlength=topo.n_front
            )
        contrib = np.asarray(topo.bt.T @ front_w)[topo.g_class]
        avg[:, list(tree.out_cols)] += contrib
    avg /= total
    if ctx.init is not None:
        avg += ctx.init
    if spec.divisor is not None:
        avg /= spec.divisor
    return np.asarray(spec.finalize(avg))


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def supports_tree_paths(estimator: Any, response_method: str) -> bool:
    """Whether :func:`tree_path_responses` can reproduce ``response_method`` exactly.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator. Supported: HistGradientBoosting{Regressor,Classifier},
        GradientBoosting{Regressor,Classifier} (init ``"zero"`` or a constant Dummy
        estimator), RandomForest{Regressor,Classifier}, ExtraTrees{Regressor,Classifier},
        DecisionTree{Regressor,Classifier} and ExtraTree{Regressor,Classifier} (exact
        classes, not subclasses), and ``Pipeline`` objects ending in one of those whose
        earlier steps are whitelisted column-wise transformers (ColumnTransformer,
        OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler, MaxAbsScaler,
        RobustScaler, SimpleImputer, 'passthrough', nested Pipelines of these).
    response_method : {"predict", "predict_proba", "decision_function"}
        Regressors support ``"predict"``; classifiers support ``"predict_proba"`` (single
        output only) and, for boosting, ``"decision_function"``.  A classifier's
        ``"predict"`` (class labels) is not supported.

    Returns
    -------
    bool
        True when supported.
    """
    try:
        _plan(estimator, response_method)
    except (_Unsupported, AttributeError, TypeError, ValueError):
        return False
    return True


def tree_path_responses(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    grid: np.ndarray,
    *,
    response_method: str,
    individual: bool,
    sample_weight: np.ndarray | None = None,
    max_bytes: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Responses of a tree model on every grid point, computed from the trees' structure.

    For every grid point ``g`` this gives the numbers ``getattr(estimator,
    response_method)(X_g)`` would give, where ``X_g`` is ``X`` with the columns at
    positions ``free`` set to ``grid[g]``.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_tree_paths` is True.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The data, exactly as the estimator takes it.
    free : sequence of int
        Column positions in ``X`` set by the grid.
    grid : ndarray of shape (G, len(free))
        One grid point per row (object dtype allowed for mixed columns).  For DataFrames,
        grid values are written with pandas setitem semantics; a numeric column that
        cannot hold a value exactly is upcast to hold it.
    response_method : {"predict", "predict_proba", "decision_function"}
        The method whose output is reproduced.
    individual : bool
        Whether to also return the per-row outputs.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights for the average over rows, as in ``np.average``.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory (the returned arrays are not counted).

    Returns
    -------
    average : ndarray of shape (G, *out)
        ``np.average(output_g, axis=0, weights=sample_weight)`` for every grid point, where
        ``out`` is ``()`` for 1-d outputs and ``(k,)`` for outputs of shape ``(n, k)``.
    individual : ndarray of shape (G, n_samples, *out) or None
        The per-row outputs when ``individual=True``.

    Raises
    ------
    ValueError
        If the estimator is not supported or the arguments are inconsistent (and whatever
        the estimator's own validation raises, e.g. for NaN it does not accept).
    TypeError
        If ``X`` is a sparse matrix.
    TreePathMismatchError
        If the self-check against the estimator's real predictions fails.
    """
    plan = _checked_plan(estimator, response_method)
    spec = plan.spec
    if sp.issparse(X):
        raise TypeError("sparse X is not supported; pass a dense array or a DataFrame")
    free = [int(f) for f in free]
    n_features = X.shape[1]
    if len(set(free)) != len(free) or any(f < 0 or f >= n_features for f in free):
        raise ValueError(f"invalid free columns {free}")
    grid = np.asarray(grid)
    if grid.ndim == 1 and len(free) == 1:
        grid = grid.reshape(-1, 1)
    if grid.ndim != 2 or grid.shape[1] != len(free):
        raise ValueError(f"grid must have shape (G, {len(free)}), got {grid.shape}")
    n = X.shape[0]
    n_grid = grid.shape[0]
    if n == 0 or n_grid == 0:
        raise ValueError("X and grid must be non-empty")
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (n,):
            raise ValueError("sample_weight must have shape (n_samples,)")
    total = float(n) if weights is None else float(weights.sum())
    if total == 0.0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")

    # Model space: transform X once and the G grid rows once (valid because the prefix is
    # column-wise and row-wise), and find the model columns fed by the free inputs.
    space = _model_space(plan, X)
    x_grid = _with_free(X, np.zeros(n_grid, dtype=np.intp), free, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings were raised for X just above
        gt = x_grid if plan.prefix is None else plan.prefix.transform(x_grid)
        _, gcols = _dense_model(spec, gt)
    model_free = np.isin(space.source, free)
    gnan = np.isnan(gcols).any(axis=1)
    topos = [_topology(tree, model_free, gcols, gnan) for tree in spec.trees]
    ctx = _Context(
        spec=spec,
        topos=topos,
        cols=space.cols,
        nan_cols=space.nan_cols,
        init=space.init,
        n_grid=n_grid,
    )

    ind = None
    if individual or not spec.linear:
        # Row chunks bound the (chunk, G, n_raw) temporaries and the per-tree tables.
        chunk = _chunk_rows(spec, n, n_grid, int(max_bytes))
        acc = None
        for start in range(0, n, chunk):
            sel = slice(start, min(n, start + chunk))
            out = _finalize(spec, _raw_rows(ctx, sel, int(max_bytes)))
            if ind is None and individual:
                ind = np.empty((n_grid, n, *out.shape[2:]), dtype=out.dtype)
            if individual:
                ind[:, sel] = np.swapaxes(out, 0, 1)
            w = np.ones(out.shape[0]) if weights is None else weights[sel]
            part = np.tensordot(w, out, axes=(0, 0))
            acc = part if acc is None else acc + part
        average = acc / total
    else:
        average = _linear_average(ctx, weights, total)

    _self_check(estimator, response_method, X, free, grid, ctx, ind)
    return average, ind


def _check_rows(n: int) -> np.ndarray:
    """The rows the self-checks predict for real: up to _CHECK_ROWS, spread over the data."""
    return np.unique(np.linspace(0, n - 1, min(n, _CHECK_ROWS)).round().astype(np.intp))


def _agrees(ours: np.ndarray, ref: np.ndarray) -> bool:
    """Our outputs equal the estimator's: exactly for labels, to rounding of sums otherwise."""
    if ours.shape != ref.shape:
        return False
    if ref.dtype.kind not in "fc" or ours.dtype.kind not in "fc":
        return bool(np.array_equal(ours, ref))
    scale = float(np.nanmax(np.abs(ref))) if ref.size else 1.0
    return bool(np.allclose(ours, ref, rtol=1e-9, atol=1e-11 * max(1.0, scale), equal_nan=True))


def _self_check(
    estimator: Any,
    response_method: str,
    X: Any,
    free: list[int],
    grid: np.ndarray,
    ctx: _Context,
    ind: np.ndarray | None,
) -> None:
    """Compare a few (row, grid point) pairs with the estimator's own response method."""
    rows = _check_rows(ctx.cols.shape[1])
    points = np.linspace(0, ctx.n_grid - 1, min(ctx.n_grid, _CHECK_POINTS))
    points = np.unique(points.round().astype(np.intp))
    if ind is None:
        raw = _raw_rows(ctx, rows, 16 * 2**20)
        ours = np.swapaxes(_finalize(ctx.spec, raw), 0, 1)[points]
    else:
        ours = ind[points][:, rows]
    rr = np.tile(rows, points.size)
    gg = np.repeat(points, rows.size)
    x_check = _with_free(X, rr, free, grid[gg])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(getattr(estimator, response_method)(x_check), dtype=np.float64)
    ours = ours.reshape((rr.size, *ours.shape[2:]))
    if not _agrees(ours, ref):
        what = f"the estimator's own {response_method}"
        raise TreePathMismatchError(f"tree-path responses disagree with {what} on a self-check")


# --------------------------------------------------------------------------------------
# Permuted columns (permutation importance)
# --------------------------------------------------------------------------------------
#
# Permuting the free columns with a row permutation ``p`` gives row ``i`` the free values of
# row ``p[i]`` (its *donor*) and its own values elsewhere: ICE at one grid point per row, the
# grid being the rows themselves.  Per tree, the row side (the pattern of leaves a row reaches
# with the free splits going both ways) depends only on the unpermuted columns, and the donor
# side (the class of frontier nodes a donor reaches) only on the donor's free values, so both
# are computed once per free set; every permutation then costs one table lookup and one
# addition per (row, tree), instead of a traversal.

# Rows (and donor bins) are walked node by node when the tree has at most this many nodes per
# row (measured on HistGradientBoosting trees: faster than level walks from a few hundred rows).
_ROW_WALK_RATIO = 1
# Folded tables (pattern x donor bin) up to this many entries; beyond, bin -> class first.
_FOLD_ENTRIES = 1 << 15
# (permutation, row) entries per lookup step: the step's index, value and sum arrays stay in cache.
_STEP_ENTRIES = 1 << 16


def _donor_bins(
    trees: Sequence[_Tree], cols: np.ndarray, model_free: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by their free model values into bins that every free split treats alike.

    A numerical free column is cut at the union of its split thresholds over all trees (plus
    one bin for NaN), so two values in one bin compare alike with every threshold; a column
    with categorical splits is grouped by value.  Bins are finer than needed, never coarser.

    Returns
    -------
    bins : ndarray of shape (n,)
        Bin of every row.
    reps : ndarray of shape (n_bins,)
        One row of each bin.
    """
    n = cols.shape[1]
    code = np.zeros(n, dtype=np.int64)
    n_codes = 1
    for c in np.flatnonzero(model_free):
        x = cols[c]
        categorical = False
        thresholds = []
        for tree in trees:
            split = ~tree.is_leaf & (tree.feature == c)
            if tree.cat_row is not None:
                cat = split & (tree.cat_row >= 0)
                if cat.any():
                    categorical = True
                    split &= ~cat
            thresholds.append(tree.threshold[split])
        if categorical:
            b, uniques = pd.factorize(x, use_na_sentinel=False)
            n_b = len(uniques)
        else:
            cuts = np.unique(np.concatenate(thresholds))
            cuts = cuts[~np.isnan(cuts)]
            # searchsorted(side="left") counts the cuts below x: x <= cut[k] iff k >= that count.
            b = np.searchsorted(cuts, x, side="left")
            b[np.isnan(x)] = cuts.size + 1
            n_b = cuts.size + 2
        code = code * n_b + b
        n_codes *= n_b
        if n_codes > n:
            code, uniques = pd.factorize(code)
            n_codes = len(uniques)
    bins, uniques = pd.factorize(code)
    reps = np.empty(len(uniques), dtype=np.intp)
    reps[bins] = np.arange(n, dtype=np.intp)
    return np.asarray(bins, dtype=np.intp), reps


class _ConstLookup:
    """A tree whose leaf does not depend on the donor: the same values for every permutation."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values  # (n, k)

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        for j, c in enumerate(out_cols):
            acc[c] += self.values[:, j]  # broadcast over the permutations


class _TableLookup:
    """Leaf values per (row pattern, donor class): one gather per (row, permutation)."""

    def __init__(self, codes: np.ndarray, table: np.ndarray, cls_of_bin: np.ndarray) -> None:
        n_pat, n_cls, k = table.shape
        n_bins = cls_of_bin.size
        self.folded = n_pat * n_bins <= _FOLD_ENTRIES
        if self.folded:  # index by donor bin directly
            self.tables = [np.ascontiguousarray(table[:, cls_of_bin, j]).ravel() for j in range(k)]
            self.base = codes * n_bins
        else:
            self.tables = [np.ascontiguousarray(table[:, :, j]).ravel() for j in range(k)]
            self.base = codes * n_cls
        self.cls_of_bin = cls_of_bin

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        n_perm, n = donors.shape
        # Work buffers reused across steps (fresh large temporaries cost page faults).
        idx_buf = np.empty(n_perm * min(chunk, n), dtype=np.intp)
        val_buf = np.empty(n_perm * min(chunk, n), dtype=np.float64)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            idx = idx_buf[: n_perm * (b - a)].reshape(n_perm, b - a)
            val = val_buf[: n_perm * (b - a)].reshape(n_perm, b - a)
            if self.folded:
                np.add(donors[:, a:b], self.base[a:b], out=idx)
            else:
                np.take(self.cls_of_bin, donors[:, a:b], out=idx, mode="clip")
                idx += self.base[a:b]
            for j, c in enumerate(out_cols):
                # (indices are in range by construction; "clip" skips take's buffered bounds check)
                np.take(self.tables[j], idx, out=val, mode="clip")
                acc[c, :, a:b] += val


class _IncidenceLookup:
    """Leaf per (row, permutation) from the row's reachable leaves, for tables too large.

    A row's reachable leaves lie under distinct frontier nodes; its donor's class reaches
    exactly one of those frontiers.
    """

    def __init__(
        self, tree: _Tree, fr: _Frontiers, rows: np.ndarray, nodes: np.ndarray, n: int, dc: _DonorClasses
    ) -> None:
        order = np.argsort(rows, kind="stable")
        self.inc_rows = rows[order]
        self.inc_leaf = nodes[order]
        self.inc_front = fr.front_of[self.inc_leaf]
        self.ptr = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(np.bincount(rows, minlength=n), out=self.ptr[1:])
        self.reach = max(1.0, rows.size / max(n, 1))
        self.values = tree.values
        self.cls_of_bin = dc.cls_of_bin
        self.n_front = fr.n_front
        self.member = dc.member
        self.keys = dc.keys

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        n_perm, n = donors.shape
        step = max(1, int(chunk / self.reach))
        for a in range(0, n, step):
            b = min(n, a + step)
            s = slice(self.ptr[a], self.ptr[b])
            cls = self.cls_of_bin[donors[:, a:b]][:, self.inc_rows[s] - a]  # (P, incidences)
            front = self.inc_front[s]
            if self.member is not None:
                hit = self.member[cls, front]
            else:
                key = cls.astype(np.int64) * self.n_front + front
                pos = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
                hit = self.keys[pos] == key
            # Exactly one hit per (permutation, row), in row order.
            leaf = np.broadcast_to(self.inc_leaf[s], cls.shape)[hit]
            if leaf.size != n_perm * (b - a):
                raise TreePathMismatchError("a row did not reach exactly one leaf")
            for j, c in enumerate(out_cols):
                acc[c, :, a:b] += self.values[leaf, j].reshape(n_perm, b - a)


def _row_patterns(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, nan_cols: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None]:
    """Pattern (set of reachable leaves) of every row, free splits both ways.

    A node-by-node walk (small trees) that marks each row's leaves in a key as it reaches them:
    one bit per leaf for trees of at most 64 leaves, two independent 64-bit fingerprints (as in
    _set_codes) otherwise.

    Returns
    -------
    codes : ndarray of shape (n,)
        Pattern of every row.
    n_patterns : int
    reps : ndarray of shape (n_patterns,) or None
        One row of each pattern (fingerprint keys only).
    uniques : ndarray of shape (n_patterns,) or None
        Each pattern's key, one bit per leaf rank (trees of at most 64 leaves).

    When no row meets a free split, the pattern is the row's leaf: ``codes`` are leaf ranks,
    ``n_patterns`` the leaf count, and ``reps`` and ``uniques`` are None.
    """
    n = cols.shape[1]
    lists = tree.lists
    follow_l = follow.tolist()
    leaf_l = tree.is_leaf.tolist()
    nan_l = nan_cols.tolist()
    left_l, right_l, feature_l = lists.left, lists.right, lists.feature
    thr_l, cat_l = lists.threshold, lists.cat_row
    exact = tree.n_leaves <= 64
    if exact:
        weight = np.left_shift(np.uint64(1), np.arange(tree.n_leaves, dtype=np.uint64))
        check = None
    else:
        rng = np.random.Generator(np.random.PCG64(_HASH_SEED))
        hi = np.iinfo(np.uint64).max
        weight = rng.integers(0, hi, size=tree.n_leaves, dtype=np.uint64, endpoint=True)
        check = rng.integers(0, hi, size=tree.n_leaves, dtype=np.uint64, endpoint=True)
    rank = tree.leaf_rank
    leaf_of = np.empty(n, dtype=np.intp)
    key = np.zeros(n, dtype=np.uint64)
    key2 = None if check is None else np.zeros(n, dtype=np.uint64)
    branched = False
    stack: list[tuple[int, np.ndarray | None]] = [(0, None)]  # None: all rows
    while stack:
        node, idx = stack.pop()
        while True:
            if leaf_l[node]:
                sel = slice(None) if idx is None else idx
                leaf_of[sel] = node
                if exact:
                    key[sel] |= weight[rank[node]]
                else:
                    key[sel] += weight[rank[node]]
                    key2[sel] += check[rank[node]]
                break
            if not follow_l[node]:
                branched = True
                stack.append((right_l[node], idx))
                node = left_l[node]
                continue
            f = feature_l[node]
            x = cols[f] if idx is None else cols[f].take(idx)
            if nan_l[f] or (cat_l is not None and cat_l[node] >= 0):
                go_left = _go_left_node(tree, lists, node, x, nan_l[f])
            else:
                go_left = x <= thr_l[node]
            li, ri = _partition(idx, go_left)
            if li.size and ri.size:
                stack.append((right_l[node], ri))
                node, idx = left_l[node], li
            elif li.size:
                node = left_l[node]
            else:
                node = right_l[node]
    if not branched:
        return rank[leaf_of], tree.n_leaves, None, None
    codes, uniques = pd.factorize(key)
    codes = np.asarray(codes, dtype=np.intp)
    if exact:
        return codes, len(uniques), None, np.asarray(uniques, dtype=np.uint64)
    reps = np.empty(int(codes.max()) + 1, dtype=np.intp)
    reps[codes] = np.arange(n, dtype=np.intp)
    if key2 is not None and not np.array_equal(key2[reps[codes]], key2):  # fingerprint collision
        pairs = np.stack([key, key2], axis=1)
        codes = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.intp)
        reps = np.empty(int(codes.max()) + 1, dtype=np.intp)
        reps[codes] = np.arange(n, dtype=np.intp)
    return codes, reps.size, reps, None


@dataclass
class _DonorClasses:
    """Donor bins grouped by the frontier nodes they reach (free splits followed, others both ways)."""

    cls_of_bin: np.ndarray  # (n_bins,) class of every donor bin
    n_cls: int
    member: np.ndarray | None  # (n_cls, n_front) bool: the class reaches the frontier (if small)
    keys: np.ndarray  # sorted class * n_front + frontier of the same pairs


def _donor_classes(
    tree: _Tree, fr: _Frontiers, gcols: np.ndarray, gnan: np.ndarray, max_bytes: int
) -> _DonorClasses:
    n_bins = gcols.shape[1]
    g_rows, g_nodes = _walk(tree, gcols, gnan, fr.free_split, ~fr.has_free, n_bins, _ROW_WALK_RATIO)
    g_fronts = fr.col_of[g_nodes]
    cls_of_bin, rep = _set_codes(g_rows, g_fronts, n_bins, fr.n_front)
    n_cls = rep.size
    keys = np.unique(cls_of_bin[g_rows].astype(np.int64) * fr.n_front + g_fronts)
    member = None
    if n_cls * fr.n_front <= max(max_bytes // 8, 1):
        member = np.zeros((n_cls, fr.n_front), dtype=bool)
        member[keys // fr.n_front, keys % fr.n_front] = True
    return _DonorClasses(cls_of_bin, n_cls, member, keys)


def _pattern_leaves(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, reps: np.ndarray | None, uniques: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(pattern, leaf node) for every leaf of every pattern.

    With one bit per leaf (``uniques``: the patterns' keys) the leaves are the set bits;
    otherwise one row of each pattern (``reps``) is walked again.
    """
    if uniques is not None:
        bits = (uniques[:, None] >> np.arange(tree.n_leaves, dtype=np.uint64)[None, :]) & np.uint64(1)
        p, rank = np.nonzero(bits)
        return p, np.flatnonzero(tree.is_leaf)[rank]
    assert reps is not None
    rcols = np.ascontiguousarray(cols[:, reps])
    return _walk(tree, rcols, np.isnan(rcols).any(axis=1), follow, tree.is_leaf, reps.size, _ROW_WALK_RATIO)


def _row_codes(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, nan_cols: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Every row's pattern, free splits (not in ``follow``) both ways: :func:`_row_patterns`
    for small trees, a level walk for large ones.

    Returns (codes, n_patterns, reps, uniques, rows, nodes): ``reps`` and ``uniques`` as in
    :func:`_row_patterns` (both None when no row branches: the codes are leaf ranks); ``rows``
    and ``nodes`` the walk's (row, leaf) particles when it was a level walk, else None.
    """
    n = cols.shape[1]
    if tree.n_nodes * _ROW_WALK_RATIO <= max(n, 1) or tree.n_nodes <= 3:
        return (*_row_patterns(tree, follow, cols, nan_cols), None, None)
    rows, nodes = _walk(tree, cols, nan_cols, follow, tree.is_leaf, n)
    if rows.size == n:
        codes = np.empty(n, dtype=np.intp)
        codes[rows] = tree.leaf_rank[nodes]
        return codes, tree.n_leaves, None, None, rows, nodes
    codes, reps = _set_codes(rows, tree.leaf_rank[nodes], n, tree.n_leaves)
    return codes, reps.size, reps, None, rows, nodes


def _own_leaf_values(tree: _Tree, cols: np.ndarray, nan_cols: np.ndarray) -> np.ndarray:
    """(n, k) values of the leaf each row reaches with its own values (every split followed)."""
    codes = _row_codes(tree, ~tree.is_leaf, cols, nan_cols)[0]
    return tree.values[np.flatnonzero(tree.is_leaf)][codes]


def _permuted_lookup(
    tree: _Tree,
    fr: _Frontiers,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    gcols: np.ndarray,
    gnan: np.ndarray,
    max_bytes: int,
) -> _ConstLookup | _TableLookup | _IncidenceLookup:
    """The per-tree structure that answers every permutation.

    Rows are grouped by pattern (the leaves they reach with free splits both ways), donor bins
    by class (the frontier nodes they reach); the leaf of (pattern, class) is the pattern's
    leaf under the one frontier of the pattern that the class reaches.
    """
    n = cols.shape[1]
    k = tree.values.shape[1]
    follow = ~tree.is_leaf & ~fr.free_split
    codes, n_pat, reps, uniques, rows, nodes = _row_codes(tree, follow, cols, nan_cols)
    if reps is None and uniques is None:
        # No row meets a free split: each row's own leaf, whatever its donor.
        return _ConstLookup(tree.values[np.flatnonzero(tree.is_leaf)][codes])
    dc = _donor_classes(tree, fr, gcols, gnan, max_bytes)
    if dc.member is None or n_pat * dc.n_cls * k * 8 > max_bytes // 4 or n_pat * dc.n_cls > 16 * n:
        if rows is None:
            rows, nodes = _walk(tree, cols, nan_cols, follow, tree.is_leaf, n)
        return _IncidenceLookup(tree, fr, rows, nodes, n, dc)
    p, leaf = _pattern_leaves(tree, follow, cols, reps, uniques)
    del rows, nodes
    # Leaf of (pattern, class): the pattern's leaf under a frontier the class reaches. Exactly
    # one per pair; copying leaf values (no arithmetic) keeps them exact.
    c_idx, i_idx = np.nonzero(dc.member[:, fr.front_of[leaf]])
    table_leaf = np.zeros((n_pat, dc.n_cls), dtype=np.intp)
    table_leaf[p[i_idx], c_idx] = leaf[i_idx]
    hits = np.bincount(p[i_idx] * dc.n_cls + c_idx, minlength=n_pat * dc.n_cls).reshape(n_pat, dc.n_cls)
    used = np.zeros(n_pat, dtype=bool)
    used[codes] = True
    if (hits[used] != 1).any():
        raise TreePathMismatchError("a (row pattern, donor class) pair did not meet in exactly one leaf")
    table = tree.values[table_leaf]  # (n_pat, n_cls, k)
    if dc.n_cls == 1:
        return _ConstLookup(table[codes, 0, :])
    return _TableLookup(codes, table, dc.cls_of_bin)


def supports_permuted_tree_paths(estimator: Any, response_method: str) -> bool:
    """Whether :func:`tree_path_permuted_responses` can reproduce ``response_method`` exactly.

    The estimators of :func:`supports_tree_paths`, with one more method: a classifier's
    ``"predict"`` (class labels), which the permuted responses derive from the exact raw sums
    or probabilities with the estimator's own rule (``raw > 0`` for HistGradientBoosting
    binary, ``raw >= 0`` for GradientBoosting binary, ``argmax`` otherwise).
    """
    try:
        _plan(estimator, response_method, labels=True)
    except (_Unsupported, AttributeError, TypeError, ValueError):
        return False
    return True


def tree_path_permuted_responses(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    permutations: Sequence[np.ndarray],
    *,
    response_method: str,
    max_bytes: int = 256 * 2**20,
) -> list[np.ndarray]:
    """Responses of a tree model on copies of ``X`` whose ``free`` columns are permuted.

    For each permutation ``p`` (an int array of length ``n = X.shape[0]``), the output of
    ``getattr(estimator, response_method)(X_p)``, where ``X_p`` is ``X`` with the columns at
    positions ``free`` taken from rows ``p`` (``X_p[:, free] = X[p][:, free]``, all free columns
    with the same ``p``) and the other columns unchanged.

    Per tree, the leaves a row can reach with the free splits going both ways (its pattern) and
    the frontier nodes a donor row reaches with the other splits going both ways (its class)
    are computed once; the leaf of row ``i`` under ``p`` is then a table lookup at (pattern of
    ``i``, class of ``p[i]``).  Raw sums are formed as the estimator forms them (the same start,
    the trees added one by one in prediction order, in float64), and the estimator's own link /
    decision rule is applied to each permutation's raw array laid out as the estimator lays it
    out, so the values are bit-identical to the estimator's.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_permuted_tree_paths` is True.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The data, exactly as the estimator takes it.
    free : sequence of int
        Column positions in ``X`` that are permuted (together, with the same permutation).
    permutations : sequence of int ndarray of shape (n_samples,)
        Source rows of the free columns, one array per output.
    response_method : {"predict", "predict_proba", "decision_function"}
        The method whose output is reproduced.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory. The outputs, and the raw sums they are computed
        from (``len(permutations) * n_samples * n_raw`` float64), are not counted.

    Returns
    -------
    list of ndarray
        One output per permutation, with the shape and dtype of the method's own output.

    Raises
    ------
    ValueError
        If the estimator is not supported or the arguments are inconsistent (and whatever the
        estimator's own validation raises).
    TypeError
        If ``X`` is a sparse matrix.
    TreePathMismatchError
        If the self-check against the estimator's real predictions fails.
    """
    paths = PermutedTreePaths(estimator, X, (response_method,), max_bytes=max_bytes)
    return paths.responses(free, permutations)[response_method]


@dataclass
class _Shape:
    """Per-tree structure that does not depend on the free set."""

    split_cols: np.ndarray  # distinct model columns the tree splits on
    below: np.ndarray  # (n_nodes, n_split_cols) bool: the column splits at or below the node
    parent: np.ndarray  # intp, -1 for the root
    anc: np.ndarray  # (n_nodes, max_depth + 1): ancestor at each depth (the node itself below)


def _shape(tree: _Tree) -> _Shape:
    internal = ~tree.is_leaf
    split_cols, col_idx = np.unique(tree.feature[internal], return_inverse=True)
    below = np.zeros((tree.n_nodes, split_cols.size), dtype=bool)
    nodes = np.flatnonzero(internal)
    below[nodes, col_idx] = True
    for level in reversed(tree.levels):
        nodes = level[internal[level]]
        if nodes.size:
            below[nodes] |= below[tree.left[nodes]] | below[tree.right[nodes]]
    parent = np.full(tree.n_nodes, -1, dtype=np.intp)
    anc = np.zeros((tree.n_nodes, len(tree.levels)), dtype=np.intp)
    for d, level in enumerate(tree.levels):
        nodes = level[internal[level]]
        anc[level, d:] = level[:, None]
        for child in (tree.left[nodes], tree.right[nodes]):
            parent[child] = nodes
            anc[child, : d + 1] = anc[nodes, : d + 1]
    return _Shape(split_cols, below, parent, anc)


def _frontiers_of(tree: _Tree, shape: _Shape, model_free: np.ndarray) -> _Frontiers:
    """:func:`_frontiers` from the tree's cached shape (a few vectorised steps)."""
    internal = ~tree.is_leaf
    free_split = internal & model_free[tree.feature]
    has_free = shape.below[:, model_free[shape.split_cols]].any(axis=1)
    parent_free = np.ones(tree.n_nodes, dtype=bool)
    parent_free[1:] = has_free[shape.parent[1:]]
    fronts = np.flatnonzero(~has_free & parent_free)
    col_of = np.full(tree.n_nodes, -1, dtype=np.intp)
    col_of[fronts] = np.arange(fronts.size)
    # has_free is monotone along a path: the frontier of a node is its ancestor at the depth of
    # the number of its ancestors with free splits below.
    k = has_free[shape.anc].sum(axis=1)
    front_of = np.where(
        has_free, -1, col_of[shape.anc[np.arange(tree.n_nodes), np.minimum(k, shape.anc.shape[1] - 1)]]
    )
    return _Frontiers(free_split, has_free, int(fronts.size), col_of, front_of)


class PermutedTreePaths:
    """A tree model's responses on copies of ``X`` with permuted columns, for many free sets.

    Built once per (estimator, X, response methods): the model-space matrix (``X`` through the
    column-wise prefix and the model's validation) and the trees; :meth:`responses` then
    answers one free set (feature or group) and its permutations.  See
    :func:`tree_path_permuted_responses`.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_permuted_tree_paths` is True for every
        method.
    X : DataFrame or ndarray of shape (n_samples, n_features)
    response_methods : sequence of str
        Methods answered together: they differ only in what is applied to the raw sums.
    max_bytes : int, default=256 MiB
        Approximate bound on the temporaries of :meth:`responses`.
    """

    def __init__(
        self, estimator: Any, X: Any, response_methods: Sequence[str], *, max_bytes: int = 256 * 2**20
    ) -> None:
        methods = list(dict.fromkeys(response_methods))
        if not methods:
            raise ValueError("no response method given")
        plans = {method: _checked_plan(estimator, method, labels=True) for method in methods}
        plan = plans[methods[0]]
        spec = plan.spec
        for other in plans.values():
            o = other.spec
            if (o.n_raw, o.divisor, o.init_on_zeros, o.order, len(o.trees)) != (
                spec.n_raw,
                spec.divisor,
                spec.init_on_zeros,
                spec.order,
                len(spec.trees),
            ):
                raise ValueError("these response methods do not share raw sums")
        if sp.issparse(X):
            raise TypeError("sparse X is not supported; pass a dense array or a DataFrame")
        if X.shape[0] == 0:
            raise ValueError("X must be non-empty")
        self.estimator = estimator
        self.X = X
        self.methods = methods
        self.max_bytes = int(max_bytes)
        self._plans = plans
        self._spec = spec
        space = _model_space(plan, X)
        self._cols, self._nan_cols, self._source = space.cols, space.nan_cols, space.source
        self._init = None if space.init is None else space.init.reshape(-1)
        self._shapes: list[_Shape | None] = [None] * len(spec.trees)
        # Each row's own leaf values per tree, for the free sets a tree never splits on (the
        # same for all of them); kept while they fit half of max_bytes, else recomputed.
        self._own: dict[int, _ConstLookup] = {}
        self._own_bytes = 0

    def _own_leaves(self, t: int) -> _ConstLookup:
        """Tree ``t`` has no free split: every row keeps its own leaf (cached within budget)."""
        lookup = self._own.get(t)
        if lookup is None:
            lookup = _ConstLookup(_own_leaf_values(self._spec.trees[t], self._cols, self._nan_cols))
            size = lookup.values.nbytes
            if self._own_bytes + size <= self.max_bytes // 2:
                self._own[t] = lookup
                self._own_bytes += size
        return lookup

    def responses(
        self, free: Sequence[int], permutations: Sequence[np.ndarray], *, give_up_after: float | None = None
    ) -> dict[str, list[np.ndarray]]:
        """``{method: [output on X with the columns free permuted by p, for p in permutations]}``.

        With ``give_up_after`` (seconds), raise :class:`TreePathsTooSlow` as soon as the time
        spent, extrapolated over the trees, exceeds it: a caller that can also predict learns
        that tree paths lose while it has spent no more than about that.
        """
        started = time.perf_counter()
        X, spec, cols = self.X, self._spec, self._cols
        free = [int(f) for f in free]
        n_features = X.shape[1]
        if not free or len(set(free)) != len(free) or any(f < 0 or f >= n_features for f in free):
            raise ValueError(f"invalid free columns {free}")
        n = X.shape[0]
        perms = []
        for p in permutations:
            p = np.asarray(p)
            if p.shape != (n,) or p.dtype.kind not in "iu" or (p.min() < 0 or p.max() >= n):
                raise ValueError(f"each permutation must be an int array of {n} row positions")
            perms.append(p.astype(np.intp, copy=False))
        if not perms:
            return {method: [] for method in self.methods}
        max_bytes = self.max_bytes
        model_free = np.isin(self._source, free)

        # Donors: bins of rows that every free split treats alike; one representative each.
        bins, reps = _donor_bins(spec.trees, cols, model_free)
        gcols = np.ascontiguousarray(cols[:, reps])
        gnan = np.isnan(gcols).any(axis=1)
        n_perm = len(perms)
        donors = np.empty((n_perm, n), dtype=np.intp)
        for r, p in enumerate(perms):
            np.take(bins, p, out=donors[r])
        del bins

        # Raw sums (n_raw, P, n), started as the estimator starts them.
        acc = np.zeros((spec.n_raw, n_perm, n), dtype=np.float64)
        if self._init is not None:
            if spec.init_on_zeros:
                acc += self._init[:, None, None]
            else:
                acc[...] = self._init[:, None, None]
        # Rows per step: an index and a value array of (P, chunk) per step, kept in cache.
        chunk = max(1, min(n, (max_bytes // 4) // (n_perm * 16), _STEP_ENTRIES // n_perm))
        set_up = time.perf_counter() - started  # donors and sums: paid once, not per tree
        loop_start = time.perf_counter()
        for t, tree in enumerate(spec.trees):  # prediction order: each raw column in order
            shape = self._shapes[t]
            if shape is None:
                shape = self._shapes[t] = _shape(tree)
            if model_free[shape.split_cols].any():
                fr = _frontiers_of(tree, shape, model_free)
                lookup = _permuted_lookup(tree, fr, cols, self._nan_cols, gcols, gnan, max_bytes)
            else:
                lookup = self._own_leaves(t)
            lookup.add(acc, donors, tree.out_cols, chunk)
            del lookup
            if give_up_after is not None:
                # Extrapolated once a tenth of the trees (or ten) are done: the first trees also
                # pay one-off costs and timer noise, which must not decide alone.
                spent, done, total = time.perf_counter() - loop_start, t + 1, len(spec.trees)
                projected = spent * total / done if 10 * done >= total or done >= 10 else spent
                if set_up + projected > give_up_after:
                    trees = f"{t + 1} of {len(spec.trees)} trees"
                    raise TreePathsTooSlow(f"{spent:.3g} s for {trees}; the limit is {give_up_after:.3g} s")
        del donors
        if spec.divisor is not None:
            acc /= spec.divisor
        result: dict[str, list[np.ndarray]] = {method: [] for method in self.methods}
        for r in range(n_perm):
            # The raw array of one permutation as the estimator holds it (shape, memory order).
            raw = np.array(acc[:, r, :].T, order=spec.order)
            for method in self.methods:
                out = self._plans[method].spec.finalize(
                    raw if len(self.methods) == 1 else raw.copy(order="K")
                )
                result[method].append(np.asarray(out))
        del acc
        for method in self.methods:
            _permuted_self_check(self.estimator, method, X, free, perms, result[method])
        return result


def _permuted_self_check(
    estimator: Any,
    response_method: str,
    X: Any,
    free: list[int],
    perms: list[np.ndarray],
    outputs: list[np.ndarray],
) -> None:
    """Compare a few rows of the first and last permutation with the real response method."""
    from inspectcli.engines.frames import assemble, column, take

    rows = _check_rows(X.shape[0])
    which = sorted({0, len(perms) - 1})
    src = np.concatenate([rows] * len(which))
    donors = np.concatenate([perms[r][rows] for r in which])
    x_check = assemble(X, src, {j: take(column(X, j), donors) for j in free})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(getattr(estimator, response_method)(x_check))
    ours = np.concatenate([outputs[r][rows] for r in which])
    if not _agrees(ours, ref):
        what = f"the estimator's own {response_method}"
        raise TreePathMismatchError(f"permuted tree-path responses disagree with {what} on a self-check")
