"""Coefficient figures as scikit-learn's example "Common pitfalls in the interpretation of
coefficients of linear models" draws them: horizontal bars of coefficient × feature std, and with
refits a boxplot of every fit's scaled coefficients beside them (one row of panels per class)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from inspectcli.engines.coefficients import Coefficients
from inspectcli.formatting import label
from inspectcli.reports.coefficients import order

NUMERIC_COLOR = "tab:blue"
ONE_HOT_COLOR = "tab:purple"
FLAG_COLOR = "tab:red"


@dataclass
class CoefficientsDisplay:
    """The figure and its artists; panels are indexed into ``axes_``."""

    figure_: Figure
    axes_: list[Axes]
    bars_: dict[int, Any] = field(default_factory=dict)
    boxplots_: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_: dict[int, list[str]] = field(default_factory=dict)  # features top to bottom
    flagged_: dict[int, list[str]] = field(default_factory=dict)


def plot_coefficients(
    res: Coefficients, *, top: int | None = None, title: str | None = None
) -> CoefficientsDisplay:
    """One row per target: bars of scaled coefficients, and (with refits) their fold boxplots.

    Features are sorted by |scaled coefficient|, largest on top; one-hot columns are drawn in
    another colour; features flagged by the refits (sign flips or spread above size) have red
    labels.
    """
    n_t = len(res.targets)
    n_cols = 2 if res.cv is not None else 1
    n_feat = len(order(res, 0, top))
    height = max(2.6, 0.26 * n_feat + 1.3)
    fig = Figure(figsize=(5.6 * n_cols + 1.6, height * n_t + (0.4 if title else 0)), layout="constrained")
    axes = fig.subplots(n_t, n_cols, squeeze=False, sharey="row")
    display = CoefficientsDisplay(fig, axes.ravel().tolist())
    for t, target in enumerate(res.targets):
        idx = order(res, t, top)[::-1]  # drawn bottom-up: the largest on top
        names = [res.features[j] for j in idx]
        flagged = []
        if res.cv is not None:
            flag = res.cv.sign_flips[t] | res.cv.unstable[t]
            flagged = [res.features[j] for j in idx if flag[j]]
        pos = np.arange(1, len(idx) + 1)
        ax = axes[t, 0]
        k = t * n_cols
        colors = [ONE_HOT_COLOR if res.one_hot[j] else NUMERIC_COLOR for j in idx]
        display.bars_[k] = ax.barh(
            pos, np.nan_to_num(res.scaled[t, idx]), color=colors, alpha=0.85, height=0.7
        )
        ax.axvline(0, color="k", linewidth=0.8)
        xlabel = "coefficient × feature std"
        if res.target_transform is not None:
            xlabel += f" (on {res.target_transform}(y))"
        elif res.is_classifier:
            xlabel += " (log-odds)"
        ax.set_xlabel(xlabel)
        head = "coefficients × std of their feature"
        if target is not None:
            head = f"{'class' if res.is_classifier else 'output'} {label(target)}: " + head
        ax.set_title(head, fontsize="medium")
        display.order_[k] = names[::-1]
        display.flagged_[k] = flagged
        legend = []
        if any(res.one_hot[j] for j in idx):
            legend = [
                Patch(color=NUMERIC_COLOR, label="numeric"),
                Patch(color=ONE_HOT_COLOR, label="one-hot"),
            ]
        if flagged:
            legend.append(Patch(color=FLAG_COLOR, label="red label: sign flips or spread > size"))
        if legend:
            ax.legend(handles=legend, fontsize="small", loc="best")
        if res.cv is not None:
            bx = axes[t, 1]
            data = []
            for j in idx:
                v = res.cv.scaled[:, t, j]
                data.append(v[np.isfinite(v)])
            bp = bx.boxplot(data, orientation="horizontal", whis=10, patch_artist=True, widths=0.6)
            for patch, j in zip(bp["boxes"], idx):
                patch.set_facecolor(ONE_HOT_COLOR if res.one_hot[j] else NUMERIC_COLOR)
                patch.set_alpha(0.5)
            bx.axvline(0, color="k", linestyle="--", linewidth=0.8)
            bx.tick_params(labelleft=False)
            bx.set_xlabel("coefficient × feature std, per refit")
            cvr = res.cv
            bx.set_title(
                f"variability: {cvr.n_fits} refits ({cvr.n_splits}-fold × {cvr.n_repeats})", fontsize="medium"
            )
            display.boxplots_[k + 1] = bp
            display.order_[k + 1] = names[::-1]
            display.flagged_[k + 1] = flagged
        ax.set_yticks(pos, names)  # after boxplot(), which resets the row's shared ticks
        ax.set_ylim(0.3, len(idx) + 0.7)
        for tick in ax.get_yticklabels():
            if tick.get_text() in flagged:
                tick.set_color(FLAG_COLOR)
    if title:
        fig.suptitle(title)
    return display
