"""`inspect schema KIND`: the JSON Schema of a result file (pdp, importance, diff, info, ale,
coefficients)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.console import results_stream
from inspectcli.cli.handling import handle_errors


def register(app: typer.Typer) -> None:
    @app.command("schema")
    @handle_errors
    def schema(
        kind: Annotated[
            str,
            typer.Argument(help="pdp | importance | diff | info | ale | coefficients.", show_default=False),
        ],
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """Print the JSON Schema of a result file: pdp, importance, diff, info --json, ale, coefficients.

        Its "schema_version" is the one the files carry; it changes whenever the format does.

        Example: inspect schema importance > importance.schema.json
        """
        from inspectcli.schemas import load_schema

        doc = load_schema(kind)
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False), file=results_stream())
