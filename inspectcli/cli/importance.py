"""`inspect importance MODEL DATA --target COL`: permutation importance, groups, correlated clusters."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import (
    RowPlan,
    emit,
    load_inputs,
    load_matched_data,
    parse_random_state,
    result_files,
    setup_command,
    split_names,
)
from inspectcli.cli.handling import handle_errors
from inspectcli.engines.batching import parse_memory
from inspectcli.engines.parallel import shared_scheduler
from inspectcli.errors import UsageError
from inspectcli.loading.match import check_target
from inspectcli.numbers import parse_finite
from inspectcli.reports.summary import check_summary, importance_summary, write_summary
from inspectcli.results import data_block, envelope, model_block, to_json_bytes

IMP = "Permutation importance"
#: Moved to inspectcli.loading.match (it also checks a regressor's target); the old name stays.
check_target_classes = check_target


def parse_max_samples(text: str) -> float | int:
    """'1000' -> 1000 rows; '0.5' or '1.0' -> a fraction."""
    value = parse_finite(text, "--max-samples", "give a row count or a fraction")
    if "." in text or "e" in text.lower():
        return value
    return int(value)


def _importance_rows(seed: int | None, n_rows: int, max_samples: float | int) -> Any:
    from inspectcli.engines.permutation import importance_rows

    return importance_rows(seed, n_rows, max_samples)


def _population(data: Any) -> int | None:
    """The data's row count when only the --max-samples rows were read (see importance_rows)."""
    return data.n_total if data.sample is not None else None


def parse_groups(values: list[str] | None) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for item in values or []:
        if "=" not in item:
            raise UsageError(f"--group '{item}' needs NAME=col1,col2", "e.g. --group weather=temp,humidity")
        name, _, cols = item.partition("=")
        name = name.strip()
        if not name:
            raise UsageError(f"--group '{item}' has no name", "e.g. --group weather=temp,humidity")
        if name in groups:
            raise UsageError(f"--group '{name}' is given twice", "give each group once")
        groups[name] = [c.strip() for c in cols.split(",") if c.strip()]
    return groups


