"""Scorers: building them, the stand-in estimators that record and replay predictions, errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names

from inspectcli.engines.finite import check_predictions
from inspectcli.engines.response import model_output, outputs_numbers
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
                    out = attr(X, *args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t0
                out = model_output(out, name, len(X), numbers=outputs_numbers(self._est, name))
                check_predictions(out, method=name, what="the data")
                return out

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
    est = final_estimator(estimator)
    score = getattr(type(est), "score", None)
    if score is RegressorMixin.score:
        return "r2"
    if score is ClassifierMixin.score:
        return "accuracy"
    return None


#: Names people type for scikit-learn's scorers (the did-you-mean of an unknown scorer).
SCORER_ALIASES = {
    "rmse": "neg_root_mean_squared_error",
    "mse": "neg_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "mape": "neg_mean_absolute_percentage_error",
    "medae": "neg_median_absolute_error",
    "msle": "neg_mean_squared_log_error",
    "rmsle": "neg_root_mean_squared_log_error",
    "max_error": "neg_max_error",
    "log_loss": "neg_log_loss",
    "logloss": "neg_log_loss",
    "cross_entropy": "neg_log_loss",
    "brier": "neg_brier_score",
    "brier_score": "neg_brier_score",
    "auc": "roc_auc",
    "rocauc": "roc_auc",
    "r_squared": "r2",
    "rsquared": "r2",
    "acc": "accuracy",
    "mcc": "matthews_corrcoef",
}

#: Plain words for a scorer's loss, for axis labels: "increase in RMSE" reads better than
#: "decrease in neg_root_mean_squared_error".
_LOSS_WORDS = {
    "neg_root_mean_squared_error": "RMSE",
    "neg_mean_squared_error": "MSE",
    "neg_mean_absolute_error": "MAE",
    "neg_mean_absolute_percentage_error": "MAPE",
    "neg_median_absolute_error": "median absolute error",
    "neg_mean_squared_log_error": "MSLE",
    "neg_root_mean_squared_log_error": "RMSLE",
    "neg_max_error": "max error",
    "neg_log_loss": "log loss",
    "neg_brier_score": "Brier score",
    "neg_mean_poisson_deviance": "Poisson deviance",
    "neg_mean_gamma_deviance": "gamma deviance",
    "neg_negative_likelihood_ratio": "negative likelihood ratio",
}
_SCORE_WORDS = {"r2": "R²", "roc_auc": "ROC AUC", "accuracy": "accuracy", "score": "score"}


def scorer_change_label(name: str) -> str:
    """What a positive importance means for scorer ``name``, in plain words.

    ``"increase in RMSE"`` for neg_root_mean_squared_error, ``"decrease in R²"`` for r2.
    """
    if name in _LOSS_WORDS:
        return f"increase in {_LOSS_WORDS[name]}"
    if name.startswith("neg_"):
        return f"increase in {name[4:].replace('_', ' ')}"
    return f"decrease in {_SCORE_WORDS.get(name, name.replace('_', ' '))}"


def check_scorer_names(names: Sequence[str]) -> None:
    """Unknown scorer names are usage errors that suggest the right one (rmse -> neg_root_...)."""
    known = sorted(get_scorer_names())
    for name in names:
        if name not in known:
            key = name.strip().lower().replace("-", "_").replace(" ", "_")
            near = []
            if key in known:
                near = [key]
            elif key in SCORER_ALIASES:
                near = [SCORER_ALIASES[key]]
            elif f"neg_{key}" in known:
                near = [f"neg_{key}"]
            else:
                near = closest(name, known, n=4)
            raise UsageError(
                f"unknown scorer '{name}'"
                + (f" (did you mean {' or '.join(map(repr, near))}?)" if near else ""),
                "see scikit-learn's scoring names, e.g. r2, neg_root_mean_squared_error, accuracy, roc_auc",
            )
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        raise UsageError(f"scorer given twice: {', '.join(dupes)}", "give each `scoring` once")


def check_scorers_fit(estimator: Any, names: Sequence[str]) -> None:
    """Scorers that cannot apply to this model or task are usage errors, before any computation.

    A regression scorer on a classifier (or the reverse), a binary-only scorer (roc_auc, f1, …)
    on a multiclass target, a probability scorer (log loss, Brier) on a model without
    predict_proba: each names the scorer that fits instead.
    """
    from sklearn.metrics import get_scorer

    from inspectcli.introspect import task_of

    task = task_of(estimator)
    model = type(final_estimator(estimator)).__name__
    classes = task.classes
    multiclass = task.kind == "multiclass" or (classes is not None and len(classes) > 2)
    has_proba = hasattr(estimator, "predict_proba")
    has_decision = hasattr(estimator, "decision_function")
    for name in names:
        scorer = get_scorer(name)
        module = scorer._score_func.__module__.rsplit(".", 1)[-1]
        kwargs = getattr(scorer, "_kwargs", {}) or {}
        methods = scorer._response_method
        methods = (methods,) if isinstance(methods, str) else tuple(methods)
        if module == "_regression" and task.is_classifier:
            raise UsageError(
                f"`scoring={name}` is a regression scorer; {model} is a classifier",
                "choose a classification scorer, e.g. `scoring=accuracy`"
                + (" or neg_log_loss" if has_proba else ""),
            )
        if module in ("_classification", "_ranking") and not task.is_classifier and task.kind != "other":
            raise UsageError(
                f"`scoring={name}` is a classification scorer; {model} is a regressor",
                "choose a regression scorer, e.g. `scoring=r2` or neg_root_mean_squared_error",
            )
        if multiclass and (kwargs.get("average") == "binary" or name in ("roc_auc", "average_precision")):
            better = {"roc_auc": "roc_auc_ovr", "average_precision": "roc_auc_ovr"}.get(name, f"{name}_macro")
            raise UsageError(
                f"`scoring={name}` applies to two classes; this target has {len(classes or [])}",
                f"use `scoring={better}` (or accuracy)",
            )
        if "predict" not in methods and not any(hasattr(estimator, m) for m in methods):
            what = " or ".join(methods)
            alt = "accuracy" if task.is_classifier else "r2"
            if "predict_proba" in methods and has_decision and name.startswith("roc_auc_"):
                alt = "roc_auc" if not multiclass else "accuracy"
            raise UsageError(
                f"`scoring={name}` needs {what}, which {model} does not have",
                f"choose a scorer that uses predictions, e.g. `scoring={alt}`",
            )


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
        if not default:
            check_scorers_fit(estimator, [scoring])
        return check_scoring(estimator, scoring=scoring), [scoring], default
    if callable(scoring):
        return scoring, [getattr(scoring, "__name__", "score")], default
    names = list(scoring)
    check_scorer_names(names)
    check_scorers_fit(estimator, names)
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
            "give rows of every class (at least two), or choose `scoring=accuracy`",
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
