"""`inspect importance MODEL DATA --target COL`: permutation importance, groups, correlated clusters."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import name_lists, split_names, write_results
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import UsageError

IMP = "Permutation importance"


def _option(flags: tuple[str, ...], metavar: str | None, help: str, **kw: Any) -> Any:
    return typer.Option(*flags, metavar=metavar, help=help, rich_help_panel=IMP, **kw)


def register(app: typer.Typer) -> None:
    @app.command("importance")
    @handle_errors
    @o.shared(o.LOADING, o.OUTPUT_FILES, o.EXECUTION, o.MESSAGE_FLAGS)
    def importance(
        model: o.ModelArg,
        data: o.DataArg,
        target: o.Target = None,
        scoring: Annotated[
            list[str] | None,
            _option(
                ("--scoring", "-s"),
                "NAME",
                "Scorer name (repeatable). Default: the model's own score.",
                show_default=False,
            ),
        ] = None,
        n_repeats: Annotated[int, _option(("--n-repeats", "-r"), "N", "Permutations per feature.")] = 5,
        max_samples: Annotated[
            str, _option(("--max-samples",), "N|FRACTION", "Rows per feature: count or fraction.")
        ] = "1.0",
        group: Annotated[
            list[str] | None,
            _option(
                ("--group",),
                "NAME=A,B",
                "Permute columns together: NAME=a,b (repeatable).",
                show_default=False,
            ),
        ] = None,
        cluster_threshold: Annotated[
            float | None,
            _option(
                ("--cluster-threshold",),
                "T",
                "Group correlated features: cut the Spearman/Ward dendrogram at this distance "
                "(writes correlation.png).",
            ),
        ] = None,
        compare: Annotated[
            str | None,
            _option(
                ("--compare",), "DATA", "Second dataset (e.g. test vs train), same options, side by side."
            ),
        ] = None,
        top: Annotated[int | None, _option(("--top",), "K", "Show the K most important only.")] = None,
        mdi: Annotated[
            bool, _option(("--mdi/--no-mdi",), None, "Show impurity importance of tree models.")
        ] = True,
        fail_if: o.FailIf = None,
        summary: o.Summary = None,
        load: o.LoadFlags = o.LoadFlags(),
        output: o.OutputFlags = o.OutputFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """Permutation importance of each feature (or group), with scikit-learn's exact numbers.

        Writes importance.json, importance.csv and importance.png (and correlation.png with
        --cluster-threshold) to --out.

        Example: inspect importance model.joblib data.parquet --target y --n-repeats 10 --scoring r2
        """
        ui = messages.ui(json_mode=output.json_out)
        formats = output.formats()
        from inspectcli.reports.summary import check_summary, write_summary

        check_summary(summary)
        execution = run.execution(ui)
        seed = run.seed()
        if top is not None and top < 1:
            raise UsageError(f"--top {top} must be at least 1", "e.g. --top 10")
        groups = name_lists(group, "--group", "NAME=col1,col2", "--group weather=temp,humidity")
        from inspectcli.workflows.importance import ImportanceOptions, run_importance

        options = ImportanceOptions(
            scoring=split_names(scoring),
            n_repeats=n_repeats,
            max_samples=max_samples,
            groups={k: split_names([v], strip=False) for k, v in groups.items()},
            cluster_threshold=cluster_threshold,
            compare=compare,
            mdi=mdi,
            random_state=seed,
            fail_if=tuple(fail_if or ()),
        )
        result = run_importance(load.source(model, data, target), options, execution, ui)
        from inspectcli.reports import importance as report
        from inspectcli.reports.summary import importance_summary

        extra: dict[str, bytes] = {}
        csv = lambda: report.csv_data(result.result, result.compare)  # noqa: E731
        png = lambda: _png(result, top, extra)  # noqa: E731
        if result.clustering is not None:
            ui.show(report.clusters_table(result.clustering.groups(), result.clustering.excluded))
        for block in result.result.scorers:
            ui.show(
                report.table(
                    result.result,
                    block,
                    top=top,
                    impurity=result.impurity,
                    compare=result.compare,
                    compare_name=result.compare_name,
                )
            )
        write_results(ui, output, formats, "importance", result.document, csv=csv, png=png, extra=extra)
        write_summary(summary, importance_summary(result.document))
        if result.gates is not None:
            ui.show(result.gates.table())
            result.gates.raise_if_failed()


def _png(result: Any, top: int | None, extra: dict[str, bytes]) -> bytes:
    """importance.png (and correlation.png into ``extra`` when features were clustered)."""
    from inspectcli.plots import figure_bytes
    from inspectcli.plots.importance import plot_correlation, plot_importance

    if result.clustering is not None:
        title = f"correlated features in {result.inputs.data.name}"
        extra["correlation.png"] = figure_bytes(plot_correlation(result.clustering, title=title).figure_)
    display = plot_importance(
        result.result,
        top=top,
        impurity=result.impurity,
        compare=result.compare,
        data_name=result.inputs.data.name,
        compare_name=result.compare_name,
        title=f"permutation importance — {result.inputs.model.name}",
    )
    return figure_bytes(display.figure_)
