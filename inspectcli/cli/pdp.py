"""`inspect pdp MODEL DATA -f FEATURE`: partial dependence and ICE, as scikit-learn computes them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import (
    check_feature,
    decile_marks,
    emit,
    feature_column,
    load_inputs,
    parse_random_state,
    result_files,
    setup_command,
    split_names,
    subsample_plan,
    subsample_rows,
)
from inspectcli.cli.console import UI
from inspectcli.cli.handling import handle_errors
from inspectcli.engines.batching import parse_memory
from inspectcli.engines.grid import parse_custom_values
from inspectcli.engines.partial_dependence import partial_dependence
from inspectcli.errors import UsageError
from inspectcli.numbers import is_finite_number
from inspectcli.reports.summary import check_summary, pdp_summary, write_summary
from inspectcli.results import data_block, envelope, model_block, to_json_bytes

PDP = "Partial dependence"


def parse_pairs(values: list[str] | None) -> list[tuple[str, ...]]:
    pairs = []
    for v in values or []:
        parts = tuple(p for p in v.replace(":", ",").split(",") if p.strip())
        if len(parts) < 2:
            raise UsageError(f"--pair '{v}' needs two features", "write --pair A,B")
        pairs.append(parts)
    return pairs


def parse_percentiles(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    if not all(is_finite_number(p) for p in parts):
        raise UsageError(f"--percentiles '{text}' is not two finite numbers", "write e.g. 0.05,0.95")
    values = tuple(float(p) for p in parts)
    if len(values) != 2:
        raise UsageError(f"--percentiles '{text}' needs two values LO,HI", "write e.g. 0.05,0.95")
    return values  # type: ignore[return-value]


def _skip_feature(ui: UI, name: str, column: Any) -> bool:
    """When every feature is asked for implicitly, leave out those without a curve (with a note)."""
    values = pd.Series(np.asarray(column, dtype=object)).dropna()
    try:
        n_distinct = values.nunique()
    except TypeError:
        return False
    if n_distinct >= 2:
        return False
    what = "only missing values" if n_distinct == 0 else f"constant ({values.iloc[0]!r})"
    ui.note(f"skipping feature '{name}': {what}, so it has no partial dependence curve")
    return True


def register(app: typer.Typer) -> None:
    @app.command("pdp")
    @handle_errors
    def pdp(
        model: o.ModelArg,
        data: o.DataArg,
        features: o.Features = None,
        pair: Annotated[
            list[str] | None,
            typer.Option(
                "--pair",
                metavar="A,B",
                help="Two-way PD of A,B (repeatable; A,B,C gives a 3-way grid in the JSON).",
                rich_help_panel=PDP,
                show_default=False,
            ),
        ] = None,
        kind: Annotated[
            str, typer.Option(metavar="KIND", help="average | individual (ICE) | both.", rich_help_panel=PDP)
        ] = "average",
        centered: Annotated[
            bool, typer.Option("--centered", help="Curves start at 0.", rich_help_panel=PDP)
        ] = False,
        ice_lines: Annotated[
            int | None,
            typer.Option(
                "--ice-lines",
                metavar="N",
                help="Keep N random ICE lines (seeded) in the plot and JSON.",
                rich_help_panel=PDP,
            ),
        ] = None,
        grid_resolution: Annotated[
            int,
            typer.Option(
                "--grid-resolution", metavar="N", help="Grid points per feature.", rich_help_panel=PDP
            ),
        ] = 100,
        percentiles: Annotated[
            str, typer.Option("--percentiles", metavar="LO,HI", help="Grid span LO,HI.", rich_help_panel=PDP)
        ] = "0.05,0.95",
        values: Annotated[
            list[str] | None,
            typer.Option(
                "--values",
                metavar="NAME=V1,V2",
                help="Custom grid FEATURE=v1,v2,… (repeatable).",
                rich_help_panel=PDP,
                show_default=False,
            ),
        ] = None,
        categorical: o.Categorical = None,
        method: Annotated[
            str,
            typer.Option(
                metavar="METHOD",
                help="auto | brute | recursion (auto: as scikit-learn).",
                rich_help_panel=PDP,
            ),
        ] = "auto",
        response_method: o.ResponseMethod = "auto",
        class_: o.Classes = None,
        subsample: o.Subsample = None,
        rank: Annotated[
            bool,
            typer.Option(
                "--rank", help="Rank features by PD variability (Greenwell 2018).", rich_help_panel=PDP
            ),
        ] = False,
        fail_if: o.FailIf = None,
        summary: o.Summary = None,
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
        """Partial dependence and ICE of features (and pairs) of a fitted model.

        Numbers equal scikit-learn's partial_dependence for the same model, data and options.
        Writes pdp.json, pdp.csv and pdp.png to --out.

        Example: inspect pdp model.joblib data.parquet --target y -f age -f bmi --pair age,bmi --kind both
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
        check_summary(summary)
        budget = parse_memory(memory_budget)
        seed = parse_random_state(random_state)
        pct = parse_percentiles(percentiles)
        if ice_lines is not None and ice_lines < 1:
            raise UsageError(f"--ice-lines {ice_lines} must be at least 1", "e.g. --ice-lines 100")
        gates = None
        if fail_if:
            from inspectcli.gates import parse_conditions

            gates = parse_conditions(fail_if, kind="pdp")

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

        one_way = [check_name(f, "--features") for f in split_names(features, strip=False)]
        pairs = [tuple(check_name(f, "--pair") for f in p) for p in parse_pairs(pair)]
        if not one_way and not pairs:
            one_way = [f for f in names if not _skip_feature(ui, f, feature_column(prep.X, names, f))]
            if not one_way:
                raise UsageError(
                    f"every feature of '{inputs.data.name}' is constant or missing: no partial dependence "
                    "to compute",
                    "give data whose features vary",
                )
            ui.note(f"no -f/--features given: computing all {len(one_way)} features")
        one_way = list(dict.fromkeys(one_way))
        if gates:
            gates.check_pdp(one_way, pairs, names, kind, classes=class_)
        cats = [check_name(c, "--categorical") for c in split_names(categorical, strip=False)]
        custom: dict[str, np.ndarray] = {}
        for item in values or []:
            if "=" not in item:
                raise UsageError(f"--values '{item}' needs FEATURE=v1,v2,…", "e.g. --values age=20,40,60")
            fname, _, vals = item.partition("=")
            fname = check_name(fname, "--values")
            custom[fname] = parse_custom_values(vals, feature_column(prep.X, names, fname), fname)

        rows = subsample_rows(ui, prep, subsample, seed, drawn=inputs.data.sample)
        X, sw, row_ids = rows.X, rows.sample_weight, rows.ids

        # One-way PDs of pair members on the same grid axes give H²; compute those not asked for.
        helpers = [f for p in pairs if len(p) == 2 for f in p if f not in one_way]
        helpers = list(dict.fromkeys(helpers))
        sets: list[Any] = [(f,) for f in one_way] + list(pairs) + [(f,) for f in helpers]
        engine_kind = "both" if kind == "individual" and pairs else kind
        with ui.progress() as progress:
            results = partial_dependence(
                est,
                X,
                sets,
                feature_names=names,
                sample_weight=sw,
                categorical_features=cats or None,
                response_method=response_method,
                classes=class_,
                percentiles=pct,
                grid_resolution=grid_resolution,
                custom_values=custom,
                method=method,
                kind=engine_kind,
                memory_budget=budget,
                n_jobs=n_jobs,
                backend=backend,
                scheduler=scheduler,
                progress=progress,
            )
        from inspectcli.reports import pdp as report

        shown = results[: len(one_way) + len(pairs)]
        for r in shown:
            if r.non_finite is not None:
                ui.warn(r.non_finite.describe(r.features, r.grid_values, row_ids))
        by_features = {r.features: r for r in results if len(r.features) == 1}
        ice_rows = None
        if ice_lines is not None and kind != "average" and ice_lines < X.shape[0]:
            ice_rows = np.sort(np.random.RandomState(seed).choice(X.shape[0], size=ice_lines, replace=False))
        if kind == "individual":
            for r in shown:
                r.average = None
        curves = report.build_curves(
            shown, centered=centered, ice_rows=ice_rows, row_ids=row_ids, helpers=by_features, rank=rank
        )
        first = results[0]
        params = {
            "features": one_way,
            "pairs": [list(p) for p in pairs],
            "kind": kind,
            "centered": centered,
            "method": method,
            "method_used": sorted({r.method for r in results}),
            "response_method": response_method,
            "response_method_used": first.response_method,
            "grid_resolution": grid_resolution,
            "percentiles": list(pct),
            "custom_values": {k: v.tolist() for k, v in custom.items()},
            "categorical": cats,
            "classes": class_ or None,
            "target": prep.target,
            "sample_weight": sample_weight,
            "subsample": rows.subsample,
            "ice_lines": ice_lines,
            "rank": rank,
            "random_state": seed,
        }
        gate_report = None
        if gates:
            from inspectcli.gates import evaluate_pdp

            gate_report = evaluate_pdp(gates, curves)
        doc = envelope(
            "pdp",
            model=model_block(inputs.model),
            data=data_block(inputs.data, X.shape[0]),
            parameters=params,
            results=report.json_entries(curves),
            elapsed_s=time.perf_counter() - started,
            extra={"gates": gate_report.as_json()} if gate_report is not None else None,
        )
        json_bytes = to_json_bytes(doc)
        png = None
        if plot:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.pdp import plot_pdp

            drawn = {f for c in curves for f in c.features}
            numeric = drawn - {f for c in curves for f, cat in zip(c.features, c.categorical) if cat}
            display = plot_pdp(
                curves,
                deciles=decile_marks(X, names, numeric),
                random_state=seed,
                max_ice_lines=ice_lines or 250,
                title=f"{inputs.model.name} on {inputs.data.name}",
            )
            if display is not None:
                png = figure_bytes(display.figure_)
        files = result_files(
            "pdp",
            formats,
            json_bytes=json_bytes,
            csv_data=report.csv_data(curves) if "csv" in formats else None,
            png=png,
        )
        emit(ui, out, files, json_bytes=json_bytes, json_stdout=json_out)
        write_summary(summary, pdp_summary(doc))
        ui.show(
            report.table(
                curves,
                title=f"partial dependence — {inputs.model.name} on {inputs.data.name} "
                f"({X.shape[0]:,} rows, {results[0].engine})",
            )
        )
        if gate_report is not None:
            ui.show(gate_report.table())
            gate_report.raise_if_failed()
