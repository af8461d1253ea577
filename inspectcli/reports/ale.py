"""From ALE results to what a user reads: one curve per (feature, target), JSON, CSV, table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from inspectcli.engines.ale import ALEResult
from inspectcli.engines.grid import plain
from inspectcli.formatting import Spark, fmt, label
from inspectcli.results import csv_bytes


@dataclass
class ALECurve:
    """One (feature, target): what a JSON entry, a table row and a plot line show."""

    feature: str
    categorical: bool
    target: Any
    response_method: str
    grid: np.ndarray  # bin edges, or levels in their order
    ale: np.ndarray  # (len(grid),)
    counts: np.ndarray  # rows per bin (len(grid) − 1) or per level
    n_missing: int = 0
    order: str | None = None
    pdp: np.ndarray | None = None
    se: np.ndarray | None = None  # (len(grid),) delta-method standard error (engines/bands.py)
    bootstrap: Any = None  # engines.bands.Bootstrap of this target
    group: dict[str, Any] | None = None  # `by`: {column, label, n_rows, level, interval}

    def band(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray] | None:
        """The band drawn: the bootstrap interval, else ALE ± z·SE (z for ``level``), else None."""
        if self.bootstrap is not None:
            return self.bootstrap.lower, self.bootstrap.upper
        if self.se is None or not np.isfinite(self.se).all():
            return None
        from inspectcli.engines.bands import z_value

        half = z_value(level) * self.se
        return self.ale - half, self.ale + half


def build_curves(results: Sequence[ALEResult]) -> list[ALECurve]:
    curves = []
    for r in results:
        for t, target in enumerate(r.targets):
            curves.append(
                ALECurve(
                    feature=r.feature,
                    categorical=r.categorical,
                    target=target,
                    response_method=r.response_method,
                    grid=r.grid,
                    ale=np.asarray(r.ale[t], dtype=float),
                    counts=np.asarray(r.counts),
                    n_missing=r.n_missing,
                    order=r.order,
                    pdp=None if r.pdp is None else np.asarray(r.pdp[t], dtype=float),
                    se=None if r.se is None else np.asarray(r.se[t], dtype=float),
                    bootstrap=None if r.bootstrap is None else r.bootstrap.select(t),
                )
            )
    return curves


def json_entries(curves: Sequence[ALECurve]) -> list[dict[str, Any]]:
    """The ``results`` list of ale.json."""
    out = []
    for c in curves:
        entry: dict[str, Any] = {
            "features": [c.feature],
            "categorical": [c.categorical],
            "target": c.target,
            "response_method": c.response_method,
            "grid": [[plain(v) for v in c.grid]],
            "ale": c.ale.tolist(),
            "counts": [int(n) for n in c.counts],
            "n_missing": c.n_missing,
            "order": c.order,
        }
        if c.pdp is not None:
            entry["pdp"] = c.pdp.tolist()
        if c.se is not None:
            entry["se"] = [None if not np.isfinite(v) else float(v) for v in c.se]
        if c.bootstrap is not None:
            entry["bootstrap"] = c.bootstrap.as_json()
        if c.group is not None:
            entry["group"] = c.group
        out.append(entry)
    return out


def csv_data(curves: Sequence[ALECurve]) -> bytes:
    """Tidy CSV: one row per (feature, target, grid point).

    ``bin_count`` is the number of rows of the bin that ends at this edge (empty at the first
    edge) for numeric features, and of the level for categorical ones.
    """
    with_pdp = any(c.pdp is not None for c in curves)
    with_se = any(c.se is not None for c in curves)
    with_boot = any(c.bootstrap is not None for c in curves)
    grouped = any(c.group is not None for c in curves)  # `by`: a group column (empty: all rows)
    header = ["feature", "target", *(["group"] if grouped else []), "position", "grid", "ale", "bin_count"]
    header += ["pdp"] if with_pdp else []
    header += (["se"] if with_se else []) + (["boot_lower", "boot_upper"] if with_boot else [])

    def rows() -> Any:
        for c in curves:
            for k, g in enumerate(c.grid):
                if c.categorical:
                    count: Any = int(c.counts[k])
                else:
                    count = int(c.counts[k - 1]) if k > 0 else None
                group = ([c.group["label"] if c.group else ""]) if grouped else []
                row = ["" if c.target is None else c.target, *group, k, plain(g), c.ale[k], count]
                if with_pdp:
                    row.append(c.pdp[k] if c.pdp is not None else None)
                if with_se:
                    row.append(c.se[k] if c.se is not None else None)
                if with_boot:
                    b = c.bootstrap
                    row += [None, None] if b is None else [b.lower[k], b.upper[k]]
                yield [c.feature, *row]

    return csv_bytes(header, rows())


def table(
    curves: Sequence[ALECurve], *, title: str = "accumulated local effects", n_rows: int | None = None
) -> Table:
    """One row per curve: grid, ALE min / max / range, a sparkline, and the PD range beside it.

    Sparklines share one scale (said in the caption); numbers and grids never wrap.
    """
    t = Table(title=title, title_justify="left", caption_justify="left")
    show_target = any(c.target is not None for c in curves)
    with_pdp = any(c.pdp is not None for c in curves)
    t.add_column("feature", style="bold")
    if show_target:
        t.add_column("target")
    grouped = any(c.group is not None for c in curves)
    if grouped:  # `by`: the curve of all rows, then one per group
        column = next(c.group["column"] for c in curves if c.group is not None)
        t.add_column(column if column not in {"feature", "feature(s)", "target", "rows"} else f"by {column}")
        t.add_column("rows", justify="right", no_wrap=True)
    else:  # (grouped: the bins go in the grid cell, to keep the table narrow)
        t.add_column("bins", justify="right", no_wrap=True)
    t.add_column("grid", no_wrap=True)
    t.add_column("ALE min", justify="right", no_wrap=True)
    t.add_column("ALE max", justify="right", no_wrap=True)
    t.add_column("range", justify="right", no_wrap=True)
    t.add_column("curve", no_wrap=True)
    if with_pdp:
        t.add_column("PD range", justify="right", no_wrap=True)
    finite = [c.ale[np.isfinite(c.ale)] for c in curves]
    finite = [v for v in finite if v.size]
    lo_all = float(min(v.min() for v in finite)) if finite else 0.0
    hi_all = float(max(v.max() for v in finite)) if finite else 0.0
    for c in curves:
        if c.categorical:
            n_bins = f"{len(c.grid)} levels"
            span = ", ".join(label(v) for v in c.grid)
            limit = 16 if grouped else 28
            if len(span) > limit:
                span = span[: limit - 1].rsplit(",", 1)[0] + ", …"
        else:
            n_bins = str(len(c.grid) - 1)
            span = f"{fmt(c.grid[0], 3)} … {fmt(c.grid[-1], 3)}"
        cells: list[Any] = [c.feature if c.group is None else ""]
        if show_target:
            cells.append("" if c.target is None or c.group is not None else str(c.target))
        if grouped:
            n = c.group["n_rows"] if c.group is not None else n_rows
            cells += ["all" if c.group is None else c.group["label"], "" if n is None else f"{n:,}"]
            span += f" ({len(c.grid)})" if c.categorical else f" ({n_bins})"
        finite = np.isfinite(c.ale).any()  # an all-undefined curve: no nanmin's "All-NaN slice" warning
        lo, hi = (float(np.nanmin(c.ale)), float(np.nanmax(c.ale))) if finite else (np.nan, np.nan)
        cells += [
            *([] if grouped else [n_bins]),
            span,
            fmt(lo),
            fmt(hi),
            fmt(hi - lo),
            Spark(c.ale, lo=lo_all, hi=hi_all, width=16),
        ]
        if with_pdp:
            cells.append(fmt(float(np.ptp(c.pdp))) if c.pdp is not None else "")
        t.add_row(*cells)
    caption = ["groups: ALE of each group's rows, on its own bins"] if grouped else []
    if len(curves) > 1:
        caption.append(f"curve: one scale for all rows, ▁ {fmt(lo_all)} … █ {fmt(hi_all)}")
    if caption:
        t.caption = "\n".join(caption)
    return t
