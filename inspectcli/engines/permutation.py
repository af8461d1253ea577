"""Permutation importance with scikit-learn's exact numbers, in fewer prediction calls.

scikit-learn's ``permutation_importance`` predicts once per (feature, repeat). Here the permuted
copies of a feature are stacked into as few calls as the memory budget allows; each repeat's slice
of the predictions is then handed to the scorer through a stand-in estimator that replays it, so
the scorer computes exactly what it would have from the real model on the real permuted data.

The random sequence is scikit-learn's: one seed drawn from ``random_state``; for every feature a
fresh ``RandomState(seed)`` draws the ``max_samples`` rows (if any), then shuffles an index array
in place before each repeat and applies it to the already permuted column. Groups of columns
(``groups``) are permuted together with the same sequence; a group of one column is exactly
scikit-learn's feature.

Scorers that do more than call ``predict`` / ``predict_proba`` / ``decision_function`` (custom
callables, estimators with their own ``score``) are run on real permuted data instead: same
numbers, no stacking.

Tree ensembles (engines/trees/: HistGradientBoosting, GradientBoosting, forests, single trees,
and pipelines of column-wise transformers before them) need no prediction at all: permuting a
column is "ICE at one grid point per row", so per feature the trees' row patterns and donor
classes are computed once and every repeat is a table lookup per (row, tree), summed in the
estimator's own order (bit-identical outputs, replayed to the scorer like the batched ones).
"""

from __future__ import annotations

import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from inspectcli.engines.batching import DEFAULT_MEMORY_BUDGET, measure_bytes_per_row, plan_chunks
from inspectcli.engines.estimate import check_importance_request
from inspectcli.engines.finite import check_predictions
from inspectcli.engines.frames import assemble, column, column_arrays, set_column, take
from inspectcli.engines.parallel import check_backend, task_runner
from inspectcli.engines.progress import NullProgress, Progress
from inspectcli.errors import (
    ComputationError,
    InspectError,
    UsageError,
    ValidationError,
    closest,
    first_line,
    raised_in_our_code,
    shorten,
)
from inspectcli.introspect import default_feature_names, final_estimator, row_exact

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")
ENGINES = ("auto", "tree-paths", "batched", "sequential")


#: Half-width of the noise band of a mean importance, in standard errors (``mean ± 2·std/√n``).
NOISE_Z = 2.0


def noise_band(mean: Any, std: Any, n_repeats: int, z: float = NOISE_Z) -> tuple[Any, Any]:
    """``(mean - z·std/√n_repeats, mean + z·std/√n_repeats)``: the one noise band of importances.

    Parameters
    ----------
    mean, std : float or ndarray of shape (n_features,)
        Mean and standard deviation (ddof=0) of the importances over the repeats.
    n_repeats : int
        Number of repeats.
    z : float, default=2.0
        Half-width in standard errors.
    """
    half = z * np.asarray(std, dtype=float) / np.sqrt(n_repeats)
    return mean - half, mean + half


