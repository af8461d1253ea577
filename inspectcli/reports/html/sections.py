"""The page's sections, one function each: a parsed result document in, an HTML fragment out."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from inspectcli.formatting import fmt, label
from inspectcli.reports.html import figures as fg
from inspectcli.reports.html.markup import (
    SECTIONS,
    ReportInput,
    _e,
    _Figures,
    _kv,
    _num,
    _skipped,
    _table,
    _td,
)


def _profile(inp: ReportInput) -> dict[str, dict[str, Any]]:
    info = inp.docs.get("info") or {}
    prof = (info.get("profile") or {}).get("features") or []
    return {p["name"]: p for p in prof if isinstance(p, dict) and "name" in p}


def _section_info(inp: ReportInput, figs: _Figures) -> str:
    doc = inp.docs.get("info")
    if doc is None:
        return _skipped("info", inp)
    m = doc.get("model") or {}
    d = doc.get("data") or {}
    steps = " → ".join(f"{s['name']} ({s['class'].rsplit('.', 1)[-1]})" for s in m.get("steps") or [])
    classes = m.get("classes")
    out = ['<div class="cols">', "<div><h3>Model</h3>"]
    out.append(
        _kv(
            [
                ("file", m.get("path")),
                ("class", m.get("class")),
                ("steps", steps),
                ("task", (m.get("task") or "") + (f" — classes {classes}" if classes is not None else "")),
                ("features", m.get("n_features_in")),
                ("predicts with", ", ".join(m.get("response_methods") or [])),
                ("format", m.get("format")),
                ("size", f"{m['size_bytes']:,} bytes" if m.get("size_bytes") is not None else None),
                ("saved with scikit-learn", m.get("sklearn_version_saved")),
                ("sha256", m.get("sha256")),
            ]
        )
    )
    out.append("</div><div><h3>Data</h3>")
    pred = d.get("prediction") or {}
    out.append(
        _kv(
            [
                ("file", d.get("path")),
                ("rows × columns", f"{d['n_rows']:,} × {d['n_columns']}" if "n_rows" in d else None),
                ("target", d.get("target")),
                ("used columns", len(d.get("used") or [])),
                ("extra columns (ignored)", ", ".join(d.get("extra") or [])),
                ("missing columns", ", ".join(d.get("missing") or [])),
                ("trial prediction", "works" if pred.get("ok") else pred.get("error")),
                ("sha256", d.get("sha256")),
            ]
        )
    )
    out.append("</div></div>")
    prof = _profile(inp)
    if prof:
        rows = []
        for p in prof.values():
            dec = p.get("deciles")
            rows.append(
                [
                    _td(p["name"], "name"),
                    _td(p.get("kind")),
                    _num(p.get("missing")),
                    _num(p.get("n_unique")),
                    _num(p.get("min")),
                    _num(dec[4] if dec else None),
                    _num(p.get("max")),
                    _num(p.get("mean")),
                ]
            )
        out.append("<h3>Features</h3>")
        out.append(_table(["feature", "kind", "missing", "distinct", "min", "median", "max", "mean"], rows))
    return "".join(out)


def _imp_entries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in doc.get("results") or [] if isinstance(r, dict)]


def _section_importance(inp: ReportInput, figs: _Figures, top: int) -> str:
    doc = inp.docs.get("importance")
    if doc is None:
        return _skipped("importance", inp)
    params = doc.get("parameters") or {}
    impurity = (doc.get("impurity") or {}).get("values") or {}
    # MDI for scikit-learn's trees; a GBM library's own kind (split count, gain, ...) otherwise
    kind = str((doc.get("impurity") or {}).get("kind") or "MDI")
    out = []
    n_rows = (doc.get("data") or {}).get("n_used")
    out.append(
        f'<p class="lead">Drop in score when a feature’s values are shuffled ({_e(params.get("n_repeats"))} '
        f"repeats, {_e(n_rows)} rows, seed {_e(params.get('random_state'))}); larger means the model "
        "relies on it more. Correlated features are permuted together as one cluster.</p>"
    )
    for k, entry in enumerate(_imp_entries(doc)):
        feats = sorted(entry.get("features") or [], key=lambda f: f.get("rank") or 0)
        scorer = entry.get("scorer")
        if k == 0 and feats:
            shown = feats[:top]
            names = [f["feature"] for f in shown]
            mdi = None
            if impurity:
                label = "MDI (impurity)" if kind == "MDI" else kind
                mdi = (label, [_mdi(impurity, f["columns"]) for f in shown])
            extra = [", ".join(f["columns"]) if f["columns"] != [f["feature"]] else "" for f in shown]
            fig = fg.box_figure(
                prefix=figs.prefix(),
                title=f"{scorer}: drop after permutation",
                xlabel=f"importance (baseline {fmt(entry.get('baseline_score'))})",
                names=names,
                repeats=[f.get("importances") or [f.get("importances_mean")] for f in shown],
                extra=extra,
                side=mdi,
            )
            cap = f"Top {len(shown)} of {len(feats)}." if len(feats) > len(shown) else ""
            if mdi:
                what = "impurity importance (MDI)" if kind == "MDI" else f"the library's built-in {kind}"
                cap += f" Right: {what} of the fitted trees, summed over a cluster."
            out.append(figs.html(fig, cap.strip(), cls="wide"))
        head = ["#", "feature", "columns", "mean", "std", "repeats"] + ([kind] if impurity else [])
        rows = []
        for f in feats:
            reps = f.get("importances") or []
            cells = [
                _num(f.get("rank")),
                _td(f["feature"], "name"),
                _td(", ".join(f.get("columns") or [])),
                _num(f.get("importances_mean")),
                _num(f.get("importances_std"), 2),
                _num(len(reps)),
            ]
            if impurity:
                cells.append(_num(_mdi(impurity, f.get("columns") or [])))
            rows.append(cells)
        out.append(f"<h3>{_e(scorer)} — baseline score {_e(fmt(entry.get('baseline_score')))}</h3>")
        out.append(_table(head, rows))
    clusters = doc.get("clusters")
    if clusters:
        groups = clusters.get("groups") or {}
        out.append("<h3>Correlated features</h3>")
        if groups:
            out.append(
                _table(
                    ["cluster", "features"],
                    [[_td(g, "name"), _td(", ".join(c))] for g, c in groups.items()],
                    sortable=False,
                )
            )
        else:
            out.append(
                f"<p>No two features are correlated closely enough to be clustered "
                f"(Spearman, threshold {_e(clusters.get('threshold'))} on 1 − |ρ|).</p>"
            )
        corr, names = clusters.get("correlation"), clusters.get("features") or []
        if corr and 2 <= len(names) <= 40:
            order = [f for c in clusters.get("clusters") or [] for f in c]
            if sorted(order) != sorted(names):
                order = list(names)
            idx = [names.index(f) for f in order]
            z = [[corr[i][j] for j in idx] for i in idx]
            side = min(7.5, 2.2 + 0.2 * len(names))
            fig = fg.heatmap_figure(
                prefix=figs.prefix(),
                title="Spearman correlation",
                xlabel="feature",
                ylabel="feature ",
                xgrid=order,
                ygrid=order,
                values=z,
                value_name="ρ",
                cmap="RdBu_r",
                vmin=-1,
                vmax=1,
                size=(side + 0.9, side),
                tick_labels=True,
            )
            out.append(
                figs.html(
                    fig,
                    f"Features in cluster order; {clusters.get('method', '')}, "
                    f"threshold {clusters.get('threshold')}.",
                    cls="square",
                )
            )
    if doc.get("gates"):
        out.append(_gates(doc["gates"]))
    return "".join(out)


def _mdi(impurity: Mapping[str, Any], cols: Sequence[str]) -> float | None:
    vals = [impurity.get(c) for c in cols]
    if not vals or any(v is None for v in vals):
        return None
    return float(sum(vals))


def _gates(g: Mapping[str, Any]) -> str:
    rows = [
        [
            _td(c.get("condition"), "name"),
            _td(", ".join(c.get("features") or []) if c.get("features") else ""),
            _num(c.get("value")),
            _td(
                "FAILED" if c.get("status") == "fail" else "passed",
                "bad" if c.get("status") == "fail" else "ok",
            ),
        ]
        for c in g.get("conditions") or []
    ]
    state = "passed" if g.get("passed") else f"{g.get('n_failed')} failed"
    return f"<h3>--fail-if conditions ({_e(state)})</h3>" + _table(
        ["condition", "features", "value", "status"], rows
    )


def _target_text(entry: Mapping[str, Any]) -> str:
    t = entry.get("target")
    if t is None:
        return ""
    return (
        f" — class {label(t)}"
        if entry.get("response_method") in ("predict_proba", "decision_function")
        else (f" — output {t}")
    )


def _pd_ylabel(entry: Mapping[str, Any], centered: bool) -> str:
    rm = entry.get("response_method")
    text = {"predict_proba": "PD (probability)", "decision_function": "PD (decision)"}.get(rm or "", "PD")
    return text + (", centred" if centered else "")


def _section_pdp(inp: ReportInput, figs: _Figures) -> str:
    doc = inp.docs.get("pdp")
    entries = [e for e in (doc or {}).get("results") or [] if len(e.get("features") or []) == 1]
    if doc is None or not entries:
        return _skipped("pdp", inp)
    params = doc.get("parameters") or {}
    centered = bool(params.get("centered"))
    prof = _profile(inp)
    out = [
        '<p class="lead">How the prediction changes, on average (PD, bold) and row by row (ICE, thin), '
        f"as one feature moves over its grid; ticks on the axis mark the feature’s deciles. "
        f"{_e((doc.get('data') or {}).get('n_used'))} rows, grid of {_e(params.get('grid_resolution'))}"
        f" points within the {_e(params.get('percentiles'))} percentiles.</p>"
    ]
    if any(e.get("individual") for e in entries):
        out.append(
            '<p class="controls js-only"><label><input type="checkbox" id="ice-toggle" checked> '
            "show ICE lines</label></p>"
        )
    cells = []
    level = params.get("band_level")
    ylims = _shared_ylim(_with_bands(entries, "average", level), ("average", "individual", "_band"))
    for e in entries:
        name = e["features"][0]
        cat = bool((e.get("categorical") or [False])[0])
        avg = e.get("average")
        lines = [("PD", fg.PD_COLOR, avg, "-")] if avg is not None else []
        dec = (prof.get(name) or {}).get("deciles")
        fig = fg.curve_figure(
            prefix=figs.prefix(),
            title=name + _target_text(e),
            xlabel=name,
            ylabel=_pd_ylabel(e, centered),
            grid=e["grid"][0],
            categorical=cat,
            lines=lines,
            ice=e.get("individual"),
            deciles=None if cat else dec,
            ylim=ylims.get(json.dumps(e.get("target"))),
            band=_band(e, "average", params.get("band_level")),
        )
        cells.append(figs.html(fig))
    out.append('<div class="grid">' + "".join(cells) + "</div>")
    rows = []
    for e in entries:
        avg = [v for v in e.get("average") or [] if v is not None]
        rows.append(
            [
                _td(e["features"][0] + _target_text(e), "name"),
                _td(e.get("engine")),
                _num(min(avg) if avg else None),
                _num(max(avg) if avg else None),
                _num(e.get("variability")),
            ]
        )
    out.append(_table(["feature", "engine", "PD min", "PD max", "variability (Greenwell)"], rows))
    return "".join(out)


def _band(entry: Mapping[str, Any], key: str, level: Any) -> tuple[list[float], list[float], str] | None:
    """(lower, upper, name) of an entry's band: its bootstrap interval, else ``key`` ± z·SE; None without."""
    boot = entry.get("bootstrap")
    if boot:
        lower = [math.nan if v is None else v for v in boot["lower"]]
        upper = [math.nan if v is None else v for v in boot["upper"]]
        return lower, upper, f"{boot['level']:.0%} bootstrap ({boot['n']} resamples)"
    se, values = entry.get("se"), entry.get(key)
    if se is None or values is None or any(v is None for v in se):
        return None
    from inspectcli.engines.bands import z_value

    level = float(level or 0.95)
    z = z_value(level)
    mid = [math.nan if v is None else v for v in values]
    return (
        [m - z * s for m, s in zip(mid, se)],
        [m + z * s for m, s in zip(mid, se)],
        f"{level:.0%} band (± {z:.2f} SE)",
    )


