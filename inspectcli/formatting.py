"""Number and text formatting for tables, summaries and plot labels: number formats, sparklines, bars."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SPARK = "▁▂▃▄▅▆▇█"
BLOCKS = " ▏▎▍▌▋▊▉█"


def sparkline(
    values: Sequence[float] | np.ndarray,
    width: int = 24,
    *,
    lo: float | None = None,
    hi: float | None = None,
) -> str:
    """A unicode sparkline of a curve, resampled to at most ``width`` characters.

    ``lo`` / ``hi`` set the scale (▁ and █); by default the curve's own minimum and maximum.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return ""
    if v.size > width:
        edges = np.linspace(0, v.size, width + 1).astype(int)
        v = np.array([v[a:b].mean() for a, b in itertools.pairwise(edges) if b > a])
    lo = float(v.min()) if lo is None else min(float(lo), float(v.min()))
    hi = float(v.max()) if hi is None else max(float(hi), float(v.max()))
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


class Spark:
    """A sparkline cell drawn at the width its table column gets (``fit_table`` chooses it).

    ``lo`` / ``hi`` fix the scale: rows of one table drawn with the same ``lo`` and ``hi`` share
    it (a flat curve stays flat beside a steep one).
    """

    def __init__(self, values: Sequence[float] | np.ndarray, *, lo: float, hi: float, width: int = 24):
        self.values = np.asarray(values, dtype=float).reshape(-1)
        self.lo, self.hi, self.width = float(lo), float(hi), width

    def render(self, width: int | None = None) -> str:
        return sparkline(self.values, width=width or self.width, lo=self.lo, hi=self.hi)

    def __str__(self) -> str:
        return self.render()

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        n = len(self.render())
        return Measurement(min(n, 8), n)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        yield Text(self.render(min(self.width, options.max_width)), no_wrap=True, overflow="crop")


#: Below this many characters a sparkline says too little: ``fit_table`` drops its column.
MIN_SPARK = 8
#: Text cells longer than this are prose that may wrap; shorter ones (names) are kept whole.
PROSE = 40


def fit_table(table: Any, width: int) -> Any:
    """Make a rich Table fit ``width`` columns without truncating a number.

    Columns marked ``no_wrap`` (numbers, grid spans) keep their full width. The sparkline
    column (cells of type ``Spark``) gives way first: it is drawn narrower, then dropped when
    fewer than ``MIN_SPARK`` characters are left. Any other text column (names) may fold.
    The title never wraps: the table is at least as wide as its title, within ``width``.
    """
    from rich.text import Text

    cols = list(table.columns)

    def blank(x: Any) -> bool:
        return (x.plain if isinstance(x, Text) else str(x)) == ""

    spark = [
        i
        for i, c in enumerate(cols)
        if any(isinstance(x, Spark) for x in c._cells)
        and all(isinstance(x, Spark) or blank(x) for x in c._cells)
    ]

    def natural(i: int) -> int:
        c = cols[i]
        cells = [x.render() if isinstance(x, Spark) else x for x in c._cells]
        texts = [x.plain if isinstance(x, Text) else str(x) for x in cells]
        head = c.header.plain if isinstance(c.header, Text) else str(c.header)
        lines = [line for t in texts for line in t.split("\n")]
        longest = max([len(line) for line in lines] or [0])
        if not c.no_wrap and longest > PROSE and i not in spark:
            # prose that may wrap (a list of columns, a message) needs only its longest word;
            # names (shorter) stay whole: the sparkline gives way before they wrap
            longest = max([len(w) for line in lines for w in line.split()] or [0])
        return max(longest, len(head))

    overhead = 3  # one space each side and a border
    others = sum(natural(i) + overhead for i in range(len(cols)) if i not in spark) + 1
    for i in reversed(spark):
        room = width - others - overhead
        if room >= MIN_SPARK:
            cols[i].width = min(natural(i), room)
            cols[i].no_wrap = True
            others += cols[i].width + overhead
        else:
            table.columns.pop(i)
            caption = table.caption.plain if isinstance(table.caption, Text) else table.caption
            if isinstance(caption, str):  # the line about the sparklines' scale goes with them
                kept = "\n".join(ln for ln in caption.split("\n") if not ln.startswith("curve:"))
                table.caption = Text(kept, style="table.caption") if kept else None
    if others > width and table.show_edge:  # still too wide: no outer border (2 columns saved)
        table.show_edge = False
        others -= 2
    if others > width:  # then one space between columns instead of three characters
        table.padding = (0, 1, 0, 0)
        table.pad_edge = False
    for c in table.columns:
        if not c.no_wrap:
            c.overflow = "fold"
    title = table.title.plain if isinstance(table.title, Text) else table.title
    if isinstance(title, str):
        table.min_width = min(len(title), width)
        table.title = Text(title, style="table.title", no_wrap=True, overflow="ellipsis")
    return table