@dataclass
class ScorerImportances:
    """Importances under one scorer: baseline score minus permuted scores.

    Attributes
    ----------
    scorer : str
    baseline_score : float
        The score on the unpermuted data.
    importances : ndarray of shape (n_features, n_repeats)
        One row per feature or group (as ``PermutationImportance.features``), one column per repeat.
    importances_mean, importances_std : ndarray of shape (n_features,)
        Over the repeats (std with ddof=0, as scikit-learn).
    """

    scorer: str
    baseline_score: float
    importances: np.ndarray  # (n_features, n_repeats)

    @property
    def importances_mean(self) -> np.ndarray:
        return np.mean(self.importances, axis=1)

    @property
    def importances_std(self) -> np.ndarray:
        return np.std(self.importances, axis=1)

    def noise_band(self, z: float = NOISE_Z) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) = mean ∓ z·std/√n_repeats of each row, arrays of shape (n_features,)."""
        return noise_band(self.importances_mean, self.importances_std, self.importances.shape[1], z)

    def order(self, top: int | None = None) -> np.ndarray:
        """Row positions by decreasing mean importance (ties in data order), the first ``top``."""
        idx = np.argsort(-self.importances_mean, kind="stable")
        return idx[:top] if top else idx

    def ranks(self) -> np.ndarray:
        """Rank of each row, shape (n_features,): 1 = largest mean importance (ties keep data order)."""
        order = self.order()
        out = np.empty(len(order), dtype=int)
        out[order] = np.arange(1, len(order) + 1)
        return out


@dataclass
class PermutationImportance:
    """Result of ``permutation_importance``: one row per feature or group, one block per scorer."""

    features: list[str]
    columns: list[list[str]]
    scorers: list[ScorerImportances]
    n_repeats: int
    max_samples: int
    n_rows: int
    random_seed: int
    engine: str
    default_scoring: bool = False
    notes: list[str] = field(default_factory=list)

    def scorer(self, name: str) -> ScorerImportances:
        for s in self.scorers:
            if s.scorer == name:
                return s
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# stand-in estimators for the scorers


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


# --------------------------------------------------------------------------------------------
# scorers


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


# --------------------------------------------------------------------------------------------
# the engine


def _resolve_max_samples(max_samples: float | int, n: int) -> int:
    if isinstance(max_samples, bool):
        raise UsageError("`max_samples` must be a number", "give a row count or a fraction")
    if isinstance(max_samples, numbers.Integral):
        if not 1 <= max_samples <= n:
            raise UsageError(
                f"`max_samples={max_samples}` is out of range: the data has {n} rows",
                f"give 1…{n} rows, or a fraction in (0, 1]",
            )
        return int(max_samples)
    if not 0 < float(max_samples) <= 1:
        raise UsageError(
            f"`max_samples={max_samples}` is out of range", "give a fraction in (0, 1], or a row count"
        )
    m = int(float(max_samples) * n)
    if m < 1:
        raise UsageError(
            f"`max_samples={max_samples}` of {n} rows is no row at all", "give a larger fraction"
        )
    return m


def importance_rows(random_state: int | None, n_rows: int, max_samples: float | int) -> np.ndarray | None:
    """The rows :func:`permutation_importance` permutes when ``max_samples`` < ``n_rows``, else None.

    Positions into a dataset of ``n_rows`` rows, in scikit-learn's order: read those rows alone
    and pass ``population=n_rows`` to get its permutations without holding the whole dataset.
    """
    m = _resolve_max_samples(max_samples, n_rows)
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max + 1))
    _, rows = _rng_for_feature(seed, n_rows, m)
    return rows


def resolve_groups(
    names: Sequence[str], groups: Mapping[str, Sequence[str]] | None
) -> tuple[list[str], list[list[int]]]:
    """Rows of the result: groups at the position of their first column, other columns alone."""
    groups = dict(groups or {})
    owner: dict[int, str] = {}
    for gname, cols in groups.items():
        if not cols:
            raise UsageError(f"group '{gname}' lists no columns", f"e.g. `group={gname}=a,b`")
        for c in cols:
            if c not in names:
                near = closest(c, names)
                raise UsageError(
                    f"group '{gname}' names unknown column '{c}'"
                    + (f" (did you mean {' or '.join(map(repr, near))}?)" if near else ""),
                    f"model features: {shorten(names, 12)}",
                )
            j = list(names).index(c)
            if j in owner and owner[j] != gname:
                raise UsageError(
                    f"column '{c}' is in two groups ('{owner[j]}' and '{gname}')",
                    "groups must not overlap",
                )
            owner[j] = gname
        if gname in names and gname not in cols:
            raise UsageError(f"group name '{gname}' is also a column name", "choose another group name")
    rows: list[str] = []
    members: list[list[int]] = []
    seen: set[str] = set()
    for j, name in enumerate(names):
        g = owner.get(j)
        if g is None:
            rows.append(name)
            members.append([j])
        elif g not in seen:
            seen.add(g)
            rows.append(g)
            members.append([list(names).index(c) for c in groups[g]])
    return rows, members


def _rng_for_feature(seed: int, n: int, m: int) -> tuple[np.random.RandomState, np.ndarray | None]:
    """scikit-learn's per-feature generator, after its row subsample (if any)."""
    rs = check_random_state(seed)
    rows = None
    if m < n:
        rows = sample_without_replacement(n, m, random_state=rs)
    return rs, rows


