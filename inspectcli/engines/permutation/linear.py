"""The linear engine: permuted class labels of linear classifiers without predicting.

For a pipeline of column-wise transformers ``t`` (each output column depends on one input column,
element by element: engines/trees/_pipeline.py's whitelist) before a linear classifier whose
``predict`` is scikit-learn's ``LinearClassifierMixin.predict``, permuting input column ``j``
changes the decision function by ``(t(x_perm) - t(x))[:, S] @ coef_[:, S].T`` only, where ``S`` are
the transformed columns fed by ``j``; ``t(x_perm)[:, S]`` is ``t(x)[perm, S]`` bit for bit
(element-wise transformers). So every repeat costs ``n × |S|`` multiply-adds instead of a pipeline
call.

The labels are exact, not approximately so: the decision values computed this way differ from the
estimator's own by rounding only, bounded per row by ``4 (p + 4) u (|t(x_perm)| @ |coef| +
|intercept|)`` (``u`` = 2**-53, ``p`` transformed columns); a repeat in which any row lies within
that bound of the decision threshold (0, or the runner-up class) is predicted by the estimator
itself instead. Labels equal to the estimator's give scorers that only call ``predict`` (accuracy,
balanced accuracy, F1, …) bit-identical scores.

Memory: the transformed matrix ``t(X)`` (float64) is kept for all repeats; the engine is not used
when it would take more than half of the memory budget.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from inspectcli.engines.frames import assemble, column, take
from inspectcli.engines.permutation.sampling import _permutations, _rng_for_feature, _Task
from inspectcli.engines.permutation.scoring import _replayed_scores
from inspectcli.engines.progress import Progress

# Relative rounding allowance per transformed column (see the module docstring).
_U = 2.0**-53


class LinearLabels:
    """Permuted labels of a linear classifier behind column-wise transformers.

    Build with :func:`linear_labels` (None when the model does not qualify).
    """

    def __init__(self, estimator: Any, prefix: Any | None, final: Any, source: np.ndarray, X: Any) -> None:
        self.estimator = estimator
        self.X = X
        Xt = X if prefix is None else prefix.transform(X)
        if hasattr(Xt, "toarray"):
            Xt = Xt.toarray()
        self.T = np.asarray(Xt, dtype=np.float64)
        if self.T.ndim != 2 or self.T.shape[1] != source.shape[0]:
            raise ValueError("transformed columns do not match the column map")
        coef = np.asarray(final.coef_, dtype=np.float64)
        self.coef = coef.reshape(1, -1) if coef.ndim == 1 else coef  # (k, p)
        self.intercept = np.broadcast_to(
            np.asarray(final.intercept_, dtype=np.float64), (self.coef.shape[0],)
        )
        self.classes = final.classes_
        self.source = source
        self.D = self.T @ self.coef.T + self.intercept  # (n, k)
        self.A = np.abs(self.T) @ np.abs(self.coef).T + np.abs(self.intercept)  # (n, k)
        self.slack = 4.0 * (self.T.shape[1] + 4) * _U
        self.predicted = 0  # repeats handed to the estimator (rows near the threshold)

    def labels(self, cols: list[int], perm: np.ndarray) -> np.ndarray:
        """The estimator's ``predict`` on X with the input columns ``cols`` taken from rows ``perm``."""
        S = np.flatnonzero(np.isin(self.source, cols))
        if S.size:
            Ts = self.T[:, S]
            Tp = Ts[perm]
            cs = self.coef[:, S]
            D = self.D + (Tp - Ts) @ cs.T
            A = self.A + (np.abs(Tp) - np.abs(Ts)) @ np.abs(cs).T
        else:
            D, A = self.D, self.A
        bound = self.slack * A.max(axis=1)
        if D.shape[1] == 1:
            d = D[:, 0]
            certain = np.abs(d) > bound
            idx = (d > 0).astype(np.intp)
        else:
            part = np.partition(D, -2, axis=1)
            certain = (part[:, -1] - part[:, -2]) > 2 * bound
            idx = np.argmax(D, axis=1)
        if not certain.all():
            self.predicted += 1
            X = self.X
            Xp = assemble(X, np.arange(X.shape[0]), {j: take(column(X, j), perm) for j in cols})
            return np.asarray(self.estimator.predict(Xp))
        return self.classes.take(idx, axis=0)


