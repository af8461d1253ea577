"""`inspect ale MODEL DATA -f FEATURE`: accumulated local effects (Apley & Zhu 2020), the feature
effect that stays on the data when features are correlated."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import (
    check_feature,
    decile_marks,
    emit,
    load_inputs,
    parse_random_state,
    result_files,
    setup_command,
    split_names,
    subsample_plan,
    subsample_rows,
)
from inspectcli.cli.handling import handle_errors
from inspectcli.engines.batching import parse_memory
from inspectcli.errors import UsageError
from inspectcli.results import data_block, envelope, model_block, to_json_bytes

ALE = "Accumulated local effects"


def parse_orders(values: list[str] | None) -> dict[str, list[str]]:
    """['season=winter,spring,summer,fall'] -> {'season': ['winter', …]}."""
    orders: dict[str, list[str]] = {}
    for item in values or []:
        if "=" not in item:
            raise UsageError(f"--order '{item}' needs FEATURE=level1,level2,…", "e.g. --order size=S,M,L")
        name, _, levels = item.partition("=")
        name = name.strip()
        if name in orders:
            raise UsageError(f"--order '{name}' is given twice")
        orders[name] = [v.strip() for v in levels.split(",") if v.strip()]
    return orders


def register(app: typer.Typer) -> None:
    @app.command("ale")
    @handle_errors
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
        target: o.Target = None,
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
        memory_budget: o.MemoryBudget = "512MB",
        random_state: o.RandomState = "0",
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """Accumulated local effects of features: PDP's honest sibling for correlated features.

        First-order ALE (Apley & Zhu 2020): quantile bins for numeric features, levels ordered by
        similarity for categorical ones, centred. Writes ale.json, ale.csv and ale.png to --out.

        Example: inspect ale model.joblib data.parquet --target y -f age -f bmi --with-pdp
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
        budget = parse_memory(memory_budget)
        seed = parse_random_state(random_state)
        if bins < 1:
            raise UsageError(f"--bins {bins} must be at least 1", "e.g. --bins 20")
        orders = parse_orders(order)

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
            rows=subsample_plan(subsample, seed),
        )
        est, prep = inputs.model.estimator, inputs.prepared
        names = prep.feature_names

        def check_name(name: str, option: str) -> str:
            return check_feature(name, option, prep, sample_weight)

        chosen = list(dict.fromkeys(check_name(f, "--features") for f in split_names(features, strip=False)))
        if not chosen:
            chosen = list(names)
            ui.note(f"no -f/--features given: computing all {len(names)} features")
        cats = [check_name(c, "--categorical") for c in split_names(categorical, strip=False)]
        for name in orders:
            check_name(name, "--order")

        rows = subsample_rows(ui, prep, subsample, seed, drawn=inputs.data.sample)
        X, sw = rows.X, rows.sample_weight

        from inspectcli.engines.ale import accumulated_local_effects

        with ui.progress() as progress:
            results = accumulated_local_effects(
                est,
                X,
                chosen,
                feature_names=names,
                categorical_features=cats or None,
                bins=bins,
                orders=orders,
                response_method=response_method,
                classes=class_,
                sample_weight=sw,
                with_pdp=with_pdp,
                memory_budget=budget,
                n_jobs=n_jobs,
                backend=backend,
                scheduler=scheduler,
                progress=progress,
            )
        for r in results:
            if r.non_finite:
                ui.warn(r.non_finite)
            if r.n_missing:
                ui.note(
                    f"{r.feature}: {r.n_missing:,} row(s) with a missing value are in no bin and left out"
                )
            if r.categorical and r.order == "similarity":
                ui.info(f"{r.feature}: levels ordered by similarity: {', '.join(map(str, r.grid))}")
        from inspectcli.reports import ale as report

        curves = report.build_curves(results)
        params = {
            "features": chosen,
            "bins": bins,
            "categorical": cats,
            "order": orders,
            "with_pdp": with_pdp,
            "response_method": response_method,
            "response_method_used": results[0].response_method,
            "classes": class_ or None,
            "target": prep.target,
            "sample_weight": sample_weight,
            "subsample": rows.subsample,
            "random_state": seed,
            "quantiles": "type 1 (inverse empirical CDF), repeated edges merged",
            "centering": "bin-count weighted mean of bin midpoints (numeric), of levels (categorical)",
        }
        doc = envelope(
            "ale",
            model=model_block(inputs.model),
            data=data_block(inputs.data, X.shape[0]),
            parameters=params,
            results=report.json_entries(curves),
            elapsed_s=time.perf_counter() - started,
        )
        json_bytes = to_json_bytes(doc)
        png = None
        if plot:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.ale import plot_ale

            display = plot_ale(
                curves,
                deciles=decile_marks(X, names, [r.feature for r in results if not r.categorical]),
                title=f"accumulated local effects — {inputs.model.name} on {inputs.data.name}",
            )
            png = figure_bytes(display.figure_)
        files = result_files(
            "ale",
            formats,
            json_bytes=json_bytes,
            csv_data=report.csv_data(curves) if "csv" in formats else None,
            png=png,
        )
        emit(ui, out, files, json_bytes=json_bytes, json_stdout=json_out)
        ui.show(
            report.table(
                curves,
                title=f"accumulated local effects — {inputs.model.name} on {inputs.data.name} "
                f"({X.shape[0]:,} rows)",
            )
        )
