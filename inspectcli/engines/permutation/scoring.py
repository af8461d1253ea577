"""Scorers: building them, the stand-in estimators that record and replay predictions, errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names

from inspectcli.errors import (
    ComputationError,
    UsageError,
    ValidationError,
    closest,
    first_line,
)
from inspectcli.introspect import final_estimator

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")


class _Recorder:
    """Forwards to the real estimator and records which prediction methods a scorer calls."""

    def __init__(self, estimator: Any) -> None:
        self._est = estimator
        self.called: list[str] = []
        self.opaque = False
        self.seconds = 0.0  # spent in the prediction methods

    def __sklearn_tags__(self) -> Any:
        return self._est.__sklearn_tags__()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._est, name)
        if name in RESPONSE_METHODS:

            def method(X: Any, *args: Any, **kwargs: Any) -> Any:
                if name not in self.called:
                    self.called.append(name)
                t0 = time.perf_counter()
                try:
                    return attr(X, *args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t0

            method.__name__ = name
            return method
        if callable(attr) and not name.startswith("_") and name not in ("get_params", "get_metadata_routing"):
            self.opaque = True  # e.g. score(): cannot be replayed from predictions
        return attr


class _Replay:
    """Answers prediction methods with outputs computed beforehand on the same rows."""

    def __init__(self, estimator: Any, outputs: Mapping[str, np.ndarray]) -> None:
        self._est = estimator
        self._outputs = outputs

    def __sklearn_tags__(self) -> Any:
        return self._est.__sklearn_tags__()

    def __getattr__(self, name: str) -> Any:
        if name in RESPONSE_METHODS:
            if not hasattr(self._est, name):
                raise AttributeError(name)
            outputs = self._outputs

            def method(X: Any, *args: Any, **kwargs: Any) -> Any:
                return outputs[name]

            method.__name__ = name
            return method
        return getattr(self._est, name)


def _score(scorer: Any, estimator: Any, X: Any, y: Any, sample_weight: np.ndarray | None) -> Any:
    if sample_weight is not None:
        return scorer(estimator, X, y, sample_weight=sample_weight)
    return scorer(estimator, X, y)


def default_scorer_name(estimator: Any) -> str | None:
    """'r2' / 'accuracy' when the model's own score() is scikit-learn's standard one.

    Then the default scoring can be replayed from predictions (same numbers as score()).
    """
    from sklearn.pipeline import Pipeline

    est = estimator
    while isinstance(est, Pipeline):
        est = est.steps[-1][1]
    score = getattr(type(est), "score", None)
    if score is RegressorMixin.score:
        return "r2"
    if score is ClassifierMixin.score:
        return "accuracy"
    return None


def check_scorer_names(names: Sequence[str]) -> None:
    """Unknown scorer names are usage errors that list close ones."""
    known = sorted(get_scorer_names())
    for name in names:
        if name not in known:
            near = closest(name, known, n=4)
            raise UsageError(
                f"unknown scorer '{name}'"
                + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""),
                "see scikit-learn's scoring names, e.g. r2, neg_mean_absolute_error, accuracy, roc_auc",
            )
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        raise UsageError(f"scorer given twice: {', '.join(dupes)}", "give each --scoring once")


def build_scorer(
    estimator: Any, scoring: str | Sequence[str] | Callable[..., Any] | None
) -> tuple[Any, list[str], bool]:
    """(scorer, names, default?) — the default becomes r2/accuracy when that is what score() is."""
    default = False
    if scoring is None:
        name = default_scorer_name(estimator)
        default = True
        if name is None:
            return check_scoring(estimator, scoring=None), ["score"], default
        scoring = name
    if isinstance(scoring, str):
        check_scorer_names([scoring])
        return check_scoring(estimator, scoring=scoring), [scoring], default
    if callable(scoring):
        return scoring, [getattr(scoring, "__name__", "score")], default
    names = list(scoring)
    check_scorer_names(names)
    if len(names) == 1:
        return check_scoring(estimator, scoring=names[0]), names, default
    return check_scoring(estimator, scoring=names), names, default


def _replayed_scores(
    estimator: Any,
    outputs: Iterable[Mapping[str, np.ndarray]],
    scorer: Any,
    X: Any,
    y: Any,
    sample_weight: np.ndarray | None,
) -> list[Any]:
    """The scorer's value on each repeat, from that repeat's ``{method: output}``."""
    return [_score(scorer, _Replay(estimator, out), X, y, sample_weight) for out in outputs]


def _scoring_error(exc: BaseException, names: list[str], estimator: Any) -> Exception:
    text = first_line(exc)
    text = text.replace(_Recorder.__name__, type(estimator).__name__)
    kind = "classifier" if is_classifier(estimator) else "regressor"
    one_class = ("only one label", "Only one class present", "should be a binary", "fewer than two")
    if isinstance(exc, ValueError) and any(key in text for key in one_class):
        return ValidationError(
            f"scorer {', '.join(names)} cannot score this target: {text}",
            "give rows of every class (at least two), or choose --scoring accuracy",
        )
    if isinstance(exc, (ValueError, AttributeError, TypeError)) and any(
        key in text
        for key in (
            "pos_label",
            "multiclass",
            "continuous",
            "binary",
            "response_method",
            "Target is multiclass",
            "has no attribute",
            "none of the following attributes",
            "not supported",
            "format is not supported",
        )
    ):
        return UsageError(
            f"scorer {', '.join(names)} does not fit this model "
            f"({type(final_estimator(estimator)).__name__}, a {kind}): {text}",
            "choose a scorer for this task, e.g. r2 for regressors, accuracy or roc_auc for classifiers",
        )
    return ComputationError(
        f"the model failed while scoring: {type(exc).__name__}: {text}",
        "this is the estimator's or scorer's own error; check the target column and scorer",
    )
