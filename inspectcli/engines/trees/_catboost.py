"""CatBoost's ``CatBoostRegressor`` / ``CatBoostClassifier``, read into the tree form (see ``_specs.py``).

The trees come from the model's JSON export (``save_model(format="json")``, into a temporary
folder): oblivious trees, whose ``splits`` all apply at every node of their level, ``leaf_values``
(doubles, printed with 17 digits) indexed by ``sum(bit_i << i)`` over the splits ``i`` of the tree,
and the ``scale_and_bias`` of the model. The rules reproduced are those of CatBoost's CPU evaluator
(1.2), checked bit for bit against ``predict(prediction_type="RawFormulaVal")``:

* the input is converted to float32; split ``i`` sets ``bit_i = x > border`` (the border a float32),
  so ``x <= border`` goes to the side of ``bit_i = 0``; NaN sets the bit as ``nan_value_treatment``
  says: ``AsTrue`` (``nan_mode="Max"``) 1, ``AsFalse`` (``"Min"``) and ``AsIs`` 0;
* an oblivious tree of depth ``D`` becomes a full binary tree whose level ``d`` tests split
  ``D - 1 - d``, so the leaves in breadth-first order are CatBoost's leaf indices;
* raw sums start at 0 and add the trees in their order, in double; then
  ``RawFormulaVal = scale * sum + bias`` (per output column): ``finalize`` does that, so margins
  are bit-identical;
* links: regressors' ``predict`` is ``RawFormulaVal`` (losses whose default prediction type is
  another, ``Poisson``, ``Tweedie``, ``RMSEWithUncertainty``, are refused); ``predict_proba`` is
  the sigmoid (``Logloss``, ``CrossEntropy``: ``1 - p, p``) or the softmax (``MultiClass``) of the
  raw values. CatBoost computes these with its own vectorised ``FastExpInplace``, not the C
  library's ``exp``: probabilities agree to ~1e-15 relative, not bit for bit (the self-check's
  tolerance is 1e-9; tests ask 1e-12).

* categorical features: a one-hot split compares a category's hash, a CTR split a statistic of
  the training targets per category hash (``ctr_data`` in the export); the engine does not
  recompute hashes or statistics. Each such split becomes a model column holding its bit, read
  from CatBoost's own ``calc_leaf_indexes`` (bit ``i`` of a tree's leaf index is split ``i``) and
  tested as ``bit <= 0.5``; the column's source is the categorical feature, so a grid value or a
  permuted category moves it. CatBoost computes the bits (one pass over the rows, about one
  ``predict``) for X and for the grid rows; a category it never saw gets its prior, as in
  ``predict``. This needs each bit to depend on one input column: a CTR of a *combination*
  (several categorical features, or one with float borders, as CatBoost builds with
  ``max_ctr_complexity`` > 1 on larger models) is refused.

Refused (brute force): CTRs of feature combinations, text and embedding features,
``MultiClassOneVsAll`` and multi-output regression, and class labels (``predict``: CatBoost's
decision threshold works on probabilities from its fast ``exp``, which labels must match exactly).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from inspectcli.engines.trees._model import _Tree, _Unsupported

_OTHER_PREDICTION = ("Poisson", "Tweedie", "RMSEWithUncertainty")
_BINARY = ("Logloss", "CrossEntropy")


def _export(est: Any) -> dict[str, Any]:
    """The model's JSON export, through a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="inspect-cb-") as tmp:
        path = os.path.join(tmp, "model.json")
        est.save_model(path, format="json")
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)


