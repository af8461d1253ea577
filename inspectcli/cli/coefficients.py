"""`inspect coefficients MODEL DATA --target COL`: linear-model coefficients, scaled, and their
variability across refits (scikit-learn's "Common pitfalls in the interpretation of coefficients of
linear models")."""

from __future__ import annotations

from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import write_results
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import UsageError

COEF = "Coefficients"


def register(app: typer.Typer) -> None:
    @app.command("coefficients")
    @handle_errors
    @o.shared(o.LOADING, o.OUTPUT_FILES, o.EXECUTION_NO_BUDGET, o.MESSAGE_FLAGS)
    def coefficients(
        model: o.ModelArg,
        data: o.DataArg,
        target: o.Target = None,
        cv: Annotated[
            int | None,
            typer.Option(
                "--cv",
                help="Refit on K folds (RepeatedKFold, seeded) and report each coefficient's spread.",
                rich_help_panel=COEF,
            ),
        ] = None,
        n_repeats: Annotated[
            int,
            typer.Option("--n-repeats", "-r", help="Repeats of the K folds with --cv.", rich_help_panel=COEF),
        ] = 5,
        class_: o.Classes = None,
        top: Annotated[
            int | None,
            typer.Option(
                "--top", help="Show the K largest |scaled| coefficients only.", rich_help_panel=COEF
            ),
        ] = None,
        load: o.LoadFlags = o.LoadFlags(),
        output: o.OutputFlags = o.OutputFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Coefficients of a linear model, × the std of their feature, and their spread across refits.

        For LinearRegression, Ridge, Lasso, ElasticNet, LogisticRegression (and their CV variants,
        TransformedTargetRegressor around one), bare or at the end of a pipeline. Writes
        coefficients.json, coefficients.csv and coefficients.png to --out.

        Example: inspect coefficients model.joblib data.csv --target y --cv 5
        """
        ui = messages.ui(json_mode=output.json_out)
        formats = output.formats()
        execution = run.execution(ui)
        seed = run.seed()
        if top is not None and top < 1:
            raise UsageError(f"--top {top} must be at least 1")
        from inspectcli.workflows.coefficients import CoefficientsOptions, run_coefficients

        options = CoefficientsOptions(
            cv=cv, n_repeats=n_repeats, classes=tuple(class_ or ()), random_state=seed
        )
        result = run_coefficients(load.source(model, data, target), options, execution, ui)
        res, inputs = result.result, result.inputs

        def png() -> bytes:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.coefficients import plot_coefficients

            title = f"{res.estimator} in {inputs.model.name} on {inputs.data.name}"
            return figure_bytes(plot_coefficients(res, top=top, title=title).figure_)

        from inspectcli.reports import coefficients as report

        for t in range(len(res.targets)):
            ui.show(report.table(res, t, top=top))
        write_results(
            ui, output, formats, "coefficients", result.document, csv=lambda: report.csv_data(res), png=png
        )
