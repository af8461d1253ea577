"""Small matplotlib figures for the HTML report, as inline SVG plus the points a hover can show.

Each ``*_figure`` function takes plain values (as read from the result JSON files) and returns a
:class:`SVGFigure`: the SVG markup (text kept as text, ids made unique per figure, no metadata, so
the same values give the same bytes) and a list of hover series whose points are already in the
SVG's own coordinates. The page's script only finds the nearest point; without the script the
SVG is a complete static picture.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from inspectcli.formatting import fmt, label

PD_COLOR = "#d9480f"
ICE_COLOR = "#1c7ed6"
ALE_COLOR = "#2b8a3e"
BOX_COLOR = "#1c7ed6"
MDI_COLOR = "#868e96"
NEG_COLOR = "#c92a2a"
POS_COLOR = "#1864ab"

_MPL = tuple(int(p) for p in re.findall(r"\d+", matplotlib.__version__)[:2])

#: rcParams of every report figure: text as <text> (small, selectable, no font files), a fixed
#: hash salt (stable clip-path ids), no metadata.
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "inspectcli-report",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
}


@dataclass
class Series:
    """Points a hover can land on: ``pts`` are (svg x, svg y, text)."""

    name: str
    color: str
    pts: list[tuple[float, float, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "color": self.color, "pts": [[x, y, t] for x, y, t in self.pts]}


@dataclass
class SVGFigure:
    """An inline SVG and what its hover shows (``mode``: 'x' nearest column, 'y' row, 'xy' point)."""

    svg: str
    mode: str
    series: list[Series]
    ice_id: str | None = None

    def hover_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "series": [s.as_json() for s in self.series]}


def _figure(width: float, height: float) -> Figure:
    # dpi 72: display coordinates are the SVG's points, so hover positions need no scaling
    return Figure(figsize=(width, height), dpi=72, layout="constrained")


F = TypeVar("F", bound=Callable[..., Any])


def _styled(fn: F) -> F:
    """Build the figure under :data:`RC` (artists read rcParams when they are made)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


_ID = re.compile(r'\bid="([^"]+)"')


def _to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an SVG element for inline use, ids prefixed with ``prefix`` (unique per page)."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    ids = set(_ID.findall(text))
    for old in sorted(ids, key=len, reverse=True):
        new = old if old.startswith(prefix) else f"{prefix}-{old}"
        text = text.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})")
        text = text.replace(f'href="#{old}"', f'href="#{new}"')
    # responsive: keep the viewBox, let CSS size it
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 role="img"', text, count=1)
    return text.strip() + "\n"


def _svg_points(fig: Figure, ax: Any, xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    """Data coordinates of ``ax`` -> the SVG's coordinates (after the figure was drawn)."""
    height = fig.get_figheight() * 72
    disp = ax.transData.transform(np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]))
    return [(round(float(x), 2), round(float(height - y), 2)) for x, y in disp]


def _rug(ax: Any, deciles: Sequence[float] | None) -> None:
    if deciles:
        ax.vlines(deciles, 0, 0.05, transform=ax.get_xaxis_transform(), colors="k", linewidth=0.8)


