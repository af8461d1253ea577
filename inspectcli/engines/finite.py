"""One place that checks a model's outputs are finite, and says where they are not.

A model may return NaN or ±inf (a broken pipeline, a division by zero in a custom estimator).
Averages over such outputs are undefined, and must neither look like numbers nor let a CI gate
pass. Engines call in here on what they computed; what they find travels with their results
(:class:`NonFinite`), the CLI reports it naming the feature set, grid points and rows, and the
gates count every value that touches it as undefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspectcli.errors import ComputationError

#: How many grid points / rows a message lists before "… (+N more)".
SHOWN = 6


def _listing(items: Sequence[Any], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(str(i) for i in items[:SHOWN])
    return shown + (f", … (+{total - SHOWN} more)" if total > SHOWN else "")


@dataclass
class NonFinite:
    """Where a partial dependence result holds non-finite values (per target: any of them).

    ``grid_points`` are flat indices into the grid (C order over its axes); ``rows`` positions of
    X whose ICE holds a non-finite value (None when no ICE was computed).
    """

    grid_points: np.ndarray  # (p,) flat grid indices
    n_grid: int
    rows: np.ndarray | None  # (q,) row positions, or None
    kinds: tuple[str, ...]  # "NaN", "inf"

    def describe(
        self,
        features: Sequence[str],
        grid_values: Sequence[np.ndarray],
        row_ids: np.ndarray | None = None,
    ) -> str:
        """'the model returned NaN for 'a' at 11 of 60 grid points (a = 1.2, 1.3, …); rows 4, 9'."""
        shape = tuple(len(v) for v in grid_values)
        points = []
        for flat in self.grid_points[:SHOWN]:
            pos = np.unravel_index(int(flat), shape)
            points.append(", ".join(_fmt(grid_values[j][i]) for j, i in enumerate(pos)))
        name = ", ".join(features)
        where = f"({name} = {_listing(points, len(self.grid_points))})"
        text = (
            f"the model returned {' and '.join(self.kinds)} for '{name}' at {len(self.grid_points)} of "
            f"{self.n_grid} grid point(s) {where}"
        )
        if self.rows is not None and len(self.rows):
            ids = self.rows if row_ids is None else np.asarray(row_ids)[self.rows]
            text += f", in {len(self.rows)} row(s) of the data (rows {_listing([int(i) for i in ids])})"
        return text + ": those values are undefined (null in the results), and gates on them fail"


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _kinds(values: np.ndarray) -> tuple[str, ...]:
    kinds = []
    if np.isnan(values).any():
        kinds.append("NaN")
    if np.isinf(values).any():
        kinds.append("inf")
    return tuple(kinds)


def pdp_non_finite(average: np.ndarray | None, individual: np.ndarray | None) -> NonFinite | None:
    """Where a PD result (average: (k, *grid), individual: (k, n, *grid)) is not finite, or None."""
    bad_grid = None
    rows = None
    kinds: set[str] = set()
    if average is not None:
        avg = np.asarray(average, dtype=float)
        bad = ~np.isfinite(avg)
        if bad.any():
            bad_grid = bad.reshape(avg.shape[0], -1).any(axis=0)
            kinds.update(_kinds(avg[bad]))
        n_grid = int(np.prod(avg.shape[1:]))
    if individual is not None:
        ind = np.asarray(individual, dtype=float)
        bad = ~np.isfinite(ind)
        if bad.any():
            flat = bad.reshape(ind.shape[0], ind.shape[1], -1)
            rows = np.flatnonzero(flat.any(axis=(0, 2)))
            per_grid = flat.any(axis=(0, 1))
            bad_grid = per_grid if bad_grid is None else bad_grid | per_grid
            kinds.update(_kinds(ind[bad]))
        else:
            rows = np.empty(0, dtype=int)
        n_grid = int(np.prod(ind.shape[2:]))
    if bad_grid is None:
        return None
    order = tuple(k for k in ("NaN", "inf") if k in kinds)
    return NonFinite(np.flatnonzero(bad_grid), n_grid, rows, order)


def check_predictions(values: Any, *, method: str, what: str) -> None:
    """Refuse non-finite outputs of ``method`` on the rows of ``what``, naming the rows.

    For computations that cannot leave a value undefined (a score over all rows).

    Raises
    ------
    ComputationError
        When any output is NaN or infinite.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return  # labels (predict of a classifier): not numbers
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    rows = np.flatnonzero(bad.reshape(len(arr), -1).any(axis=1)) if arr.ndim else np.zeros(1, int)
    raise ComputationError(
        f"the model's {method} returned {' and '.join(_kinds(arr[bad]))} for {len(rows)} of {len(arr)} "
        f"rows of {what} (rows {_listing([int(r) for r in rows])})",
        "its outputs must be finite to be scored; check those rows and the model",
    )


def flag_pdp(results: list[Any]) -> list[Any]:
    """Set each PD result's ``non_finite`` (None when all its values are finite); returns ``results``."""
    for r in results:
        if r is not None:
            r.non_finite = pdp_non_finite(r.average, r.individual)
    return results


def flag_ale(results: list[Any]) -> list[Any]:
    """Set each ALE result's ``non_finite`` (a message, or None); returns ``results``.

    A non-finite prediction in one bin makes every accumulated value after it undefined.
    """
    for r in results:
        values = np.asarray(r.ale, dtype=float)
        bad = ~np.isfinite(values)
        if r.pdp is not None:
            bad = bad | ~np.isfinite(np.asarray(r.pdp, dtype=float))
        if not bad.any():
            r.non_finite = None
            continue
        points = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=0))
        shown = [_fmt(r.grid[i]) for i in points[:SHOWN]]
        kinds = " and ".join(_kinds(values[bad]) or ("NaN",))
        r.non_finite = (
            f"the model returned {kinds} for '{r.feature}': its ALE is "
            f"undefined at {len(points)} of {len(r.grid)} grid point(s) ({r.feature} = "
            f"{_listing(shown, len(points))}; null in the results)"
        )
    return results
