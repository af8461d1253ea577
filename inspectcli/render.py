"""Small text renderings shared by the terminal tables: sparklines, bars, number formats."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SPARK = "▁▂▃▄▅▆▇█"
BLOCKS = " ▏▎▍▌▋▊▉█"


def sparkline(values: Sequence[float] | np.ndarray, width: int = 24) -> str:
    """A unicode sparkline of a curve, resampled to at most ``width`` characters."""
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return ""
    if v.size > width:
        edges = np.linspace(0, v.size, width + 1).astype(int)
        v = np.array([v[a:b].mean() for a, b in itertools.pairwise(edges) if b > a])
    lo, hi = float(v.min()), float(v.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return SPARK[3] * v.size
    idx = np.round((v - lo) / (hi - lo) * (len(SPARK) - 1)).astype(int)
    return "".join(SPARK[i] for i in idx)


def bar(value: float, maximum: float, width: int = 20) -> str:
    """A horizontal bar of block characters; negative values get no bar."""
    if not math.isfinite(value) or maximum <= 0 or value <= 0:
        return ""
    cells = value / maximum * width
    full = int(cells)
    rest = round((cells - full) * 8)
    if rest == 8:
        full, rest = full + 1, 0
    return "█" * min(full, width) + (BLOCKS[rest] if rest and full < width else "")


def fmt(x: Any, digits: int = 4) -> str:
    """Compact number: 4 significant digits, NaN as '—'."""
    if x is None:
        return "—"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "—"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.{digits - 1}e}"
    return f"{f:.{digits}g}"


def label(value: Any) -> str:
    """Text for a grid value or class label."""
    if isinstance(value, (float, np.floating)):
        return fmt(value)
    return str(value)