def _oblivious(
    tree: dict[str, Any], float_features: list[dict[str, Any]], k: int, derived: dict[int, int] | None = None
) -> _Tree:
    """One oblivious tree as a full binary tree (level d tests split D - 1 - d).

    ``derived`` maps the ``split_index`` of a categorical split (one-hot or CTR) to the model
    column holding that split's bit (0 or 1), tested as ``bit <= 0.5``.
    """
    splits = tree.get("splits") or []
    depth = len(splits)
    leaf_values = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(2**depth, k)
    n_internal = 2**depth - 1
    n = n_internal + 2**depth
    left = np.full(n, -1, dtype=np.intp)
    right = np.full(n, -1, dtype=np.intp)
    feature = np.zeros(n, dtype=np.intp)
    threshold = np.zeros(n)
    missing_left = np.zeros(n, dtype=bool)
    is_leaf = np.zeros(n, dtype=bool)
    is_leaf[n_internal:] = True
    values = np.zeros((n, k))
    values[n_internal:] = leaf_values
    for d in range(depth):
        split = splits[depth - 1 - d]
        nodes = np.arange(2**d - 1, 2 ** (d + 1) - 1)
        left[nodes] = 2 * nodes + 1
        right[nodes] = 2 * nodes + 2
        if split.get("split_type") != "FloatFeature":
            column = (derived or {}).get(int(split.get("split_index", -1)))
            if column is None:
                raise _Unsupported(f"CatBoost split of type {split.get('split_type')!r}")
            feature[nodes] = column
            threshold[nodes] = 0.5
            missing_left[nodes] = True
            continue
        info = float_features[int(split["float_feature_index"])]
        feature[nodes] = int(info["flat_feature_index"])
        threshold[nodes] = float(np.float32(split["border"]))
        missing_left[nodes] = info.get("nan_value_treatment", "AsIs") != "AsTrue"
    return _Tree(
        left=left,
        right=right,
        feature=feature,
        threshold=threshold,
        missing_left=missing_left,
        is_leaf=is_leaf,
        values=values,
        out_cols=tuple(range(k)),
    )


def _categorical_splits(doc: dict[str, Any], n_features: int) -> tuple[dict[int, int], np.ndarray, list]:
    """The model's one-hot and CTR splits as bit columns after the ``n_features`` input columns.

    CatBoost numbers its binary features ``split_index``: every float border (feature by
    feature), then every one-hot value, then every CTR border (CTR by CTR). A split's bit is read
    from ``calc_leaf_indexes`` (bit ``i`` of a tree's leaf index is its split ``i``), so the CTR
    statistics are CatBoost's own. Each bit must depend on one input column, for the engines to
    know which columns move it: CTRs of one categorical feature's values only (no combinations of
    features, no binarised float features in them).

    Returns
    -------
    derived : {split_index: model column}
    sources : ndarray of shape (n_derived,), the input column behind each derived column
    reads : list of (tree, bit position) giving each derived column's bit
    """
    info = doc.get("features_info", {})
    cats = info.get("categorical_features") or []
    flat_of_cat = {int(c["feature_index"]): int(c["flat_feature_index"]) for c in cats}
    index: dict[int, tuple[int, float | None]] = {}  # split_index -> (input column, border)
    at = sum(len(f.get("borders") or []) for f in info.get("float_features", []))
    for c in cats:
        for _ in c.get("values") or []:
            index[at] = (int(c["flat_feature_index"]), None)
            at += 1
    for ctr in info.get("ctrs") or []:
        elements = ctr.get("elements") or []
        sources = {
            flat_of_cat.get(int(e.get("cat_feature_index", -1)), -1)
            for e in elements
            if e.get("combination_element") == "cat_feature_value"
        }
        single = len(sources) == 1 and len(elements) >= 1 and -1 not in sources
        single = single and all(e.get("combination_element") == "cat_feature_value" for e in elements)
        for border in ctr.get("borders") or []:
            index[at] = (next(iter(sources)) if single else -1, float(np.float32(border)))
            at += 1
    derived: dict[int, int] = {}
    sources_out: list[int] = []
    reads: list[tuple[int, int]] = []
    for t, tree in enumerate(doc.get("oblivious_trees", [])):
        for i, split in enumerate(tree.get("splits") or []):
            kind = split.get("split_type")
            if kind == "FloatFeature":
                continue
            if kind not in ("OneHotFeature", "OnlineCtr"):
                raise _Unsupported(f"CatBoost split of type {kind!r}")
            sid = int(split.get("split_index", -1))
            if sid in derived:
                continue
            column, border = index.get(sid, (-1, None))
            if column < 0:
                raise _Unsupported("CatBoost CTR combining several features")
            if kind == "OnlineCtr" and (border is None or float(np.float32(split["border"])) != border):
                raise _Unsupported("CatBoost CTR split that does not match its CTR's borders")
            if kind == "OneHotFeature" and (
                border is not None or flat_of_cat.get(int(split.get("cat_feature_index", -1))) != column
            ):
                raise _Unsupported("CatBoost one-hot split that does not match its feature")
            derived[sid] = n_features + len(sources_out)
            sources_out.append(column)
            reads.append((t, i))
    return derived, np.asarray(sources_out, dtype=np.intp), reads


def _sigmoid(r: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-r))


