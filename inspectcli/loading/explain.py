"""Explain a model's failure on data: which columns, which rows, and what to do.

scikit-learn reports NaN, text in numeric columns and unseen categories as a bare ValueError from
deep inside predict; :func:`explain_prediction_error` turns it into an error naming the columns.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.errors import (
    ComputationError,
    InspectError,
    ValidationError,
    shorten,
)
from inspectcli.introspect import categorical_inputs

_CONVERT = re.compile(r"could not convert string to float: '?\"?(.*?)'?\"?$", re.S)


def explain_prediction_error(
    exc: BaseException, X: Any, feature_names: list[str], where: str, estimator: Any = None
) -> InspectError:
    """Turn an exception raised by the model's predict into an error naming columns and a fix.

    Data problems (NaN, infinities, text or dates where numbers belong, unseen categories) become
    a ValidationError (exit 3) naming the columns and row counts; anything else is the model's own
    failure, a ComputationError (exit 4) carrying its message.
    """
    text = str(exc)
    frame = X if hasattr(X, "iloc") else pd.DataFrame(X, columns=feature_names)
    if "NaN" in text and "contain" in text:
        counts = {c: int(frame[c].isna().sum()) for c in frame.columns}
        counts = {c: n for c, n in counts.items() if n}
        listed = ", ".join(f"'{c}' ({n} rows)" for c, n in list(counts.items())[:6])
        return ValidationError(
            f"'{where}' has missing values the model cannot take: {listed or 'in some column'}",
            "drop or impute those rows, or use a model that accepts NaN (e.g. HistGradientBoosting)",
        )
    if "infinity" in text or "too large" in text:
        # float32 models (trees) also refuse finite values beyond float32's range
        limit = float(np.finfo(np.float32).max) if "float32" in text else np.inf
        counts = {}
        for c in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]):
                values = np.abs(frame[c].to_numpy(dtype=float, na_value=np.nan))
                n = int((np.isinf(values) | (values > limit)).sum())
                if n:
                    counts[c] = n
        listed = ", ".join(f"'{c}' ({n} rows)" for c, n in counts.items())
        what = "infinite values" if limit == np.inf else "infinite or too large values (beyond float32)"
        return ValidationError(
            f"'{where}' has {what} the model cannot take: {listed or 'in some column'}",
            "replace or drop those rows",
        )
    m = _CONVERT.search(text)
    if m or "could not convert" in text or ("convert" in text and "float" in text):
        value = m.group(1) if m else None
        col, n_text, example = None, 0, value
        for c in frame.columns:
            s = frame[c]
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            if value is not None and not (s.astype(str) == value).any():
                continue
            bad = s.notna() & pd.to_numeric(s, errors="coerce").isna()
            col, n_text = c, int(bad.sum())
            if n_text:
                example = str(s[bad].iloc[0])
            break
        sample = f" (e.g. '{example}')" if example else ""
        rows = f" in {n_text} row(s)" if n_text else ""
        hint = "convert the column to numbers, or drop those rows"
        if example and re.fullmatch(r"-?\d+,\d+", example):
            hint = "the file uses decimal commas: pass `decimal=,`"
        return ValidationError(
            f"column '{col or '?'}' in '{where}' holds text{rows}{sample} where the model expects numbers",
            hint,
        )
    if "unknown categor" in text.lower():
        return _unknown_categories(text, frame, where)
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if isinstance(exc, (TypeError, ValueError)):
        encoded = categorical_inputs(estimator) if estimator is not None else set()
        odd = [(c, k) for c in frame.columns if c not in encoded and (k := _not_numbers(frame[c]))]
        if odd:
            listed = ", ".join(f"'{c}' holds {k}" for c, k in odd[:4])
            said = first_line if len(first_line) <= 100 else first_line[:99] + "…"
            return ValidationError(
                f"in '{where}', {listed} where the model seems to expect numbers "
                f"(its error: {type(exc).__name__}: {said})",
                "convert those columns to numbers, or check that this is the data the model was trained on",
            )
    return ComputationError(
        f"the model failed while predicting on '{where}': {type(exc).__name__}: {first_line}",
        "this is the estimator's own error; check that the data matches what it was trained on",
    )


_UNKNOWN = re.compile(r"unknown categories? (\[.*?\])", re.I | re.S)


def _unknown_categories(text: str, frame: pd.DataFrame, where: str) -> ValidationError:
    """sklearn names the encoder's column by position; find the data column and count its rows."""
    hint = "drop those rows, or refit the encoder with handle_unknown='ignore'"
    m = _UNKNOWN.search(text)
    values: list[Any] = []
    if m:
        try:
            import ast

            values = list(ast.literal_eval(m.group(1)))
        except (ValueError, SyntaxError):
            values = []
    wanted = {str(v) for v in values}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not all(_is_number(v) for v in values):
            continue
        hit = s.astype(str).isin(wanted) & s.notna()
        if wanted and hit.any():
            found = list(dict.fromkeys(s[hit].astype(str)))
            return ValidationError(
                f"column '{c}' in '{where}' holds {len(found)} categor{'y' if len(found) == 1 else 'ies'} "
                f"the model never saw: {shorten(found, 5)} ({int(hit.sum())} rows)",
                hint,
            )
    first_line = text.strip().splitlines()[0]
    return ValidationError(f"'{where}' has categories the model never saw: {first_line}", hint)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _not_numbers(col: pd.Series) -> str | None:
    """What a column holds when it is not numbers a plain estimator can take: 'dates', … or None."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    ):
        return None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return f"dates ({dtype})"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return f"durations ({dtype})"
    if isinstance(dtype, pd.CategoricalDtype):
        if pd.api.types.is_numeric_dtype(dtype.categories.dtype):
            return None
        return "categories (text)"
    sample = col.dropna().head(50)
    if any(isinstance(v, (list, tuple, dict, set, np.ndarray)) for v in sample):
        return "lists or records"
    if len(sample) and pd.to_numeric(sample, errors="coerce").isna().any():
        return "text"
    return None
