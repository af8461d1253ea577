"""Two result files compared (`inspect diff`): read, check, compare, gate."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspectcli.errors import InputError, InspectError, first_line


def read_result(path: Path, role: str) -> tuple[dict[str, Any], bytes]:
    """The parsed result file and its bytes; InputError (exit 3) when it is not one."""
    from inspectcli.results import SCHEMA_VERSION

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{role} file '{path}' does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{role} '{path}' is a directory", "give its pdp.json or importance.json") from None
    except OSError as exc:
        raise InputError(f"cannot read {role} file '{path}': {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(
            f"{role} file '{path}' is not JSON{where}", "give a file written by inspect pdp / importance"
        ) from None
    except RecursionError:
        raise InputError(
            f"{role} file '{path}' is nested too deeply to be a result file", "give a file written by inspect"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(
            f"{role} file '{path}' holds a value no result file has ({first_line(exc)})",
            "give a file written by inspect pdp / importance",
        ) from None
    if not isinstance(doc, dict) or "kind" not in doc or "schema_version" not in doc:
        raise InputError(
            f"{role} file '{path}' is not an inspectcli result (no 'kind' / 'schema_version')",
            "give a pdp.json or importance.json written by inspect",
        )
    version = doc["schema_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise InputError(
            f"{role} file '{path}' has schema_version {version}; this inspectcli reads {SCHEMA_VERSION}",
            "upgrade inspectcli",
        )
    return doc, raw


def file_block(path: Path, doc: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """The JSON block describing one compared file."""
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    return {
        "path": str(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "model": doc.get("model"),
        "data": doc.get("data"),
        "random_state": params.get("random_state"),
    }


@dataclass
class DiffRun:
    """What :func:`run_diff` returns: the comparison, the diff.json document and the gates."""

    result: Any  # compare.Diff
    document: dict[str, Any]
    gates: Any = None


def run_diff(old: Path, new: Path, fail_if: tuple[str, ...] = ()) -> DiffRun:
    """Compare two importance.json (or two pdp.json) files.

    Parameters
    ----------
    old, new : Path
        Result files written by `inspect importance` or `inspect pdp` (the same kind).
    fail_if : tuple of str, default=()
        Gate conditions on the differences.

    Returns
    -------
    DiffRun
    """
    started = time.perf_counter()
    gates = None
    if fail_if:
        from inspectcli.gates import parse_conditions

        gates = parse_conditions(list(fail_if), kind="diff")
    old_doc, old_raw = read_result(old, "OLD")
    new_doc, new_raw = read_result(new, "NEW")
    if old_doc["kind"] == new_doc["kind"] and old_doc["kind"] in ("pdp", "importance"):
        from inspectcli.schemas import check_result

        # (files of two kinds, or of a kind diff does not compare, are refused below as such)
        check_result(old_doc, what=f"OLD file '{old}'")
        check_result(new_doc, what=f"NEW file '{new}'")

    from inspectcli.compare import GRID_RTOL, NOISE_RULE, NOISE_Z, diff_results

    try:
        result = diff_results(old_doc, new_doc)
    except InspectError:
        raise
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise InputError(
            f"'{old}' or '{new}' is not a complete {old_doc.get('kind')} result "
            f"({type(exc).__name__}: {exc})",
            "give files written by inspect pdp / importance",
        ) from None
    gate_report = None
    if gates:
        from inspectcli.gates import evaluate_diff

        gate_report = evaluate_diff(gates, result)

    import sklearn

    from inspectcli import __version__
    from inspectcli.results import SCHEMA_VERSION

    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "diff",
        "tool": {"name": "inspectcli", "version": __version__},
        "sklearn_version": sklearn.__version__,
        "compared": result.of,
        "old": file_block(old, old_doc, old_raw),
        "new": file_block(new, new_doc, new_raw),
        "parameters": {"noise_rule": NOISE_RULE, "noise_z": NOISE_Z, "grid_rtol": GRID_RTOL},
        "results": result.results_json(),
        "notes": result.notes,
    }
    if gate_report is not None:
        doc["gates"] = gate_report.as_json()
    doc["elapsed_s"] = round(time.perf_counter() - started, 3)
    return DiffRun(result, doc, gate_report)
