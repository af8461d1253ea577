"""`inspect ale MODEL DATA -f FEATURE`: accumulated local effects (Apley & Zhu 2020), the feature
effect that stays on the data when features are correlated."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import emit, load_inputs, parse_random_state, result_files
from inspectcli.cli.console import UI
from inspectcli.cli.handling import handle_errors
from inspectcli.cli.pdp import parse_count_or_fraction, split_names
from inspectcli.engines.batching import parse_memory
from inspectcli.engines.parallel import check_backend
from inspectcli.errors import UsageError, did_you_mean
from inspectcli.results import check_out_dir, data_block, envelope, model_block, parse_formats, to_json_bytes

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
        features: Annotated[
            list[str] | None,
            typer.Option(
                "--features",
                "-f",
                help="Feature (repeatable, or comma-separated). Default: all.",
                rich_help_panel=ALE,
                show_default=False,
            ),
        ] = None,
        bins: Annotated[
            int,
            typer.Option(
                "--bins", help="Quantile bins of numeric features (repeats merged).", rich_help_panel=ALE
            ),
        ] = 20,
        categorical: Annotated[
            list[str] | None,
            typer.Option(
                "--categorical",
                help="Treat as categorical (repeatable). Text/bool columns always are.",
                rich_help_panel=ALE,
                show_default=False,
            ),
        ] = None,
        order: Annotated[
            list[str] | None,
            typer.Option(
                "--order",
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
        response_method: Annotated[
            str,
            typer.Option(
                "--response-method", help="auto | predict_proba | decision_function.", rich_help_panel=ALE
            ),
        ] = "auto",
        class_: Annotated[
            list[str] | None,
            typer.Option(
                "--class",
                help="Keep only this class (repeatable). Default: every class (binary: the positive one).",
                rich_help_panel=ALE,
                show_default=False,
            ),
        ] = None,
        subsample: Annotated[
            str | None,
            typer.Option(
                "--subsample", help="Use N rows, or a FRACTION of them (seeded).", rich_help_panel=ALE
            ),
        ] = None,
        target: o.Target = None,
        sample_weight: o.SampleWeight = None,
        trust: o.Trust = None,
        sha256: o.Sha256 = None,
        no_pickle: o.NoPickle = False,
        strict: o.Strict = False,
        sep: o.Sep = None,
        encoding: o.Encoding = None,
        decimal: o.Decimal = None,
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
        ui = UI(quiet=quiet, verbose=verbose, json_mode=json_out)
        formats = parse_formats(format)
        if formats or plot:
            check_out_dir(out)
        check_backend(backend, scheduler)
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
        )
        est, prep = inputs.model.estimator, inputs.prepared
        names = prep.feature_names

        def check_name(name: str, option: str) -> str:
            if name in names:
                return name
            if name in (prep.target, sample_weight):
                raise UsageError(
                    f"{option} '{name}' is the {'--target' if name == prep.target else '--sample-weight'} "
                    "column, not a model input",
                    "choose one of the model's features",
                )
            raise UsageError(
                f"{option}: unknown feature '{name}'{did_you_mean(name, names)}",
                f"features are: {', '.join(names[:15])}{', …' if len(names) > 15 else ''}",
            )

        chosen = list(dict.fromkeys(check_name(f, "--features") for f in split_names(features)))
        if not chosen:
            chosen = list(names)
            ui.note(f"no -f/--features given: computing all {len(names)} features")
        cats = [check_name(c, "--categorical") for c in split_names(categorical)]
        for name in orders:
            check_name(name, "--order")

        X, sw = prep.X, prep.sample_weight
        n_sub = parse_count_or_fraction(subsample, "--subsample", prep.n_rows)
        if n_sub is not None and n_sub < prep.n_rows:
            if n_sub < 2:
                raise UsageError(f"--subsample {subsample} leaves fewer than 2 rows")
            rows = np.sort(np.random.RandomState(seed).choice(prep.n_rows, size=n_sub, replace=False))
            X = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
            sw = sw[rows] if sw is not None else None
            ui.note(f"using {n_sub:,} of {prep.n_rows:,} rows (--subsample, seed {seed})")

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
            "subsample": None if n_sub is None or n_sub >= prep.n_rows else n_sub,
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

            deciles: dict[str, Any] = {}
            for r in results:
                if not r.categorical:
                    col = X[r.feature] if hasattr(X, "columns") else X[:, names.index(r.feature)]
                    arr = pd.to_numeric(pd.Series(np.asarray(col)), errors="coerce").to_numpy(dtype=float)
                    if np.isfinite(arr).any():
                        deciles[r.feature] = np.nanpercentile(arr, np.arange(10, 100, 10))
            display = plot_ale(
                curves,
                deciles=deciles,
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
