"""`inspect diff OLD.json NEW.json`: what changed between two importance or two PDP result files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import emit
from inspectcli.cli.handling import handle_errors

ResultArg = Annotated[Path, typer.Argument(help="A pdp.json or importance.json file.", show_default=False)]


def register(app: typer.Typer) -> None:
    @app.command("diff")
    @handle_errors
    @o.shared(o.MESSAGE_FLAGS)
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
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Compare two importance.json (or two pdp.json) files: what drives the model, old vs new.

        Importance: per feature the change of mean importance and rank, and whether it is beyond
        the runs' permutation noise. PDP: per curve on the same grid, the largest and mean
        difference. Exit 3 when the files cannot be compared, 1 when a --fail-if condition holds.

        Example: inspect diff baseline/importance.json inspect-out/importance.json --fail-if "rank_change > 2"
        """
        ui = messages.ui(json_mode=json_out)
        if out is not None:
            from inspectcli.results import check_out_dir

            check_out_dir(out)
        from inspectcli.reports.summary import check_summary, diff_summary, write_summary
        from inspectcli.results import to_json_bytes

        check_summary(summary)
        from inspectcli.workflows.diff import run_diff

        result = run_diff(old, new, tuple(fail_if or ()))
        for note in result.result.notes:
            ui.note(note)
        json_bytes = to_json_bytes(result.document)
        files = {"diff.json": json_bytes} if out is not None else {}
        from inspectcli.reports.diff import tables

        for table in tables(result.result, old_name=_name(old), new_name=_name(new)):
            ui.show(table)
        emit(ui, out or Path("."), files, json_bytes=json_bytes, json_stdout=json_out)
        write_summary(summary, diff_summary(result.document))
        if result.gates is not None:
            ui.show(result.gates.table())
            result.gates.raise_if_failed(
                "diff.json was written; see the conditions table"
                if out is not None
                else "see the conditions table"
            )


def _name(path: Path) -> str:
    """A short, telling name: 'baseline/importance.json' rather than a long absolute path."""
    parts = path.parts
    return str(Path(*parts[-2:])) if len(parts) >= 2 else str(path)