def _finite(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


@_styled
def curve_figure(
    *,
    prefix: str,
    title: str,
    xlabel: str,
    ylabel: str,
    grid: Sequence[Any],
    categorical: bool,
    lines: Sequence[tuple[str, str, Sequence[Any], str]],
    ice: Sequence[Sequence[Any]] | None = None,
    deciles: Sequence[float] | None = None,
    ylim: tuple[float, float] | None = None,
    size: tuple[float, float] = (3.9, 2.9),
    band: tuple[Sequence[Any], Sequence[Any], str] | None = None,
) -> SVGFigure:
    """One feature's curves: ``lines`` are (name, colour, values, style) drawn over optional ICE lines.

    Categorical grids are drawn at positions 0..n-1 with the levels as tick labels. ``band``
    (lower, upper, name) is shaded behind the first line (error bars on categorical grids).
    """
    fig = _figure(*size)
    ax = fig.add_subplot()
    if categorical:
        xs = np.arange(len(grid), dtype=float)
        ax.set_xticks(xs, [label(g) for g in grid], rotation=30 if len(grid) > 4 else 0, ha="right")
    else:
        xs = _finite(grid)
    ice_id = None
    if ice:
        ice_id = f"{prefix}-ice"
        segs = [np.column_stack([xs, _finite(row)]) for row in ice]
        lc = LineCollection(segs, colors=ICE_COLOR, alpha=0.25, linewidths=0.6)
        lc.set_gid(ice_id)
        ax.add_collection(lc)
    if band is not None and lines:
        lo, hi, band_name = _finite(band[0]), _finite(band[1]), band[2]
        if categorical:
            ys0 = _finite(lines[0][2])
            yerr = np.vstack([np.maximum(ys0 - lo, 0), np.maximum(hi - ys0, 0)])
            ax.errorbar(
                xs, ys0, yerr=yerr, fmt="none", ecolor="0.2", elinewidth=1, capsize=2.5, label=band_name
            )
        else:
            ax.fill_between(xs, lo, hi, color=lines[0][1], alpha=0.22, linewidth=0, label=band_name)
    for k, (name, color, values, style) in enumerate(lines):
        ys = _finite(values)
        marker = "o" if categorical else None
        (line,) = ax.plot(
            xs,
            ys,
            style,
            color=color,
            linewidth=2 if style == "-" else 1.4,
            label=name,
            marker=marker,
            markersize=3.5,
        )
        line.set_gid(f"{prefix}-line{k}")
    if not categorical:
        _rug(ax, deciles)
    ax.autoscale_view()
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(lines) > 1 or ice or band is not None:
        handles, labels = ax.get_legend_handles_labels()
        if ice:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color=ICE_COLOR, alpha=0.5, linewidth=0.8))
            labels.append(f"ICE ({len(ice)} rows)")
        ax.legend(handles, labels, fontsize=7, frameon=False)
    svg = _to_svg(fig, prefix)
    series = []
    for name, color, values, _ in lines:
        ys = _finite(values)
        ok = np.isfinite(ys)
        pts = _svg_points(fig, ax, xs[ok], ys[ok])
        texts = [f"{xlabel} = {label(g)}: {name} {fmt(v)}" for g, v, k in zip(grid, ys, ok) if k]
        series.append(Series(name, color, [(x, y, t) for (x, y), t in zip(pts, texts)]))
    return SVGFigure(svg, "x", series, ice_id)


