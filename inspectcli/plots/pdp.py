"""PDP / ICE figures in the manner of scikit-learn's PartialDependenceDisplay, and beyond it.

One panel per one-way curve (classes of a classifier share a panel when no ICE is drawn), with
decile rug marks on the x axis; ICE lines thin and translucent under the bold PD line; categorical
features as bars (ICE as dots per level joined by thin lines, which scikit-learn refuses); pairs as
filled contours, categorical pairs as annotated heatmaps, mixed pairs as one line per level (also
refused by scikit-learn). Feature sets of three or more are not drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from inspectcli.formatting import label
from inspectcli.plots import figure_legend, new_figure
from inspectcli.reports.pdp import PDPCurve

ICE_COLOR = "tab:blue"
PD_COLOR = "tab:orange"
DEFAULT_ICE_LINES = 250


@dataclass
class PDPDisplay:
    """The drawn figure and its artists, per panel (index into ``axes_``)."""

    figure_: Figure
    axes_: list[Axes]
    panels: list[list[PDPCurve]]
    lines_: dict[int, list[Any]] = field(default_factory=dict)
    ice_lines_: dict[int, LineCollection] = field(default_factory=dict)
    deciles_vlines_: dict[int, list[Any]] = field(default_factory=dict)
    bars_: dict[int, Any] = field(default_factory=dict)
    contours_: dict[int, Any] = field(default_factory=dict)
    images_: dict[int, Any] = field(default_factory=dict)
    texts_: dict[int, list[Any]] = field(default_factory=dict)  # heatmap cell annotations
    bands_: dict[int, list[Any]] = field(default_factory=dict)  # shaded bands / error bars (one-way)
    legend_: Any = None  # the figure's legend (one-way panels), below the panels
    ylim_: tuple[float, float] | None = None  # the y-range one-way panels share


def _panels(curves: Sequence[PDPCurve]) -> list[list[PDPCurve]]:
    """Curves grouped into panels; one-way panels in rank order when the curves are ranked."""
    if any(c.rank is not None for c in curves):
        curves = sorted(curves, key=lambda c: (c.rank is None, c.rank or 0))
    panels: list[list[PDPCurve]] = []
    shared: dict[tuple[str, ...], list[PDPCurve]] = {}
    for c in curves:
        if c.ndim > 2:
            continue
        if c.ndim == 1 and c.individual is None and c.average is not None:
            group = shared.get(c.features)
            if group is None:
                shared[c.features] = group = []
                panels.append(group)
            group.append(c)
        else:
            panels.append([c])
    return panels


def _title(c: PDPCurve) -> str | None:
    if c.target is None:
        return None
    if c.response_method in ("predict_proba", "decision_function"):
        return f"class {label(c.target)}"
    return f"output {c.target}"


def _ylabel(c: PDPCurve) -> str:
    text = "Partial dependence"
    if c.response_method == "predict_proba":
        text = "Partial dependence (probability)"
    elif c.response_method == "decision_function":
        text = "Partial dependence (decision)"
    return text + (", centred" if c.centered else "")


def _rug(ax: Axes, deciles: np.ndarray | None, axis: str = "x") -> list[Any]:
    if deciles is None or len(deciles) == 0:
        return []
    if axis == "x":
        return [ax.vlines(deciles, 0, 0.05, transform=ax.get_xaxis_transform(), colors="k", linewidth=1)]
    return [ax.hlines(deciles, 0, 0.05, transform=ax.get_yaxis_transform(), colors="k", linewidth=1)]


def _sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.RandomState(seed).choice(n, size=limit, replace=False))


def _ice_lines(
    display: PDPDisplay,
    i: int,
    ax: Axes,
    x: np.ndarray,
    c: PDPCurve,
    max_ice: int,
    seed: int,
    alpha: float,
    n_rows: int | None = None,
) -> np.ndarray:
    """Draw a subsample of ``c``'s ICE lines against ``x``; returns the rows kept.

    The label counts the lines drawn among the rows of the data (``n_rows``; by default the
    lines kept in ``c``): "ICE (250 of 20,000 rows)".
    """
    keep = _sample(len(c.individual), max_ice, seed)  # type: ignore[arg-type]
    total = n_rows if n_rows is not None else len(c.individual)  # type: ignore[arg-type]
    label = f"ICE ({len(keep):,} of {total:,} rows)"
    display.ice_lines_[i] = ice_collection(ax, x, c.individual[keep], ICE_COLOR, alpha, label)  # type: ignore[index]
    return keep


def ice_collection(
    ax: Axes, x: np.ndarray, lines: np.ndarray, color: Any, alpha: float, label: str | None = None
) -> LineCollection:
    """ICE ``lines`` (shape (n_lines, len(x))) drawn against ``x`` as one thin-line collection."""
    lc = LineCollection(
        [np.column_stack([x, row]) for row in lines], colors=color, alpha=alpha, linewidths=0.5, label=label
    )
    ax.add_collection(lc)
    return lc


def plot_pdp(
    curves: Sequence[PDPCurve],
    *,
    deciles: Mapping[str, np.ndarray] | None = None,
    n_cols: int = 3,
    max_ice_lines: int = DEFAULT_ICE_LINES,
    random_state: int = 0,
    title: str | None = None,
    independent_y: bool = False,
    n_rows: int | None = None,
    counts: Mapping[tuple[str, ...], np.ndarray] | None = None,
    band_level: float = 0.95,
) -> PDPDisplay | None:
    """Draw every one- and two-way curve; None when there is nothing to draw (only N-way sets).

    Parameters
    ----------
    curves : from reports.pdp.build_curves (ranked curves are drawn in rank order)
    deciles : {feature: its deciles in the data}, drawn as rug marks for numeric features
    n_cols : panels per row
    max_ice_lines : ICE lines drawn per panel at most (a seeded subsample when there are more)
    independent_y : give each one-way panel its own y-range; by default they share one (as
        scikit-learn's display does), so a flat curve looks flat beside a steep one
    n_rows : rows of the data the curves average over (for the ICE legend: "250 of 20,000")
    counts : {(feature a, feature b): rows per (level a, level b), shape (len(grid a), len(grid b))}
        for categorical pairs: each heatmap cell shows its count, and cells without rows are grey
    band_level : coverage of the ± z·SE band drawn for curves with a standard error and no
        bootstrap interval (one-way panels: shaded, or error bars on categories)
    """
    deciles = deciles or {}
    panels = _panels(curves)
    if not panels:
        return None
    fig, axes = new_figure(len(panels), n_cols=n_cols)
    display = PDPDisplay(fig, axes, panels)
    one_way = []
    for i, (ax, group) in enumerate(zip(axes, panels)):
        first = group[0]
        if first.ndim == 1:
            one_way.append(i)
            if first.categorical[0]:
                _categorical_1d(display, i, ax, group, max_ice_lines, random_state, n_rows, band_level)
            else:
                _numeric_1d(display, i, ax, group, deciles, max_ice_lines, random_state, n_rows, band_level)
            ax.set_xlabel(first.features[0])
            ax.set_ylabel(_ylabel(first))
        else:
            _two_way(display, i, ax, first, deciles, (counts or {}).get(first.features))
        if len(group) == 1 and _title(first):
            ax.set_title(_title(first))
    if one_way and not independent_y:
        display.ylim_ = _shared_ylim([axes[i] for i in one_way])
        for i in one_way:
            axes[i].set_ylim(*display.ylim_)
    legend_axes = [
        axes[i]
        for i in one_way
        if len(panels[i]) > 1 or panels[i][0].individual is not None or display.bands_.get(i)
    ]
    if legend_axes:
        display.legend_ = figure_legend(fig, legend_axes)
    if title:
        fig.suptitle(title)
    return display


def _shared_ylim(axes: Sequence[Axes]) -> tuple[float, float]:
    """One y-range holding every one-way panel's data (each panel autoscaled first)."""
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    return float(min(lows)), float(max(highs))


def _numeric_1d(
    display: PDPDisplay,
    i: int,
    ax: Axes,
    group: list[PDPCurve],
    deciles: Mapping[str, np.ndarray],
    max_ice: int,
    seed: int,
    n_rows: int | None = None,
    band_level: float = 0.95,
) -> None:
    from inspectcli.plots.bands import band_label, shade

    x = np.asarray(group[0].grid[0], dtype=float)
    lines = []
    for c in group:
        if c.individual is not None:
            _ice_lines(display, i, ax, x, c, max_ice, seed, alpha=0.25, n_rows=n_rows)
        if c.average is not None:
            color = PD_COLOR if len(group) == 1 else None
            name = "average" if len(group) == 1 else _title(c)
            (line,) = ax.plot(
                x, c.average, color=color, linewidth=2.2 if c.individual is not None else 1.8, label=name
            )
            lines.append(line)
            label_ = band_label(c, band_level) if len(group) == 1 else None
            band = shade(ax, x, c, band_level, line.get_color(), label_)
            if band is not None:
                display.bands_.setdefault(i, []).append(band)
    ax.autoscale_view()
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    display.lines_[i] = lines
    display.deciles_vlines_[i] = _rug(ax, deciles.get(group[0].features[0]))


def _categorical_1d(
    display: PDPDisplay,
    i: int,
    ax: Axes,
    group: list[PDPCurve],
    max_ice: int,
    seed: int,
    n_rows: int | None = None,
    band_level: float = 0.95,
) -> None:
    from inspectcli.plots.bands import band_label, error_bars

    levels = [label(v) for v in group[0].grid[0]]
    pos = np.arange(len(levels))
    if len(group) == 1 and group[0].individual is None:
        display.bars_[i] = ax.bar(pos, group[0].average, color=PD_COLOR, alpha=0.85, label="average")
        bars = error_bars(ax, pos, group[0].average, group[0], band_level, band_label(group[0], band_level))
        if bars is not None:
            display.bands_[i] = [bars]
    else:
        lines = []
        width = 0.8 / len(group)
        for k, c in enumerate(group):
            if c.individual is not None:
                keep = _ice_lines(display, i, ax, pos, c, max_ice, seed, alpha=0.2, n_rows=n_rows)
                ax.scatter(
                    np.repeat(pos, len(keep)),
                    c.individual[keep].T.reshape(-1),
                    s=4,
                    color=ICE_COLOR,
                    alpha=0.3,
                )
                if c.average is not None:
                    (line,) = ax.plot(pos, c.average, "o", color=PD_COLOR, markersize=8, label="average")
                    lines.append(line)
                    one = len(group) == 1
                    bars = error_bars(
                        ax, pos, c.average, c, band_level, band_label(c, band_level) if one else None
                    )
                    if bars is not None:
                        display.bands_.setdefault(i, []).append(bars)
            elif c.average is not None:
                offset = (k - (len(group) - 1) / 2) * width
                display.bars_.setdefault(i, [])
                display.bars_[i].append(ax.bar(pos + offset, c.average, width=width, label=_title(c)))
                bars = error_bars(ax, pos + offset, c.average, c, band_level, None)
                if bars is not None:
                    display.bands_.setdefault(i, []).append(bars)
        display.lines_[i] = lines
        ax.autoscale_view()
    ax.set_xticks(
        pos,
        levels,
        rotation=45 if max(len(v) for v in levels) > 5 else 0,
        ha="right" if max(len(v) for v in levels) > 5 else "center",
    )


def _two_way(
    display: PDPDisplay,
    i: int,
    ax: Axes,
    c: PDPCurve,
    deciles: Mapping[str, np.ndarray],
    counts: np.ndarray | None = None,
) -> None:
    fx, fy = c.features
    cx, cy = c.categorical
    z = c.average if c.average is not None else c.individual.mean(axis=0)  # type: ignore[union-attr]
    gx, gy = c.grid
    if not cx and not cy:
        X, Y = np.meshgrid(np.asarray(gx, dtype=float), np.asarray(gy, dtype=float))
        cs = ax.contourf(X, Y, z.T, levels=10, cmap="viridis")
        ax.contour(X, Y, z.T, levels=10, colors="k", linewidths=0.4)
        display.contours_[i] = cs
        display.figure_.colorbar(cs, ax=ax, label=_ylabel(c))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        display.deciles_vlines_[i] = _rug(ax, deciles.get(fx), "x") + _rug(ax, deciles.get(fy), "y")
        ax.set_xlabel(fx)
        ax.set_ylabel(fy)
    elif cx and cy:
        # Cells no row of the data falls in are extrapolation: grey, their value still written.
        empty = np.zeros(z.shape, dtype=bool) if counts is None else np.asarray(counts) == 0
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
        im = ax.imshow(np.ma.masked_array(z, mask=empty).T, origin="lower", aspect="auto", cmap=cmap)
        texts = []
        for a in range(z.shape[0]):
            for b in range(z.shape[1]):
                text = label(z[a, b])
                if counts is not None:
                    n = int(counts[a, b])
                    text += "\nno rows" if n == 0 else f"\nn={n:,}"
                color = "0.25" if empty[a, b] else "w"
                texts.append(ax.text(a, b, text, ha="center", va="center", fontsize=7, color=color))
        display.texts_[i] = texts
        ax.set_xticks(range(len(gx)), [label(v) for v in gx], rotation=45, ha="right")
        ax.set_yticks(range(len(gy)), [label(v) for v in gy])
        display.images_[i] = im
        display.figure_.colorbar(im, ax=ax, label=_ylabel(c))
        ax.set_xlabel(fx)
        ax.set_ylabel(fy)
    else:  # one categorical: a line per level against the numeric feature
        if cx:
            num_name, num, levels, zz = fy, np.asarray(gy, dtype=float), gx, z
        else:
            num_name, num, levels, zz = fx, np.asarray(gx, dtype=float), gy, z.T
        lines = []
        for k, level in enumerate(levels):
            (line,) = ax.plot(num, zz[k], linewidth=1.6, label=label(level))
            lines.append(line)
        display.lines_[i] = lines
        display.deciles_vlines_[i] = _rug(ax, deciles.get(num_name), "x")
        ax.set_xlabel(num_name)
        ax.set_ylabel(_ylabel(c))
        ax.legend(
            title=fx if cx else fy,
            fontsize="small",
            title_fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0,
        )
    title = _title(c)
    if c.h2 is not None and np.isfinite(c.h2):
        title = (title + "  " if title else "") + f"H² = {c.h2:.3f}"
    if title:
        ax.set_title(title)
