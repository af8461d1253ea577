"""Short markdown summaries of result documents, for a CI job's summary page (``--summary FILE.md``).

Each function takes the parsed JSON document a command writes (importance, pdp, diff) and returns
GitHub-flavoured markdown: a heading, the top rows, failed ``--fail-if`` conditions, and for diff
what changed beyond the runs' noise. Deterministic: no run times, no dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inspectcli.formatting import fmt, label

TOP = 10


def check_summary(path: Path | None) -> None:
    """Fail before any work when ``--summary`` could not be written."""
    if path is None:
        return
    from inspectcli.errors import UsageError
    from inspectcli.results import check_out_dir

    if path.is_dir():
        raise UsageError(f"--summary '{path}' is a directory", "give a file name such as summary.md")
    check_out_dir(path.parent)


def write_summary(path: Path | None, text: str) -> None:
    """Write ``--summary`` atomically (a finished file or none)."""
    if path is None:
        return
    from inspectcli.results import write_files

    write_files(path.parent, {path.name: text.encode("utf-8")})


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _name(doc: Mapping[str, Any], key: str) -> str:
    block = doc.get(key) or {}
    return Path(str(block.get("path") or key)).name


def _sha(doc: Mapping[str, Any]) -> str:
    sha = (doc.get("model") or {}).get("sha256")
    return f" (sha256 `{sha[:12]}`)" if sha else ""


def gates_lines(gates: Mapping[str, Any] | None) -> list[str]:
    """'**--fail-if: 1 failed**' and the failed conditions, or a passed line; nothing without gates."""
    if not gates:
        return []
    conds = gates.get("conditions") or []
    failed = [c for c in conds if c.get("status") == "fail"]
    if not failed:
        return ["", f"✅ --fail-if: all {len({c.get('condition') for c in conds})} condition(s) passed"]
    out = ["", f"❌ **--fail-if: {gates.get('n_failed', len(failed))} condition(s) failed**", ""]
    for c in failed:
        who = ", ".join(c.get("features") or [])
        out.append(
            f"- `{c.get('condition')}`" + (f" — {who}" if who else "") + f": value {fmt(c.get('value'))}"
        )
    return out


def importance_summary(doc: Mapping[str, Any], *, top: int = TOP) -> str:
    """Top features of each scorer, mean ± std, and failed gates."""
    lines = [f"### Permutation importance — {_name(doc, 'model')} on {_name(doc, 'data')}{_sha(doc)}"]
    params = doc.get("parameters") or {}
    for entry in doc.get("results") or []:
        feats = sorted(entry.get("features") or [], key=lambda f: f.get("rank") or 0)
        lines += [
            "",
            f"**{entry.get('scorer')}** (baseline {fmt(entry.get('baseline_score'))}, "
            f"{params.get('n_repeats')} repeats, seed {params.get('random_state')})",
            "",
        ]
        rows = [
            [
                f.get("rank"),
                f["feature"]
                + (f" ({', '.join(f['columns'])})" if f.get("columns") != [f["feature"]] else ""),
                f"{fmt(f.get('importances_mean'))} ± {fmt(f.get('importances_std'), 2)}",
            ]
            for f in feats[:top]
        ]
        lines += _table(["#", "feature", "mean ± std"], rows)
        if len(feats) > top:
            lines.append(f"\n_top {top} of {len(feats)}_")
    lines += gates_lines(doc.get("gates"))
    return "\n".join(lines) + "\n"


def pdp_summary(doc: Mapping[str, Any], *, top: int = TOP) -> str:
    """Curves by PD range (one-way) and H² (pairs), and failed gates."""
    lines = [f"### Partial dependence — {_name(doc, 'model')} on {_name(doc, 'data')}{_sha(doc)}", ""]
    one, pairs = [], []
    banded = any(e.get("se") is not None for e in doc.get("results") or [])
    for e in doc.get("results") or []:
        feats = e.get("features") or []
        vals = [v for v in _flat(e.get("average")) if v is not None]
        tgt = "" if e.get("target") is None else f" [{label(e['target'])}]"
        if e.get("group"):  # `by`: the group's curve, under its label
            tgt += f" ({e['group']['column']}: {e['group']['label']})"
        if len(feats) == 1:
            rng = (max(vals) - min(vals)) if vals else None
            ses = [v for v in _flat(e.get("se")) if v is not None]
            row = [
                feats[0] + tgt,
                fmt(min(vals) if vals else None),
                fmt(max(vals) if vals else None),
                fmt(rng),
            ]
            if banded:
                row.append(fmt(max(ses)) if ses else "—")
            one.append((rng if rng is not None else -1, row))
        elif len(feats) == 2:
            h2 = e.get("h2")
            pairs.append((h2 if h2 is not None else -1, [" × ".join(feats) + tgt, fmt(h2, 3)]))
    if one:
        one.sort(key=lambda r: -r[0])
        header = ["feature", "PD min", "PD max", "range"] + (["±SE (largest)"] if banded else [])
        lines += _table(header, [r for _, r in one[:top]])
    if pairs:
        pairs.sort(key=lambda r: -r[0])
        lines += ["", *_table(["pair", "H²"], [r for _, r in pairs[:top]])]
    lines += gates_lines(doc.get("gates"))
    return "\n".join(lines) + "\n"


def _members(f: Mapping[str, Any], limit: int = 2) -> str:
    """'cluster_1 [mean radius, mean area, +4]' for a group; the name alone for one column."""
    cols = list(f.get("columns") or [])
    if cols == [f["feature"]] or not cols:
        return str(f["feature"])
    more = f", +{len(cols) - limit}" if len(cols) > limit else ""
    return f"{f['feature']} [{', '.join(cols[:limit])}{more}]"


def _short(path: Any) -> str:
    parts = Path(str(path)).parts
    return str(Path(*parts[-2:])) if len(parts) >= 2 else str(path)


def _flat(x: Any) -> list[Any]:
    if isinstance(x, list):
        return [v for item in x for v in _flat(item)]
    return [x]


def diff_summary(doc: Mapping[str, Any], *, top: int = TOP) -> str:
    """What changed beyond noise (importance) or the largest curve differences (pdp), and gates."""
    old, new = (_short((doc.get(k) or {}).get("path") or k) for k in ("old", "new"))
    lines = [f"### inspect diff — {doc.get('compared')}: {old} → {new}", ""]
    if doc.get("compared") == "importance":
        for s in doc.get("results") or []:
            feats = s.get("features") or []
            moved = [f for f in feats if f.get("beyond_noise")]
            moved.sort(key=lambda f: -(f.get("abs_change") or 0))
            ranks = [f for f in feats if f.get("rank_change")]
            lines.append(
                f"**{s.get('scorer')}**: {len(moved)} of {len(feats)} feature(s) changed beyond noise, "
                f"{len(ranks)} changed rank"
            )
            if moved:
                rows = [
                    [
                        f["feature"],
                        fmt(f.get("mean_old")),
                        fmt(f.get("mean_new")),
                        fmt(f.get("change")),
                        f"{f.get('rank_old')} → {f.get('rank_new')}",
                    ]
                    for f in moved[:top]
                ]
                lines += ["", *_table(["feature", "old", "new", "change", "rank"], rows)]
            lines.append("")
    else:
        curves = sorted(doc.get("results") or [], key=lambda c: -(c.get("max_abs_diff") or 0))
        banded = any(c.get("noise") for c in curves)
        rows = [
            [" × ".join(c.get("features") or []), fmt(c.get("max_abs_diff")), fmt(c.get("mean_abs_diff"))]
            + ([_beyond(c)] if banded else [])
            for c in curves[:top]
        ]
        if banded:
            moved = sum(bool(c.get("beyond_noise")) for c in curves)
            lines += [f"{moved} of {len(curves)} curve(s) changed beyond the two runs' bands", ""]
        if rows:
            header = ["curve", "largest |difference|", "mean |difference|"] + (
                ["beyond noise"] if banded else []
            )
            lines += _table(header, rows)
    lines += gates_lines(doc.get("gates"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _beyond(c: Mapping[str, Any]) -> str:
    if c.get("beyond_noise") is None:
        return "?"
    return f"{c.get('points_beyond_noise')} of {c.get('n_points')} points" if c["beyond_noise"] else "no"


def report_summary(docs: Mapping[str, Mapping[str, Any]], *, page: str | None = None, top: int = 5) -> str:
    """One model's report in a few lines: identity, top features, strongest pairs, failed gates."""
    first = next(iter(docs.values()), {})
    lines = [f"### inspect report — {_name(first, 'model')} on {_name(first, 'data')}{_sha(first)}", ""]
    model = first.get("model") or {}
    if model.get("class"):
        lines.append(f"Model class `{model['class']}`." + (f" Page: `{page}`." if page else ""))
    imp = docs.get("importance")
    if imp and imp.get("results"):
        entry = imp["results"][0]
        feats = sorted(entry.get("features") or [], key=lambda f: f.get("rank") or 0)[:top]
        shown = ", ".join(f"{_members(f)} ({fmt(f.get('importances_mean'), 3)})" for f in feats)
        lines += ["", f"- Most important ({entry.get('scorer')}): {shown}"]
    # `inspect interactions` (the report's H² part: each entry ranks its pairs) or `pdp --pair` curves
    entries = [e for part in ("h2", "pdp") for e in (docs.get(part) or {}).get("results") or []]
    pairs = [
        e
        for e in [p for e in entries for p in e.get("pairs") or []] + entries
        if len(e.get("features") or []) == 2 and e.get("h2") is not None
    ]
    if pairs:
        pairs.sort(key=lambda e: -e["h2"])
        lines.append(
            "- Strongest interactions (H²): "
            + ", ".join(f"{' × '.join(e['features'])} ({fmt(e['h2'], 3)})" for e in pairs[:3])
        )
    coef = docs.get("coefficients")
    if coef and coef.get("results"):
        cs = sorted(
            coef["results"][0].get("coefficients") or [], key=lambda c: -abs(c.get("scaled_coefficient") or 0)
        )[:top]
        lines.append(
            "- Largest scaled coefficients: "
            + ", ".join(f"{c['feature']} ({fmt(c.get('scaled_coefficient'), 3)})" for c in cs)
        )
    for part in ("importance", "pdp"):
        lines += gates_lines((docs.get(part) or {}).get("gates"))
    return "\n".join(lines) + "\n"