def catboost_spec(est: Any, response_method: str, labels: bool = False) -> Any:
    """The :class:`~inspectcli.engines.trees._specs._Spec` of a CatBoost model with numeric features."""
    from inspectcli.engines.trees._specs import _check_response, _Spec

    is_clf = type(est).__name__ == "CatBoostClassifier"
    _check_response(est, response_method, ("predict_proba",) if is_clf else ("predict",))
    doc = _export(est)
    info = doc.get("features_info", {})
    for key in ("text_features", "embedding_features"):
        if info.get(key):
            raise _Unsupported(f"CatBoost model with {key.replace('_', ' ')}")
    float_features = info.get("float_features", [])
    cat_columns = [int(c["flat_feature_index"]) for c in info.get("categorical_features") or []]
    names = list(getattr(est, "feature_names_", None) or [])
    n_features = len(names) if names else len(float_features) + len(cat_columns)
    if any(int(f["flat_feature_index"]) >= n_features for f in float_features) or any(
        c >= n_features for c in cat_columns
    ):
        raise _Unsupported("CatBoost feature indices beyond the model's features")
    derived, derived_sources, reads = _categorical_splits(doc, n_features)
    float_columns = [int(f["flat_feature_index"]) for f in float_features]
    loss = doc.get("model_info", {}).get("params", {}).get("loss_function", {}).get("type", "")
    scale, bias = doc["scale_and_bias"]
    bias = np.asarray(bias, dtype=np.float64).reshape(-1)
    scale = float(scale)
    k = int(bias.size)
    if is_clf:
        if (loss in _BINARY and k == 1) or (loss == "MultiClass" and k > 1):
            pass
        else:
            raise _Unsupported(f"CatBoost classifier with loss {loss!r}")
    elif k != 1 or any(loss.startswith(name) for name in _OTHER_PREDICTION):
        raise _Unsupported(f"CatBoost regressor with loss {loss!r}")
    trees = [_oblivious(t, float_features, k, derived) for t in doc.get("oblivious_trees", [])]
    if not trees:
        raise _Unsupported("CatBoost model without oblivious trees")

    def raw_formula(raw: np.ndarray) -> np.ndarray:
        return scale * raw + bias  # CatBoost's order: the sum from zero, scaled, then the bias

    if not is_clf:

        def finalize(raw: np.ndarray) -> np.ndarray:
            return raw_formula(raw)[:, 0]

    elif k == 1:

        def finalize(raw: np.ndarray) -> np.ndarray:
            p = _sigmoid(raw_formula(raw)[:, 0])
            return np.vstack((1.0 - p, p)).transpose()

    else:

        def finalize(raw: np.ndarray) -> np.ndarray:
            r = raw_formula(raw)
            e = np.exp(r - r.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

    def to_model(Xt: Any) -> np.ndarray:
        if not derived and not cat_columns:
            if hasattr(Xt, "dtypes"):
                if any(dt.kind not in "biuf" for dt in Xt.dtypes):
                    raise _Unsupported("CatBoost input with non-numeric columns")
                Xt = Xt.to_numpy(dtype=np.float64)
            return np.asarray(Xt, dtype=np.float32).astype(np.float64)
        # the float features as CatBoost reads them; the categorical splits' bits from CatBoost
        n = Xt.shape[0]
        out = np.zeros((n, n_features + len(reads)))
        if hasattr(Xt, "iloc"):
            for j in float_columns:
                column = Xt.iloc[:, j]
                if column.dtype.kind not in "biuf":
                    raise _Unsupported("CatBoost input with a non-numeric float feature")
                out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32)
        else:
            Xa = np.asarray(Xt)
            out[:, float_columns] = Xa[:, float_columns].astype(np.float64).astype(np.float32)
        if reads:
            leaves = np.asarray(est.calc_leaf_indexes(Xt, thread_count=1), dtype=np.int64)
            for m, (t, i) in enumerate(reads):
                out[:, n_features + m] = (leaves[:, t] >> i) & 1
        return out

    sources = np.concatenate([np.arange(n_features), derived_sources]).astype(np.intp)

    return _Spec(
        trees=trees,
        n_raw=k,
        to_model=to_model,
        model_source=lambda Xt: sources,
        init=None,
        divisor=None,
        finalize=finalize,
        linear=not is_clf,  # scale * sum + bias is affine: averages on the raw scale
        # CatBoost predicts 50,000 rows x 100 trees of depth 6 in ~20 ms (one thread); the numpy
        # walks of those trees take ~250 ms per feature: predicting wins below ~25 grid points
        # (measured: 3x at 10 points, tree paths 4x at 100; benchmarks/RESULTS.md)
        predicts_faster_below=32,
    )
