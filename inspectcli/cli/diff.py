"""`inspect diff OLD.json NEW.json`: what changed between two importance or two PDP result files."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import emit
from inspectcli.cli.console import UI
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import InputError, first_line
from inspectcli.reports.summary import check_summary, diff_summary, write_summary
from inspectcli.results import SCHEMA_VERSION, check_out_dir, to_json_bytes

ResultArg = Annotated[Path, typer.Argument(help="A pdp.json or importance.json file.", show_default=False)]


def read_result(path: Path, role: str) -> tuple[dict[str, Any], bytes]:
    """The parsed result file and its bytes; InputError (exit 3) when it is not one."""
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
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    return {
        "path": str(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "model": doc.get("model"),
        "data": doc.get("data"),
        "random_state": params.get("random_state"),
    }


def register(app: typer.Typer) -> None:
    @app.command("diff")
    @handle_errors
    def diff(
        old: ResultArg,
        new: ResultArg,
        fail_if: o.FailIf = None,
        summary: o.Summary = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Write diff.json into this directory.", rich_help_panel=o.OUTPUT
            ),
        ] = None,
        json_out: o.JsonOut = False,
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """Compare two importance.json (or two pdp.json) files: what drives the model, old vs new.

        Importance: per feature the change of mean importance and rank, and whether it is beyond
        the runs' permutation noise. PDP: per curve on the same grid, the largest and mean
        difference. Exit 3 when the files cannot be compared, 1 when a --fail-if condition holds.

        Example: inspect diff baseline/importance.json inspect-out/importance.json --fail-if "rank_change > 2"
        """
        started = time.perf_counter()
        ui = UI(quiet=quiet, verbose=verbose, json_mode=json_out)
        if out is not None:
            check_out_dir(out)
        check_summary(summary)
        gates = None
        if fail_if:
            from inspectcli.gates import parse_conditions

            gates = parse_conditions(fail_if, kind="diff")
        old_doc, old_raw = read_result(old, "OLD")
        new_doc, new_raw = read_result(new, "NEW")
        if old_doc["kind"] == new_doc["kind"] and old_doc["kind"] in ("pdp", "importance"):
            from inspectcli.schemas import check_result

            # (files of two kinds, or of a kind diff does not compare, are refused below as such)
            check_result(old_doc, what=f"OLD file '{old}'")
            check_result(new_doc, what=f"NEW file '{new}'")

        from inspectcli.engines.diff import GRID_RTOL, NOISE_RULE, NOISE_Z, diff_results

        try:
            result = diff_results(old_doc, new_doc)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise InputError(
                f"'{old}' or '{new}' is not a complete {old_doc.get('kind')} result "
                f"({type(exc).__name__}: {exc})",
                "give files written by inspect pdp / importance",
            ) from None
        for note in result.notes:
            ui.note(note)

        gate_report = None
        if gates:
            from inspectcli.gates import evaluate_diff

            gate_report = evaluate_diff(gates, result)

        import sklearn

        from inspectcli import __version__

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
        json_bytes = to_json_bytes(doc)
        files = {"diff.json": json_bytes} if out is not None else {}
        emit(ui, out or Path("."), files, json_bytes=json_bytes, json_stdout=json_out)
        write_summary(summary, diff_summary(doc))

        from inspectcli.reports.diff import tables

        for table in tables(result, old_name=_name(old), new_name=_name(new)):
            ui.show(table)
        if gate_report is not None:
            ui.show(gate_report.table())
            gate_report.raise_if_failed(
                "diff.json was written; see the conditions table"
                if out is not None
                else "see the conditions table"
            )


def _name(path: Path) -> str:
    """A short, telling name: 'baseline/importance.json' rather than a long absolute path."""
    parts = path.parts
    return str(Path(*parts[-2:])) if len(parts) >= 2 else str(path)
