"""`inspect interactions MODEL DATA`: which features interact (Friedman's H² at data points)."""

from __future__ import annotations

from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import parse_pairs, split_names, write_results
from inspectcli.cli.handling import handle_errors

IX = "Interactions"


def parse_pairs_option(values: list[str] | None) -> str | tuple[tuple[str, ...], ...]:
    """``--pairs top|all`` or ``--pairs A,B`` (repeatable) as the workflow takes them."""
    if not values:
        return "top"
    if len(values) == 1 and values[0].strip() in ("top", "all"):
        return values[0].strip()
    return parse_pairs(values, "--pairs", at_most=2)


def register(app: typer.Typer) -> None:
    @app.command("interactions")
    @handle_errors
    @o.shared(o.LOADING, o.OUTPUT_FILES, o.EXECUTION, o.MESSAGE_FLAGS)
    def interactions(
        model: o.ModelArg,
        data: o.DataArg,
        features: o.Features = None,
        top_k: Annotated[
            int,
            typer.Option(
                "--top-k",
                metavar="K",
                help="Screen the pairs among the K features with the largest PD spread.",
                rich_help_panel=IX,
            ),
        ] = 10,
        pairs: Annotated[
            list[str] | None,
            typer.Option(
                "--pairs",
                metavar="top|all|A,B",
                help="top (pairs among the top K), all (every pair), or A,B (repeatable).",
                rich_help_panel=IX,
                show_default=False,
            ),
        ] = None,
        rows: Annotated[
            int,
            typer.Option(
                "--rows",
                metavar="N",
                help="Rows (seeded sample) H² is computed on; each PD costs N² outputs.",
                rich_help_panel=IX,
            ),
        ] = 300,
        overall: Annotated[
            bool,
            typer.Option(
                "--overall/--no-overall", help="Each feature's H² with all others.", rich_help_panel=IX
            ),
        ] = True,
        response_method: o.ResponseMethod = "auto",
        class_: o.Classes = None,
        fail_if: o.FailIf = None,
        target: o.Target = None,
        load: o.LoadFlags = o.LoadFlags(),
        output: o.OutputFlags = o.OutputFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Which features interact: Friedman's H² of pairs and of each feature, at data points.

        H² for pairs among the top-k features, and each feature's overall H², computed at a
        seeded sample of data points (exact tree engine for tree models). Pairs are ranked by
        their interaction's share of the output's variance. Writes interactions.json,
        interactions.csv and interactions.png to --out.

        Example: inspect interactions model.joblib data.parquet --target y --top-k 6 --fail-if "h2(a,b) > 0.2"
        """
        ui = messages.ui(json_mode=output.json_out)
        formats = output.formats()
        execution = run.execution(ui)
        seed = run.seed()
        from inspectcli.workflows.interactions import InteractionsOptions, run_interactions

        options = InteractionsOptions(
            features=split_names(features, strip=False),
            top_k=top_k,
            pairs=parse_pairs_option(pairs),
            rows=rows,
            overall=overall,
            response_method=response_method,
            classes=tuple(class_ or ()),
            random_state=seed,
            fail_if=tuple(fail_if or ()),
        )
        result = run_interactions(load.source(model, data, target), options, execution, ui)
        title = f"interactions — {result.title} ({len(result.result.rows):,} rows, {result.result.engine})"

        def png() -> bytes:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.interactions import plot_interactions

            return figure_bytes(plot_interactions(result.result, title=title).figure_)

        from inspectcli.reports import interactions as report

        write_results(
            ui,
            output,
            formats,
            "interactions",
            result.document,
            csv=lambda: report.csv_data(result.result),
            png=png,
        )
        for t in range(len(result.result.targets)):
            ui.show(report.table(result.result, target=t, title=title))
            overall_table = report.overall_table(result.result, target=t)
            if overall_table is not None:
                ui.show(overall_table)
        if result.gates is not None:
            ui.show(result.gates.table())
            result.gates.raise_if_failed()
