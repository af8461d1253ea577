"""`inspect report MODEL DATA --target y`: one self-contained HTML page of what drives a model.

Parses flags into :class:`~inspectcli.workflows.report.ReportOptions`, runs
:func:`~inspectcli.workflows.report.run_report` (every part through the commands' own workflows) and
writes report.html, report.json (the manifest) and each part's result JSON into --out as one set.
``--from DIR`` builds the page from results already computed, without the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from inspectcli.cli import options as o
from inspectcli.cli.common import split_names
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import UsageError
from inspectcli.numbers import parse_size

REP = "Report"


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handle_errors
    @o.shared(o.LOADING_MODEL, o.EXECUTION, o.MESSAGE_FLAGS)
    def report(
        model: Annotated[
            Path | None,
            typer.Argument(
                metavar="MODEL", help="Fitted model (as for the other commands).", show_default=False
            ),
        ] = None,
        data: Annotated[
            str | None,
            typer.Argument(metavar="DATA", help="Data with the target column.", show_default=False),
        ] = None,
        target: o.Target = None,
        from_: Annotated[
            list[Path] | None,
            typer.Option(
                "--from",
                metavar="DIR|FILE",
                help="Build the page from result JSON already computed "
                "(a folder, or files; repeatable), without the model.",
                rich_help_panel=REP,
                show_default=False,
            ),
        ] = None,
        skip: Annotated[
            list[str] | None,
            typer.Option(
                "--skip",
                metavar="PART",
                help="Leave out parts: info, importance, pdp, ale, h2, "
                "coefficients (repeatable or comma-separated).",
                rich_help_panel=REP,
                show_default=False,
            ),
        ] = None,
        features: Annotated[
            list[str] | None,
            typer.Option(
                "--features",
                "-f",
                metavar="NAME",
                help="PD/ICE for these features (repeatable, or comma-separated). Default: the --top-k "
                "most important.",
                rich_help_panel=REP,
                show_default=False,
            ),
        ] = None,
        top_k: Annotated[
            int,
            typer.Option(
                "--top-k",
                "-k",
                metavar="K",
                help="PD/ICE for the K most important features.",
                rich_help_panel=REP,
            ),
        ] = 6,
        top_pairs: Annotated[
            int,
            typer.Option(
                "--top-pairs",
                metavar="N",
                help="H² for every pair of the N most important features (0: none).",
                rich_help_panel=REP,
            ),
        ] = 3,
        n_repeats: Annotated[
            int,
            typer.Option(
                "--n-repeats", "-r", metavar="N", help="Permutations per feature.", rich_help_panel=REP
            ),
        ] = 5,
        scoring: Annotated[
            list[str] | None,
            typer.Option(
                "--scoring",
                "-s",
                metavar="NAME",
                help="Scorer for importance (repeatable).",
                rich_help_panel=REP,
                show_default=False,
            ),
        ] = None,
        cluster_threshold: Annotated[
            float,
            typer.Option(
                "--cluster-threshold",
                metavar="T",
                help="Cluster features whose Spearman distance "
                "1-|rho| is below T (permuted together; ALE for "
                "them).",
                rich_help_panel=REP,
            ),
        ] = 0.5,
        grid_resolution: Annotated[
            int,
            typer.Option(
                "--grid-resolution",
                metavar="N",
                help="Grid points of the PD/ICE curves.",
                rich_help_panel=REP,
            ),
        ] = 40,
        pair_rows: Annotated[
            int,
            typer.Option(
                "--pair-rows",
                metavar="N",
                help="Rows (a seeded sample) H² is computed on, as `inspect interactions --rows`.",
                rich_help_panel=REP,
            ),
        ] = 300,
        pair_grid: Annotated[
            int | None,
            typer.Option("--pair-grid", metavar="N", hidden=True, help="Replaced by --pair-rows."),
        ] = None,
        ice_lines: Annotated[
            int,
            typer.Option(
                "--ice-lines", metavar="N", help="ICE lines drawn per feature.", rich_help_panel=REP
            ),
        ] = 50,
        subsample: Annotated[
            str,
            typer.Option(
                "--subsample",
                metavar="N|FRACTION",
                help="Rows for PD/ICE, ALE and H² (seeded; importance uses all rows).",
                rich_help_panel=REP,
            ),
        ] = "2000",
        max_size: Annotated[
            str,
            typer.Option(
                "--max-size",
                metavar="SIZE",
                help="Refuse to write a page larger than this (exit 2).",
                rich_help_panel=REP,
            ),
        ] = "10MB",
        timings: Annotated[
            bool,
            typer.Option(
                "--timings",
                help="Show each part's run time on the page (the page then differs between runs).",
                rich_help_panel=REP,
            ),
        ] = False,
        title: Annotated[
            str | None, typer.Option("--title", help="Page heading.", rich_help_panel=REP)
        ] = None,
        summary: Annotated[
            Path | None,
            typer.Option(
                "--summary",
                metavar="FILE.md",
                help="Also write a short markdown summary (for a CI job summary).",
                rich_help_panel=o.OUTPUT,
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                metavar="DIR",
                help="Directory for report.html "
                "and the results (default: inspect-report, or the --from "
                "folder).",
                rich_help_panel=o.OUTPUT,
            ),
        ] = None,
        load: o.LoadFlags = o.LoadFlags(),
        run: o.RunFlags = o.RunFlags(),
        messages: o.Messages = o.Messages(),
    ) -> None:
        """One self-contained HTML page (offline, interactive, printable) of what drives MODEL.

        Writes report.html, report.json (the manifest) and each part's result JSON to --out.

        With --from, builds report.html from results already computed. Same inputs, same page.

        Example: inspect report model.joblib data.parquet --target y --out report/
        """
        from inspectcli.reports.summary import check_summary
        from inspectcli.results import check_out_dir

        ui = messages.ui()
        limit = parse_size(max_size, param="max_size")
        check_summary(summary)

        if from_:
            if model is not None or data is not None:
                raise UsageError(
                    "--from builds the page from results: give no MODEL or DATA with it",
                    "drop MODEL DATA, or drop --from",
                )
            from inspectcli.reports.html.inputs import read_results
            from inspectcli.workflows.report import build_checked_page

            inp = read_results(from_)
            for w in inp.warnings:
                ui.warn(w.removeprefix("warning: "))
            dest = out or (from_[0] if from_[0].is_dir() else from_[0].parent)
            check_out_dir(dest)
            page = build_checked_page(inp, title, timings, limit)
            _finish(ui, dest, {"report.html": page}, summary, inp.docs)
            return

        if model is None or data is None:
            raise UsageError(
                "give MODEL and DATA (or --from DIR)",
                "e.g. inspect report model.joblib data.parquet --target y",
            )
        if pair_grid is not None:  # (the option of the grid-based H² section, before interactions)
            raise UsageError(
                "--pair-grid is gone: the report's H² is now computed at data points, as `inspect "
                "interactions` does",
                "use --pair-rows N (rows of the sample; default 300)",
            )
        dest = out or Path("inspect-report")
        check_out_dir(dest)
        from inspectcli.cli.handling import cli_text
        from inspectcli.workflows.report import ReportOptions, run_report

        options = ReportOptions(
            skip=tuple(split_names(skip)),
            features=tuple(split_names(features)),
            top_k=top_k,
            top_pairs=top_pairs,
            n_repeats=n_repeats,
            scoring=tuple(split_names(scoring)),
            cluster_threshold=cluster_threshold,
            grid_resolution=grid_resolution,
            pair_rows=pair_rows,
            ice_lines=ice_lines,
            subsample=None if subsample.strip().lower() in ("", "all") else subsample,
            random_state=run.seed(),
            title=title,
            timings=timings,
            max_size=limit,
        )
        result = run_report(load.source(model, data, target), options, run.execution(ui), ui, spell=cli_text)
        _finish(ui, dest, result.files(), summary, result.documents)


def _finish(ui: Any, dest: Path, files: dict[str, bytes], summary: Path | None, docs: dict[str, Any]) -> None:
    """Write the report's files as one set, then the --summary markdown."""
    from inspectcli.reports.summary import report_summary, write_summary
    from inspectcli.results import write_files

    written = write_files(dest, files)
    ui.note("wrote " + ", ".join(str(p) for p in written))
    write_summary(summary, report_summary(docs, page=str(dest / "report.html")))
    ui.show(f"report: {dest / 'report.html'} ({len(files['report.html']) / 1e6:.2f} MB)")
