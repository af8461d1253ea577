"""Column-wise pipeline prefixes: which input column feeds each column a tree model sees.

A pipeline whose transformers work column by column (each output column depends on exactly one
input column: scalers, ordinal and one-hot encoders, imputers, ColumnTransformers and nested
Pipelines of these) is reduced to its final tree model on the transformed matrix.  The functions
here map every transformed column back to its input column; anything not whitelisted raises
:class:`_Unsupported`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
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

from inspectcli.engines.trees._model import (
    _Unsupported,
)

_ONE_TO_ONE = (OrdinalEncoder, StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)


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