@_styled
def box_figure(
    *,
    prefix: str,
    title: str,
    xlabel: str,
    names: Sequence[str],
    repeats: Sequence[Sequence[float]],
    extra: Sequence[str] | None = None,
    side: tuple[str, Sequence[float | None]] | None = None,
) -> SVGFigure:
    """Horizontal boxplots of each name's repeats (first name on top); ``side`` adds a bar panel."""
    n = len(names)
    height = max(1.6, 0.28 * n + 0.9)
    fig = _figure(6.4 if side else 4.6, height)
    if side:
        ax, ax2 = fig.subplots(1, 2, sharey=True, width_ratios=[3, 1.3])
    else:
        ax, ax2 = fig.add_subplot(), None
    data = [np.asarray(r, dtype=float) for r in repeats][::-1]
    pos = np.arange(1, n + 1)
    horizontal = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}
    ax.boxplot(
        data,
        positions=pos,
        **horizontal,  # type: ignore[arg-type]
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "#d0ebff", "edgecolor": BOX_COLOR},
        medianprops={"color": PD_COLOR},
        whiskerprops={"color": BOX_COLOR},
        capprops={"color": BOX_COLOR},
        flierprops={"markersize": 3, "markeredgecolor": BOX_COLOR},
    )
    ax.set_yticks(pos, list(names)[::-1])
    ax.axvline(0, color="#adb5bd", linewidth=0.8, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    if ax2 is not None and side is not None:
        vals = [np.nan if v is None else float(v) for v in side[1]][::-1]
        ax2.barh(pos, vals, color=MDI_COLOR, height=0.6)
        ax2.set_xlabel(side[0])
        ax2.tick_params(labelleft=False)
    svg = _to_svg(fig, prefix)
    means = [float(np.mean(d)) if len(d) else 0.0 for d in data]
    pts = _svg_points(fig, ax, means, pos)
    texts = [
        f"{nm}: {fmt(np.mean(d))} ± {fmt(np.std(d), 2)} (min {fmt(np.min(d))}, max {fmt(np.max(d))}, "
        f"{len(d)} repeats)" + (f"; {ex}" if ex else "")
        for nm, d, ex in zip(list(names)[::-1], data, list(extra or [""] * n)[::-1])
    ]
    return SVGFigure(
        svg, "y", [Series("importance", BOX_COLOR, [(x, y, t) for (x, y), t in zip(pts, texts)])]
    )


@_styled
def bar_figure(
    *,
    prefix: str,
    title: str,
    xlabel: str,
    names: Sequence[str],
    values: Sequence[float],
    texts: Sequence[str],
) -> SVGFigure:
    """Horizontal bars (first name on top), negative values red, positive blue."""
    n = len(names)
    fig = _figure(4.8, max(1.6, 0.24 * n + 0.9))
    ax = fig.add_subplot()
    vals = np.array([np.nan if v is None else float(v) for v in values])[::-1]
    pos = np.arange(n)
    ax.barh(pos, vals, color=[NEG_COLOR if v < 0 else POS_COLOR for v in vals], height=0.65)
    ax.set_yticks(pos, list(names)[::-1])
    ax.axvline(0, color="#495057", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    svg = _to_svg(fig, prefix)
    pts = _svg_points(fig, ax, np.nan_to_num(vals), pos)
    return SVGFigure(
        svg, "y", [Series("value", POS_COLOR, [(x, y, t) for (x, y), t in zip(pts, texts[::-1])])]
    )


def _cells(grid: Sequence[Any], by_position: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cell centres, cell edges, and whether the axis is numeric (drawn at its values)."""
    n = len(grid)
    pos = np.arange(n, dtype=float)
    if not by_position and n >= 2:
        try:
            vals = np.array([float(g) for g in grid])
        except (TypeError, ValueError):
            vals = None
        if vals is not None and np.all(np.isfinite(vals)) and np.all(np.diff(vals) > 0):
            mid = (vals[1:] + vals[:-1]) / 2
            edges = np.concatenate([[vals[0] - (mid[0] - vals[0])], mid, [vals[-1] + (vals[-1] - mid[-1])]])
            return vals, edges, True
    return pos, np.arange(n + 1) - 0.5, False


@_styled
def heatmap_figure(
    *,
    prefix: str,
    title: str,
    xlabel: str,
    ylabel: str,
    xgrid: Sequence[Any],
    ygrid: Sequence[Any],
    values: Sequence[Sequence[Any]],
    value_name: str,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    size: tuple[float, float] = (3.9, 3.1),
    tick_labels: bool = False,
) -> SVGFigure:
    """``values[i][j]`` at (xgrid[i], ygrid[j]) as coloured cells, with a colour bar."""
    z = np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=float)
    nx, ny = z.shape
    fig = _figure(*size)
    ax = fig.add_subplot()
    # numeric axes at their values (cells bounded by midpoints, nice ticks); others by position
    xc, xe, xnum = _cells(xgrid, tick_labels)
    yc, ye, ynum = _cells(ygrid, tick_labels)
    mesh = ax.pcolormesh(xe, ye, z.T, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    mesh.set_edgecolor("face")  # no hairline seams between cells
    mesh.set_linewidth(0.2)
    fig.colorbar(mesh, ax=ax, shrink=0.85, label=value_name)
    for axis, grid, n, numeric in ((ax.xaxis, xgrid, nx, xnum), (ax.yaxis, ygrid, ny, ynum)):
        if numeric:
            continue
        step = 1 if tick_labels or n <= 12 else math.ceil(n / 6)
        ticks = np.arange(0, n, step)
        axis.set_ticks(ticks, [label(grid[i]) for i in ticks])
    if tick_labels or (not xnum and max(len(label(g)) for g in xgrid) * nx > 40):
        ax.tick_params(axis="x", labelrotation=90)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.spines[:].set_visible(False)
    svg = _to_svg(fig, prefix)
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    pts = _svg_points(fig, ax, xc[ii.ravel()], yc[jj.ravel()])
    texts = [
        f"{xlabel} = {label(xgrid[i])}, {ylabel} = {label(ygrid[j])}: {value_name} {fmt(z[i, j])}"
        for i, j in zip(ii.ravel(), jj.ravel())
    ]
    return SVGFigure(svg, "xy", [Series(value_name, "#000", [(x, y, t) for (x, y), t in zip(pts, texts)])])