def _with_bands(entries: Sequence[Mapping[str, Any]], key: str, level: Any) -> list[dict[str, Any]]:
    """The entries with their band's bounds under ``_band`` (for the shared y-range)."""
    out = []
    for e in entries:
        band = _band(e, key, level)
        bounds = [v for v in (band[0] + band[1] if band else []) if math.isfinite(v)]
        out.append({**e, "_band": bounds})
    return out


def _shared_ylim(entries: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, tuple[float, float]]:
    """One y-range per target over ``keys`` of every entry, so panels compare at a glance."""
    from inspectcli.reports.summary import _flat

    spans: dict[str, list[float]] = {}
    for e in entries:
        vals = [float(v) for k in keys for v in _flat(e.get(k)) if v is not None]
        vals = [v for v in vals if math.isfinite(v)]
        if vals:
            span = spans.setdefault(json.dumps(e.get("target")), [math.inf, -math.inf])
            span[0], span[1] = min(span[0], *vals), max(span[1], *vals)
    out = {}
    for key, (lo, hi) in spans.items():
        pad = 0.05 * (hi - lo) if hi > lo else max(1e-9, abs(hi) * 0.05) or 1.0
        out[key] = (lo - pad, hi + pad)
    return out


def _section_ale(inp: ReportInput, figs: _Figures) -> str:
    doc = inp.docs.get("ale")
    if doc is None or not doc.get("results"):
        return _skipped("ale", inp)
    prof = _profile(inp)
    out = [
        '<p class="lead">Accumulated local effects (Apley &amp; Zhu): the effect of a feature measured '
        "within narrow bins of the data, so correlated features do not drag the curve to combinations "
        "the data never shows. Dashed: the partial dependence on the same grid, centred alike.</p>"
    ]
    cells = []
    level = (doc.get("parameters") or {}).get("band_level")
    ylims = _shared_ylim(_with_bands(doc["results"], "ale", level), ("ale", "pdp", "_band"))
    for e in doc["results"]:
        name = e["features"][0]
        cat = bool((e.get("categorical") or [False])[0])
        lines = [("ALE", fg.ALE_COLOR, e.get("ale") or [], "-")]
        if e.get("pdp") is not None:
            lines.append(("PD", fg.PD_COLOR, e["pdp"], "--"))
        fig = fg.curve_figure(
            prefix=figs.prefix(),
            title=name + _target_text(e),
            xlabel=name,
            ylabel="ALE (centred)",
            grid=e["grid"][0],
            categorical=cat,
            lines=lines,
            deciles=None if cat else (prof.get(name) or {}).get("deciles"),
            ylim=ylims.get(json.dumps(e.get("target"))),
            band=_band(e, "ale", (doc.get("parameters") or {}).get("band_level")),
        )
        cells.append(figs.html(fig))
    out.append('<div class="grid">' + "".join(cells) + "</div>")
    return "".join(out)


