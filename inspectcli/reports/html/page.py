"""Result documents (the JSON files the commands write) -> one self-contained HTML page.

Pure: parsed documents in, bytes out; no model, no data, no clock. Every figure is an inline SVG
drawn by matplotlib (readable and printable without JavaScript); a small hand-written script
(``assets/report.js``) adds hover values, the ICE toggle and sortable tables. Style and script are
inlined from package data, so the page needs no network. The same documents give the same bytes;
run times appear only when ``timings=True``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from inspectcli.reports.html.markup import (
    PARTS,
    SECTIONS,
    ReportInput,
    _asset,
    _e,
    _Figures,
    _kv,
    _num,
    _table,
    _td,
)
from inspectcli.reports.html.sections import (
    _notes,
    _section_ale,
    _section_coefficients,
    _section_h2,
    _section_importance,
    _section_info,
    _section_pdp,
)

__all__ = ["PARTS", "SECTIONS", "ReportInput", "build_page"]


# ------------------------------------------------------------------------------------------
# provenance


def _first(inp: ReportInput, key: str) -> Any:
    for part in PARTS:
        doc = inp.docs.get(part)
        if doc and doc.get(key):
            return doc[key]
    return (inp.manifest or {}).get(key)


def _provenance(inp: ReportInput, timings: bool) -> str:
    man = inp.manifest or {}
    model = _first(inp, "model") or {}
    data = _first(inp, "data") or {}
    info = inp.docs.get("info") or {}
    shape = None
    if (info.get("data") or {}).get("n_rows") is not None:
        shape = f"{info['data']['n_rows']:,} rows × {info['data']['n_columns']} columns"
    elif data.get("n_rows") is not None:
        shape = f"{data['n_rows']:,} rows"
    versions = dict(man.get("versions") or {})
    tool = _first(inp, "tool") or {}
    if not versions:
        versions = {"inspectcli": tool.get("version"), "scikit-learn": _first(inp, "sklearn_version")}
    rows = [
        ("model", model.get("path")),
        ("model class", model.get("class")),
        ("model sha256", model.get("sha256")),
        ("data", data.get("path")),
        ("data sha256", data.get("sha256")),
        ("data shape", shape),
        ("random state", (man.get("parameters") or {}).get("random_state", _seed(inp))),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
    ]
    out = [_kv(rows)]
    prow = []
    for part, heading in SECTIONS[:-1]:
        doc = inp.docs.get(part)
        st = inp.status(part)
        status = st.get("status") or ("done" if doc is not None else "not run")
        src = inp.sources.get(part, st.get("file") or "")
        cells = [_td(heading, "name"), _td(status), _td(src)]
        if timings:
            t = st.get("elapsed_s", doc.get("elapsed_s") if doc else None)
            cells.append(_num(t, 3))
        prow.append(cells)
    head = ["part", "status", "result file"] + (["seconds"] if timings else [])
    out.append(_table(head, prow, sortable=False))
    if not timings:
        out.append(
            '<p class="small">Run times are left out so that the same inputs give the same page '
            "(<code>--timings</code> adds them; they are in each result file's <code>elapsed_s</code>).</p>"
        )
    params = []
    if man.get("parameters"):
        params.append(("report", man["parameters"]))
    for part, heading in SECTIONS[:-1]:
        doc = inp.docs.get(part)
        if doc and doc.get("parameters"):
            params.append((heading, doc["parameters"]))
    if params:
        blocks = "".join(
            f"<h4>{_e(name)}</h4><pre>{_e(json.dumps(p, indent=1, ensure_ascii=False))}</pre>"
            for name, p in params
        )
        out.append(f"<details><summary>Every parameter</summary>{blocks}</details>")
    return "".join(out)


def _seed(inp: ReportInput) -> Any:
    seeds = {json.dumps((d.get("parameters") or {}).get("random_state")) for d in inp.docs.values() if d}
    seeds.discard("null")
    return ", ".join(sorted(seeds)) or None


# ------------------------------------------------------------------------------------------


def build_page(
    inp: ReportInput,
    *,
    title: str | None = None,
    timings: bool = False,
    top: int = 20,
    renderers: Mapping[str, Callable[..., str]] | None = None,
) -> bytes:
    """The HTML page for ``inp``, as UTF-8 bytes.

    Parameters
    ----------
    inp : the parsed result documents (and manifest) of one model.
    title : the page's heading; default from the model and data file names.
    timings : show each part's run time (pages then differ between runs).
    top : rows drawn in the importance and coefficient figures (tables list all).
    """
    figs = _Figures()
    model = _first(inp, "model") or {}
    data = _first(inp, "data") or {}
    mname = Path(str(model.get("path") or "model")).name
    dname = Path(str(data.get("path") or "data")).name
    title = title or f"{mname} on {dname}"
    bodies = {
        "info": lambda: _section_info(inp, figs),
        "importance": lambda: _section_importance(inp, figs, top),
        "pdp": lambda: _section_pdp(inp, figs),
        "ale": lambda: _section_ale(inp, figs),
        "h2": lambda: _section_h2(inp, figs),
        "coefficients": lambda: _section_coefficients(inp, figs, top),
        "notes": lambda: _notes(inp),
    }
    nav = "".join(f'<a href="#{sid}">{_e(head)}</a>' for sid, head in SECTIONS)
    sections = "".join(
        f'<section id="{sid}"><h2>{_e(head)}</h2>{bodies[sid]()}</section>' for sid, head in SECTIONS
    )
    tool = _first(inp, "tool") or {}
    values = {
        "title": _e(title),
        "css": _asset("report.css"),
        "js": _asset("report.js").replace("</", "<\\/"),
        "subtitle": _e(model.get("class", "")),
        "nav": nav,
        "provenance": _provenance(inp, timings),
        "sections": sections,
        "tool": _e(f"inspectcli {tool.get('version', '')}"),
    }
    page = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], _asset("page.html"))
    return page.encode("utf-8")
