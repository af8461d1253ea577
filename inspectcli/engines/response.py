"""Which prediction method a PDP uses, and how its raw output becomes one column per target.

Mirrors scikit-learn's ``_get_response_values`` as ``partial_dependence`` uses it: regressors use
``predict`` (one column per output); classifiers use ``predict_proba`` when they have it, else
``decision_function``; a binary classifier keeps only its positive class (``classes_[1]``), and
asking for the other class gives ``1 - p`` (probabilities) or ``-d`` (decision function), as
scikit-learn does for ``pos_label=classes_[0]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import is_classifier, is_regressor

from inspectcli.errors import ComputationError, UsageError
from inspectcli.introspect import task_of

RESPONSE_METHODS = ("auto", "predict_proba", "decision_function")


@dataclass(frozen=True)
class Response:
    """How to get one column per target out of a prediction method."""

    method: str  # predict | predict_proba | decision_function
    targets: tuple[Any, ...]  # class labels, output indices, or (None,) for a single output
    columns: tuple[int, ...] | None  # columns of the raw output to keep; None: the 1-d output
    negate: bool = False  # binary decision_function for the negative class

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    def select(self, raw: np.ndarray, leading: int = 1, rows: int | None = None) -> np.ndarray:
        """Raw method output -> one column per target on the last axis.

        ``raw`` has ``leading`` axes (rows; or grid points and rows) before the method's own
        output axis, which 1-d outputs lack: shape (*lead,) or (*lead, k) -> (*lead, n_targets).
        ``rows``: how many rows the model was given (the model's own output is checked: that many
        rows, of real numbers; see :func:`model_output`).
        """
        raw = model_output(raw, self.method, rows) if rows is not None else np.asarray(raw)
        if raw.ndim == leading:
            out = raw[..., None]
        elif self.columns is None:
            if raw.ndim != leading + 1 or raw.shape[-1] != self.n_targets:
                # a regressor whose outputs were not known in advance (no n_outputs_): never keep
                # one of them silently
                raise ComputationError(
                    f"the model's {self.method} returned {raw.shape[leading:]} values per row, "
                    f"expected {self.n_targets}",
                    "a multi-output regressor without n_outputs_: inspect one output with a model "
                    "fitted on it alone",
                )
            out = raw
        else:
            out = raw[..., list(self.columns)]
        return -out if self.negate else out


def model_output(raw: Any, method: str, rows: int, *, numbers: bool = True) -> np.ndarray:
    """The output of the model's ``method`` on ``rows`` rows, as an array of real numbers.

    Whatever a model returns (a list, None, strings, complex numbers, objects, fewer or more rows
    than it was given) is checked here, in the one place every prediction passes: a wrong count
    averaged silently gave wrong numbers (exit 0), strings failed in our code ("unexpected").

    Raises
    ------
    ComputationError
        When the output is not one row per input row (of real numbers, with ``numbers``: exit 4).
    """
    hint = "the model's output must hold one row of numbers per input row; check its predict code"
    try:
        arr = np.asarray(raw)
    except Exception as exc:  # ragged lists & co
        raise ComputationError(
            f"the model's {method} returned {type(raw).__name__} that is not an array ({exc})", hint
        ) from exc
    if arr.ndim == 0 or arr.shape[0] != rows:
        got = "a single value" if arr.ndim == 0 else f"{arr.shape[0]} rows"
        raise ComputationError(f"the model's {method} returned {got} for {rows} rows", hint)
    if arr.dtype.kind in "biuf" or not numbers:  # (a classifier's predict gives labels)
        return arr
    if arr.dtype.kind == "O":
        try:
            converted = arr.astype(np.float64)
        except (TypeError, ValueError):
            converted = None
        if converted is not None and all(isinstance(v, (int, float, np.number)) for v in arr.flat[:1000]):
            return converted
    kind = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "objects"}.get(
        arr.dtype.kind, str(arr.dtype)
    )
    raise ComputationError(f"the model's {method} returned {kind}, not real numbers", hint)


def outputs_numbers(estimator: Any, method: str) -> bool:
    """Whether ``method``'s output must be numbers (all but a classifier's predicted labels)."""
    return method != "predict" or not is_classifier(estimator)


def match_label(label: str, classes: Sequence[Any]) -> Any:
    """The class whose text is ``label`` (``--class 1`` matches the integer class 1)."""
    for c in classes:
        if str(c) == label or (isinstance(c, (bool, np.bool_)) and str(c).lower() == label.lower()):
            return c
    raise UsageError(
        f"`classes='{label}'` is not a class of this model",
        f"classes are {', '.join(map(str, classes))}",
    )


def binary_class(classes: Sequence[Any], wanted: Sequence[Any] | None, what: str) -> Any:
    """The one class a binary model's output stands for: the positive one unless ``wanted``.

    Both classes would mirror each other (their ``what`` are negations or complements).
    """
    chosen = list(dict.fromkeys(wanted)) if wanted else [classes[1]]
    if len(chosen) > 1:
        raise UsageError(
            f"`classes` given twice for a binary model; its classes' {what} mirror each other",
            "keep one `classes`",
        )
    return chosen[0]


def resolve_response(
    estimator: Any,
    *,
    response_method: str = "auto",
    classes_wanted: Sequence[str] | None = None,
) -> Response:
    """The method and column selection for a brute-force PDP (scikit-learn's rules)."""
    if response_method not in RESPONSE_METHODS:
        raise UsageError(
            f"`response_method='{response_method}'` is not one of {', '.join(RESPONSE_METHODS)}",
            "choose one of them, or leave it out",
        )
    task = task_of(estimator)
    if task.kind == "multi-output classification":
        raise UsageError(
            "multi-output classifiers are not supported by partial dependence (as in scikit-learn)",
            "inspect each output with a model fitted on it alone",
        )
    if is_regressor(estimator) or not is_classifier(estimator):
        if response_method != "auto":
            raise UsageError(
                f"`response_method={response_method}` applies to classifiers; this model is a regressor",
                "drop `response_method`",
            )
        if classes_wanted:
            raise UsageError("`classes` applies to classifiers; this model is a regressor", "drop `classes`")
        if not hasattr(estimator, "predict"):
            raise UsageError("the model has no predict method")
        n_out = task.n_outputs or 1
        if n_out > 1:
            return Response("predict", tuple(range(n_out)), tuple(range(n_out)))
        return Response("predict", (None,), None)

    if response_method == "auto":
        if hasattr(estimator, "predict_proba"):
            method = "predict_proba"
        elif hasattr(estimator, "decision_function"):
            method = "decision_function"
        else:
            raise UsageError(
                "the classifier has neither predict_proba nor decision_function",
                "give a classifier with predict_proba (e.g. wrap it in CalibratedClassifierCV)",
            )
    else:
        method = response_method
        if not hasattr(estimator, method):
            other = "decision_function" if method == "predict_proba" else "predict_proba"
            raise UsageError(
                f"`response_method={method}`: the model has no {method}",
                f"use `response_method={other}`" if hasattr(estimator, other) else "use auto",
            )
    classes = list(task.classes or [])
    wanted = [match_label(c, classes) for c in classes_wanted] if classes_wanted else None
    if len(classes) == 2:
        label = binary_class(classes, wanted, "curves")
        if method == "predict_proba":
            return Response(method, (label,), (classes.index(label),))
        return Response(method, (label,), None, negate=(label == classes[0]))
    keep = wanted or classes
    return Response(method, tuple(keep), tuple(classes.index(c) for c in keep))