def _section_interactions(doc: Mapping[str, Any], figs: _Figures) -> str:
    """`inspect interactions`' document: pairs ranked by H², each feature's overall H², a heatmap."""
    params = doc.get("parameters") or {}
    n_rows = params.get("rows")
    on = f" on {int(n_rows):,} rows (a seeded sample)" if n_rows else ""
    out = [
        '<p class="lead">Friedman’s H² at data points, as <code>inspect interactions</code> computes '
        f"it{on}: a pair’s H² is the share of the variance of its joint partial dependence that its "
        "two one-way effects do not explain (0: no interaction; 1: all interaction); its share is "
        "that interaction’s part of the variance of the model’s output. A feature’s overall H² is "
        "the share of its effect that involves any other feature.</p>"
    ]
    cells = []
    for entry in doc.get("results") or []:
        pairs = entry.get("pairs") or []
        feats = entry.get("features") or []
        target = _target_text({**entry, "response_method": params.get("response_method_used")})
        if target:
            out.append(f"<h3>{_e(target.lstrip(' —'))}</h3>")
        rows = [
            [_td(" × ".join(p["features"]), "name"), _num(p.get("h2"), 3), _num(p.get("share"), 3)]
            for p in pairs
        ]
        out.append(_table(["pair", "H²", "share of the output’s variance"], rows))
        if any(f.get("h2_overall") is not None for f in feats):
            rows = [
                [_td(f["feature"], "name"), _num(f.get("h2_overall"), 3), _num(f.get("pd_spread"), 3)]
                for f in feats
            ]
            out.append(_table(["feature", "overall H²", "PD spread"], rows))
        names = [f["feature"] for f in feats]
        if len(names) >= 2 and pairs:
            at = {n: i for i, n in enumerate(names)}
            values: list[list[Any]] = [[None] * len(names) for _ in names]
            for p in pairs:
                a, b = p["features"]
                if a in at and b in at:
                    values[at[a]][at[b]] = values[at[b]][at[a]] = p.get("h2")
            fig = fg.heatmap_figure(
                prefix=figs.prefix(),
                title="H² of each pair" + target,
                xlabel="feature",
                ylabel="feature",
                xgrid=names,
                ygrid=names,
                values=values,
                value_name="H²",
                vmin=0.0,
                tick_labels=True,
            )
            cells.append(figs.html(fig))
    if cells:
        out.append('<div class="grid">' + "".join(cells) + "</div>")
    return "".join(out)


