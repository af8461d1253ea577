"""The interaction heatmap: each pair's interaction as a share of the output's variance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from inspectcli.engines.h_statistic import InteractionResult


@dataclass
class InteractionDisplay:
    """The drawn figure and what is on it (for tests: the heatmap's matrix and labels)."""

    figure_: Figure
    heatmap_ax_: Axes
    overall_ax_: Axes | None
    matrix_: np.ndarray  # (n, n) share of the output's variance, NaN where no pair was computed
    labels_: list[str]


def plot_interactions(result: InteractionResult, *, target: int = 0, title: str = "") -> InteractionDisplay:
    """Heatmap of pairs (share of the output's variance, H² in each cell) and overall H² bars."""
    names = list(dict.fromkeys([*result.features, *(f for p in result.pairs for f in p)]))
    pos = {n: i for i, n in enumerate(names)}
    n = len(names)
    share = np.full((n, n), np.nan)
    h2 = np.full((n, n), np.nan)
    for p, (a, b) in enumerate(result.pairs):
        for i, j in ((pos[a], pos[b]), (pos[b], pos[a])):
            share[i, j] = result.pair_share[p, target]
            h2[i, j] = result.pair_h2[p, target]
    with_overall = result.overall is not None
    size = max(4.5, 0.55 * n + 2.5)
    fig = Figure(figsize=(size + (3.5 if with_overall else 0), size), layout="constrained")
    if with_overall:
        ax, ax2 = fig.subplots(1, 2, width_ratios=[size, 3.0])
    else:
        ax, ax2 = fig.subplots(1, 1), None
    shown = np.ma.masked_invalid(100 * share)
    cmap = "Reds"
    vmax = float(np.nanmax(100 * share)) if np.isfinite(share).any() else 1.0
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=max(vmax, 1e-12), interpolation="nearest")
    ax.set_facecolor("#eeeeee")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n):
        for j in range(n):
            if np.isfinite(h2[i, j]) and n <= 15:
                color = "white" if share[i, j] * 100 > 0.6 * vmax else "black"
                ax.text(j, i, f"{h2[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, label="pair interaction, % of the output's variance", shrink=0.8)
    ax.set_title("pairs: colour = share of output variance, text = Friedman's H²", fontsize=9)
    if ax2 is not None:
        values = result.overall[:, target]  # type: ignore[index]
        order = np.argsort(np.nan_to_num(values, nan=-1.0), kind="stable")
        ax2.barh(range(len(order)), np.nan_to_num(values[order]), color="#c0504d")
        ax2.set_yticks(range(len(order)), [result.features[i] for i in order])
        ax2.set_xlabel("overall H² (with all other features)")
        ax2.set_xlim(0, max(0.05, float(np.nanmax(values)) * 1.1) if np.isfinite(values).any() else 1)
    label = result.targets[target]
    fig.suptitle(title + ("" if label is None else f" — target {label}"), fontsize=10)
    return InteractionDisplay(fig, ax, ax2, share, names)