def linear_labels(
    estimator: Any, methods: tuple[str, ...] | None, X: Any, max_bytes: int | None = None
) -> LinearLabels | None:
    """A :class:`LinearLabels` for ``estimator`` on ``X``, or None when the engine does not apply.

    It applies when the scorer only calls ``predict``, the model is a scikit-learn linear
    classifier with the standard ``decision_function`` / ``predict`` (LogisticRegression,
    RidgeClassifier, LinearSVC, SGDClassifier, Perceptron, …; exact classes' methods, dense
    ``coef_``), alone or behind whitelisted column-wise transformers, ``X`` is dense, and the
    transformed matrix (float64, kept for all repeats) fits ``max_bytes``.
    """
    from sklearn.linear_model._base import LinearClassifierMixin
    from sklearn.pipeline import Pipeline

    from inspectcli.engines.trees._model import _Unsupported
    from inspectcli.engines.trees._pipeline import _names_to_positions, _transformer_source

    if methods != ("predict",) or hasattr(X, "tocsr"):
        return None
    if type(estimator) is Pipeline:
        steps = [s for _, s in estimator.steps]
        final, pre = steps[-1], steps[:-1]
    else:
        final, pre = estimator, []
    kind = type(final)
    if not (
        isinstance(final, LinearClassifierMixin)
        and kind.predict is LinearClassifierMixin.predict
        and kind.decision_function is LinearClassifierMixin.decision_function
        and isinstance(getattr(final, "coef_", None), np.ndarray)
    ):
        return None
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is None or int(n_in) != X.shape[1]:
        return None
    try:
        src = np.arange(int(n_in))
        for step in pre:
            src = src[_transformer_source(step, src.size)]
        positions = _names_to_positions(getattr(estimator, "feature_names_in_", None), X)
    except (_Unsupported, ValueError, AttributeError, TypeError):
        return None
    if positions is not None:
        src = positions[src]
    if max_bytes is not None and 8 * X.shape[0] * (src.size + 4) > max_bytes:
        return None
    prefix = estimator[:-1] if pre else None
    try:
        return LinearLabels(estimator, prefix, final, src, X)
    except (ValueError, TypeError):
        return None


def _plain_accuracy(scorer: Any, y: Any, sample_weight: np.ndarray | None) -> Any:
    """``labels -> score`` for scikit-learn's own ``accuracy`` scorer without weights, else None.

    That scorer returns ``float(mean(float64(y == labels)))`` (``accuracy_score`` on 1-d targets,
    ``_average`` without weights): the sum of zeros and ones is exact, so the score is
    ``count / n`` correctly rounded, a function of the labels that skips the scorer's input
    validation (98% of the engine's time on the cancer sample before it).
    :func:`linear_scores` also compares it with the real scorer on the first repeat before using it.
    """
    from sklearn.metrics import accuracy_score
    from sklearn.metrics._scorer import _Scorer

    if (
        type(scorer) is not _Scorer
        or scorer._score_func is not accuracy_score
        or scorer._kwargs
        or scorer._response_method != "predict"
        or sample_weight is not None
    ):
        return None
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "biuU":
        return None
    sign = scorer._sign

    def score(labels: np.ndarray) -> float:
        return sign * float(np.mean((y == labels).astype(np.float64)))

    return score


def linear_scores(
    linear: LinearLabels,
    shared: tuple[Any, Any, Any, np.ndarray | None],
    members: list[list[int]],
    task: _Task,
    n_repeats: int,
    progress: Progress,
    per_feature: list[list[Any]],
) -> None:
    """Fill ``per_feature`` with the scores of every repeat, from permuted labels (in-process).

    ``shared``: (estimator, X, y, sample_weight), subsampled (``linear`` was built on that X).
    """
    estimator, X, y, sample_weight = shared
    fast = _plain_accuracy(task.scorer, y, sample_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for f, cols in enumerate(members):
            rs, _ = _rng_for_feature(task.seed, task.n_rows, task.m)
            labels = (linear.labels(cols, p) for p in _permutations(rs, task.m, 0, n_repeats))
            scores = []
            for lab in labels:
                if fast is not None and len(scores) + f > 0:
                    scores.append(fast(lab))
                    continue
                real = _replayed_scores(estimator, [{"predict": lab}], task.scorer, X, y, sample_weight)[0]
                if fast is not None and fast(lab) != real:
                    fast = None
                scores.append(real)
            per_feature[f][:] = scores
            progress.advance(n_repeats)
