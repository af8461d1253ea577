"""PD curves per subgroup (``by``) and ICE clusters (``ice_clusters``), one axis per feature.

Subgroups: the curve of all rows dashed black, one coloured curve per group (legend: the group
and its rows), and with ICE each group's lines thin in its colour. ICE clusters: each ICE line
thin in its cluster's colour, each cluster's mean curve bold in the same colour (legend: its
rows), the PD dashed black. Categorical features put their levels at 0, 1, … joined by lines.
Pairs (with ``ice_clusters``) are drawn as in plots/pdp.py. Each curve's band (plots/bands.py)
is shaded in its colour; one legend entry says what the bands are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator

from inspectcli.formatting import label
from inspectcli.plots import figure_legend, new_figure
from inspectcli.plots.pdp import (
    DEFAULT_ICE_LINES,
    PDPDisplay,
    _rug,
    _sample,
    _title,
    _two_way,
    _ylabel,
    ice_collection,
)
from inspectcli.reports.pdp import PDPCurve

ALL_COLOR = "k"


@dataclass
class SubgroupDisplay(PDPDisplay):
    """A PDPDisplay whose one-way panels hold a curve per group or per ICE cluster.

    ``group_lines_[i]``: {group label: its PD line}; ``cluster_lines_[i]``: the clusters' mean
    lines; ``ice_by_[i]``: one LineCollection of ICE lines per group or cluster.
    """

    group_lines_: dict[int, dict[str, Any]] = field(default_factory=dict)
    cluster_lines_: dict[int, list[Any]] = field(default_factory=dict)
    ice_by_: dict[int, list[LineCollection]] = field(default_factory=dict)


def _group_text(column: str, info: Mapping[str, Any]) -> str:
    """'season = fall', 'temp ∈ (8.1, 14.2]', 'season: missing'."""
    if info.get("interval") is not None:
        return f"{column} ∈ {info.get('label')}"
    if info.get("level") is not None:
        return f"{column} = {info.get('label')}"
    return f"{column}: {info.get('label')}"


def _x(c: PDPCurve) -> np.ndarray:
    return np.arange(len(c.grid[0])) if c.categorical[0] else np.asarray(c.grid[0], dtype=float)


def _style(c: PDPCurve) -> dict[str, Any]:
    return {"marker": "o", "markersize": 4} if c.categorical[0] else {}


def plot_subgroups(
    curves: Sequence[PDPCurve],
    *,
    deciles: Mapping[str, np.ndarray] | None = None,
    n_cols: int = 3,
    max_ice_lines: int = DEFAULT_ICE_LINES,
    random_state: int = 0,
    title: str | None = None,
    n_rows: int | None = None,
    band_level: float = 0.95,
) -> SubgroupDisplay | None:
    """Draw grouped curves (``curve.group``) or clustered ICE (``curve.clusters``).

    Parameters
    ----------
    curves : from workflows.pdp.run_pdp with ``by`` or ``ice_clusters``: each all-rows curve
        (``group`` None) is a panel; the group curves of the same (features, target) join it
    deciles : {feature: its deciles in all rows}, rug marks of numeric features
    max_ice_lines : ICE lines drawn per panel at most (a seeded sample, split over the groups
        in proportion to the lines each holds)
    n_rows : rows of the data (the legend's count for the curve of all rows)
    band_level : coverage of the ± z·SE bands (bootstrap intervals carry their own)
    """
    deciles = deciles or {}
    panels = [c for c in curves if c.group is None and c.ndim <= 2]
    if not panels:
        return None
    members: dict[tuple[Any, ...], list[PDPCurve]] = {}
    for c in curves:
        if c.group is not None:
            members.setdefault((c.features, repr(c.target)), []).append(c)
    fig, axes = new_figure(len(panels), n_cols=n_cols)
    display = SubgroupDisplay(fig, axes, [[c] for c in panels])
    for i, (ax, c) in enumerate(zip(axes, panels)):
        if c.ndim == 2:
            _two_way(display, i, ax, c, deciles)
            continue
        groups = members.get((c.features, repr(c.target)), [])
        if groups:
            _grouped(display, i, ax, c, groups, max_ice_lines, random_state, n_rows)
            _bands(ax, _x(c), groups, band_level)
        else:
            _clustered(display, i, ax, c, max_ice_lines, random_state)
            _bands(ax, _x(c), [c], band_level, color=ALL_COLOR)
        if c.categorical[0]:
            levels = [label(v) for v in c.grid[0]]
            long = max(len(v) for v in levels) > 5
            ax.set_xticks(
                range(len(levels)), levels, rotation=45 if long else 0, ha="right" if long else "center"
            )
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            display.deciles_vlines_[i] = _rug(ax, deciles.get(c.features[0]))
        ax.autoscale_view()
        ax.set_xlabel(c.features[0])
        ax.set_ylabel(_ylabel(c))
        if _title(c):
            ax.set_title(_title(c))
    grouped = [axes[i] for i, c in enumerate(panels) if c.ndim == 1 and i in display.group_lines_]
    display.legend_ = figure_legend(fig, grouped) if grouped else None
    for i in display.cluster_lines_:  # cluster sizes differ per panel: a legend each
        axes[i].legend(fontsize="x-small", loc="best", framealpha=0.8)
    if title:
        fig.suptitle(title)
    return display


def _bands(ax: Axes, x: np.ndarray, curves: Sequence[Any], level: float, color: Any = None) -> None:
    """Each curve's band shaded in its colour (``C0``, ``C1``, … or ``color``), and one grey legend
    entry saying what the bands are."""
    from inspectcli.plots.bands import band_label, shade

    shaded = [c for k, c in enumerate(curves) if shade(ax, x, c, level, color or f"C{k % 10}", None)]
    if shaded:
        nothing = np.full(1, np.nan)
        ax.fill_between(
            x[:1], nothing, nothing, color="0.5", alpha=0.22, linewidth=0, label=band_label(shaded[0], level)
        )


def _grouped(
    display: SubgroupDisplay,
    i: int,
    ax: Axes,
    overall: PDPCurve,
    groups: list[PDPCurve],
    max_ice: int,
    seed: int,
    n_rows: int | None,
) -> None:
    x = _x(overall)
    column = groups[0].group["column"]  # type: ignore[index]
    n_lines = sum(len(g.individual) for g in groups if g.individual is not None)
    display.ice_by_[i] = []
    lines: dict[str, Any] = {}
    for k, g in enumerate(groups):
        color = f"C{k % 10}"
        info = g.group or {}
        if g.individual is not None and len(g.individual):
            share = max(1, round(max_ice * len(g.individual) / max(n_lines, 1)))
            keep = _sample(len(g.individual), share, seed)
            display.ice_by_[i].append(ice_collection(ax, x, g.individual[keep], color, 0.2))
        values = (
            g.average
            if g.average is not None
            else (g.individual.mean(axis=0) if g.individual is not None else None)
        )
        if values is None:
            continue
        (line,) = ax.plot(
            x,
            values,
            color=color,
            linewidth=2,
            label=f"{_group_text(column, info)} (n={info.get('n_rows', 0):,})",
            **_style(g),
        )
        lines[str(info.get("label"))] = line
    display.group_lines_[i] = lines
    if overall.average is not None:
        n = f" (n={n_rows:,})" if n_rows is not None else ""
        (line,) = ax.plot(
            x, overall.average, color=ALL_COLOR, linestyle="--", linewidth=1.4, label=f"all rows{n}"
        )
        display.lines_[i] = [line]


def _clustered(display: SubgroupDisplay, i: int, ax: Axes, c: PDPCurve, max_ice: int, seed: int) -> None:
    x = _x(c)
    display.ice_by_[i] = []
    means = []
    if c.individual is not None and c.clusters is not None:
        keep = _sample(len(c.individual), max_ice, seed)
        labels = c.clusters.labels[keep]
        for j, (mean, size) in enumerate(zip(c.clusters.means, c.clusters.sizes)):
            color = f"C{j % 10}"
            display.ice_by_[i].append(ice_collection(ax, x, c.individual[keep][labels == j], color, 0.15))
            share = 100 * size / max(int(c.clusters.sizes.sum()), 1)
            (line,) = ax.plot(
                x,
                mean,
                color=color,
                linewidth=2.6,
                label=f"cluster {j + 1} ({int(size):,} rows, {share:.0f}%)",
                **_style(c),
            )
            means.append(line)
    display.cluster_lines_[i] = means
    if c.average is not None:
        (line,) = ax.plot(x, c.average, color=ALL_COLOR, linestyle="--", linewidth=1.4, label="average (PD)")
        display.lines_[i] = [line]


@dataclass
class AleSubgroupDisplay:
    """ALE per group: one panel per (feature, target); ``group_lines_[i]``: {group label: line}."""

    figure_: Any
    axes_: list[Axes]
    group_lines_: dict[int, dict[str, Any]] = field(default_factory=dict)
    lines_: dict[int, list[Any]] = field(default_factory=dict)  # the all-rows curve
    deciles_vlines_: dict[int, list[Any]] = field(default_factory=dict)
    legend_: Any = None


def plot_ale_subgroups(
    curves: Sequence[Any],
    *,
    deciles: Mapping[str, np.ndarray] | None = None,
    n_cols: int = 3,
    title: str | None = None,
    n_rows: int | None = None,
    band_level: float = 0.95,
) -> AleSubgroupDisplay:
    """ALE curves of ``inspect ale --by``: each group's ALE (on its own bins) in its colour, the
    ALE of all rows dashed black; categorical levels at 0, 1, … in the all-rows order."""
    from inspectcli.plots.ale import _class_name, _ylabel

    deciles = deciles or {}
    panels = [c for c in curves if c.group is None]
    members: dict[tuple[str, str], list[Any]] = {}
    for c in curves:
        if c.group is not None:
            members.setdefault((c.feature, repr(c.target)), []).append(c)
    fig, axes = new_figure(len(panels), n_cols=n_cols)
    display = AleSubgroupDisplay(fig, axes)
    for i, (ax, c) in enumerate(zip(axes, panels)):
        position = {str(v): k for k, v in enumerate(c.grid)}

        def xs(curve: Any, position: dict[str, int] = position) -> np.ndarray:
            if curve.categorical:
                return np.asarray([position[str(v)] for v in curve.grid], dtype=float)
            return np.asarray(curve.grid, dtype=float)

        lines: dict[str, Any] = {}
        for k, g in enumerate(members.get((c.feature, repr(c.target)), [])):
            info = g.group or {}
            (line,) = ax.plot(
                xs(g),
                g.ale,
                color=f"C{k % 10}",
                linewidth=2,
                marker="o",
                markersize=3,
                label=f"{_group_text(info.get('column', ''), info)} (n={info.get('n_rows', 0):,})",
            )
            lines[str(info.get("label"))] = line
        display.group_lines_[i] = lines
        groups = members.get((c.feature, repr(c.target)), [])
        for k, g in enumerate(groups):
            _bands(ax, xs(g), [g], band_level, color=f"C{k % 10}")
        n = f" (n={n_rows:,})" if n_rows is not None else ""
        (line,) = ax.plot(xs(c), c.ale, color=ALL_COLOR, linestyle="--", linewidth=1.4, label=f"all rows{n}")
        display.lines_[i] = [line]
        ax.axhline(0, color="k", linewidth=0.6, alpha=0.5)
        if c.categorical:
            levels = [label(v) for v in c.grid]
            long = max(len(v) for v in levels) > 5
            ax.set_xticks(
                range(len(levels)), levels, rotation=45 if long else 0, ha="right" if long else "center"
            )
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            display.deciles_vlines_[i] = _rug(ax, deciles.get(c.feature))
        ax.set_xlabel(c.feature)
        ax.set_ylabel(_ylabel(c))
        if _class_name(c):
            ax.set_title(_class_name(c))
    display.legend_ = figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return display
