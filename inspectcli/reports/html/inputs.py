"""Reading a folder (or files) of result JSON into a :class:`ReportInput`, for ``report --from``.

Each file says what it is (``kind``); an interactions file (or a pdp file whose curves are pairs
only) is the H² part. All
files must describe the same model (same sha256), or the page would mix two models' findings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspectcli.errors import InputError
from inspectcli.reports.html.markup import ReportInput
from inspectcli.results import SCHEMA_VERSION

KINDS = ("info", "importance", "pdp", "ale", "interactions", "coefficients", "report")


def _read(path: Path) -> dict[str, Any] | None:
    """The parsed document, or None when ``path`` is not an inspectcli result of a kind we show."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("kind") not in KINDS or "schema_version" not in doc:
        return None
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(
            f"'{path}' has schema_version {version}; this inspectcli reads {SCHEMA_VERSION}",
            "upgrade inspectcli",
        )
    if isinstance(doc.get("results"), list):  # `--by`: the page shows the curves of all rows
        doc["results"] = [r for r in doc["results"] if not (isinstance(r, dict) and r.get("group"))]
    return doc


def part_of(doc: dict[str, Any]) -> str:
    """Which part of the page a document fills ('h2' for a pdp file of pairs only)."""
    kind = doc["kind"]
    if kind == "interactions":
        return "h2"
    if kind == "pdp":
        results = doc.get("results") or []
        if results and all(len(r.get("features") or []) >= 2 for r in results):
            return "h2"
    return str(kind)


def _model_sha(doc: dict[str, Any]) -> str | None:
    model = doc.get("model")
    return model.get("sha256") if isinstance(model, dict) else None


def read_results(paths: Sequence[Path]) -> ReportInput:
    """Every result file in ``paths`` (folders: their ``*.json``), checked to be of one model.

    Raises
    ------
    InputError
        When a path does not exist, nothing readable is found, two files fill the same part, or
        the files describe different models.
    """
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.glob("*.json") if q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(
                f"--from '{p}' does not exist", "give a folder written by inspect report or a result file"
            )
    docs: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    manifest = None
    for f in files:
        doc = _read(f)
        if doc is None:
            continue
        if doc["kind"] == "report":
            manifest = doc
            continue
        part = part_of(doc)
        if part in docs:
            raise InputError(
                f"--from holds two {part} results ('{sources[part]}' and '{f}')",
                "give one result of each kind (one folder per run)",
            )
        docs[part] = doc
        sources[part] = str(f)
    if not docs:
        where = ", ".join(f"'{p}'" for p in paths)
        raise InputError(
            f"--from {where} holds no inspect result files "
            "(info / importance / pdp / ale / coefficients JSON)",
            "run inspect report MODEL DATA --out DIR first, or point --from at a folder of results",
        )
    shas = {part: _model_sha(doc) for part, doc in docs.items()}
    if manifest is not None:
        shas["report"] = _model_sha(manifest)
    known = {s for s in shas.values() if s}
    if len(known) > 1:
        by = sorted(shas.items(), key=lambda kv: kv[0])
        a = next(p for p, s in by if s)
        b = next(p for p, s in by if s and s != shas[a])
        raise InputError(
            f"--from mixes results of different models: {sources.get(a, a)} (model sha256 "
            f"{shas[a][:12]}…) and {sources.get(b, b)} ({shas[b][:12]}…)",  # type: ignore[index]
            "give the results of one model only",
        )
    warnings = []
    data = {part: (doc.get("data") or {}).get("sha256") for part, doc in docs.items()}
    if len({s for s in data.values() if s}) > 1:
        warnings.append(
            "warning: the results were computed on different data files: "
            + ", ".join(f"{part} {sha[:12]}…" for part, sha in data.items() if sha)
        )
    return ReportInput(
        docs=docs,
        manifest=manifest,
        sources={k: Path(v).name for k, v in sources.items()},
        warnings=warnings,
    )
