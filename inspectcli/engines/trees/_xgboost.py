"""XGBoost's ``XGBRegressor`` and ``XGBClassifier`` read into the tree form (see ``_specs.py``).

The trees come from the booster's JSON (``save_raw("json")``), whose numbers are the shortest
decimals that give back the float32 values the booster holds. The rules reproduced are those of
XGBoost's CPU predictor (3.x):

* the input is converted to float32; a numerical split sends ``x < split_condition`` left, in
  float32, which for float32 ``x`` is ``x <= nextafter(split_condition, -inf)``: that is stored;
* NaN goes the ``default_left`` way; a categorical split sends the categories in its set right
  and every other category left (``common::Decision``); pandas ``category`` columns arrive as
  codes of the categories the model was trained on (XGBoost re-codes by value), missing ones as
  NaN. A category the model never saw is an error in XGBoost 3.x, or read as an arbitrary code
  when the column's categories extend the model's: data holding one is predicted instead;
* raw outputs start at the base margin and add the trees in their order, tree ``i`` to output
  group ``tree_info[i]``, **rounded to float32 after every tree** (``out_preds`` is a float
  array): the spec says ``raw_dtype=float32`` and the engines add in float32 in the same order, so
  margins are bit-identical;
* the base margin is ``base_score`` as the JSON holds it, except for ``binary:logistic``, whose
  ``base_score`` is a probability turned into a margin by ``Logit`` (``-logf(1/p - 1)``, in
  float32, after clamping to ``[1e-6, 1 - 1e-6]``; ``LogisticRegression::ProbToMargin``);
* links (``src/common/math.h``), all in float32 with the C library's ``expf``:
  ``binary:logistic`` is ``Sigmoid``: ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16)``, and
  ``predict_proba`` stacks ``1 - p, p`` (float32); ``multi:softprob`` is ``Softmax``: the maximum
  by ``fmaxf``, ``expf(x - max)``, their sum in double, each divided by that sum rounded to float.
  ``predict`` (labels) is ``p > 0.5``, or the argmax of the probabilities.

``expf`` (:func:`_expf`): numpy's float32 ``exp`` differs from the C library's in the last bit for
about 40% of inputs, so it cannot be used. ``exp`` in float64 rounded to float32 is the correctly
rounded ``expf`` except where ``exp(x)`` lies very near the midpoint of two float32 neighbours;
glibc's ``expf`` computes a double within ``1.69 * 2**-34`` (relative) of ``exp(x)`` and rounds it,
so wherever the float64 value is farther than ``2**-31`` (relative) from every midpoint both round
to the same float32. The few values nearer a midpoint (about 1%) are computed by the C library's
own ``expf`` through ctypes. A check of this route against the C library on fixed inputs runs once
per process; where it fails (another C library) the classifiers go to brute force, and the run-time
self-check of the engines stands behind all of it.

Regressors with an identity link (``reg:squarederror``, ``reg:absoluteerror``,
``reg:pseudohubererror``), ``binary:logistic`` and ``multi:softprob`` classifiers are taken; other
objectives and links, dart boosters, multi-output trees and models with a best iteration go to
brute force.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from inspectcli.engines.trees._model import TreePathMismatchError, _Tree, _Unsupported, parsed_once

_IDENTITY = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror")
_CLASSIFIER_OBJECTIVES = ("binary:logistic", "multi:softprob")
_F = np.float32
# Half-width (relative) of the band around float32 midpoints where expf is taken from the C library.
_NEAR_MIDPOINT = 2.0**-31


class _CMath:
    """The C library's ``expf`` and ``logf`` (what XGBoost's compiled code calls), via ctypes."""

    def __init__(self) -> None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        self.expf = lib.expf
        self.logf = lib.logf
        for fn in (self.expf, self.logf):
            fn.restype = ctypes.c_float
            fn.argtypes = [ctypes.c_float]
        self.each_expf = np.frompyfunc(self.expf, 1, 1)


_cmath_state: dict[str, Any] = {}


def _cmath() -> _CMath:
    """The C library's functions, after checking :func:`_expf` against them once per process."""
    if "ok" not in _cmath_state:
        try:
            cm = _CMath()
            _cmath_state["cm"] = cm
            x = _calibration_inputs()
            ref = np.asarray(cm.each_expf(x), dtype=_F)
            _cmath_state["ok"] = bool(np.array_equal(_expf(x, cm), ref))
        except Exception:  # no C library to load (OSError, TypeError), no expf / logf in it
            _cmath_state["ok"] = False
    if not _cmath_state["ok"]:
        raise _Unsupported("the C library's expf is not reproduced by the float64 route")
    return _cmath_state["cm"]


def _calibration_inputs() -> np.ndarray:
    """Fixed float32 inputs over the range the links use, dense near 0, plus the end points."""
    rng = np.random.default_rng(20261127)
    wide = rng.uniform(-104.0, 88.7, 6000)
    near = rng.standard_normal(6000) * rng.choice([1e-3, 0.1, 1.0, 10.0], 6000)
    ends = np.array([0.0, -0.0, 88.7, -87.33654, -103.97208, -1e-30, 1e-30])
    return np.concatenate([wide, near, ends]).astype(_F)


