"""The page's building blocks: its sections, the parsed input, escaping, tables and numbered figures.

Everything printed from a result document goes through ``_e`` (HTML-escaped, quotes too).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from inspectcli.formatting import fmt
from inspectcli.reports.html import figures as fg

#: Sections of the page, in order: (id, heading).
SECTIONS = (
    ("info", "Model and data"),
    ("importance", "Permutation importance"),
    ("pdp", "Partial dependence and ICE"),
    ("ale", "Accumulated local effects"),
    ("h2", "Interactions (Friedman’s H² at data points)"),
    ("coefficients", "Coefficients"),
    ("notes", "Notes and warnings"),
)
PARTS = tuple(s for s, _ in SECTIONS if s != "notes")


@dataclass
class ReportInput:
    """What a page is built from: one parsed result document per part, and the run's manifest.

    ``docs`` maps a part ('info', 'importance', 'pdp', 'ale', 'h2', 'coefficients') to its JSON
    document; ``manifest`` is report.json when there is one (parameters, notes, status and time
    of each part); ``sources`` names the file each part was read from.
    """

    docs: dict[str, dict[str, Any]]
    manifest: dict[str, Any] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def status(self, part: str) -> dict[str, Any]:
        parts = (self.manifest or {}).get("parts") or {}
        return parts.get(part) or {}


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _asset(name: str) -> str:
    return resources.files("inspectcli.reports.html").joinpath("assets", name).read_text("utf-8")


def _num(v: Any, digits: int = 4) -> str:
    """A table cell with its raw value for sorting."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '<td class="num" data-v="">—</td>'
    return f'<td class="num" data-v="{_e(repr(float(v)))}">{_e(fmt(v, digits))}</td>'


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], *, sortable: bool = True, cls: str = ""
) -> str:
    """``rows`` are lists of ready ``<td>`` strings."""
    ths = "".join(f"<th{' data-sort' if sortable else ''}>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>'


def _td(text: Any, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}>{_e(text)}</td>"


def _kv(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f'<table class="kv"><tbody>{body}</tbody></table>'


class _Figures:
    """Numbers figures on the page and renders each as <figure> with its hover data."""

    def __init__(self) -> None:
        self.n = 0

    def prefix(self) -> str:
        self.n += 1
        return f"f{self.n}"

    def html(self, fig: fg.SVGFigure, caption: str = "", cls: str = "") -> str:
        data = json.dumps(fig.hover_json(), separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
        ice = f' data-ice="{_e(fig.ice_id)}"' if fig.ice_id else ""
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        # at most its natural size (1 pt = 4/3 CSS px): small multiples and wide figures alike
        m = re.search(r'viewBox="0 0 ([\d.]+) ', fig.svg)
        size = f' style="max-width:{float(m.group(1)) * 4 / 3:.0f}px"' if m else ""
        return (
            f'<figure class="plot {cls}"{ice}{size}>{fig.svg}'
            f'<script type="application/json" class="hover">{data}</script>{cap}</figure>'
        )


def _skipped(part: str, inp: ReportInput) -> str:
    st = inp.status(part)
    reason = st.get("reason") or "no result for this part"
    return f'<p class="skipped">Not in this report: {_e(reason)}.</p>'


# ------------------------------------------------------------------------------------------
# sections
