"""`inspect ale MODEL DATA -f FEATURE`: accumulated local effects (Apley & Zhu 2020), the feature
effect that stays on the data when features are correlated."""

from __future__ import annotations

from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import name_lists, split_names, write_results
from inspectcli.cli.handling import handle_errors

ALE = "Accumulated local effects"


def register(app: typer.Typer) -> None:
    @app.command("ale")
    @handle_errors
    @o.shared(o.LOADING, o.OUTPUT_FILES, o.EXECUTION, o.MESSAGE_FLAGS)
    def ale(
        model: o.ModelArg,
        data: o.DataArg,
        features: o.Features = None,
        bins: Annotated[
            int,
            typer.Option(
                "--bins",
                metavar="N",
                help="Quantile bins of numeric features (repeats merged).",
                rich_help_panel=ALE,
            ),
        ] = 20,
        categorical: o.Categorical = None,
        order: Annotated[
            list[str] | None,
            typer.Option(
                "--order",
                metavar="NAME=A,B",
                help="Order of a categorical feature's levels, FEATURE=a,b,c (repeatable). "
                "Default: by similarity of the other features.",
                rich_help_panel=ALE,
                show_default=False,
            ),
        ] = None,
        with_pdp: Annotated[
            bool,
            typer.Option(
                "--with-pdp", help="Overlay the partial dependence on the same grid.", rich_help_panel=ALE
            ),
        ] = False,
        response_method: o.ResponseMethod = "auto",
        class_: o.Classes = None,
        subsample: o.Subsample = None,
        by: o.By = None,
        by_bins: o.ByBins = 4,
        by_max_levels: o.ByMaxLevels = 8,
        band: o.Band = True,
        bootstrap: o.Bootstrap = 0,
        band_level: o.BandLevel = 0.95,
        target: o.Target = None,
        load: o.LoadFlags = o.LoadFlags(),
        output: o.OutputFlags = o.OutputFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Accumulated local effects of features: PDP's honest sibling for correlated features.

        First-order ALE (Apley & Zhu 2020): quantile bins for numeric features, levels ordered by
        similarity for categorical ones, centred. Writes ale.json, ale.csv and ale.png to --out.

        Example: inspect ale model.joblib data.parquet --target y -f age -f bmi --with-pdp
        """
        ui = messages.ui(json_mode=output.json_out)
        formats = output.formats()
        execution = run.execution(ui)
        seed = run.seed()
        orders = name_lists(order, "--order", "FEATURE=level1,level2,…", "--order size=S,M,L", strip=False)
        from inspectcli.workflows.ale import AleOptions, run_ale

        options = AleOptions(
            features=split_names(features, strip=False),
            bins=bins,
            categorical=split_names(categorical, strip=False),
            orders={k: [v.strip() for v in levels.split(",") if v.strip()] for k, levels in orders.items()},
            with_pdp=with_pdp,
            response_method=response_method,
            classes=tuple(class_ or ()),
            subsample=subsample,
            random_state=seed,
            by=by,
            by_bins=by_bins,
            by_max_levels=by_max_levels,
            band=band,
            bootstrap=bootstrap,
            band_level=band_level,
        )
        result = run_ale(load.source(model, data, target), options, execution, ui)
        title = f"accumulated local effects — {result.inputs.model.name} on {result.inputs.data.name}"

        def png() -> bytes:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.ale import plot_ale

            if result.grouping is not None:
                from inspectcli.plots.subgroups import plot_ale_subgroups

                shown = plot_ale_subgroups(
                    result.curves,
                    deciles=result.deciles(),
                    title=title,
                    n_rows=result.rows.X.shape[0],
                    band_level=band_level,
                )
                return figure_bytes(shown.figure_)
            display = plot_ale(result.curves, deciles=result.deciles(), title=title, band_level=band_level)
            return figure_bytes(display.figure_)

        from inspectcli.reports import ale as report

        n_rows = result.rows.X.shape[0]
        ui.show(report.table(result.curves, title=f"{title} ({n_rows:,} rows)", n_rows=n_rows))
        write_results(
            ui, output, formats, "ale", result.document, csv=lambda: report.csv_data(result.curves), png=png
        )
