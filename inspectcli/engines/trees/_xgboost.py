"""XGBoost's ``XGBRegressor`` read into the tree form (see ``_specs.py``).

The trees come from the booster's JSON (``save_raw("json")``), whose numbers are the shortest
decimals that give back the float32 values the booster holds. The rules reproduced are those of
XGBoost's CPU predictor (3.x):

* the input is converted to float32; a numerical split sends ``x < split_condition`` left, in
  float32, which for float32 ``x`` is ``x <= nextafter(split_condition, -inf)``: that is stored;
* NaN goes the ``default_left`` way; a categorical split sends the categories in its set right
  and every other category left (``common::Decision``); pandas ``category`` columns arrive as
  codes of the categories the model was trained on (XGBoost re-codes by value), unseen ones as NaN;
* raw outputs start at the base margin and add the trees in their order, **rounded to float32
  after every tree** (``out_preds`` is a float array): the spec says ``raw_dtype=float32`` and the
  engines add in float32 in the same order, so predictions are bit-identical.

Only regressors with an identity link are taken (``reg:squarederror``, ``reg:absoluteerror``,
``reg:pseudohubererror``); classifiers (float32 sigmoid / softmax), other links, dart boosters and
models with a best iteration go to brute force.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from inspectcli.engines.trees._model import _Tree, _Unsupported

_IDENTITY = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror")


def _tree(t: dict[str, Any]) -> _Tree:
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
        out_cols=(0,),
        cat_row=cat_row,
        cat_tables=cat_tables,
    )


def xgboost_spec(est: Any, response_method: str, labels: bool = False) -> Any:
    """The :class:`~inspectcli.engines.trees._specs._Spec` of a fitted XGBRegressor."""
    from inspectcli.engines.trees._specs import _check_response, _Spec

    _check_response(est, response_method, ("predict",))
    booster = est.get_booster()
    if booster.attr("best_iteration") is not None:
        raise _Unsupported("XGBoost model with a best iteration")
    doc = json.loads(bytes(booster.save_raw("json")))
    learner = doc["learner"]
    objective = learner["objective"]["name"]
    if objective not in _IDENTITY:
        raise _Unsupported(f"XGBoost objective {objective!r}")
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise _Unsupported(f"XGBoost booster {gb.get('name')!r}")
    model = gb["model"]
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1 or int(params.get("num_class", "0")) > 1:
        raise _Unsupported("multi-output XGBoost model")
    base = (
        json.loads(params["base_score"]) if params["base_score"].startswith("[") else [params["base_score"]]
    )
    if len(base) != 1:
        raise _Unsupported("vector base score")
    init = np.array([np.float32(float(base[0]))], dtype=np.float64)
    trees = [_tree(t) for t in model["trees"]]
    if any(int(c) != 0 for c in model.get("tree_info", [])):
        raise _Unsupported("trees for several outputs")
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
                codes = pd.Index(categories[j]).get_indexer(col.astype(object))  # unseen, NaN: -1
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = np.asarray(col, dtype=np.float32)
        return out

    def finalize(raw: np.ndarray) -> np.ndarray:
        return raw[:, 0]

    return _Spec(
        trees=trees,
        n_raw=1,
        to_model=to_model,
        model_source=lambda Xt: np.arange(n_features),
        init=lambda Xv: init,
        divisor=None,
        finalize=finalize,
        linear=False,  # a PD is the float64 mean of the float32 predictions, not of raw sums
        init_on_zeros=False,
        raw_dtype=np.float32,
    )