def _permutations(rs: np.random.RandomState, m: int, r0: int, r1: int) -> list[np.ndarray]:
    """Positions such that repeat r's column is original[positions[r]] (cumulative, as sklearn).

    Only repeats [r0, r1) are kept; the earlier ones are drawn (the sequence must be replayed) and
    dropped, so a task holds (r1 - r0) index arrays, not r1.
    """
    shuffling = np.arange(m)
    current = np.arange(m)
    out = []
    for r in range(r1):
        rs.shuffle(shuffling)
        current = current[shuffling]
        if r >= r0:
            out.append(current)
    return out


def _feature_scores(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: np.ndarray | None,
    cols: list[int],
    seed: int,
    n_rows: int,
    m: int,
    r0: int,
    r1: int,
    scorer: Any,
    methods: tuple[str, ...] | None,
    rows_per_chunk: int,
) -> list[Any]:
    """Scores of repeats [r0, r1) of one feature (group); X, y, weights are already subsampled."""
    rs, _ = _rng_for_feature(seed, n_rows, m)
    perms = _permutations(rs, m, r0, r1)
    originals = {j: column(X, j) for j in cols}
    scores = []
    if methods is None:
        # The scorer gets the real estimator, one call per repeat, on a copy of X whose permuted
        # columns are replaced before each repeat: scikit-learn's own steps (the same frame
        # layout, so BLAS-based models round exactly as they do there).
        Xp = X.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for r in range(r1 - r0):
                for j in cols:
                    set_column(Xp, j, take(originals[j], perms[r]))
                scores.append(_score(scorer, estimator, Xp, y, sample_weight))
        return scores
    arrays = column_arrays(X)

    def batch(repeats: list[int], a: int = 0, b: int = m) -> Any:
        """Rows [a, b) of each repeat in ``repeats``, stacked, with ``cols`` permuted."""
        rows = np.tile(np.arange(a, b), len(repeats))
        replace = {}
        for j in cols:
            pos = np.concatenate([perms[r][a:b] for r in repeats])
            replace[j] = take(originals[j], pos)
        return assemble(X, rows, replace, arrays)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        per_call = max(1, rows_per_chunk // m)
        for start in range(0, r1 - r0, per_call):
            repeats = list(range(start, min(start + per_call, r1 - r0)))
            if rows_per_chunk >= m:
                Xb = batch(repeats)
                outs = {name: np.asarray(getattr(estimator, name)(Xb)) for name in methods}
                del Xb
            else:  # one repeat does not fit in a chunk: build and predict it in row slices
                slices = [(a, min(a + rows_per_chunk, m)) for a in range(0, m, rows_per_chunk)]
                outs = {
                    name: np.concatenate(
                        [np.asarray(getattr(estimator, name)(batch(repeats, a, b))) for a, b in slices]
                    )
                    for name in methods
                }
            per_repeat = ({k: v[i * m : (i + 1) * m] for k, v in outs.items()} for i in range(len(repeats)))
            scores.extend(_replayed_scores(estimator, per_repeat, scorer, X, y, sample_weight))
    return scores


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


def permutation_importance(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | Sequence[str] | Callable[..., Any] | None = None,
    n_repeats: int = 5,
    random_state: int | np.random.RandomState | None = None,
    sample_weight: np.ndarray | None = None,
    max_samples: float | int = 1.0,
    groups: Mapping[str, Sequence[str]] | None = None,
    feature_names: Sequence[str] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: Progress | None = None,
    engine: str = "auto",
    population: int | None = None,
) -> PermutationImportance:
    """Permutation importance of each column (or group of columns) of X.

    Parameters
    ----------
    estimator : fitted estimator (pipelines included)
    X : DataFrame or ndarray of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    scoring : scorer name, list of names, callable, or None (the model's own score)
    n_repeats : int
        Permutations per feature.
    random_state : int, RandomState or None
        Same value, same numbers as scikit-learn's ``permutation_importance``.
    sample_weight : ndarray of shape (n_samples,), optional
        Weights passed to the scorer.
    max_samples : int or float
        Rows drawn (without replacement) per feature, as in scikit-learn.
    groups : {name: [column, ...]}, optional
        Columns permuted together and reported as one row.
    feature_names : names for ndarray columns.
    memory_budget, n_jobs, backend, scheduler, progress :
        See engines/batching.py and engines/parallel.py.
    engine : {"auto", "tree-paths", "batched", "sequential"}
        "tree-paths" computes the permuted outputs of tree models from the trees' structure
        (engines/trees/; bit-identical to the model's own predictions, several times faster on
        large data); "batched" stacks the repeats of a feature into few prediction calls;
        "sequential" predicts once per repeat, as scikit-learn does. "auto" uses tree paths when
        every method the scorers call is supported (``supports_permuted_tree_paths``) and they
        are faster: the first task runs in-process against a limit of 0.8 times the time the
        baseline's predictions give for it, and gives up as soon as its projected time exceeds
        it (deep forests on few rows). Otherwise "auto" stacks when the model's predictions are
        row-exact (tree models behind element-wise transformers: bit-identical results), and
        predicts per repeat otherwise (BLAS-based models may round a row differently by an ulp
        depending on its position in a batch).
        Should the tree paths disagree with the model on their self-check, those features are
        predicted per repeat instead, with a RuntimeWarning.
    population : int, optional
        X holds only the ``max_samples`` rows scikit-learn would draw from a dataset of
        ``population`` rows (:func:`importance_rows`, in that order), e.g. read alone from a large
        dataset. The permutations are then scikit-learn's on the full dataset, bit for bit; the
        baseline score is taken on these rows (scikit-learn scores it on all rows).

    Returns
    -------
    PermutationImportance
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise UsageError(f"`n_repeats={n_repeats}` must be a whole number ≥ 1")
    if engine not in ENGINES:
        raise UsageError(f"engine '{engine}' is not one of {', '.join(ENGINES)}")
    check_backend(backend, scheduler)
    progress = progress or NullProgress()
    names = (
        [str(c) for c in X.columns]
        if hasattr(X, "columns")
        else list(feature_names or default_feature_names(X.shape[1]))
    )
    n = X.shape[0]
    if not hasattr(X, "iloc"):
        X = np.asarray(X)
    rows_labels, members = resolve_groups(names, groups)
    n_draw = n if population is None else int(population)
    m = _resolve_max_samples(max_samples, n_draw)
    if population is not None and m != n:
        raise UsageError(f"X has {n} rows, not the {m} rows drawn from {n_draw} (see importance_rows)")
    y = np.asarray(y) if y is not None else None
    if y is not None and len(y) != n:
        raise UsageError(f"y has {len(y)} rows but X has {n}")

    rs = check_random_state(random_state)
    seed = int(rs.randint(np.iinfo(np.int32).max + 1))
    scorer, scorer_names, default = build_scorer(estimator, scoring)
    check_importance_request(
        n_features=len(members), n_repeats=int(n_repeats), n_rows=m, n_scorers=len(scorer_names)
    )

    # Baseline through a recorder: the exact baseline, and which methods the scorer calls.
    recorder = _Recorder(estimator)
    try:
        baseline = _score(scorer, recorder, X, y, sample_weight)
    except InspectError:
        raise
    except Exception as exc:
        if raised_in_our_code(exc) and not isinstance(exc, AttributeError):  # (stand-ins forward getattr)
            raise
        raise _scoring_error(exc, scorer_names, estimator) from exc
    methods: tuple[str, ...] | None = tuple(recorder.called)
    tree_paths = False
    if engine in ("auto", "tree-paths") and methods and not recorder.opaque:
        from inspectcli.engines.trees import supports_permuted_tree_paths

        tree_paths = all(supports_permuted_tree_paths(estimator, name) for name in methods)
    if engine == "tree-paths" and not tree_paths:
        raise UsageError(
            f"engine 'tree-paths' cannot reproduce {type(final_estimator(estimator)).__name__} "
            f"with scorer {', '.join(scorer_names)}",
            "it needs a scikit-learn tree model (behind column-wise transformers) and a scorer "
            "that only calls predict / predict_proba / decision_function; use engine 'auto'",
        )
    if tree_paths:
        used_engine = "tree-paths"
    else:
        methods, used_engine, scorer = _prediction_engine(
            engine, estimator, methods, recorder.opaque, default, scorer_names, scorer
        )

    _, sub_rows = _rng_for_feature(seed, n_draw, m)
    if sub_rows is not None and population is None:
        Xs = X.iloc[sub_rows] if hasattr(X, "iloc") else X[sub_rows]
        ys = y[sub_rows] if y is not None else None
        sws = sample_weight[sub_rows] if sample_weight is not None else None
    else:
        Xs, ys, sws = X, y, sample_weight

    per_feature: list[list[Any]] = [[None] * n_repeats for _ in members]
    fell_back: list[str] = []
    with task_runner(n_jobs, backend, scheduler) as runner:
        progress.start(len(members) * n_repeats, "permutation importance")
        first = 0  # repeats of the first feature already scored (by the measured trial)
        try:
            if tree_paths:
                assert methods is not None
                plan = _TreePathPlan(runner, estimator, members, m, n_repeats, methods, memory_budget)
                if engine == "auto" and (len(members) > 1 or plan.per_task < n_repeats):
                    # Tree paths pay a structural cost per (feature, tree) that predicting does
                    # not: with deep trees on few rows (random forests grown to purity) they are
                    # slower than the model's own predict. Measure instead of guessing: the first
                    # task runs here against the baseline's predictions scaled to its rows.
                    predicting = recorder.seconds * (m / n) * plan.per_task
                    trial = _tree_path_trial(
                        plan, estimator, Xs, ys, sws, members[0], seed, n_draw, scorer, predicting
                    )
                    if trial is None:
                        tree_paths = False
                        methods, used_engine, scorer = _prediction_engine(
                            engine, estimator, methods, False, default, scorer_names, scorer
                        )
                    else:
                        first = plan.per_task
                        per_feature[0][:first], fell = trial
                        progress.advance(first)
                        if fell:
                            fell_back.append(rows_labels[0])
            if tree_paths:
                assert methods is not None
                owners = []
                gen = plan.run(estimator, Xs, ys, sws, seed, n_draw, first, scorer, progress, owners)
                for (f, r0, r1), (scores, fell) in zip(owners, gen):
                    per_feature[f][r0:r1] = scores
                    if fell and rows_labels[f] not in fell_back:
                        fell_back.append(rows_labels[f])
            else:
                _predicted_scores(
                    runner,
                    estimator,
                    Xs,
                    ys,
                    sws,
                    members,
                    seed,
                    n_draw,
                    m,
                    n_repeats,
                    first,
                    scorer,
                    methods,
                    memory_budget,
                    progress,
                    per_feature,
                )
        except InspectError:
            raise
        except Exception as exc:
            if raised_in_our_code(exc) and not isinstance(exc, AttributeError):  # (stand-ins forward getattr)
                raise
            raise _scoring_error(exc, scorer_names, estimator) from exc

    notes = []
    if fell_back:
        message = (
            "tree paths disagreed with the model's own predictions on their self-check; "
            f"predicted these features per repeat instead: {shorten(fell_back, 8)}"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        notes.append(message)
        used_engine = "sequential" if len(fell_back) == len(members) else "tree-paths"

    blocks = []
    if isinstance(baseline, dict):
        for name in scorer_names:
            perm = np.array([[s[name] for s in feat] for feat in per_feature], dtype=float)
            blocks.append(ScorerImportances(name, float(baseline[name]), baseline[name] - perm))
    else:
        perm = np.array(per_feature, dtype=float)
        blocks.append(ScorerImportances(scorer_names[0], float(baseline), baseline - perm))
    return PermutationImportance(
        features=rows_labels,
        columns=[[names[j] for j in cols] for cols in members],
        scorers=blocks,
        n_repeats=n_repeats,
        max_samples=m,
        n_rows=n_draw,
        random_seed=seed,
        engine=used_engine,
        default_scoring=default,
        notes=notes,
    )


def _prediction_engine(
    engine: str,
    estimator: Any,
    methods: tuple[str, ...] | None,
    opaque: bool,
    default: bool,
    scorer_names: list[str],
    scorer: Any,
) -> tuple[tuple[str, ...] | None, str, Any]:
    """Without tree paths: (methods to stack, or None to predict per repeat; engine; scorer)."""
    # Stack copies only when it cannot change a single bit of any prediction (engine="auto"),
    # or when asked to (engine="batched": BLAS-based models may then differ by an ulp).
    stack = engine == "batched" or (engine == "auto" and row_exact(estimator))
    if opaque or not methods or not stack:
        methods = None
    if methods is None and default and scorer_names[0] != "score":
        # Predicting per repeat with the default scoring: call the model's own score(), as
        # scikit-learn does. Same numbers as the named r2 / accuracy scorer (score() is that
        # metric on predict()), without the scorer's response-method machinery on every call
        # (measured: 0.86x scikit-learn's speed on the cancer pipeline with the named scorer).
        scorer = check_scoring(estimator, scoring=None)
    return methods, ("batched" if methods is not None else "sequential"), scorer


def _tree_path_trial(
    plan: _TreePathPlan,
    estimator: Any,
    Xs: Any,
    ys: Any,
    sws: np.ndarray | None,
    cols: list[int],
    seed: int,
    n: int,
    scorer: Any,
    predicting: float,
) -> tuple[list[Any], bool] | None:
    """The first task (repeats [0, per_task) of ``cols``) through tree paths, or None as soon as
    they are sure to take longer than ``_TREE_PATHS_MARGIN`` × ``predicting`` seconds (the
    model's own predictions of the same rows): a lost trial costs about that much."""
    from inspectcli.engines.trees import TreePathsTooSlow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plan.cache.get(estimator, Xs)  # X through the transformers: once in any case
    limit = _TREE_PATHS_MARGIN * predicting if np.isfinite(_TREE_PATHS_MARGIN) else None
    try:
        return _feature_scores_trees(
            estimator,
            Xs,
            ys,
            sws,
            plan.cache,
            cols,
            seed,
            n,
            plan.m,
            0,
            plan.per_task,
            scorer,
            give_up_after=limit,
        )
    except TreePathsTooSlow:
        return None


# engine="auto" keeps tree paths when the first task costs at most this share of predicting it.
_TREE_PATHS_MARGIN = 0.8


class _TreePathPlan:
    """Tasks (feature, block of repeats) of the tree-path engine.

    One task holds all repeats of a feature (the per-feature structure is then built once),
    unless there are fewer features than workers, or the raw sums and outputs of all repeats
    (not counted in the engine's ``max_bytes``) would not fit half of a worker's budget.
    """

    def __init__(
        self,
        runner: Any,
        estimator: Any,
        members: list[list[int]],
        m: int,
        n_repeats: int,
        methods: tuple[str, ...],
        memory_budget: int,
    ) -> None:
        per_worker = max(1, memory_budget // runner.n_workers)
        final = final_estimator(estimator)
        width = len(getattr(final, "classes_", [])) or int(getattr(final, "n_outputs_", 1) or 1)
        per_repeat = 8 * m * (width * (1 + len(methods)) + 3)  # raw sums, outputs, donors, permutation
        fit = max(1, (per_worker // 2) // per_repeat)
        parts = 1 if len(members) >= runner.n_workers else -(-runner.n_workers // len(members))
        self.per_task = max(1, min(n_repeats, fit, -(-n_repeats // parts)))
        self.runner = runner
        self.members = members
        self.m = m
        self.n_repeats = n_repeats
        self.cache = _TreePathsCache(methods, per_worker // 2)

    def run(
        self,
        estimator: Any,
        Xs: Any,
        ys: Any,
        sws: np.ndarray | None,
        seed: int,
        n: int,
        first: int,
        scorer: Any,
        progress: Progress,
        owners: list[tuple[int, int, int]],
    ) -> Any:
        """Results ``(scores, fell back?)`` of every task but the first ``first`` repeats of feature 0.

        ``owners`` receives each task's (feature, r0, r1), in the order of the results.
        """
        owners.extend(_repeat_blocks(len(self.members), self.n_repeats, self.per_task, first))
        tasks = [(self.members[f], seed, n, self.m, r0, r1, scorer) for f, r0, r1 in owners]
        return self.runner.map(
            _feature_scores_trees,
            tasks,
            shared=(estimator, Xs, ys, sws, self.cache),
            progress=progress,
            weights=[o[2] - o[1] for o in owners],
        )


class _TreePathsCache:
    """The tree-path context (engines/trees.PermutedTreePaths) of one call, built once per process.

    The tasks that run in one process (in-process, threads, one Dask worker) share it: X goes
    through the model's transformers once, not once per feature. It is pickled empty, so each
    loky task builds its own.
    """

    def __init__(self, methods: tuple[str, ...], max_bytes: int) -> None:
        self.methods = methods
        self.max_bytes = max_bytes
        self._paths: Any = None
        self._lock = threading.Lock()

    def get(self, estimator: Any, X: Any) -> Any:
        from inspectcli.engines.trees import PermutedTreePaths

        with self._lock:
            paths = self._paths
            if paths is None or paths.X is not X or paths.estimator is not estimator:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    paths = PermutedTreePaths(estimator, X, self.methods, max_bytes=self.max_bytes)
                self._paths = paths
            return paths

    def __getstate__(self) -> dict[str, Any]:
        return {"methods": self.methods, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["methods"], state["max_bytes"])  # type: ignore[misc]


def _feature_scores_trees(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: np.ndarray | None,
    cache: _TreePathsCache,
    cols: list[int],
    seed: int,
    n_rows: int,
    m: int,
    r0: int,
    r1: int,
    scorer: Any,
    give_up_after: float | None = None,
) -> tuple[list[Any], bool]:
    """Scores of repeats [r0, r1) of one feature (group) from tree paths; (scores, fell back?).

    On a self-check mismatch the repeats are scored on real permuted data instead
    (scikit-learn's own steps), and the caller warns. ``give_up_after``: see
    engines/trees.PermutedTreePaths.responses (TreePathsTooSlow propagates).
    """
    from inspectcli.engines.trees import TreePathMismatchError

    methods = cache.methods
    rs, _ = _rng_for_feature(seed, n_rows, m)
    perms = _permutations(rs, m, r0, r1)
    try:
        paths = cache.get(estimator, X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            outs = paths.responses(cols, perms, give_up_after=give_up_after)
    except TreePathMismatchError:
        del perms
        scores = _feature_scores(
            estimator, X, y, sample_weight, cols, seed, n_rows, m, r0, r1, scorer, None, m
        )
        return scores, True
    del perms
    scores = []
    per_repeat = ({name: outs[name][i] for name in methods} for i in range(r1 - r0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _replayed_scores(estimator, per_repeat, scorer, X, y, sample_weight), False


def _repeat_blocks(
    n_features: int, n_repeats: int, per_task: int, first: int
) -> Iterator[tuple[int, int, int]]:
    """(feature, r0, r1) of every task: blocks of ``per_task`` repeats, the first ``first``
    repeats of feature 0 left out (already scored)."""
    for f in range(n_features):
        for r0 in range(first if f == 0 else 0, n_repeats, per_task):
            yield f, r0, min(r0 + per_task, n_repeats)


def _predicted_scores(
    runner: Any,
    estimator: Any,
    Xs: Any,
    ys: Any,
    sws: np.ndarray | None,
    members: list[list[int]],
    seed: int,
    n: int,
    m: int,
    n_repeats: int,
    first: int,
    scorer: Any,
    methods: tuple[str, ...] | None,
    memory_budget: int,
    progress: Progress,
    per_feature: list[list[Any]],
) -> None:
    """The batched / sequential engines: predict permuted copies, fill ``per_feature``.

    The first ``first`` repeats of feature 0 are already scored.
    """
    rows_per_chunk = m * n_repeats
    if methods is not None:
        probe_rows = min(m, 512)

        def probe(k: int) -> Any:  # a stacked batch (copy + permuted column) and its predictions
            j0 = members[0][0]
            Xp = assemble(Xs, np.arange(k), {j0: take(column(Xs, j0), np.arange(k))})
            return [getattr(estimator, name)(Xp) for name in methods]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            bpr = (
                measure_bytes_per_row(probe, small=max(1, probe_rows // 8), large=probe_rows)
                if probe_rows > 1
                else 64.0
            )
        plan = plan_chunks(bpr * 1.5, budget=memory_budget, n_workers=runner.n_workers, align=m)
        rows_per_chunk = plan.rows_per_chunk

    # Tasks: (feature, block of repeats). A prediction call takes per_call repeats (the chunk
    # plan); a task makes one call in-process, several in order when it goes to a worker.
    per_call = n_repeats if methods is None else max(1, min(n_repeats, rows_per_chunk // m))
    calls = len(members) * -(-n_repeats // per_call)
    per_task = min(n_repeats, per_call * runner.units_per_task(calls))
    owners = list(_repeat_blocks(len(members), n_repeats, per_task, first))
    tasks = [(members[f], seed, n, m, r0, r1, scorer, methods, rows_per_chunk) for f, r0, r1 in owners]
    gen = runner.map(
        _feature_scores,
        tasks,
        shared=(estimator, Xs, ys, sws),
        progress=progress,
        weights=[o[2] - o[1] for o in owners],
    )
    for (f, r0, r1), scores in zip(owners, gen):
        per_feature[f][r0:r1] = scores


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