def _section_h2(inp: ReportInput, figs: _Figures) -> str:
    doc = inp.docs.get("h2")
    if doc is not None and doc.get("kind") == "interactions":
        return _section_interactions(doc, figs)
    # (`report --from` a folder holding `pdp --pair` results: H² of the PD grids, as before)
    pairs = []
    for part in ("h2", "pdp"):
        doc = inp.docs.get(part)
        for e in (doc or {}).get("results") or []:
            if len(e.get("features") or []) == 2 and e.get("average") is not None:
                key = (tuple(e["features"]), json.dumps(e.get("target")))
                if key not in {(tuple(p["features"]), json.dumps(p.get("target"))) for p in pairs}:
                    pairs.append(e)
    if not pairs:
        return _skipped("h2", inp)
    pairs.sort(key=lambda e: -(e.get("h2") if e.get("h2") is not None else -1))
    out = [
        '<p class="lead">Friedman’s H² of a pair: the share of the pair’s joint partial dependence '
        "that the two one-way effects do not explain (0: no interaction; 1: all interaction).</p>"
    ]
    rows = [[_td(" × ".join(e["features"]) + _target_text(e), "name"), _num(e.get("h2"), 3)] for e in pairs]
    out.append(_table(["pair", "H²"], rows))
    cells = []
    for e in pairs:
        a, b = e["features"]
        ga, gb = e["grid"]
        fig = fg.heatmap_figure(
            prefix=figs.prefix(),
            title=f"{a} × {b}" + (f" — H² {fmt(e['h2'], 3)}" if e.get("h2") is not None else ""),
            xlabel=a,
            ylabel=b,
            xgrid=ga,
            ygrid=gb,
            values=e["average"],
            value_name="PD",
            tick_labels=len(ga) <= 6 and len(gb) <= 6,
        )
        cells.append(figs.html(fig))
    out.append('<div class="grid">' + "".join(cells) + "</div>")
    return "".join(out)


