"""One place that turns "rows to predict" into chunks under a memory budget.

Engines describe their work as *virtual rows*: e.g. a PDP over G grid points of an n-row table is
G*n rows (grid-major), a permutation importance with R repeats of m rows is R*m rows. They hand
the planner a function that builds and predicts a batch of k virtual rows; the planner measures
the peak bytes per row of that whole step (input copy, every pipeline intermediate, the output)
on two small batches with tracemalloc, and sizes chunks so that ``n_workers`` chunks in flight
stay under the budget. A pipeline's ColumnTransformer output can be far wider than X, so counting
only the input copies undercounts (measured: 1.2 GB peak under a "256 MB" budget that did).
Chunks of ~16 MB were as fast as 256 MB ones and used a tenth of the memory, so chunks are capped
there unless a single grid point / repeat needs more.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inspectcli.numbers import parse_size

MB = 2**20
DEFAULT_MEMORY_BUDGET = 512 * MB
TARGET_CHUNK_BYTES = 16 * MB
MIN_BYTES_PER_ROW = 8.0


def parse_memory(text: str | int) -> int:
    """'512MB' -> 512_000_000, '2GiB' -> 2_147_483_648, '1.5g' -> 1_500_000_000 bytes (at least 1 MB)."""
    return parse_size(text, param="memory_budget", minimum=10**6)


def measure_bytes_per_row(run: Callable[[int], Any], *, small: int = 128, large: int = 1024) -> float:
    """Peak bytes allocated per row by ``run(k)`` (build a k-row batch and predict it).

    Two batch sizes are traced and the slope is taken, so fixed costs (model caches, imports)
    do not count as per-row cost. Uses tracemalloc, which numpy reports its buffers to.
    """
    peaks = []
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        for k in (small, large):
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            out = run(k)
            _, peak = tracemalloc.get_traced_memory()
            del out
            peaks.append(max(peak - base, 0))
    finally:
        if not already:
            tracemalloc.stop()
    slope = (peaks[1] - peaks[0]) / (large - small)
    # The larger batch's average is a safe upper bound when fixed costs are small.
    return max(slope, peaks[1] / large * 0.5, MIN_BYTES_PER_ROW)


@dataclass(frozen=True)
class ChunkPlan:
    """How many virtual rows each prediction call gets."""

    rows_per_chunk: int
    bytes_per_row: float
    budget: int
    n_workers: int

    def ranges(self, total_rows: int, align: int = 1) -> list[tuple[int, int]]:
        """Contiguous [start, stop) ranges covering ``total_rows``.

        With ``align`` (e.g. the rows of one grid point), chunks hold whole multiples of it when
        at least one fits, so no grid point or repeat is split across calls.
        """
        step = self.rows_per_chunk
        if align > 1 and step >= align:
            step = (step // align) * align
        return [(a, min(a + step, total_rows)) for a in range(0, total_rows, step)]


def plan_chunks(
    bytes_per_row: float,
    *,
    budget: int = DEFAULT_MEMORY_BUDGET,
    n_workers: int = 1,
    align: int = 1,
    target_chunk_bytes: int = TARGET_CHUNK_BYTES,
) -> ChunkPlan:
    """Rows per chunk so that ``n_workers`` chunks in flight stay within ``budget``.

    Chunks aim at ``target_chunk_bytes`` but grow to one ``align`` unit (a whole grid point or
    repeat) when the budget allows, since splitting those costs extra prediction calls.
    """
    per_worker = budget / max(1, n_workers)
    want = min(per_worker, max(target_chunk_bytes, min(per_worker, align * bytes_per_row)))
    rows = int(want // bytes_per_row)
    return ChunkPlan(max(1, rows), bytes_per_row, budget, max(1, n_workers))
