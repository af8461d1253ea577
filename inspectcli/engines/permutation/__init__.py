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
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from inspectcli.engines.estimate import check_importance_request
from inspectcli.engines.execution import Execution
from inspectcli.engines.permutation.linear import linear_labels, linear_scores
from inspectcli.engines.permutation.predicted import _predicted_scores, _prediction_engine
from inspectcli.engines.permutation.sampling import (
    _resolve_max_samples,
    _rng_for_feature,
    _Task,
    importance_rows,
    resolve_groups,
)
from inspectcli.engines.permutation.scoring import (
    RESPONSE_METHODS,
    SCORER_ALIASES,
    _Recorder,
    _score,
    _scoring_error,
    build_scorer,
    check_scorer_names,
    check_scorers_fit,
    default_scorer_name,
    scorer_change_label,
)
from inspectcli.engines.permutation.tree_paths import _tree_path_trial, _TreePathPlan
from inspectcli.errors import InspectError, UsageError, raised_in_our_code, shorten
from inspectcli.introspect import default_feature_names, final_estimator

__all__ = [
    "ENGINES",
    "NOISE_Z",
    "RESPONSE_METHODS",
    "SCORER_ALIASES",
    "PermutationImportance",
    "ScorerImportances",
    "build_scorer",
    "check_scorer_names",
    "check_scorers_fit",
    "default_scorer_name",
    "importance_rows",
    "noise_band",
    "permutation_importance",
    "resolve_groups",
    "scorer_change_label",
]

ENGINES = ("auto", "tree-paths", "linear", "batched", "sequential")


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


# engine="auto" keeps tree paths when the first task costs at most this share of predicting it.
_TREE_PATHS_MARGIN = 0.8


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
    execution: Execution | None = None,
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
    execution : Execution, default=Execution()
        Memory budget, workers, backend, Dask scheduler and progress (engines/execution.py).
    engine : {"auto", "tree-paths", "linear", "batched", "sequential"}
        "tree-paths" computes the permuted outputs of tree models from the trees' structure
        (engines/trees/; bit-identical to the model's own predictions, several times faster on
        large data); "linear" derives the permuted labels of linear classifiers (behind
        column-wise transformers, scorers that only call predict) from the change of the
        decision function, predicting for real only repeats with a row within rounding of the
        threshold (engines/permutation/linear.py; the model's own labels); "batched" stacks the
        repeats of a feature into few prediction calls;
        "sequential" predicts once per repeat, as scikit-learn does. "auto" uses tree paths when
        every method the scorers call is supported (``supports_permuted_tree_paths``) and they
        are faster: the first task runs in-process against a limit of 0.8 times the time the
        baseline's predictions give for it, and gives up as soon as its projected time exceeds
        it (deep forests on few rows). Otherwise "auto" stacks when the model's predictions are
        row-exact (tree models behind element-wise transformers: bit-identical results), and
        predicts per repeat otherwise (BLAS-based models may round a row differently by an ulp
        depending on its position in a batch); before those it uses "linear" where it applies.
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
    execution = execution or Execution()
    execution.check()
    memory_budget = execution.memory_budget
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
    _, sub_rows = _rng_for_feature(seed, n_draw, m)
    if sub_rows is not None and population is None:
        Xs = X.iloc[sub_rows] if hasattr(X, "iloc") else X[sub_rows]
        ys = y[sub_rows] if y is not None else None
        sws = sample_weight[sub_rows] if sample_weight is not None else None
    else:
        Xs, ys, sws = X, y, sample_weight

    linear = None
    if not tree_paths and engine in ("auto", "linear") and not recorder.opaque:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            linear = linear_labels(estimator, methods, Xs, memory_budget // 2)
    if engine == "linear" and linear is None:
        raise UsageError(
            f"engine 'linear' cannot reproduce {type(final_estimator(estimator)).__name__} "
            f"with scorer {', '.join(scorer_names)}",
            "it needs a scikit-learn linear classifier (behind column-wise transformers) and a "
            "scorer that only calls predict; use engine 'auto'",
        )
    if tree_paths:
        used_engine = "tree-paths"
    elif linear is not None:
        used_engine = "linear"
    else:
        methods, used_engine, scorer = _prediction_engine(
            engine, estimator, methods, recorder.opaque, default, scorer_names, scorer
        )

    # The call's settings; each task adds its feature (group) and block of repeats.
    task = _Task(cols=[], r0=0, r1=0, seed=seed, n_rows=n_draw, m=m, scorer=scorer, methods=methods)
    per_feature: list[list[Any]] = [[None] * n_repeats for _ in members]
    fell_back: list[str] = []
    with execution.runner() as runner, execution.reporting() as progress:
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
                        plan,
                        estimator,
                        Xs,
                        ys,
                        sws,
                        task.with_block(members[0], 0, plan.per_task),
                        predicting,
                        _TREE_PATHS_MARGIN,
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
            if linear is not None:
                linear_scores(
                    linear, (estimator, Xs, ys, sws), members, task, n_repeats, progress, per_feature
                )
            elif tree_paths:
                assert methods is not None
                owners = []
                gen = plan.run(estimator, Xs, ys, sws, task, first, progress, owners)
                for (f, r0, r1), (scores, fell) in zip(owners, gen):
                    per_feature[f][r0:r1] = scores
                    if fell and rows_labels[f] not in fell_back:
                        fell_back.append(rows_labels[f])
            else:
                _predicted_scores(
                    runner,
                    (estimator, Xs, ys, sws),
                    members,
                    replace(task, scorer=scorer, methods=methods),
                    n_repeats,
                    first,
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
