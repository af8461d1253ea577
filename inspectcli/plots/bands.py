"""Uncertainty bands drawn on PD and ALE panels: a shaded band, or error bars on categories."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes


def band_label(curve: Any, level: float) -> str:
    """What the band is: '95% bootstrap interval (200 resamples)' or '95% band (± 1.96 SE)'."""
    if curve.bootstrap is not None:
        b = curve.bootstrap
        return f"{b.level:.0%} bootstrap interval ({b.n:,} resamples)"
    from inspectcli.engines.bands import z_value

    return f"{level:.0%} band (± {z_value(level):.2f} SE over rows)"


def shade(ax: Axes, x: np.ndarray, curve: Any, level: float, color: Any, label: str | None) -> Any:
    """A shaded band behind a numeric curve (None when the curve has none)."""
    band = curve.band(level)
    if band is None:
        return None
    lo, hi = (np.asarray(v, dtype=float) for v in band)
    return ax.fill_between(x, lo, hi, color=color, alpha=0.22, linewidth=0, label=label, zorder=1.5)


def error_bars(
    ax: Axes, pos: np.ndarray, values: np.ndarray, curve: Any, level: float, label: str | None
) -> Any:
    """Error bars on categorical values (bars or markers at ``pos``); None without a band."""
    band = curve.band(level)
    if band is None:
        return None
    lo, hi = (np.asarray(v, dtype=float) for v in band)
    values = np.asarray(values, dtype=float)
    yerr = np.vstack([np.maximum(values - lo, 0), np.maximum(hi - values, 0)])
    return ax.errorbar(
        pos, values, yerr=yerr, fmt="none", ecolor="0.15", elinewidth=1.2, capsize=3, label=label
    )
