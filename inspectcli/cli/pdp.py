"""`inspect pdp MODEL DATA -f FEATURE`: partial dependence and ICE, as scikit-learn computes them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import name_lists, parse_pairs, split_names, write_results
from inspectcli.cli.handling import cli_text, handle_errors
from inspectcli.errors import UsageError
from inspectcli.numbers import is_finite_number

PDP = "Partial dependence"


def parse_percentiles(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    if not all(is_finite_number(p) for p in parts):
        raise UsageError(f"--percentiles '{text}' is not two finite numbers", "write e.g. 0.05,0.95")
    values = tuple(float(p) for p in parts)
    if len(values) != 2:
        raise UsageError(f"--percentiles '{text}' needs two values LO,HI", "write e.g. 0.05,0.95")
    return values  # type: ignore[return-value]


def _option(flags: str, metavar: str, help: str, **kw: Any) -> Any:
    return typer.Option(flags, metavar=metavar, help=help, rich_help_panel=PDP, **kw)


def register(app: typer.Typer) -> None:
    @app.command("pdp")
    @handle_errors
    @o.shared(o.LOADING, o.OUTPUT_FILES, o.EXECUTION, o.MESSAGE_FLAGS)
    def pdp(
        model: o.ModelArg,
        data: o.DataArg,
        features: o.Features = None,
        pair: Annotated[
            list[str] | None,
            _option(
                "--pair",
                "A,B",
                "Two-way PD of A,B (repeatable; A,B,C gives a 3-way grid in the JSON).",
                show_default=False,
            ),
        ] = None,
        kind: Annotated[str, _option("--kind", "KIND", "average | individual (or ice) | both.")] = "average",
        centered: Annotated[
            bool, typer.Option("--centered", help="Curves start at 0.", rich_help_panel=PDP)
        ] = False,
        ice_rows: Annotated[
            str | None,
            _option(
                "--ice-rows",
                "N|all",
                "ICE of N rows (a seeded sample) in the JSON and CSV; all keeps every row. [default: 1000]",
                show_default=False,
            ),
        ] = None,
        ice_lines: Annotated[
            int | None,
            _option(
                "--ice-lines",
                "N",
                "ICE lines drawn (a seeded sample; default 250); alone, also the rows kept.",
                show_default=False,
            ),
        ] = None,
        grid_resolution: Annotated[int, _option("--grid-resolution", "N", "Grid points per feature.")] = 100,
        percentiles: Annotated[str, _option("--percentiles", "LO,HI", "Grid span LO,HI.")] = "0.05,0.95",
        values: Annotated[
            list[str] | None,
            _option(
                "--values", "NAME=V1,V2", "Custom grid FEATURE=v1,v2,… (repeatable).", show_default=False
            ),
        ] = None,
        categorical: o.Categorical = None,
        order: Annotated[
            list[str] | None,
            _option(
                "--order",
                "NAME=A,B,C",
                "Order of a categorical feature's levels, every level once (repeatable). Default: an "
                "ordered Categorical's order, else the model's encoder order.",
                show_default=False,
            ),
        ] = None,
        method: Annotated[
            str,
            _option(
                "--method",
                "METHOD",
                "auto | brute | recursion. auto = brute: the model's own predictions averaged (tree paths "
                "make it fast); recursion omits gradient boosting's baseline.",
            ),
        ] = "auto",
        response_method: o.ResponseMethod = "auto",
        class_: o.Classes = None,
        subsample: o.Subsample = None,
        rank: Annotated[
            bool,
            typer.Option(
                "--rank",
                help="Rank features by PD variability (Greenwell 2018); table and plot in rank order.",
                rich_help_panel=PDP,
            ),
        ] = False,
        independent_y: Annotated[
            bool,
            typer.Option(
                "--independent-y",
                help="Give each one-way panel its own y-range (default: one shared range).",
                rich_help_panel=PDP,
            ),
        ] = False,
        by: o.By = None,
        by_bins: o.ByBins = 4,
        by_max_levels: o.ByMaxLevels = 8,
        ice_clusters: Annotated[
            int | None,
            _option(
                "--ice-clusters",
                "K",
                "Cluster the ICE curves by shape into K groups (seeded k-means); draws each "
                "cluster's mean curve. Implies --kind both.",
                show_default=False,
            ),
        ] = None,
        band: o.Band = None,
        bootstrap: o.Bootstrap = 0,
        band_level: o.BandLevel = 0.95,
        fail_if: o.FailIf = None,
        summary: o.Summary = None,
        target: o.Target = None,
        load: o.LoadFlags = o.LoadFlags(),
        output: o.OutputFlags = o.OutputFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Partial dependence and ICE of features (and pairs) of a fitted model.

        Numbers equal scikit-learn's partial_dependence for the same model, data and options.
        Writes pdp.json, pdp.csv and pdp.png to --out.

        Example: inspect pdp model.joblib data.parquet --target y -f age -f bmi --pair age,bmi --kind both
        """
        ui = messages.ui(json_mode=output.json_out)
        formats = output.formats()
        from inspectcli.reports.summary import check_summary, write_summary

        check_summary(summary)
        execution = run.execution(ui)
        seed = run.seed()
        from inspectcli.workflows.pdp import PdpOptions, run_pdp

        options = PdpOptions(
            features=split_names(features, strip=False),
            pairs=parse_pairs(pair),
            kind=kind,
            centered=centered,
            ice_lines=ice_lines,
            ice_rows=ice_rows,
            orders=name_lists(order, "--order", "FEATURE=level1,level2,…", "--order size=S,M,L", strip=False),
            independent_y=independent_y,
            grid_resolution=grid_resolution,
            percentiles=parse_percentiles(percentiles),
            values=name_lists(values, "--values", "FEATURE=v1,v2,…", "--values age=20,40,60", strip=False),
            categorical=split_names(categorical, strip=False),
            method=method,
            response_method=response_method,
            classes=tuple(class_ or ()),
            subsample=subsample,
            rank=rank,
            random_state=seed,
            fail_if=tuple(fail_if or ()),
            by=by,
            by_bins=by_bins,
            by_max_levels=by_max_levels,
            ice_clusters=ice_clusters,
            band=band,
            bootstrap=bootstrap,
            band_level=band_level,
        )
        result = run_pdp(load.source(model, data, target), options, execution, ui)

        from inspectcli.reports import pdp as report

        n_rows, first = result.rows.X.shape[0], result.results[0]
        ui.show(
            report.table(
                result.curves,
                title=f"partial dependence — {result.title} ({n_rows:,} rows)",
                notes=[f"method {first.method} ({first.engine})", *(cli_text(n) for n in result.notes)],
                n_rows=n_rows,
            )
        )
        write_results(
            ui,
            output,
            formats,
            "pdp",
            result.document,
            csv=lambda: report.csv_data(result.curves),
            png=lambda: _png(result, ice_lines, independent_y),
        )
        from inspectcli.reports.summary import pdp_summary

        write_summary(summary, pdp_summary(result.document))
        if result.gates is not None:
            ui.show(result.gates.table())
            result.gates.raise_if_failed()