def _expf(x: np.ndarray, cm: _CMath) -> np.ndarray:
    """``expf`` of the C library, element by element, for a float32 array (see the module docstring).

    Parameters
    ----------
    x : ndarray of float32, any shape
    cm : _CMath

    Returns
    -------
    ndarray of float32, the shape of ``x``
    """
    x = np.asarray(x, dtype=_F)
    y = np.exp(x.astype(np.float64))
    out = y.astype(_F)
    low = out.astype(np.float64)
    other = np.where(y >= low, np.nextafter(out, _F(np.inf)), np.nextafter(out, _F(-np.inf)))
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(y - (low + other.astype(np.float64)) * 0.5) <= _NEAR_MIDPOINT * y
    idx = np.flatnonzero(near)
    if idx.size:
        flat = out.reshape(-1)
        flat[idx] = np.asarray(cm.each_expf(x.reshape(-1)[idx]), dtype=_F)
    return out


def _sigmoid(margin: np.ndarray, cm: _CMath) -> np.ndarray:
    """``common::Sigmoid(float)``: ``1 / (expf(min(-x, 88.7)) + 1 + 1e-16)`` in float32."""
    t = np.minimum(-margin.astype(_F), _F(88.7))
    denom = (_expf(t, cm) + _F(1.0)) + _F(1e-16)
    return _F(1.0) / denom


def _softmax(raw: np.ndarray, cm: _CMath) -> np.ndarray:
    """``common::Softmax`` on each row of ``(m, k)`` float32 margins."""
    raw = raw.astype(_F, copy=False)
    wmax = raw[:, 0].copy()
    for j in range(1, raw.shape[1]):
        wmax = np.fmax(raw[:, j], wmax)
    e = _expf(raw - wmax[:, None], cm)
    wsum = np.zeros(raw.shape[0], dtype=np.float64)
    for j in range(raw.shape[1]):  # double wsum += float, in class order
        wsum += e[:, j]
    return e / wsum.astype(_F)[:, None]


def _logistic_margin(base: float, cm: _CMath) -> float:
    """``LogisticRegression::ProbToMargin``: clamp to [1e-6, 1 - 1e-6], then ``-logf(1/p - 1)``."""
    eps = _F(1e-6)
    p = min(max(_F(base), eps), _F(1.0) - eps)
    return float(-_F(cm.logf(float(_F(1.0) / p - _F(1.0)))))


def _tree(t: dict[str, Any], out_col: int = 0) -> _Tree:
    left = np.asarray(t["left_children"], dtype=np.intp)
    right = np.asarray(t["right_children"], dtype=np.intp)
    n = left.size
    is_leaf = left == -1
    cond = np.asarray(t["split_conditions"], dtype=np.float64).astype(np.float32)
    feature = np.where(is_leaf, 0, np.asarray(t["split_indices"], dtype=np.intp))
    below = np.nextafter(cond, np.float32(-np.inf)).astype(np.float64)
    threshold = np.where(is_leaf, 0.0, below)
    values = np.where(is_leaf, cond.astype(np.float64), 0.0)[:, None]
    missing_left = np.asarray(t["default_left"], dtype=bool)
    split_type = np.asarray(t.get("split_type", [0] * n), dtype=np.intp)
    cat_row = None
    cat_tables = None
    cat_nodes = np.flatnonzero((split_type == 1) & ~is_leaf)
    if cat_nodes.size:
        cats = np.asarray(t["categories"], dtype=np.int64)
        seg = dict(zip(t["categories_nodes"], zip(t["categories_segments"], t["categories_sizes"])))
        cat_row = np.full(n, -1, dtype=np.intp)
        cat_row[cat_nodes] = np.arange(cat_nodes.size)
        cat_tables = np.ones((cat_nodes.size, 256), dtype=bool)  # not in the set: left
        for r, node in enumerate(cat_nodes):
            start, size = seg[int(node)]
            members = cats[start : start + size]
            if (members >= 256).any():
                raise _Unsupported("XGBoost category codes beyond 255")
            cat_tables[r, members] = False  # in the set: right
    return _Tree(
        left=np.where(is_leaf, -1, left),
        right=np.where(is_leaf, -1, right),
        feature=feature,
        threshold=threshold,
        missing_left=missing_left,
        is_leaf=is_leaf,
        values=values,
        out_cols=(out_col,),
        cat_row=cat_row,
        cat_tables=cat_tables,
    )


