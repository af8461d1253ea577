"""LightGBM's ``LGBMRegressor`` / ``LGBMClassifier`` read into the tree form (see ``_specs.py``).

The trees come from the booster's model text (``model_to_string``), whose thresholds and leaf
values are printed with 17 significant digits, so they are the doubles the booster holds. The
rules reproduced are those of LightGBM's ``Tree::Predict`` (``tree.h``, 4.x):

* numerical split: ``x <= threshold`` goes left, in double. ``missing_type`` (bits 2-3 of
  ``decision_type``): *NaN* sends NaN the ``default_left`` way (bit 1); *None* turns NaN into 0.0,
  which then follows ``0.0 <= threshold``; *Zero* sends NaN and values within 1e-35 of zero the
  default way (accepted only when that is where ``x <= threshold`` sends them anyway);
* categorical split (bit 0): NaN and negative values go right; otherwise the integer code goes
  left when its bit is set in the node's ``cat_threshold`` bitset (a code beyond it goes right).
  pandas ``category`` columns arrive as their codes in the categories LightGBM saved
  (``pandas_categorical``), unseen categories as NaN: LightGBM's own conversion is used for that;
* raw outputs start at 0 and add the trees in their order, tree ``i`` to class ``i % k``
  (``GBDT::PredictRaw``), in double: the same additions in the same order as the booster, so raw
  sums are bit-identical. The init score of ``boost_from_average`` is already in the first
  trees' leaves. Only the first ``best_iteration`` iterations are used when it is set, as
  ``predict`` does;
* links (``ConvertOutput``): identity for the regression objectives, ``exp`` for poisson / gamma /
  tweedie, ``1 / (1 + exp(-sigmoid * x))`` for binary (the scikit-learn API stacks ``1 - p, p``)
  and cross-entropy, softmax with the maximum subtracted for multiclass. ``exp`` is the C
  library's (``math.exp``), as in LightGBM's C++: numpy's own ``exp`` differs from it by an ulp for
  a few percent of inputs, which would make probabilities differ in their last bit.

Linear trees, ``multiclassova``, ``reg_sqrt`` and custom objectives are refused (brute force).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from inspectcli.engines.trees._model import _Tree, _Unsupported, parsed_once

_IDENTITY = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
_EXP = ("poisson", "gamma", "tweedie")
_ZERO_BAND = float(np.float32(1e-35))


_C_EXP = np.frompyfunc(math.exp, 1, 1)


def _exp(a: np.ndarray) -> np.ndarray:
    """exp of the C library (as LightGBM's std::exp), element by element."""
    a = np.asarray(a, dtype=np.float64)
    try:
        return np.asarray(_C_EXP(a), dtype=np.float64).reshape(a.shape)
    except OverflowError:  # math.exp raises where C returns inf
        return np.exp(a)


def _arrays(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _nums(fields: dict[str, str], key: str, dtype: Any) -> np.ndarray:
    text = fields.get(key, "")
    if not text:
        return np.zeros(0, dtype=dtype)
    parse = float if dtype is np.float64 else int
    return np.array([parse(v) for v in text.split(" ")], dtype=dtype)


def _cat_table(bits: np.ndarray) -> np.ndarray:
    """256 entries: code c goes left iff bit c of the node's bitset is set (FindInBitset)."""
    codes = np.arange(256)
    word = codes >> 5
    inside = word < bits.size
    table = np.zeros(256, dtype=bool)
    table[inside] = ((bits[word[inside]] >> (codes[inside] & 31).astype(np.uint64)) & 1).astype(bool)
    return table


def _tree(fields: dict[str, str], out_col: int) -> _Tree:
    n_leaves = int(fields["num_leaves"])
    leaf_value = _nums(fields, "leaf_value", np.float64)
    if fields.get("is_linear", "0") != "0":
        raise _Unsupported("LightGBM linear trees")
    if n_leaves == 1:
        return _Tree(
            left=np.array([-1], dtype=np.intp),
            right=np.array([-1], dtype=np.intp),
            feature=np.zeros(1, dtype=np.intp),
            threshold=np.zeros(1),
            missing_left=np.zeros(1, dtype=bool),
            is_leaf=np.ones(1, dtype=bool),
            values=leaf_value[:1, None].copy(),
            out_cols=(out_col,),
        )
    n_int = n_leaves - 1
    n = n_int + n_leaves
    feature_int = _nums(fields, "split_feature", np.int64).astype(np.intp)
    threshold_int = _nums(fields, "threshold", np.float64)
    decision = _nums(fields, "decision_type", np.int64)
    children = [_nums(fields, k, np.int64) for k in ("left_child", "right_child")]

    def node(c: np.ndarray) -> np.ndarray:
        return np.where(c >= 0, c, n_int + ~c).astype(np.intp)

    left = np.full(n, -1, dtype=np.intp)
    right = np.full(n, -1, dtype=np.intp)
    left[:n_int], right[:n_int] = node(children[0]), node(children[1])
    feature = np.zeros(n, dtype=np.intp)
    feature[:n_int] = feature_int
    threshold = np.zeros(n)
    missing_left = np.zeros(n, dtype=bool)
    is_leaf = np.zeros(n, dtype=bool)
    is_leaf[n_int:] = True
    values = np.zeros((n, 1))
    values[n_int:, 0] = leaf_value
    categorical = (decision & 1).astype(bool)
    default_left = ((decision >> 1) & 1).astype(bool)
    missing_type = (decision >> 2) & 3
    cat_row = None
    cat_tables = None
    if categorical.any():
        bounds = _nums(fields, "cat_boundaries", np.int64)
        words = _nums(fields, "cat_threshold", np.int64).astype(np.uint64)
        cat_nodes = np.flatnonzero(categorical)
        cat_row = np.full(n, -1, dtype=np.intp)
        cat_row[cat_nodes] = np.arange(cat_nodes.size)
        cat_tables = np.empty((cat_nodes.size, 256), dtype=bool)
        for r, i in enumerate(cat_nodes):
            idx = int(threshold_int[i])
            cat_tables[r] = _cat_table(words[bounds[idx] : bounds[idx + 1]])
        # NaN and negative codes go right
    for i in np.flatnonzero(~categorical):
        t = threshold_int[i]
        threshold[i] = t
        kind = int(missing_type[i])
        if kind == 2:  # NaN
            missing_left[i] = default_left[i]
        elif kind == 0:  # None: NaN -> 0.0
            missing_left[i] = t >= 0.0
        else:  # Zero: NaN -> 0.0, and |x| <= 1e-35 goes the default way
            if -_ZERO_BAND <= t < _ZERO_BAND or bool(default_left[i]) != (t >= 0.0):
                raise _Unsupported("LightGBM zero-as-missing split near zero")
            missing_left[i] = default_left[i]
    return _Tree(
        left=left,
        right=right,
        feature=feature,
        threshold=threshold,
        missing_left=missing_left,
        is_leaf=is_leaf,
        values=values,
        out_cols=(out_col,),
        cat_row=cat_row,
        cat_tables=cat_tables,
    )


def _parse(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    head, _, rest = text.partition("\nTree=")
    body = rest.split("\nend of trees")[0]
    blocks = re.split(r"\nTree=\d+\n", "\n" + "Tree=" + body) if body else []
    trees = [_arrays(b) for b in blocks if b.strip()]
    return _arrays(head), trees


def lightgbm_spec(est: Any, response_method: str, labels: bool = False) -> Any:
    """The :class:`~inspectcli.engines.trees._specs._Spec` of a fitted LGBMRegressor / LGBMClassifier."""
    from inspectcli.engines.trees._specs import _check_probability_response, _Spec

    is_clf = type(est).__name__ == "LGBMClassifier"
    _check_probability_response(est, response_method, is_clf, labels)
    if callable(getattr(est, "objective", None)):
        raise _Unsupported("custom objective")
    booster = est.booster_
    n_iter_total = booster.current_iteration()
    best = int(getattr(booster, "best_iteration", 0) or 0)
    n_iter = best if 0 < best <= n_iter_total else n_iter_total
    text = booster.model_to_string(num_iteration=n_iter)

    def parse() -> tuple[dict[str, str], list[dict[str, str]]]:
        return _parse(text)

    head, blocks = parsed_once(text.encode(), _parse, parse)
    k = int(head.get("num_tree_per_iteration", "1"))
    objective = head.get("objective", "").split(" ")
    name = objective[0]
    if any(tok == "sqrt" for tok in objective[1:]):
        raise _Unsupported("reg_sqrt")
    if len(blocks) != n_iter * k:
        raise _Unsupported(f"expected {n_iter * k} trees in the model text, found {len(blocks)}")
    n_features = int(head.get("max_feature_idx", "-1")) + 1
    trees = parsed_once(text.encode(), _tree, lambda: [_tree(b, i % k) for i, b in enumerate(blocks)])
    cat_split = any(t.cat_tables is not None for t in trees)
    pandas_categorical = getattr(booster, "pandas_categorical", None)
    if cat_split and not pandas_categorical:
        raise _Unsupported("categorical splits on codes that may exceed 255")
    if pandas_categorical and any(len(c) > 256 for c in pandas_categorical):
        raise _Unsupported("more than 256 categories")

    if is_clf:
        classes = est.classes_
        if name == "binary":
            sigmoid = _param(objective, "sigmoid", 1.0)

            def proba(raw: np.ndarray) -> np.ndarray:
                p = 1.0 / (1.0 + _exp(-sigmoid * raw[:, 0]))
                return np.vstack((1.0 - p, p)).transpose()

        elif name == "multiclass":

            def proba(raw: np.ndarray) -> np.ndarray:
                e = _exp(raw - raw.max(axis=1, keepdims=True))
                return e / e.sum(axis=1, keepdims=True)

        else:
            raise _Unsupported(f"LightGBM objective {name!r}")
        if response_method == "predict":

            def finalize(raw: np.ndarray) -> np.ndarray:
                return classes[np.argmax(proba(raw), axis=1)]

        else:
            finalize = proba
        linear = False
    else:
        if name in _IDENTITY:

            def finalize(raw: np.ndarray) -> np.ndarray:
                return raw[:, 0]

            linear = True
        elif name in _EXP:

            def finalize(raw: np.ndarray) -> np.ndarray:
                return _exp(raw[:, 0])

            linear = False
        elif name in ("cross_entropy", "xentropy"):

            def finalize(raw: np.ndarray) -> np.ndarray:
                return 1.0 / (1.0 + _exp(-raw[:, 0]))

            linear = False
        else:
            raise _Unsupported(f"LightGBM objective {name!r}")

    def to_model(Xt: Any) -> np.ndarray:
        if hasattr(Xt, "dtypes"):
            from lightgbm.basic import _data_from_pandas

            try:
                data = _data_from_pandas(
                    data=Xt,
                    feature_name="auto",
                    categorical_feature="auto",
                    pandas_categorical=pandas_categorical,
                )[0]
            except TypeError as exc:  # another LightGBM version's private signature
                raise _Unsupported(f"LightGBM's pandas conversion: {exc}") from exc
            return np.asarray(data, dtype=np.float64)
        return np.asarray(Xt, dtype=np.float64)

    def model_source(Xt: Any) -> np.ndarray:
        return np.arange(n_features)

    # boosting_type="rf": the header has a bare ``average_output`` line, and LightGBM divides each
    # output's sum over the trees by the number of iterations (GBDT::PredictRaw)
    average = "average_output" in text.partition("\nTree=")[0].splitlines()
    return _Spec(
        trees=trees,
        n_raw=k,
        to_model=to_model,
        model_source=model_source,
        init=None,
        divisor=float(n_iter) if average else None,
        finalize=finalize,
        linear=linear,
    )


def _param(objective: list[str], key: str, default: float) -> float:
    for tok in objective[1:]:
        name, _, value = tok.partition(":")
        if name == key:
            return float(value)
    return default
