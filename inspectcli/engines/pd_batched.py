"""Batched brute-force partial dependence: copies of X stacked with grid values, predicted in chunks.

The engine behind ``engine="batched"`` of engines/partial_dependence.py: the copies of X with the
free columns set to each grid point go through the model's own prediction method, stacked into as
few calls as the memory budget allows (on a task runner), and are averaged over rows per grid point.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from inspectcli.engines.bands import sum_sq_dev
from inspectcli.engines.batching import measure_bytes_per_row, plan_chunks
from inspectcli.engines.execution import Execution
from inspectcli.engines.frames import (
    assemble,
    integral,
    like_column,
    take_rows,
    widen_integer_columns,
)
from inspectcli.engines.grid import cartesian
from inspectcli.engines.progress import Progress
from inspectcli.engines.response import Response
from inspectcli.errors import (
    blame_model,
    model_failed,
    raised_in_our_code,
)

KINDS = ("average", "individual", "both")
METHODS = ("auto", "brute", "recursion")
ENGINES = ("auto", "batched", "tree-paths")

FeatureSpec = str | int | Sequence[str | int]


def _working_frame(X: Any, idx: Sequence[int], grid: np.ndarray) -> Any:
    """X with integer feature columns widened to float when the grid holds non-integers."""
    return widen_integer_columns(X, {i: grid[:, j] for j, i in enumerate(idx)})


def _needs_float(X: Any, grid: np.ndarray) -> bool:
    """Whether the batched engine must widen X to float before stacking ``grid`` into it.

    A DataFrame's replaced columns get their dtype from ``like_column`` (non-integer grid values
    in an integer column become a float column), so the frame itself never needs a copy. An
    integer ndarray takes the grid values in place, so it is widened as a whole.
    """
    if hasattr(X, "iloc"):
        return False
    return np.asarray(X).dtype.kind in "iub" and not integral(grid)


def _batched_frame(X: Any, widen: bool) -> Any:
    return np.asarray(X, dtype=np.float64) if widen else X


def build_rows(X: Any, idx: Sequence[int], grid: np.ndarray, start: int, stop: int) -> Any:
    """Virtual rows [start, stop) of the grid-major stack: row r of X with idx set to grid[g]."""
    g, r = np.divmod(np.arange(start, stop), X.shape[0])
    if hasattr(X, "iloc"):
        replace = {i: like_column(grid[g, j], X.iloc[:, i]) for j, i in enumerate(idx)}
    else:
        replace = {i: grid[g, j] for j, i in enumerate(idx)}
    return assemble(X, r, replace)


def _predict_chunk(
    estimator: Any,
    X: Any,
    sample_weight: np.ndarray | None,
    idx: tuple[int, ...],
    grid: np.ndarray,
    response: Response,
    start: int,
    stop: int,
    reduce: bool = False,
    spread: bool = False,
) -> np.ndarray:
    """Predictions of virtual rows [start, stop), shape (stop - start, k).

    With ``reduce`` (the chunk holds whole grid points and no ICE is wanted) the worker returns
    the grid points' averages instead, shape (points, k): the same ``np.average`` call on the same
    block, so the same numbers, and a worker sends back k floats per grid point instead of n * k.
    With ``spread`` as well, each grid point's ``Σ w² (x − mean)²`` follows its averages (two
    passes over the block, engines/bands.py): shape (points, 2k).
    """
    rows = build_rows(X, idx, grid, start, stop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw = getattr(estimator, response.method)(rows)
    del rows
    preds = np.asarray(response.select(raw, rows=stop - start), dtype=np.float64)
    if not reduce:
        return preds
    n = X.shape[0]
    return np.stack([_moments(preds[a : a + n], sample_weight, spread) for a in range(0, len(preds), n)])


def _predict_chunks(
    estimator: Any,
    X: Any,
    sample_weight: np.ndarray | None,
    idx: tuple[int, ...],
    grid: np.ndarray,
    response: Response,
    chunks: list[tuple[int, int, bool]],
    spread: bool = False,
) -> list[np.ndarray]:
    """One task: ``_predict_chunk`` for each (start, stop, reduce) in order, on one worker."""
    return [
        _predict_chunk(estimator, X, sample_weight, idx, grid, response, a, b, reduce, spread)
        for a, b, reduce in chunks
    ]


def _batched(
    estimator: Any,
    X: Any,
    prepared: list[tuple[tuple[int, ...], list[np.ndarray]]],
    response: Response,
    sample_weight: np.ndarray | None,
    want_individual: bool,
    execution: Execution,
    progress: Progress,
    spread: bool = False,
) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """(average, ICE or None, ``Σ w² (x − average)²`` or None) of each prepared feature set."""
    n = X.shape[0]
    k = response.n_targets
    grids = [cartesian(axes) for _, axes in prepared]
    keys = [_needs_float(X, grid) for grid in grids]
    # Bytes per virtual row of the whole step (stack + predict), measured on the first set.
    idx0, grid0 = prepared[0][0], grids[0]
    total0 = len(grid0) * n
    # Two probe sizes within the first set's rows (fewer than 64 virtual rows: half and all).
    large = min(512, total0)
    small = min(64, max(1, large // 2))

    # The probes' virtual rows are rows 0 … large-1 of X at the first grid point (all rows when X
    # has fewer): those rows alone give the same batches (and a lean frame reads just them).
    X0 = _batched_frame(X if n <= large else take_rows(X, np.arange(large)), keys[0])

    def probe(m: int) -> Any:
        return _predict_chunk(estimator, X0, None, idx0, grid0, response, 0, m)

    try:
        bpr = measure_bytes_per_row(probe, small=small, large=large) if total0 > 1 else 64.0
    except Exception as exc:  # the model's own failure, on the very first batch
        if raised_in_our_code(exc):
            raise
        raise model_failed(exc) from exc
    X0 = None  # (a widened copy is made again per key below)

    averages = [np.empty((len(grid), k)) for grid in grids]
    sqs = [np.empty((len(grid), k)) if spread else None for grid in grids]
    individuals = [np.empty((len(grid), n, k)) if want_individual else None for grid in grids]
    pending: dict[tuple[int, int], list[np.ndarray]] = {}
    with execution.runner() as runner:
        plan = plan_chunks(bpr, budget=execution.memory_budget, n_workers=runner.n_workers, align=n)
        # Chunks: (feature set, block of whole grid points, or part of one). Tasks: consecutive
        # chunks of one set (one per task in-process; grouped when they go to workers), grouped
        # by the frame they run on (an integer ndarray is widened once, if needed).
        chunks = [
            [
                (a, b, not want_individual and a % n == 0 and b % n == 0)
                for a, b in plan.ranges(len(g) * n, align=n)
            ]
            for g in grids
        ]
        group = runner.units_per_task(sum(len(c) for c in chunks))
        tasks: dict[bool, list[tuple[int, list[tuple[int, int, bool]]]]] = {}
        for s in range(len(grids)):
            for i in range(0, len(chunks[s]), group):
                tasks.setdefault(keys[s], []).append((s, chunks[s][i : i + group]))
        progress.start(sum(len(g) * n for g in grids), "partial dependence (predicting)")
        for key, items in tasks.items():
            Xw = _batched_frame(X, key)
            with blame_model():
                gen = runner.map(
                    _predict_chunks,
                    [(prepared[s][0], grids[s], response, block, spread) for s, block in items],
                    shared=(estimator, Xw, sample_weight),
                    progress=progress,
                    weights=[sum(b - a for a, b, _ in block) for _, block in items],
                )
                for (s, block), outs in zip(items, gen):
                    for (a, b, reduced), out in zip(block, outs):
                        _absorb(
                            (s, a, b), out, reduced, n, sample_weight, averages, individuals, pending, sqs
                        )
            del Xw
    outputs: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
    for s in range(len(grids)):
        ind, sq = individuals[s], sqs[s]
        shape = tuple(len(a) for a in prepared[s][1])
        avg = averages[s].T.reshape(k, *shape)
        if ind is not None:
            ind = ind.transpose(2, 1, 0).reshape(k, n, *shape)
        if sq is not None:
            sq = sq.T.reshape(k, *shape)
        outputs.append((avg, ind, sq))
    return outputs


def _absorb(
    owner: tuple[int, int, int],
    out: np.ndarray,
    reduced: bool,
    n: int,
    sample_weight: np.ndarray | None,
    averages: list[np.ndarray],
    individuals: list[np.ndarray | None],
    pending: dict[tuple[int, int], list[np.ndarray]],
    sqs: list[np.ndarray | None] | None = None,
) -> None:
    """Fold a chunk's output into per-grid-point averages and ICE arrays.

    A grid point's average is taken once all its n rows are in, with one ``np.average`` call
    over (n, k) predictions, the same call scikit-learn makes (on the worker when ``reduced``);
    with ``sqs``, its ``Σ w² (x − average)²`` from the same block (engines/bands.py).
    """
    s, a, b = owner
    sq = None if sqs is None else sqs[s]
    if reduced:
        k = averages[s].shape[1]
        averages[s][a // n : b // n] = out[:, :k]
        if sq is not None:
            sq[a // n : b // n] = out[:, k:]
        return
    preds = out
    ind = individuals[s]
    if ind is not None:
        flat = ind.reshape(-1, ind.shape[-1])
        flat[a:b] = preds
    g_first, g_last = a // n, (b - 1) // n
    for g in range(g_first, g_last + 1):
        lo, hi = max(a, g * n), min(b, (g + 1) * n)
        part = preds[lo - a : hi - a]
        if lo == g * n and hi == (g + 1) * n:
            block = part
        else:
            pending.setdefault((s, g), []).append(part)
            if sum(len(p) for p in pending[(s, g)]) < n:
                continue
            block = np.concatenate(pending.pop((s, g)))
        averages[s][g] = _average(block, sample_weight)
        if sq is not None:
            sq[g] = sum_sq_dev(block, sample_weight, averages[s][g])


def _moments(block: np.ndarray, sample_weight: np.ndarray | None, spread: bool) -> np.ndarray:
    """A grid point's average (k,), followed by its ``Σ w² (x − average)²`` with ``spread`` (2k,)."""
    avg = _average(block, sample_weight)
    if not spread:
        return avg
    return np.concatenate([avg, sum_sq_dev(block, sample_weight, avg)])


@np.errstate(invalid="ignore", over="ignore")  # a model's inf in a row of weight 0: NaN, reported
def _average(block: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """scikit-learn's average of one grid point: np.average over rows of (n,) or (n, k)."""
    if block.shape[1] == 1:
        return np.atleast_1d(np.average(block[:, 0], axis=0, weights=sample_weight))
    return np.average(block, axis=0, weights=sample_weight)
