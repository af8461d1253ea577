"""`inspect coefficients MODEL DATA --target COL`: linear-model coefficients, scaled, and their
variability across refits (scikit-learn's "Common pitfalls in the interpretation of coefficients of
linear models")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import emit, load_inputs, parse_random_state, result_files, setup_command
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import UsageError
from inspectcli.results import data_block, envelope, model_block, to_json_bytes

COEF = "Coefficients"


def register(app: typer.Typer) -> None:
    @app.command("coefficients")
    @handle_errors
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
        sample_weight: o.SampleWeight = None,
        trust: o.Trust = None,
        sha256: o.Sha256 = None,
        no_pickle: o.NoPickle = False,
        strict: o.Strict = False,
        sep: o.Sep = None,
        encoding: o.Encoding = None,
        decimal: o.Decimal = None,
        where: o.Where = None,
        out: o.Out = Path("inspect-out"),
        format: o.Format = "json,csv",
        plot: o.Plot = True,
        json_out: o.JsonOut = False,
        n_jobs: o.NJobs = 1,
        backend: o.Backend = "loky",
        scheduler: o.Scheduler = None,
        random_state: o.RandomState = "0",
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """Coefficients of a linear model, × the std of their feature, and their spread across refits.

        For LinearRegression, Ridge, Lasso, ElasticNet, LogisticRegression (and their CV variants,
        TransformedTargetRegressor around one), bare or at the end of a pipeline. Writes
        coefficients.json, coefficients.csv and coefficients.png to --out.

        Example: inspect coefficients model.joblib data.csv --target y --cv 5
        """
        started = time.perf_counter()
        ui, formats = setup_command(
            quiet=quiet,
            verbose=verbose,
            json_out=json_out,
            format=format,
            plot=plot,
            out=out,
            backend=backend,
            scheduler=scheduler,
        )
        seed = parse_random_state(random_state)
        if cv is not None and cv < 2:
            raise UsageError(f"--cv {cv} must be at least 2", "e.g. --cv 5")
        if n_repeats < 1:
            raise UsageError(f"--n-repeats {n_repeats} must be at least 1")
        if top is not None and top < 1:
            raise UsageError(f"--top {top} must be at least 1")
        if cv is None and n_repeats != 5:
            ui.note("--n-repeats applies only with --cv; ignoring it")

        inputs = load_inputs(
            ui,
            model,
            data,
            trust=trust,
            sha256=sha256,
            no_pickle=no_pickle,
            strict=strict,
            target=target,
            sample_weight=sample_weight,
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            where=where,
            infer_target=target is None,
            require_target=cv is not None,
        )
        est, prep = inputs.model.estimator, inputs.prepared
        from inspectcli.engines.coefficients import coefficients as compute
        from inspectcli.engines.coefficients import linear_parts

        linear_parts(est)  # a model without coefficients is a usage error before any work
        y = None
        if cv is not None:
            from inspectcli.loading.match import check_target

            y = check_target(est, prep.y, inputs.data.name, prep.target)  # type: ignore[arg-type]
        with ui.progress() as progress:
            res = compute(
                est,
                prep.X,
                y,
                feature_names=prep.feature_names,
                sample_weight=prep.sample_weight,
                classes=class_,
                cv=cv,
                n_repeats=n_repeats,
                random_state=seed,
                n_jobs=n_jobs,
                backend=backend,
                scheduler=scheduler,
                progress=progress,
            )
        for note in res.notes:
            ui.note(note)
        from inspectcli.reports import coefficients as report

        params = {
            "target": prep.target,
            "estimator": res.estimator,
            "cv": cv,
            "n_repeats": n_repeats if cv is not None else None,
            "n_fits": res.cv.n_fits if res.cv is not None else None,
            "classes": class_ or None,
            "sample_weight": sample_weight,
            "random_state": seed,
            "feature_std_ddof": 1,
            "target_transform": res.target_transform,
        }
        doc = envelope(
            "coefficients",
            model=model_block(inputs.model),
            data=data_block(inputs.data, prep.n_rows),
            parameters=params,
            results=report.json_entries(res),
            elapsed_s=time.perf_counter() - started,
            extra={"notes": res.notes},
        )
        json_bytes = to_json_bytes(doc)
        png = None
        if plot:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.coefficients import plot_coefficients

            display = plot_coefficients(
                res, top=top, title=f"{res.estimator} in {inputs.model.name} on {inputs.data.name}"
            )
            png = figure_bytes(display.figure_)
        files = result_files(
            "coefficients",
            formats,
            json_bytes=json_bytes,
            csv_data=report.csv_data(res) if "csv" in formats else None,
            png=png,
        )
        emit(ui, out, files, json_bytes=json_bytes, json_stdout=json_out)
        for t in range(len(res.targets)):
            ui.show(report.table(res, t, top=top))
