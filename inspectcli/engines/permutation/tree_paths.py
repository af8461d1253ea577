"""The tree-path engine: permuted outputs of tree models from their structure (engines/trees/)."""

from __future__ import annotations

import threading
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from inspectcli.engines.permutation.predicted import (
    _feature_scores,
)
from inspectcli.engines.permutation.sampling import (
    _permutations,
    _repeat_blocks,
    _rng_for_feature,
    _Task,
)
from inspectcli.engines.permutation.scoring import (
    _replayed_scores,
)
from inspectcli.engines.progress import Progress
from inspectcli.introspect import final_estimator


def _tree_path_trial(
    plan: _TreePathPlan,
    estimator: Any,
    Xs: Any,
    ys: Any,
    sws: np.ndarray | None,
    task: _Task,
    predicting: float,
    margin: float,
) -> tuple[list[Any], bool] | None:
    """The first task (repeats [0, per_task) of a feature) through tree paths, or None as soon as
    they are sure to take longer than ``margin`` × ``predicting`` seconds (the model's own
    predictions of the same rows): a lost trial costs about that much."""
    from inspectcli.engines.trees import TreePathsTooSlow
    from inspectcli.engines.trees._kernels import warm

    warm()  # compiled (or loaded) before the clock runs: a first compilation is not the engine's speed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plan.cache.get(estimator, Xs)  # X through the transformers: once in any case
    limit = margin * predicting if np.isfinite(margin) else None
    try:
        return _feature_scores_trees(estimator, Xs, ys, sws, plan.cache, task, give_up_after=limit)
    except TreePathsTooSlow:
        return None


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
        task: _Task,
        first: int,
        progress: Progress,
        owners: list[tuple[int, int, int]],
    ) -> Any:
        """Results ``(scores, fell back?)`` of every task but the first ``first`` repeats of feature 0.

        ``task``: the call's settings, completed per task with its feature and repeats.

        ``owners`` receives each task's (feature, r0, r1), in the order of the results.
        """
        owners.extend(_repeat_blocks(len(self.members), self.n_repeats, self.per_task, first))
        tasks = [(task.with_block(self.members[f], r0, r1),) for f, r0, r1 in owners]
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
    task: _Task,
    give_up_after: float | None = None,
) -> tuple[list[Any], bool]:
    """Scores of repeats [r0, r1) of one feature (group) from tree paths; (scores, fell back?).

    On a self-check mismatch the repeats are scored on real permuted data instead
    (scikit-learn's own steps), and the caller warns. ``give_up_after``: see
    engines/trees.PermutedTreePaths.responses (TreePathsTooSlow propagates).
    """
    from inspectcli.engines.trees import TreePathMismatchError

    methods = cache.methods
    cols, r0, r1, m = task.cols, task.r0, task.r1, task.m
    rs, _ = _rng_for_feature(task.seed, task.n_rows, m)
    perms = _permutations(rs, m, r0, r1)
    try:
        paths = cache.get(estimator, X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            outs = paths.responses(cols, perms, give_up_after=give_up_after)
    except TreePathMismatchError:
        del perms
        scores = _feature_scores(
            estimator, X, y, sample_weight, replace(task, methods=None, rows_per_chunk=m)
        )
        return scores, True
    del perms
    scores = []
    per_repeat = ({name: outs[name][i] for name in methods} for i in range(r1 - r0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _replayed_scores(estimator, per_repeat, task.scorer, X, y, sample_weight), False
