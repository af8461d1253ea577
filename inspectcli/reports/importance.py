"""From permutation-importance results to JSON entries, tidy CSV and the terminal table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table

from inspectcli.engines.impurity import ImpurityImportance
from inspectcli.engines.permutation import PermutationImportance, ScorerImportances
from inspectcli.formatting import bar, fmt
from inspectcli.results import csv_bytes


def order(block: ScorerImportances, top: int | None = None) -> np.ndarray:
    """Row positions by decreasing mean importance (ties in data order), the first ``top``."""
    return block.order(top)


def ranks(block: ScorerImportances) -> np.ndarray:
    """1 = largest mean importance (ties keep data order)."""
    return block.ranks()


def json_entries(result: PermutationImportance) -> list[dict[str, Any]]:
    """The ``results`` list of importance.json: one entry per scorer, features in data order."""
    entries = []
    for block in result.scorers:
        rk = ranks(block)
        feats = []
        for i, name in enumerate(result.features):
            feats.append(
                {
                    "feature": name,
                    "columns": result.columns[i],
                    "importances_mean": float(block.importances_mean[i]),
                    "importances_std": float(block.importances_std[i]),
                    "importances": block.importances[i].tolist(),
                    "rank": int(rk[i]),
                }
            )
        entries.append({"scorer": block.scorer, "baseline_score": block.baseline_score, "features": feats})
    return entries


def csv_data(result: PermutationImportance, compare: PermutationImportance | None = None) -> bytes:
    """Tidy long CSV: scorer, feature, repeat, importance (and dataset with --compare)."""
    sets = [("data", result)] + ([("compare", compare)] if compare is not None else [])
    header = (["dataset"] if compare is not None else []) + [
        "scorer",
        "feature",
        "columns",
        "repeat",
        "importance",
    ]

    def rows() -> Any:
        for tag, res in sets:
            for block in res.scorers:
                for i, name in enumerate(res.features):
                    for r, value in enumerate(block.importances[i]):
                        lead = [tag] if compare is not None else []
                        yield [*lead, block.scorer, name, "|".join(res.columns[i]), r, value]

    return csv_bytes(header, rows())


def table(
    result: PermutationImportance,
    block: ScorerImportances,
    *,
    top: int | None = None,
    impurity: ImpurityImportance | None = None,
    compare: PermutationImportance | None = None,
    compare_name: str = "compare",
) -> Table:
    """Features sorted by mean importance: rank, mean ± std, a bar, MDI and the comparison."""
    t = Table(
        title=f"permutation importance — {block.scorer} (baseline {fmt(block.baseline_score)}, "
        f"{result.n_repeats} repeats, {result.max_samples:,} rows)",
        title_justify="left",
        caption_justify="left",
    )
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("feature", style="bold")
    t.add_column("mean ± std", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    cmp_block = None
    if compare is not None:
        cmp_block = compare.scorer(block.scorer)
        t.add_column(f"{compare_name}: mean ± std", justify="right", no_wrap=True)
        t.caption = (
            f"baseline {block.scorer}: {fmt(block.baseline_score)} on the data, "
            f"{fmt(cmp_block.baseline_score)} on {compare_name}"
        )
    if impurity is not None:
        t.add_column(impurity.kind, justify="right", no_wrap=True)
    means, stds = block.importances_mean, block.importances_std
    rows = order(block, top)
    peak = float(np.max(means)) if len(means) else 0.0
    for r, i in enumerate(rows):
        name = result.features[i]
        cols = result.columns[i]
        shown = name if cols == [name] else f"{name} ({', '.join(cols)})"
        cells = [str(r + 1), shown, f"{fmt(means[i])} ± {fmt(stds[i], 2)}", bar(means[i], peak)]
        if cmp_block is not None:
            j = compare.features.index(name)  # type: ignore[union-attr]
            cells.append(f"{fmt(cmp_block.importances_mean[j])} ± {fmt(cmp_block.importances_std[j], 2)}")
        if impurity is not None:
            mdi = [impurity.values.get(c) for c in cols]
            cells.append(fmt(sum(mdi)) if all(v is not None for v in mdi) else "—")
        t.add_row(*cells)
    if top and len(means) > top:
        t.caption = "\n".join(x for x in (f"top {top} of {len(means)}", t.caption) if x)
    return t


def clusters_table(groups: dict[str, list[str]], excluded: Sequence[str]) -> Table:
    t = Table(title="correlated feature clusters (permuted together)", title_justify="left")
    t.add_column("group", style="bold")
    t.add_column("features")
    for name, cols in groups.items():
        t.add_row(name, ", ".join(cols))
    if not groups:
        t.add_row("—", "no two features are correlated closely enough at this threshold")
    if excluded:
        t.caption = f"not clustered (non-numeric): {', '.join(excluded)}"
    return t