def register(app: typer.Typer) -> None:
    @app.command("importance")
    @handle_errors
    def importance(
        model: o.ModelArg,
        data: o.DataArg,
        target: o.Target = None,
        scoring: Annotated[
            list[str] | None,
            typer.Option(
                "--scoring",
                "-s",
                metavar="NAME",
                help="Scorer name (repeatable). Default: the model's own score.",
                rich_help_panel=IMP,
                show_default=False,
            ),
        ] = None,
        n_repeats: Annotated[
            int,
            typer.Option(
                "--n-repeats", "-r", metavar="N", help="Permutations per feature.", rich_help_panel=IMP
            ),
        ] = 5,
        max_samples: Annotated[
            str,
            typer.Option(
                "--max-samples",
                metavar="N|FRACTION",
                help="Rows per feature: count or fraction.",
                rich_help_panel=IMP,
            ),
        ] = "1.0",
        group: Annotated[
            list[str] | None,
            typer.Option(
                "--group",
                metavar="NAME=A,B",
                help="Permute columns together: NAME=a,b (repeatable).",
                rich_help_panel=IMP,
                show_default=False,
            ),
        ] = None,
        cluster_threshold: Annotated[
            float | None,
            typer.Option(
                "--cluster-threshold",
                metavar="T",
                help="Group correlated features: cut the Spearman/Ward "
                "dendrogram at this distance (writes correlation.png).",
                rich_help_panel=IMP,
            ),
        ] = None,
        compare: Annotated[
            str | None,
            typer.Option(
                "--compare",
                metavar="DATA",
                help="Second dataset (e.g. test vs train), same options, side by side.",
                rich_help_panel=IMP,
            ),
        ] = None,
        top: Annotated[
            int | None,
            typer.Option("--top", metavar="K", help="Show the K most important only.", rich_help_panel=IMP),
        ] = None,
        mdi: Annotated[
            bool,
            typer.Option(
                "--mdi/--no-mdi", help="Show impurity importance of tree models.", rich_help_panel=IMP
            ),
        ] = True,
        fail_if: o.FailIf = None,
        summary: o.Summary = None,
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
        """Permutation importance of each feature (or group), with scikit-learn's exact numbers.

        Writes importance.json, importance.csv and importance.png (and correlation.png with
        --cluster-threshold) to --out.

        Example: inspect importance model.joblib data.parquet --target y --n-repeats 10 --scoring r2
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
        if n_repeats < 1:
            raise UsageError(f"--n-repeats {n_repeats} must be at least 1", "e.g. --n-repeats 5")
        if top is not None and top < 1:
            raise UsageError(f"--top {top} must be at least 1", "e.g. --top 10")
        ms = parse_max_samples(max_samples)
        groups = parse_groups(group)
        scorers = split_names(scoring) or None
        if scorers:
            from inspectcli.engines.permutation import check_scorer_names

            check_scorer_names(scorers)
        gates = None
        if fail_if:
            from inspectcli.gates import parse_conditions

            gates = parse_conditions(fail_if, kind="importance")

        # Only the rows --max-samples permutes are read (scikit-learn's draw, from the row count).
        rows = RowPlan("--max-samples", seed, lambda n: _importance_rows(seed, n, ms))
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
            infer_target=target is None,
            require_target=True,
            where=where,
            rows=rows,
        )
        est, prep = inputs.model.estimator, inputs.prepared
        names = prep.feature_names
        y = check_target(est, prep.y, inputs.data.name, prep.target)  # type: ignore[arg-type]

        clustering = None
        if cluster_threshold is not None:
            from inspectcli.engines.correlation import spearman_clusters

            clustering = spearman_clusters(prep.X, names, cluster_threshold)
            taken = {c for cols in groups.values() for c in cols}
            for gname, cols in clustering.groups().items():
                if taken & set(cols):
                    ui.note(f"{gname} ({', '.join(cols)}) overlaps a --group; keeping the --group")
                    continue
                groups[gname] = cols

        from inspectcli.engines.permutation import default_scorer_name, permutation_importance

        if gates:
            gates.check_importance(names, groups, scorers or [default_scorer_name(est) or "score"])

        def run(X: Any, yy: Any, sw: Any, population: int | None) -> Any:
            with ui.progress() as progress:
                return permutation_importance(
                    est,
                    X,
                    yy,
                    scoring=scorers,
                    n_repeats=n_repeats,
                    random_state=seed,
                    sample_weight=sw,
                    max_samples=ms,
                    population=population,
                    groups=groups,
                    feature_names=names,
                    memory_budget=budget,
                    n_jobs=n_jobs,
                    backend=backend,
                    scheduler=scheduler,
                    progress=progress,
                )

        cmp_result, cmp_data = None, None
        # --compare makes two computations: with --backend dask and no --scheduler, they share
        # one LocalCluster.
        twice = compare is not None
        sharing = shared_scheduler(backend, scheduler, n_jobs) if twice else nullcontext(scheduler)
        with sharing as scheduler:
            result = run(prep.X, y, prep.sample_weight, _population(inputs.data))
            if result.default_scoring:
                scored = result.scorers[0].scorer
                ui.note(f"scoring with the model's default score ({scored}); choose with --scoring")
            if compare is not None:
                cmp_data, cmp_prep = load_matched_data(
                    ui,
                    est,
                    compare,
                    target=prep.target,
                    sample_weight=sample_weight,
                    sep=sep,
                    encoding=encoding,
                    decimal=decimal,
                    where=where,
                    rows=rows,
                )
                cmp_y = check_target(est, cmp_prep.y, cmp_data.name, prep.target)  # type: ignore[arg-type]
                cmp_result = run(cmp_prep.X, cmp_y, cmp_prep.sample_weight, _population(cmp_data))

        impurity = None
        if mdi:
            from inspectcli.engines.impurity import impurity_importance

            impurity = impurity_importance(est, prep.X, names, random_state=seed)
            if impurity is not None and impurity.note:
                ui.note("MDI: " + impurity.note)

        from inspectcli.reports import importance as report

        params = {
            "target": prep.target,
            "scoring": [b.scorer for b in result.scorers],
            "default_scoring": result.default_scoring,
            "n_repeats": n_repeats,
            "max_samples": ms,
            "max_samples_rows": result.max_samples,
            "sample_weight": sample_weight,
            "random_state": seed,
            "groups": {k: v for k, v in groups.items()},
            "cluster_threshold": cluster_threshold,
            "compare": compare,
        }
        extra: dict[str, Any] = {
            "impurity": impurity.as_json() if impurity is not None else None,
            "clusters": clustering.as_json() if clustering is not None else None,
            "compare": None
            if cmp_result is None
            else {
                "data": data_block(cmp_data, cmp_result.max_samples),
                "results": report.json_entries(cmp_result),
            },
        }
        gate_report = None
        if gates:
            from inspectcli.gates import evaluate_importance

            gate_report = evaluate_importance(gates, result)
            extra["gates"] = gate_report.as_json()
        doc = envelope(
            "importance",
            model=model_block(inputs.model),
            data=data_block(inputs.data, result.max_samples),
            parameters=params,
            results=report.json_entries(result),
            elapsed_s=time.perf_counter() - started,
            extra=extra,
        )
        json_bytes = to_json_bytes(doc)
        png, extra_files = None, {}
        if plot:
            from inspectcli.plots import figure_bytes
            from inspectcli.plots.importance import plot_correlation, plot_importance

            display = plot_importance(
                result,
                top=top,
                impurity=impurity,
                compare=cmp_result,
                data_name=inputs.data.name,
                compare_name=cmp_data.name if cmp_data else "compare",
                title=f"permutation importance — {inputs.model.name}",
            )
            png = figure_bytes(display.figure_)
            if clustering is not None:
                extra_files["correlation.png"] = figure_bytes(
                    plot_correlation(clustering, title=f"correlated features in {inputs.data.name}").figure_
                )
        files = result_files(
            "importance",
            formats,
            json_bytes=json_bytes,
            csv_data=report.csv_data(result, cmp_result) if "csv" in formats else None,
            png=png,
            extra=extra_files,
        )
        emit(ui, out, files, json_bytes=json_bytes, json_stdout=json_out)
        write_summary(summary, importance_summary(doc))
        if clustering is not None:
            ui.show(report.clusters_table(clustering.groups(), clustering.excluded))
        for block in result.scorers:
            ui.show(
                report.table(
                    result,
                    block,
                    top=top,
                    impurity=impurity,
                    compare=cmp_result,
                    compare_name=cmp_data.name if cmp_data else "compare",
                )
            )
        if gate_report is not None:
            ui.show(gate_report.table())
            gate_report.raise_if_failed()