def xgboost_spec(est: Any, response_method: str, labels: bool = False) -> Any:
    """The :class:`~inspectcli.engines.trees._specs._Spec` of a fitted XGBRegressor / XGBClassifier."""
    from inspectcli.engines.trees._specs import _check_probability_response, _Spec

    is_clf = type(est).__name__ == "XGBClassifier"
    _check_probability_response(est, response_method, is_clf, labels)
    booster = est.get_booster()
    if booster.attr("best_iteration") is not None:
        raise _Unsupported("XGBoost model with a best iteration")
    ubj = bytes(booster.save_raw("ubj"))  # the key of the parsed JSON (a fifth of its cost)
    doc = parsed_once(ubj, json.loads, lambda: json.loads(bytes(booster.save_raw("json"))))
    learner = doc["learner"]
    objective = learner["objective"]["name"]
    if objective not in (_CLASSIFIER_OBJECTIVES if is_clf else _IDENTITY):
        raise _Unsupported(f"XGBoost objective {objective!r}")
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise _Unsupported(f"XGBoost booster {gb.get('name')!r}")
    model = gb["model"]
    params = learner["learner_model_param"]
    n_class = int(params.get("num_class", "0"))
    if int(params.get("num_target", "1")) != 1:
        raise _Unsupported("multi-output XGBoost model")
    n_raw = n_class if objective == "multi:softprob" else 1
    if (objective == "multi:softprob") != (n_class > 1):
        raise _Unsupported(f"{objective} with num_class={n_class}")
    text = params["base_score"]
    base = [float(b) for b in (json.loads(text) if text.startswith("[") else [text])]
    if len(base) == 1:
        base = base * n_raw
    if len(base) != n_raw:
        raise _Unsupported("base score of another length than the outputs")
    cm = _cmath() if is_clf else None
    if objective == "binary:logistic":
        base = [_logistic_margin(base[0], cm)]
    init = np.array([float(_F(b)) for b in base], dtype=np.float64)
    tree_info = [int(c) for c in model.get("tree_info", [0] * len(model["trees"]))]
    if len(tree_info) != len(model["trees"]) or any(not 0 <= c < n_raw for c in tree_info):
        raise _Unsupported("trees for unknown outputs")
    trees = parsed_once(
        ubj, _tree, lambda: [_tree(t, c) for t, c in zip(model["trees"], tree_info, strict=True)]
    )
    n_features = int(params["num_feature"])
    feature_types = booster.feature_types or []
    cat_cols = [i for i, kind in enumerate(feature_types) if kind == "c"]
    categories: dict[int, list[Any]] = {}
    if cat_cols:
        try:
            from_model = booster.get_categories(export_to_arrow=True).to_arrow()
        except Exception as exc:  # older XGBoost: no stored categories
            raise _Unsupported(f"XGBoost categories: {exc}") from exc
        for name, arr in from_model:
            if arr is None:
                continue
            idx = list(booster.feature_names or []).index(name)
            categories[idx] = arr.to_pylist()
        if set(categories) != set(cat_cols) or any(len(v) > 256 for v in categories.values()):
            raise _Unsupported("XGBoost categories not recoverable")

    def to_model(Xt: Any) -> np.ndarray:
        import pandas as pd

        if not hasattr(Xt, "dtypes"):
            if cat_cols:
                raise _Unsupported("categorical model on an array")
            return np.asarray(Xt, dtype=np.float32).astype(np.float64)
        out = np.empty((Xt.shape[0], n_features), dtype=np.float64)
        for j in range(n_features):
            col = Xt.iloc[:, j]
            if j in cat_cols:
                values = col.astype(object)
                codes = pd.Index(categories[j]).get_indexer(values)  # unseen, NaN: -1
                if ((codes < 0) & values.notna().to_numpy()).any():
                    # XGBoost 3.x errors on a category it never saw, or (when the column's
                    # categories extend the model's) reads it as an arbitrary code: not reproduced
                    raise TreePathMismatchError(f"column {j} holds a category the model never saw")
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = np.asarray(col, dtype=np.float32)
        return out

    if not is_clf:

        def finalize(raw: np.ndarray) -> np.ndarray:
            return raw[:, 0]

    elif objective == "binary:logistic":
        if response_method == "predict":

            def finalize(raw: np.ndarray) -> np.ndarray:
                # XGBClassifier.predict: column index 1 where the probability is > 0.5
                return np.where(_sigmoid(raw[:, 0], cm) > _F(0.5), 1, 0)

        else:

            def finalize(raw: np.ndarray) -> np.ndarray:
                p = _sigmoid(raw[:, 0], cm)
                return np.vstack((_F(1.0) - p, p)).transpose()

    else:
        if response_method == "predict":
            if n_class == 2:
                raise _Unsupported("multi:softprob with two classes predicts a label matrix")

            def finalize(raw: np.ndarray) -> np.ndarray:
                return np.argmax(_softmax(raw, cm), axis=1)

        else:

            def finalize(raw: np.ndarray) -> np.ndarray:
                return _softmax(raw, cm)

    return _Spec(
        trees=trees,
        n_raw=n_raw,
        to_model=to_model,
        model_source=lambda Xt: np.arange(n_features),
        init=lambda Xv: init,
        divisor=None,
        finalize=finalize,
        linear=False,  # a PD is the float64 mean of the float32 outputs, not of raw sums
        init_on_zeros=False,
        raw_dtype=np.float32,
    )
