"""Match a data table to a model: pick its columns, split the target, check before computing.

scikit-learn reports most problems as a bare ValueError deep inside a computation. Here they are
found first, with the file, the column and a fix in the message: missing columns (with close
names), too few rows, NaN or infinite values the model cannot take, text where it needs numbers,
categories it never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.errors import (
    UsageError,
    ValidationError,
    clip,
    did_you_mean,
    shorten,
)
from inspectcli.introspect import categorical_inputs, expected_features, first_step, n_features_in, task_of
from inspectcli.loading.sources import Dataset


@dataclass
class Prepared:
    """Model inputs taken from a dataset."""

    X: Any  # a DataFrame in the model's column order, or an ndarray for models fitted on arrays
    feature_names: list[str]
    y: np.ndarray | None
    sample_weight: np.ndarray | None
    target: str | None
    notes: list[str] = field(default_factory=list)
    #: Columns of numbers stored as text, read here as numbers: {name: the text as read}.
    #: check_predicts confirms the model reads them the same way (and empties this).
    text_numbers: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


def _column_error(data: Dataset, column: str, option: str) -> ValidationError:
    return ValidationError(
        f"column '{column}' given with {option} is not in '{data.name}'"
        f"{did_you_mean(column, data.columns_in_file)}",
        f"columns are: {shorten(data.columns_in_file, 12)}",
    )


def prepare(
    estimator: Any,
    data: Dataset,
    *,
    target: str | None = None,
    sample_weight: str | None = None,
    infer_target: bool = False,
    require_target: bool = False,
    min_rows: int = 2,
    keep: tuple[str, ...] = (),
) -> Prepared:
    """Take the model's input columns (in its order), the target and the weights from ``data``.

    Parameters
    ----------
    estimator : fitted estimator
    data : Dataset
    target : str, optional
        Target column; dropped from the inputs.
    sample_weight : str, optional
        Column of non-negative sample weights; dropped from the inputs.
    infer_target : bool
        When no target is given and exactly one column is not a model input, use it (said in a
        note).
    require_target : bool
        Raise a usage error when no target column is given or inferred.
    min_rows : int
        Fewer rows than this is an input error.
    keep : tuple of str
        Other columns read for the workflow (``by``): for a model without column names, left out
        of the inputs when the model's input count says they are not among them.
    """
    frame = data.frame
    notes: list[str] = []
    if target is not None and target not in frame.columns:
        raise _column_error(data, target, "`target`")
    if sample_weight is not None and sample_weight not in frame.columns:
        raise _column_error(data, sample_weight, "`sample_weight`")
    if target is not None and target == sample_weight:
        raise UsageError(
            f"column '{target}' is given as both `target` and `sample_weight`",
            "the weights must be another column than the target",
        )

    names = expected_features(estimator)
    reserved = {c for c in (target, sample_weight) if c is not None}
    if names is not None:
        for option, col in (("`target`", target), ("`sample_weight`", sample_weight)):
            if col is not None and col in names:
                raise UsageError(
                    f"column '{col}' given with {option} is one of the model's input features",
                    "choose the column the model predicts, not one it reads",
                )
        missing = [c for c in names if c not in frame.columns]
        if missing:
            others = [c for c in data.columns_in_file if c not in names]
            hints = [f"'{clip(m)}'{did_you_mean(m, others)}" for m in missing[:5]]
            raise ValidationError(
                f"'{data.name}' lacks {len(missing)} column(s) the model expects: "
                + ", ".join(hints)
                + (f", … (+{len(missing) - 5} more)" if len(missing) > 5 else ""),
                "give data with the columns the model was trained on (see `inspect info MODEL`)",
            )
        extra = [c for c in data.columns_in_file if c not in names and c not in reserved and c not in keep]
        if target is None and infer_target and len(extra) == 1:
            target = extra[0]
            notes.append(f"using column '{target}' as the target: the only column the model does not read")
            extra = []
        if extra:
            notes.append(f"ignoring {len(extra)} column(s) the model does not use: {shorten(extra)}")
        # The block read for the model (one float64 array, shared with the frame's columns),
        # else a frame of the model's columns.
        X = data.block.frame(names) if data.block is not None else None
        X = frame[names] if X is None else X
        feature_names = list(names)
    else:
        cols = [c for c in frame.columns if c not in reserved]
        n_in = n_features_in(estimator)
        others = [c for c in cols if c in keep]
        if others and n_in is not None and len(cols) - len(others) in (n_in, n_in + 1):
            cols = [c for c in cols if c not in others]
        if target is None and infer_target and n_in is not None and len(cols) == n_in + 1:
            target = cols[-1]
            cols = cols[:-1]
            notes.append(f"using the last column '{target}' as the target (the model has no column names)")
        if n_in is not None and len(cols) != n_in:
            raise ValidationError(
                f"the model was fitted on {n_in} unnamed columns but '{data.name}' has {len(cols)}"
                + (" besides the target" if target else ""),
                "pass `target` for the column to leave out, or give data with the same columns",
            )
        X = data.block.frame(cols) if data.block is not None else None
        X = frame[cols] if X is None else X
        feature_names = [str(c) for c in cols]
        notes.append("the model was fitted without column names: columns are matched by position")

    if require_target and target is None:
        others = [c for c in data.columns_in_file if c not in feature_names]
        if names is None:
            hint = "name the column the model predicts"
        elif others:
            hint = f"columns not read by the model: {shorten(others)}"
        else:
            hint = f"'{data.name}' holds only the model's inputs: add the column the model predicts"
        raise UsageError("no target column: give it with `target`", hint)
    if len(frame) < min_rows:
        raise ValidationError(
            f"'{data.name}' has {len(frame)} row(s); this needs at least {min_rows}",
            "give more rows",
        )
    X = _coerce_dtypes(estimator, X, notes)
    text_numbers: dict[str, pd.Series] = {}
    if names is not None:
        X, text_numbers = _text_numbers(estimator, X)
    y = None
    if target is not None:
        y = frame[target].to_numpy()
        n_nan = int(pd.isna(frame[target]).sum())
        if n_nan:
            raise ValidationError(
                f"target column '{target}' has {n_nan} missing value(s) in '{data.name}'",
                "drop those rows",
            )
    sw = None
    if sample_weight is not None:
        sw = _weights(frame[sample_weight], sample_weight, data)
    if names is None:
        X = X.to_numpy()
    return Prepared(X, feature_names, y, sw, target, notes, text_numbers)


def check_target(estimator: Any, y: np.ndarray, where: str, target: str) -> np.ndarray:
    """The target as the model can be scored on it, or a ValidationError naming the column.

    A classifier's target must hold its classes (text digits are read as its integer classes); a
    regressor's target must be numbers.
    """
    task = task_of(estimator)
    values = np.asarray(y)
    if task.is_classifier and task.classes is not None:
        classes = task.classes
        if values.dtype.kind in "OUT" and all(isinstance(c, (int, np.integer)) for c in classes):
            try:
                values = values.astype(np.int64)
            except (TypeError, ValueError):
                pass
        seen = set(classes)
        unknown = sorted({v for v in values.tolist() if v not in seen}, key=str)
        if unknown:
            n_bad = int(sum(v not in seen for v in values.tolist()))
            hint = (
                f"the model's classes are {shorten(classes, 10)}; drop those rows or check the target column"
            )
            if list(classes) == list(range(len(classes))) and len(unknown) == len(classes):
                from inspectcli.gbm import library_of

                if library_of(estimator) in ("lightgbm", "xgboost"):
                    # model text / plain boosters keep class indices, not the labels fitted on
                    hint = (
                        f"the model knows class indices {shorten(classes, 10)} only (a LightGBM model text"
                        " or XGBoost booster file keeps no labels): encode the target as those indices"
                        " in the order of the sorted labels, or save the model with joblib"
                    )
            raise ValidationError(
                f"target column '{target}' in '{where}' holds {len(unknown)} class(es) the model never saw: "
                f"{shorten(unknown, 5)} ({n_bad} rows)",
                hint,
            )
        return values
    if task.kind in ("regression", "multi-output regression") and values.dtype.kind not in "biuf":
        numbers = pd.to_numeric(pd.Series(values.ravel()), errors="coerce")
        bad = numbers.isna().to_numpy() & ~pd.isna(pd.Series(values.ravel())).to_numpy()
        if bad.any():
            example = values.ravel()[np.flatnonzero(bad)[0]]
            raise ValidationError(
                f"target column '{target}' in '{where}' holds text in {int(bad.sum())} row(s) "
                f"(e.g. '{example}'), and the model is a regressor",
                "give the numeric column the model predicts with `target`",
            )
        return numbers.to_numpy(dtype=float).reshape(values.shape)
    return values


def _weights(col: pd.Series, name: str, data: Dataset) -> np.ndarray:
    try:
        sw = pd.to_numeric(col, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"sample-weight column '{name}' in '{data.name}' is not numeric", "give numbers"
        ) from exc
    bad = ~np.isfinite(sw)
    if bad.any():
        raise ValidationError(
            f"sample-weight column '{name}' has {int(bad.sum())} missing or infinite value(s)",
            "fill or drop those rows",
        )
    if (sw < 0).any():
        raise ValidationError(
            f"sample-weight column '{name}' has {int((sw < 0).sum())} negative value(s)",
            "weights must be >= 0",
        )
    if sw.sum() <= 0:
        raise ValidationError(f"sample-weight column '{name}' sums to zero", "give positive weights")
    return sw


def _coerce_dtypes(estimator: Any, X: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Give encoders the dtypes they were fitted on (e.g. zip codes read as numbers from CSV)."""
    categorical = categorical_inputs(estimator)
    changed = []
    out = X
    for col in X.columns:
        s = X[col]
        if col in categorical and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            kinds = _encoder_category_kinds(estimator, col)
            if kinds == "str":
                if out is X:
                    out = X.copy()
                out[col] = s.astype(str).astype(object).where(s.notna(), np.nan)
                changed.append(col)
    if changed:
        notes.append(f"reading {shorten(changed)} as text, as the model's encoder was fitted on text")
    from inspectcli.gbm import as_model_categories

    return as_model_categories(estimator, out, notes)


