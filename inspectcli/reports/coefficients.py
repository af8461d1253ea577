"""From linear-model coefficients to JSON entries, tidy CSV and the terminal table."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from inspectcli.engines.coefficients import Coefficients
from inspectcli.formatting import bar, fmt, label
from inspectcli.results import csv_bytes


def order(res: Coefficients, t: int, top: int | None = None) -> list[int]:
    """Feature positions by decreasing |scaled coefficient| (ties in model order)."""
    size = np.nan_to_num(np.abs(res.scaled[t]), nan=-1.0)
    idx = np.argsort(-size, kind="stable").tolist()
    return idx[:top] if top else idx


def json_entries(res: Coefficients) -> list[dict[str, Any]]:
    """The ``results`` list of coefficients.json: one entry per class / output, features in model order."""
    entries = []
    scaled = res.scaled
    cv = res.cv
    for t, target in enumerate(res.targets):
        rows = []
        for j, name in enumerate(res.features):
            row: dict[str, Any] = {
                "feature": name,
                "source": res.source(j),
                "sources": res.sources[j],
                "one_hot": res.one_hot[j],
                "coefficient": float(res.coef[t, j]),
                "feature_std": float(res.feature_std[j]),
                "scaled_coefficient": float(scaled[t, j]),
            }
            if cv is not None:
                row["cv"] = cv.coef[:, t, j].tolist()
                row["cv_scaled"] = cv.scaled[:, t, j].tolist()
                row["cv_mean"] = float(cv.mean[t, j])
                row["cv_std"] = float(cv.std[t, j])
                row["sign_flips"] = bool(cv.sign_flips[t, j])
                row["unstable"] = bool(cv.unstable[t, j])
            rows.append(row)
        entries.append({"target": target, "coefficients": rows, "intercept": float(res.intercept[t])})
    return entries


def csv_data(res: Coefficients) -> bytes:
    """Tidy long CSV: one row per (target, feature, fit); ``fold`` is empty for the model itself."""
    header = [
        "target",
        "feature",
        "source",
        "one_hot",
        "fold",
        "coefficient",
        "feature_std",
        "scaled_coefficient",
    ]
    scaled = res.scaled

    def rows() -> Any:
        for t, target in enumerate(res.targets):
            tgt = "" if target is None else target
            for j, name in enumerate(res.features):
                src = res.source(j) or "|".join(res.sources[j])
                yield [
                    tgt,
                    name,
                    src,
                    res.one_hot[j],
                    "",
                    res.coef[t, j],
                    res.feature_std[j],
                    scaled[t, j],
                ]
                if res.cv is not None:
                    for f in range(res.cv.n_fits):
                        c, std = res.cv.coef[f, t, j], res.cv.feature_std[f, j]
                        yield [tgt, name, src, res.one_hot[j], f, c, std, c * std]

    return csv_bytes(header, rows())


def _signed_bar(value: float, peak: float, width: int = 10) -> str:
    if not np.isfinite(value) or peak <= 0:
        return ""
    return ("−" if value < 0 else "+") + bar(abs(value), peak, width)


def table(res: Coefficients, t: int, *, top: int | None = None, title: str | None = None) -> Table:
    """Features by decreasing |scaled coefficient|: raw, std, scaled, a bar, and the refits' spread."""
    target = res.targets[t]
    head = title or f"coefficients — {res.estimator}"
    if target is not None:
        head += f", {'class' if res.is_classifier else 'output'} {label(target)}"
    head += f" (intercept {fmt(res.intercept[t])}"
    if res.cv is not None:
        head += f"; {res.cv.n_fits} refits: mean ± std of coefficient × std"
    head += ")"
    tab = Table(title=head, title_justify="left")
    tab.add_column("#", justify="right")
    tab.add_column("feature", style="bold")
    show_source = any(res.source(j) != res.features[j] for j in range(len(res.features)))
    if show_source:
        tab.add_column("source")
    tab.add_column("coefficient", justify="right")
    tab.add_column("std", justify="right")
    tab.add_column("× std", justify="right")
    tab.add_column("")
    cv = res.cv
    if cv is not None:
        tab.add_column("refits", justify="right")
        tab.add_column("flag")
    scaled = res.scaled[t]
    idx = order(res, t, top)
    peak = float(np.nanmax(np.abs(scaled))) if np.isfinite(scaled).any() else 0.0
    for r, j in enumerate(idx):
        cells = [str(r + 1), res.features[j]]
        if show_source:
            src = res.source(j) or ", ".join(res.sources[j]) or "—"
            cells.append(src + (" (one-hot)" if res.one_hot[j] else ""))
        cells += [fmt(res.coef[t, j]), fmt(res.feature_std[j]), fmt(scaled[j]), _signed_bar(scaled[j], peak)]
        if cv is not None:
            cells.append(f"{fmt(cv.mean[t, j])} ± {fmt(cv.std[t, j], 2)}")
            flags = []
            if cv.sign_flips[t, j]:
                flags.append("sign flips")
            if cv.unstable[t, j]:
                flags.append("unstable")
            cells.append(", ".join(flags))
        tab.add_row(*cells)
    if top and len(res.features) > top:
        tab.caption = f"top {top} of {len(res.features)}"
    return tab
