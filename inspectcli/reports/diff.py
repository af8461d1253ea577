"""From a ``Diff`` of two result files to the terminal tables of `inspect diff`."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from inspectcli.compare import CurveDiff, Diff, ScorerDiff
from inspectcli.formatting import fmt, label


def tables(diff: Diff, *, old_name: str, new_name: str) -> list[Any]:
    """A line naming the two files, then one table per scorer (importance) or of curves (pdp)."""
    head = Text.assemble(("old ", "dim"), old_name, ("  →  new ", "dim"), new_name)
    if diff.of == "importance":
        return [head, *(_importance_table(b) for b in diff.scorers)]
    return [head, _pdp_table(diff.curves)]


def _signed(x: float | None) -> str:
    if x is None:
        return "—"
    text = fmt(x)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def _importance_table(block: ScorerDiff) -> Table:
    t = Table(
        title=f"importance diff — {block.scorer} (baseline {fmt(block.baseline_old)} → "
        f"{fmt(block.baseline_new)})",
        title_justify="left",
    )
    t.add_column("feature", style="bold")
    t.add_column("old mean", justify="right")
    t.add_column("new mean", justify="right")
    t.add_column("change", justify="right")
    t.add_column("rank", justify="right")
    t.add_column("beyond noise")
    order = sorted(block.features, key=lambda f: -(f.abs_change if f.abs_change is not None else -1.0))
    for f in order:
        shown = f.feature if f.columns == [f.feature] else f"{f.feature} ({', '.join(f.columns)})"
        rank = str(f.rank_old) if f.rank_old == f.rank_new else f"{f.rank_old} → {f.rank_new}"
        if f.beyond_noise is None:
            noise = Text("?")
        else:
            noise = Text("yes", style="bold") if f.beyond_noise else Text("no", style="dim")
        t.add_row(Text(shown), fmt(f.mean_old), fmt(f.mean_new), _signed(f.change), rank, noise)
    n_beyond = sum(bool(f.beyond_noise) for f in block.features)
    t.caption = f"{n_beyond} of {len(block.features)} changed beyond noise"
    return t


def _at(values: list[Any] | None) -> str:
    if not values:
        return "—"
    return ", ".join(label(v) for v in values)


def _pdp_table(curves: list[CurveDiff]) -> Table:
    t = Table(title="PD diff (new − old)", title_justify="left")
    show_target = any(c.target is not None for c in curves)
    t.add_column("feature(s)", style="bold")
    if show_target:
        t.add_column("target")
    t.add_column("points", justify="right")
    t.add_column("max |Δ|", justify="right")
    t.add_column("at")
    t.add_column("mean Δ", justify="right")
    t.add_column("mean |Δ|", justify="right")
    pairs = any(len(c.features) == 2 for c in curves)
    if pairs:
        t.add_column("H² old → new", justify="right")
    banded = any(c.noise is not None for c in curves)
    if banded:
        t.add_column("beyond noise", no_wrap=True)
    for c in curves:
        name = " × ".join(c.features) + ("" if c.group is None else f" [{c.group}]")
        cells: list[Any] = [Text(name)]  # Text: names are not markup
        if show_target:
            cells.append(Text("" if c.target is None else str(c.target)))
        cells += [
            str(c.n_points),
            fmt(c.max_abs_diff),
            Text(_at(c.max_at)),
            _signed(c.mean_diff),
            fmt(c.mean_abs_diff),
        ]
        if pairs:
            cells.append(f"{fmt(c.h2_old, 3)} → {fmt(c.h2_new, 3)}" if len(c.features) == 2 else "")
        if banded:
            if c.beyond_noise is None:
                cells.append(Text("?"))
            elif c.beyond_noise:
                cells.append(Text(f"{c.points_beyond_noise} of {c.n_points}", style="bold"))
            else:
                cells.append(Text("no", style="dim"))
        t.add_row(*cells)
    if banded:
        rule = "bootstrap intervals" if all(c.noise == "bootstrap" for c in curves) else "average ± 2·SE"
        n_beyond = sum(bool(c.beyond_noise) for c in curves)
        t.caption = (
            f"{n_beyond} of {len(curves)} curves changed beyond noise (grid points where the two runs' "
            f"{rule} do not overlap)"
        )
    return t
