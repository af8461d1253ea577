"""ALE figures in the manner of the PDP ones: one panel per feature (a classifier's classes share
it), numeric features as lines through the bin edges with decile rug marks, categorical ones as
bars in the order the effects were accumulated; ``--with-pdp`` adds the PD curve, computed on the
same grid and centred the same way, dashed (numeric) or as diamonds (categorical)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from inspectcli.formatting import label
from inspectcli.plots import figure_legend, new_figure
from inspectcli.plots.pdp import _rug, _title
from inspectcli.reports.ale import ALECurve

ALE_COLOR = "tab:blue"
PD_COLOR = "tab:orange"


@dataclass
class ALEDisplay:
    """The drawn figure and its artists, per panel (index into ``axes_``)."""

    figure_: Figure
    axes_: list[Axes]
    panels: list[list[ALECurve]]
    lines_: dict[int, list[Any]] = field(default_factory=dict)  # ALE lines (numeric)
    pdp_lines_: dict[int, list[Any]] = field(default_factory=dict)  # PD lines or markers
    bars_: dict[int, list[Any]] = field(default_factory=dict)  # ALE bars (categorical)
    deciles_vlines_: dict[int, list[Any]] = field(default_factory=dict)
    bands_: dict[int, list[Any]] = field(default_factory=dict)  # shaded bands / error bars
    legend_: Any = None  # one legend for the figure, below the panels (off the curves)


def _ylabel(c: ALECurve) -> str:
    what = "ALE / PD" if c.pdp is not None else "ALE"
    if c.response_method == "predict_proba":
        return f"{what} of the probability (centred)"
    if c.response_method == "decision_function":
        return f"{what} of the decision function (centred)"
    return f"{what} (centred)"


def _class_name(c: ALECurve) -> str:
    return _title(c) or ""  # type: ignore[arg-type]


def plot_ale(
    curves: Sequence[ALECurve],
    *,
    deciles: Mapping[str, np.ndarray] | None = None,
    n_cols: int = 3,
    title: str | None = None,
    band_level: float = 0.95,
) -> ALEDisplay:
    """Draw every curve; one panel per feature.

    Parameters
    ----------
    curves : from reports.ale.build_curves
    deciles : {feature: its deciles in the data}, drawn as rug marks for numeric features
    n_cols : panels per row
    band_level : coverage of the ± z·SE band drawn for curves without a bootstrap interval
    """
    deciles = deciles or {}
    panels: list[list[ALECurve]] = []
    by_feature: dict[str, list[ALECurve]] = {}
    for c in curves:
        if c.feature not in by_feature:
            by_feature[c.feature] = []
            panels.append(by_feature[c.feature])
        by_feature[c.feature].append(c)
    fig, axes = new_figure(len(panels), n_cols=n_cols)
    display = ALEDisplay(fig, axes, panels)
    for i, (ax, group) in enumerate(zip(axes, panels)):
        first = group[0]
        if first.categorical:
            _categorical(display, i, ax, group, band_level)
        else:
            _numeric(display, i, ax, group, deciles.get(first.feature), band_level)
        ax.axhline(0, color="k", linewidth=0.6, alpha=0.5)
        xlabel = first.feature
        if first.categorical and first.order in ("similarity", "given"):
            xlabel += f"  (levels in {'the given' if first.order == 'given' else 'similarity'} order)"
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_ylabel(first))
        if len(group) == 1 and _class_name(first):
            ax.set_title(_class_name(first))
        if first.n_missing:
            ax.annotate(
                f"{first.n_missing} rows missing",
                (0.99, 0.98),
                xycoords="axes fraction",
                ha="right",
                va="top",
                fontsize="x-small",
                color="0.4",
            )
    if any(len(g) > 1 or any(c.pdp is not None for c in g) for g in panels) or display.bands_:
        display.legend_ = figure_legend(fig, axes)
    if title:
        fig.suptitle(title)
    return display


def _numeric(
    display: ALEDisplay,
    i: int,
    ax: Axes,
    group: list[ALECurve],
    dec: np.ndarray | None,
    band_level: float = 0.95,
) -> None:
    from inspectcli.plots.bands import band_label, shade

    x = np.asarray(group[0].grid, dtype=float)
    lines, pd_lines = [], []
    several = len(group) > 1
    for k, c in enumerate(group):
        color = f"C{k}" if several else ALE_COLOR
        name = f"ALE {_class_name(c)}".strip() if several else "ALE"
        (line,) = ax.plot(x, c.ale, color=color, linewidth=2, marker="o", markersize=3, label=name)
        lines.append(line)
        band = shade(ax, x, c, band_level, color, None if several else band_label(c, band_level))
        if band is not None:
            display.bands_.setdefault(i, []).append(band)
        if c.pdp is not None:
            pd_name = f"PD {_class_name(c)}".strip() if several else "PD (same grid, centred alike)"
            (pl,) = ax.plot(
                x, c.pdp, color=color if several else PD_COLOR, linestyle="--", linewidth=1.5, label=pd_name
            )
            pd_lines.append(pl)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    display.lines_[i] = lines
    display.pdp_lines_[i] = pd_lines
    display.deciles_vlines_[i] = _rug(ax, dec)


def _categorical(
    display: ALEDisplay, i: int, ax: Axes, group: list[ALECurve], band_level: float = 0.95
) -> None:
    from inspectcli.plots.bands import band_label, error_bars

    levels = [label(v) for v in group[0].grid]
    pos = np.arange(len(levels))
    width = 0.8 / len(group)
    bars, pd_marks = [], []
    several = len(group) > 1
    for k, c in enumerate(group):
        offset = (k - (len(group) - 1) / 2) * width
        color = f"C{k}" if several else ALE_COLOR
        name = f"ALE {_class_name(c)}".strip() if several else "ALE"
        bars.append(ax.bar(pos + offset, c.ale, width=width, color=color, alpha=0.85, label=name))
        err = error_bars(
            ax, pos + offset, c.ale, c, band_level, None if several else band_label(c, band_level)
        )
        if err is not None:
            display.bands_.setdefault(i, []).append(err)
        if c.pdp is not None:
            (pm,) = ax.plot(
                pos + offset,
                c.pdp,
                "D",
                color="k" if not several else color,
                markeredgecolor="k",
                markersize=6,
                label="PD (same levels, centred alike)" if not several else f"PD {_class_name(c)}",
            )
            pd_marks.append(pm)
    display.bars_[i] = bars
    display.pdp_lines_[i] = pd_marks
    long = max(len(v) for v in levels) > 5
    ax.set_xticks(pos, levels, rotation=45 if long else 0, ha="right" if long else "center")