def _png(result: Any, ice_lines: int | None, independent_y: bool = False) -> bytes | None:
    """pdp.png: the curves, deciles as rug marks, at most ``ice_lines`` (default 250) ICE lines."""
    from inspectcli.plots import figure_bytes
    from inspectcli.plots.pdp import plot_pdp
    from inspectcli.reports.pdp import pair_counts

    if any(c.group is not None or c.clusters is not None for c in result.curves):
        from inspectcli.plots.subgroups import plot_subgroups

        shown = plot_subgroups(
            result.curves,
            deciles=result.deciles(),
            random_state=result.seed,
            max_ice_lines=ice_lines or 250,
            title=result.title,
            n_rows=result.rows.X.shape[0],
            band_level=result.document["parameters"]["band_level"],
        )
        return figure_bytes(shown.figure_) if shown is not None else None

    display = plot_pdp(
        result.curves,
        deciles=result.deciles(),
        random_state=result.seed,
        max_ice_lines=ice_lines or 250,
        title=result.title,
        independent_y=independent_y,
        n_rows=result.rows.X.shape[0],
        counts=pair_counts(result.rows.X, result.inputs.prepared.feature_names, result.curves),
        band_level=result.document["parameters"]["band_level"],
    )
    return figure_bytes(display.figure_) if display is not None else None