def _section_coefficients(inp: ReportInput, figs: _Figures, top: int) -> str:
    doc = inp.docs.get("coefficients")
    if doc is None:
        return _skipped("coefficients", inp)
    out = []
    for entry in doc.get("results") or []:
        coefs = entry.get("coefficients") or []
        ranked = sorted(coefs, key=lambda c: -abs(c.get("scaled_coefficient") or 0.0))
        shown = ranked[:top]
        tgt = entry.get("target")
        title = "scaled coefficients" + (f" — class {label(tgt)}" if tgt is not None else "")
        fig = fg.bar_figure(
            prefix=figs.prefix(),
            title=title,
            xlabel="coefficient × std of the feature",
            names=[c["feature"] for c in shown],
            values=[c.get("scaled_coefficient") for c in shown],
            texts=[
                f"{c['feature']}: scaled {fmt(c.get('scaled_coefficient'))}, "
                f"raw {fmt(c.get('coefficient'))}, "
                f"std {fmt(c.get('feature_std'))}"
                for c in shown
            ],
        )
        cap = (
            f"Largest {len(shown)} of {len(coefs)} by |scaled coefficient|; "
            f"intercept {fmt(entry.get('intercept'))}."
        )
        out.append(figs.html(fig, cap, cls="wide"))
        head = ["feature", "coefficient", "feature std", "scaled"]
        rows = [
            [
                _td(c["feature"], "name"),
                _num(c.get("coefficient")),
                _num(c.get("feature_std")),
                _num(c.get("scaled_coefficient")),
            ]
            for c in ranked
        ]
        out.append(_table(head, rows))
    return "".join(out)


def _notes(inp: ReportInput) -> str:
    items = []
    if inp.warnings:
        lis = "".join(f'<li class="warn">{_e(w)}</li>' for w in inp.warnings)
        items.append(f"<h3>Inputs</h3><ul>{lis}</ul>")
    for part, heading in SECTIONS[:-1]:
        st = inp.status(part)
        notes = list(st.get("notes") or [])
        doc = inp.docs.get(part) or {}
        notes += [n for n in doc.get("notes") or [] if isinstance(n, str) and n not in notes]
        imp = doc.get("impurity") if part == "importance" else None
        if imp and imp.get("note"):
            notes.append(f"{imp.get('kind') or 'MDI'}: " + imp["note"])
        if st.get("status") == "failed":
            notes.insert(0, f"error: {st.get('reason')}")
        if notes:
            lis = "".join(
                f'<li class="{"warn" if n.startswith(("warning", "error")) else ""}">{_e(n)}</li>'
                for n in notes
            )
            items.append(f"<h3>{_e(heading)}</h3><ul>{lis}</ul>")
    return "".join(items) or "<p>No notes or warnings.</p>"
