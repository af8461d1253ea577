"""Probe a model on a few telling rows before any long work, so a failure is explained first."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.engines.frames import take_rows
from inspectcli.errors import shorten
from inspectcli.loading.explain import explain_prediction_error
from inspectcli.loading.match import Prepared


def probe_rows(X: Any, limit: int = 5, per_column: int = 200, cap: int = 2000) -> np.ndarray:
    """Row positions worth a trial prediction, so that bad rows fail before any long work.

    The first rows, rows with NaN or infinities (or numbers beyond float32), and the first row of
    each distinct value of every non-numeric column (text in a numeric column, a category the
    encoder never saw), at most ``per_column`` values a column and ``cap`` rows in all. Columns are
    scanned one at a time, so a large table is never copied whole.
    """
    n = X.shape[0]
    frame = X if hasattr(X, "iloc") else pd.DataFrame(X)  # (a lean frame: one column at a time)
    nan = np.zeros(n, dtype=bool)
    big = np.zeros(n, dtype=bool)  # infinite, or beyond float32 (infinite for tree models)
    firsts = []
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        nan |= col.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            with np.errstate(invalid="ignore"):
                big |= np.abs(col.to_numpy(dtype=float, na_value=np.nan)) > np.finfo(np.float32).max
            continue
        try:
            first = np.flatnonzero(~col.duplicated().to_numpy())
        except TypeError:  # unhashable cells
            continue
        firsts.append(first[:per_column])
    groups = [np.arange(min(limit, n)), np.flatnonzero(nan)[:limit], np.flatnonzero(big)[:limit], *firsts]
    rows = np.concatenate([g.astype(np.intp) for g in groups])
    _, keep = np.unique(rows, return_index=True)
    return np.sort(rows[np.sort(keep)][:cap])


def _confirm_text_numbers(estimator: Any, prepared: Prepared, rows: np.ndarray, where: str) -> None:
    """Keep numbers-as-text columns as numbers only where the model reads them as numbers too."""
    texts, prepared.text_numbers = prepared.text_numbers, {}
    if not texts:
        return
    as_numbers = take_rows(prepared.X, rows)
    as_text = as_numbers.copy()
    for col, original in texts.items():
        as_text[col] = original.iloc[rows].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = np.asarray(estimator.predict(as_text))
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception:
            ref = None  # the model cannot read the text at all: numbers are the only way in
        try:
            got = np.asarray(estimator.predict(as_numbers))
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception:
            got = None
    same = ref is None or (got is not None and ref.shape == got.shape and np.array_equal(ref, got))
    if got is None or not same:
        for col, original in texts.items():
            prepared.X[col] = original
        prepared.notes.append(
            f"{shorten(list(texts))} in '{where}' hold numbers stored as text, and the model does not "
            "read them as numbers: kept as text (categories)"
        )
        return
    prepared.notes.append(
        f"{shorten(list(texts))} in '{where}' hold numbers stored as text; the model reads them as "
        "numbers, so they are read as numbers here too (numeric grids)"
    )


def check_predicts(estimator: Any, prepared: Prepared, where: str, rows: np.ndarray | None = None) -> Any:
    """Predict on a few telling rows first, so a failure is explained before any long work.

    ``rows``: :func:`probe_rows` of ``prepared.X``, when already found.
    """
    rows = probe_rows(prepared.X) if rows is None else rows
    if prepared.text_numbers:
        _confirm_text_numbers(estimator, prepared, rows, where)
    sample = take_rows(prepared.X, rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return estimator.predict(sample)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        raise explain_prediction_error(exc, prepared.X, prepared.feature_names, where, estimator) from exc