def _text_numbers(estimator: Any, X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Read columns of numbers stored as text (e.g. Parquet strings '1.5') as float64.

    Only columns the model does not encode as categories: a plain estimator converts such text to
    floats itself (``check_array``), so the model sees numbers and a PD grid must be numeric too,
    not one category per distinct text. :func:`check_predicts` then checks that the model's
    predictions on the text and on the numbers agree; if not, the text is kept.
    """
    categorical = categorical_inputs(estimator)
    found: dict[str, pd.Series] = {}
    out = X
    for col in X.columns:
        s = X[col]
        if col in categorical or not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            continue
        present = s.notna()
        if not present.any():
            continue
        if not all(isinstance(v, str) for v in s[present].head(1000)):
            continue
        numbers = pd.to_numeric(s, errors="coerce")
        if numbers[present].isna().any():
            continue
        if out is X:
            out = X.copy()
        out[col] = numbers.astype(np.float64)
        found[col] = s
    return out, found


def _encoder_category_kinds(estimator: Any, column: str) -> str | None:
    first = first_step(estimator)
    for _, trans, cols in getattr(first, "transformers_", []):
        cols_list = [str(c) for c in np.atleast_1d(cols)]
        if column not in cols_list:
            continue
        enc = trans
        while hasattr(enc, "steps"):
            enc = [s for _, s in enc.steps if hasattr(s, "categories_")][:1]
            enc = enc[0] if enc else None
        cats = getattr(enc, "categories_", None)
        if cats is None:
            return None
        idx = cols_list.index(column)
        arr = cats[idx] if idx < len(cats) else None
        if arr is not None and arr.dtype == object and any(isinstance(v, str) for v in arr):
            return "str"
    return None
