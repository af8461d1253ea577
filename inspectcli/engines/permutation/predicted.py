"""The batched and sequential engines: predict permuted copies of X and score them."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.metrics import check_scoring

from inspectcli.engines.batching import measure_bytes_per_row, plan_chunks
from inspectcli.engines.frames import assemble, column, column_arrays, set_column, take
from inspectcli.engines.permutation.sampling import (
    _permutations,
    _repeat_blocks,
    _rng_for_feature,
    _Task,
)
from inspectcli.engines.permutation.scoring import (
    _replayed_scores,
    _score,
)
from inspectcli.engines.progress import Progress
from inspectcli.engines.response import model_output, outputs_numbers
from inspectcli.introspect import row_exact


def _output(estimator: Any, name: str, X: Any) -> np.ndarray:
    """The model's ``name`` on X, checked: one row of output per row (numbers where they must be)."""
    return model_output(
        getattr(estimator, name)(X), name, X.shape[0], numbers=outputs_numbers(estimator, name)
    )


def _feature_scores(
    estimator: Any, X: Any, y: Any, sample_weight: np.ndarray | None, task: _Task
) -> list[Any]:
    """Scores of repeats [r0, r1) of one feature (group); X, y, weights are already subsampled."""
    cols, r0, r1, m, scorer, methods = task.cols, task.r0, task.r1, task.m, task.scorer, task.methods
    rows_per_chunk = task.rows_per_chunk
    rs, _ = _rng_for_feature(task.seed, task.n_rows, m)
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
                outs = {name: _output(estimator, name, Xb) for name in methods}
                del Xb
            else:  # one repeat does not fit in a chunk: build and predict it in row slices
                slices = [(a, min(a + rows_per_chunk, m)) for a in range(0, m, rows_per_chunk)]
                outs = {
                    name: np.concatenate([_output(estimator, name, batch(repeats, a, b)) for a, b in slices])
                    for name in methods
                }
            per_repeat = ({k: v[i * m : (i + 1) * m] for k, v in outs.items()} for i in range(len(repeats)))
            scores.extend(_replayed_scores(estimator, per_repeat, scorer, X, y, sample_weight))
    return scores


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


def _predicted_scores(
    runner: Any,
    shared: tuple[Any, Any, Any, np.ndarray | None],
    members: list[list[int]],
    task: _Task,
    n_repeats: int,
    first: int,
    memory_budget: int,
    progress: Progress,
    per_feature: list[list[Any]],
) -> None:
    """The batched / sequential engines: predict permuted copies, fill ``per_feature``.

    ``shared``: (estimator, X, y, sample_weight), subsampled; ``task``: the call's settings (its
    ``methods`` None to predict per repeat). The first ``first`` repeats of feature 0 are
    already scored.
    """
    estimator, Xs = shared[0], shared[1]
    m, methods = task.m, task.methods
    rows_per_chunk = m * n_repeats
    if methods is not None:
        probe_rows = min(m, 512)

        def probe(k: int) -> Any:  # a stacked batch (copy + permuted column) and its predictions
            j0 = members[0][0]
            Xp = assemble(Xs, np.arange(k), {j0: take(column(Xs, j0), np.arange(k))})
            return [_output(estimator, name, Xp) for name in methods]

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
    base = replace(task, rows_per_chunk=rows_per_chunk)
    tasks = [(base.with_block(members[f], r0, r1),) for f, r0, r1 in owners]
    gen = runner.map(
        _feature_scores,
        tasks,
        shared=shared,
        progress=progress,
        weights=[o[2] - o[1] for o in owners],
    )
    for (f, r0, r1), scores in zip(owners, gen):
        per_feature[f][r0:r1] = scores
