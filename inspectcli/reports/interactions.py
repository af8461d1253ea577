"""From H² statistics to JSON entries, tidy CSV, the terminal table and gate subjects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from inspectcli.engines.h_statistic import InteractionResult
from inspectcli.formatting import bar, fmt
from inspectcli.results import csv_bytes


@dataclass(frozen=True)
class PairCurve:
    """What a gate sees of one pair: its features, target and H² (``h2(a,b) > 0.1``)."""

    features: tuple[str, str]
    target: Any
    h2: float | None
    average: Any = None  # no curve: range() does not apply


def _value(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def pair_curves(result: InteractionResult) -> list[PairCurve]:
    """One gate subject per (pair, target)."""
    return [
        PairCurve(pair, target, _value(result.pair_h2[p, t]))
        for t, target in enumerate(result.targets)
        for p, pair in enumerate(result.pairs)
    ]


def json_entries(result: InteractionResult) -> list[dict[str, Any]]:
    """One entry per target: features (spread, overall H²) and pairs ranked by share."""
    entries = []
    for t, target in enumerate(result.targets):
        features = []
        for i, name in enumerate(result.features):
            features.append(
                {
                    "feature": name,
                    "pd_spread": _value(result.spread[i, t]),
                    "h2_overall": None if result.overall is None else _value(result.overall[i, t]),
                }
            )
        pairs = []
        for rank, p in enumerate(result.pair_order(t), start=1):
            pairs.append(
                {
                    "features": list(result.pairs[p]),
                    "rank": rank,
                    "h2": _value(result.pair_h2[p, t]),
                    "share": _value(result.pair_share[p, t]),
                }
            )
        entries.append({"target": target, "features": features, "pairs": pairs})
    return entries


def csv_data(result: InteractionResult) -> bytes:
    """Tidy rows: ``target, kind, feature_1, feature_2, rank, h2, share, pd_spread``."""
    rows = []
    for entry in json_entries(result):
        for p in entry["pairs"]:
            rows.append([entry["target"], "pair", *p["features"], p["rank"], p["h2"], p["share"], None])
        for f in entry["features"]:
            rows.append(
                [entry["target"], "overall", f["feature"], None, None, f["h2_overall"], None, f["pd_spread"]]
            )
    header = ["target", "kind", "feature_1", "feature_2", "rank", "h2", "share", "pd_spread"]
    return csv_bytes(header, rows)


def table(result: InteractionResult, *, target: int = 0, top: int | None = 15, title: str = "") -> Table:
    """Pairs by share of the output's variance: rank, pair, H², share and a bar."""
    label = result.targets[target]
    suffix = "" if label is None else f" (target {label})"
    t = Table(title=f"{title}{suffix}", title_justify="left", caption_justify="left")
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("pair", style="bold")
    t.add_column("H²", justify="right", no_wrap=True)
    t.add_column("share", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    order = result.pair_order(target)
    shares = result.pair_share[:, target]
    peak = float(np.nanmax(shares)) if np.isfinite(shares).any() else 0.0
    for r, p in enumerate(order[:top] if top else order, start=1):
        h2, share = result.pair_h2[p, target], shares[p]
        t.add_row(
            str(r),
            " × ".join(result.pairs[p]),
            fmt(h2) if np.isfinite(h2) else "undefined",
            f"{100 * share:.2f}%" if np.isfinite(share) else "undefined",
            bar(share, peak) if np.isfinite(share) and peak > 0 else "",
        )
    lines = []
    if top and len(order) > top:
        lines.append(f"top {top} of {len(order)} pairs")
    lines.append(
        "H²: share of the pair's joint effect that is interaction (Friedman); share: of the output's variance"
    )
    t.caption = "\n".join(lines)
    return t


def overall_table(result: InteractionResult, *, target: int = 0) -> Table | None:
    """Each screened feature's overall H² (interaction with all others) and its PD spread."""
    if result.overall is None:
        return None
    t = Table(title="overall interaction of each feature", title_justify="left")
    t.add_column("feature", style="bold")
    t.add_column("overall H²", justify="right", no_wrap=True)
    t.add_column("PD spread", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    values = result.overall[:, target]
    peak = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    for i in np.argsort(-np.nan_to_num(values, nan=-1.0), kind="stable"):
        v = values[i]
        t.add_row(
            result.features[i],
            fmt(v) if np.isfinite(v) else "undefined",
            fmt(result.spread[i, target]),
            bar(v, peak) if np.isfinite(v) and peak > 0 else "",
        )
    return t
