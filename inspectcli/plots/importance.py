"""Importance figures: boxplots of the repeats (as scikit-learn's examples draw them), MDI bars,
and the correlation dendrogram + heatmap of scikit-learn's multicollinear example."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.cluster import hierarchy

from inspectcli.engines.correlation import Clustering
from inspectcli.engines.impurity import ImpurityImportance
from inspectcli.engines.permutation import PermutationImportance, scorer_change_label
from inspectcli.formatting import fmt
from inspectcli.reports.importance import order as rank_order


@dataclass
class ImportanceDisplay:
    figure_: Figure
    axes_: list[Axes]
    boxplots_: dict[int, dict[str, Any]] = field(default_factory=dict)
    bars_: dict[int, Any] = field(default_factory=dict)
    means_: dict[int, Any] = field(default_factory=dict)  # the mean of each box, as a marker
    order_: list[str] = field(default_factory=list)  # features top to bottom


def _label(result: PermutationImportance, i: int) -> str:
    name, cols = result.features[i], result.columns[i]
    if cols == [name]:
        return name
    shown = ", ".join(cols[:3]) + (", …" if len(cols) > 3 else "")
    return f"{name} ({shown})"


def plot_importance(
    result: PermutationImportance,
    *,
    top: int | None = None,
    impurity: ImpurityImportance | None = None,
    compare: PermutationImportance | None = None,
    data_name: str = "data",
    compare_name: str = "compare",
    title: str | None = None,
) -> ImportanceDisplay:
    """One boxplot panel per scorer (and per dataset with ``compare``), plus MDI bars.

    Each box carries a marker at its mean (the number the table ranks by). The x axis says what
    a positive importance means in plain words ("increase in RMSE"). With ``compare``, the two
    panels of a scorer share one x-range and their titles give each dataset's baseline score.
    """
    first = result.scorers[0]
    order = rank_order(first, top)[::-1]  # boxplots are drawn bottom-up: most important on top
    names = [result.features[i] for i in order]
    panels: list[tuple[str, PermutationImportance, int]] = []
    for s, block in enumerate(result.scorers):
        if compare is None:
            panels.append((f"{block.scorer} (baseline {fmt(block.baseline_score)})", result, s))
            continue
        other = compare.scorer(block.scorer)
        panels.append((f"{block.scorer} — {data_name}\n(baseline {fmt(block.baseline_score)})", result, s))
        panels.append(
            (f"{block.scorer} — {compare_name}\n(baseline {fmt(other.baseline_score)})", compare, s)
        )
    n_panels = len(panels) + (1 if impurity is not None and impurity.values else 0)
    height = max(3.0, 0.32 * len(order) + 1.4)
    fig = Figure(figsize=(min(5.2 * n_panels, 18), height), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False, sharey=True).ravel().tolist()
    display = ImportanceDisplay(fig, axes, order_=names[::-1])
    for k, (panel_title, res, s) in enumerate(panels):
        ax = axes[k]
        block = res.scorers[s]
        rows = [res.features.index(n) for n in names]
        bp = ax.boxplot(
            [block.importances[i] for i in rows],
            orientation="horizontal",
            whis=10,
            patch_artist=True,
            widths=0.6,
        )
        for patch in bp["boxes"]:
            patch.set_facecolor("tab:blue" if res is result else "tab:green")
            patch.set_alpha(0.55)
        (mean_marks,) = ax.plot(
            [block.importances_mean[i] for i in rows],
            range(1, len(rows) + 1),
            "D",
            color="k",
            markersize=4,
            label="mean",
        )
        display.means_[k] = mean_marks
        ax.axvline(0, color="k", linestyle="--", linewidth=0.8)
        ax.set_yticks(range(1, len(rows) + 1), [_label(res, i) for i in rows])
        ax.set_xlabel(scorer_change_label(block.scorer))
        ax.set_title(panel_title)
        display.boxplots_[k] = bp
    if compare is not None:  # a scorer's two panels on one x-range, so boxes compare by eye
        for k in range(0, len(panels), 2):
            lows, highs = zip(axes[k].get_xlim(), axes[k + 1].get_xlim())
            for ax in (axes[k], axes[k + 1]):
                ax.set_xlim(min(lows), max(highs))
    if impurity is not None and impurity.values:
        ax = axes[-1]
        vals = [
            sum(impurity.values.get(c, np.nan) for c in result.columns[result.features.index(n)])
            for n in names
        ]
        display.bars_[len(axes) - 1] = ax.barh(
            range(1, len(names) + 1), np.nan_to_num(vals), color="tab:gray"
        )
        ax.set_xlabel("mean decrease in impurity" if impurity.kind == "MDI" else impurity.kind)
        ax.set_title(impurity.title or f"{impurity.kind} ({impurity.estimator}, training data)")
    if title:
        fig.suptitle(title)
    fig.legend(
        handles=[display.means_[0]],
        labels=["mean of the repeats (boxes: spread)"],
        loc="outside lower center",
        fontsize="small",
        frameon=False,
    )
    return display


@dataclass
class CorrelationDisplay:
    figure_: Figure
    axes_: list[Axes]
    dendrogram_: dict[str, Any]
    image_: Any


def plot_correlation(clustering: Clustering, title: str | None = None) -> CorrelationDisplay:
    """Dendrogram of the Ward linkage (cut line at the threshold) beside the ordered |ρ| heatmap."""
    n = len(clustering.features)
    size = max(4.0, 0.28 * n + 2.5)
    fig = Figure(figsize=(2 * size + 1.0, size), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    dendro = hierarchy.dendrogram(
        clustering.linkage,
        labels=clustering.features,
        ax=ax1,
        leaf_rotation=90,
        color_threshold=clustering.threshold,
    )
    ax1.axhline(clustering.threshold, color="k", linestyle="--", linewidth=0.8)
    ax1.set_ylabel("Ward distance on 1 − |Spearman ρ|")
    ax1.set_title(f"clusters below {clustering.threshold:g}")
    order = dendro["leaves"]
    corr = clustering.correlation[np.ix_(order, order)]
    im = ax2.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ticks = np.arange(n)
    ax2.set_xticks(ticks, [clustering.features[i] for i in order], rotation="vertical")
    ax2.set_yticks(ticks, [clustering.features[i] for i in order])
    fig.colorbar(im, ax=ax2, label="Spearman ρ")
    ax2.set_title("Spearman rank correlation")
    if title:
        fig.suptitle(title)
    return CorrelationDisplay(fig, [ax1, ax2], dendro, im)
