"""`inspect report MODEL DATA --target y`: one self-contained HTML page of what drives a model.

Runs the parts a reviewer wants (model and data summary, permutation importance with correlated
clusters and MDI, PD/ICE of the top features, ALE of the correlated ones, H² of the top pairs,
coefficients of linear models), writes each part's result JSON, a manifest (report.json) and
report.html into --out as one set. ``--from DIR`` builds the page from results already computed.
"""

from __future__ import annotations

import io
import math
import platform
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

from inspectcli.cli import options as o
from inspectcli.cli.common import parse_random_state, split_names
from inspectcli.cli.console import UI
from inspectcli.cli.handling import handle_errors
from inspectcli.errors import EXIT_USAGE, InspectError, UsageError

REP = "Report"

#: part -> result file in --out
FILES = {
    "info": "info.json",
    "importance": "importance.json",
    "pdp": "pdp.json",
    "ale": "ale.json",
    "h2": "pairs.json",
    "coefficients": "coefficients.json",
}


class ReportTooLarge(UsageError):
    """The page would exceed --max-size (exit 2: fewer ICE lines, features or a larger limit)."""


def parse_size(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}
    t = text.strip().upper().replace(" ", "")
    num = t.rstrip("KMGB")
    unit = t[len(num) :]
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in units or not math.isfinite(value) or value <= 0:
        raise UsageError(f"--max-size '{text}' is not a size", "e.g. --max-size 10MB")
    return int(value * units[unit])


@dataclass
class Part:
    """One part's outcome for the manifest."""

    status: str  # done | skipped | not applicable
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float | None = None
    doc: dict[str, Any] | None = None

    def as_json(self, name: str) -> dict[str, Any]:
        return {
            "status": self.status,
            "file": FILES[name] if self.doc is not None else None,
            "reason": self.reason,
            "notes": self.notes,
            "elapsed_s": self.elapsed_s,
        }


def run_command(ui: UI, argv: list[str], tmp: Path, name: str) -> tuple[dict[str, Any], list[str]]:
    """Run one inspect command in-process into ``tmp``; its JSON document and its notes/warnings.

    The command's own errors keep their message and exit code (the message is echoed to stderr).
    """
    import json

    from inspectcli.cli.app import app

    out_dir = tmp / name
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        try:
            rc = app([*argv, "--out", str(out_dir), "--format", "json", "--no-plot"], standalone_mode=False)
        except SystemExit as exc:
            rc = exc.code
    lines = [ln.rstrip() for ln in err.getvalue().splitlines() if ln.strip()]
    notes = [ln for ln in lines if ln.startswith(("note:", "warning:"))]
    notes = [ln.removeprefix("note: ") for ln in notes if not ln.startswith("note: wrote ")]
    if rc not in (0, None):
        for ln in lines:
            if ln.startswith("error:"):
                sys.stderr.write(f"error: report part '{name}': {ln.removeprefix('error:').strip()}\n")
                break
        raise typer.Exit(int(rc) if isinstance(rc, int) else 4)
    for n in notes:
        ui.note(f"{name}: {n}")
    kind = argv[0]
    doc = json.loads((out_dir / f"{kind}.json").read_bytes())
    return doc, notes


def profile(frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """Per feature: kind, missing values, distinct values, and min / max / mean / deciles if numeric."""
    import numpy as np
    import pandas as pd

    feats = []
    for name in names:
        if name not in frame.columns:
            continue
        col = frame[name]
        entry: dict[str, Any] = {
            "name": name,
            "kind": "numeric"
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            else "categorical",
            "missing": int(col.isna().sum()),
            "n_unique": int(col.nunique(dropna=True)),
            "min": None,
            "max": None,
            "mean": None,
            "deciles": None,
        }
        if entry["kind"] == "numeric":
            arr = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            arr = arr[np.isfinite(arr)]
            if arr.size:
                entry.update(
                    min=float(arr.min()),
                    max=float(arr.max()),
                    mean=float(arr.mean()),
                    deciles=[float(v) for v in np.percentile(arr, np.arange(10, 100, 10))],
                )
        feats.append(entry)
    return {"deciles": "numpy.percentile, linear interpolation, missing values left out", "features": feats}


def versions() -> dict[str, str]:
    import joblib
    import matplotlib
    import numpy as np
    import pandas as pd
    import scipy
    import sklearn

    from inspectcli import __version__

    return {
        "inspectcli": __version__,
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
        "matplotlib": matplotlib.__version__,
    }


def top_columns(doc: dict[str, Any], k: int) -> list[str]:
    """The ``k`` most important input columns of the first scorer.

    A cluster of correlated columns (permuted together) gives its first column in its rank's place;
    its other columns follow, in rank order, only when fewer than ``k`` entries are ranked.
    """
    entry = (doc.get("results") or [{}])[0]
    ranked = [
        f.get("columns") or [f["feature"]]
        for f in sorted(entry.get("features") or [], key=lambda f: f.get("rank") or 0)
    ]
    out: list[str] = []
    for cols in [c[:1] for c in ranked] + [c[1:] for c in ranked]:
        out.extend(c for c in cols if c not in out)
    return out[:k]


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handle_errors
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
        pairs: Annotated[
            int,
            typer.Option(
                "--pairs",
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
        pair_grid: Annotated[
            int,
            typer.Option(
                "--pair-grid",
                metavar="N",
                help="Grid points per axis of the pairs (H²).",
                rich_help_panel=REP,
            ),
        ] = 12,
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
        trust: o.Trust = None,
        sha256: o.Sha256 = None,
        no_pickle: o.NoPickle = False,
        strict: o.Strict = False,
        sep: o.Sep = None,
        encoding: o.Encoding = None,
        decimal: o.Decimal = None,
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
        n_jobs: o.NJobs = 1,
        random_state: o.RandomState = "0",
        quiet: o.Quiet = False,
        verbose: o.Verbose = False,
        debug: o.Debug = False,
    ) -> None:
        """One self-contained HTML page (offline, interactive, printable) of what drives MODEL.

        Writes report.html, report.json (the manifest) and each part's result JSON to --out.

        With --from, builds report.html from results already computed. Same inputs, same page.

        Example: inspect report model.joblib data.parquet --target y --out report/
        """
        from inspectcli.reports.html import PARTS, ReportInput, build_page
        from inspectcli.reports.summary import check_summary
        from inspectcli.results import check_out_dir, to_json_bytes

        started = time.perf_counter()
        ui = UI(quiet=quiet, verbose=verbose)
        limit = parse_size(max_size)
        check_summary(summary)
        skipped = set(split_names(skip))
        bad = sorted(skipped - set(PARTS))
        if bad:
            raise UsageError(f"--skip {', '.join(bad)}: unknown part", f"parts are: {', '.join(PARTS)}")
        for opt, value, low in (
            ("--top-k", top_k, 1),
            ("--pairs", pairs, 0),
            ("--n-repeats", n_repeats, 1),
            ("--grid-resolution", grid_resolution, 2),
            ("--pair-grid", pair_grid, 2),
            ("--ice-lines", ice_lines, 0),
        ):
            if value < low:
                raise UsageError(f"{opt} {value} must be at least {low}")

        if from_:
            if model is not None or data is not None:
                raise UsageError(
                    "--from builds the page from results: give no MODEL or DATA with it",
                    "drop MODEL DATA, or drop --from",
                )
            from inspectcli.reports.html.inputs import read_results

            inp = read_results(from_)
            for w in inp.warnings:
                ui.warn(w.removeprefix("warning: "))
            dest = out or (from_[0] if from_[0].is_dir() else from_[0].parent)
            check_out_dir(dest)
            files = {"report.html": _page(build_page, inp, title, timings, limit)}
            _finish(ui, dest, files, summary, inp.docs)
            return

        if model is None or data is None:
            raise UsageError(
                "give MODEL and DATA (or --from DIR)",
                "e.g. inspect report model.joblib data.parquet --target y",
            )
        dest = out or Path("inspect-report")
        check_out_dir(dest)
        seed = parse_random_state(random_state)
        scorers = split_names(scoring)

        import tempfile

        common = [
            *(f"--trust={t}" for t in trust or []),
            *(["--sha256", sha256] if sha256 else []),
            *(["--no-pickle"] if no_pickle else []),
            *(["--strict"] if strict else []),
            *(["--sep", sep] if sep else []),
            *(["--encoding", encoding] if encoding else []),
            *(["--decimal", decimal] if decimal else []),
            "--random-state",
            str(seed),
        ]
        parts: dict[str, Part] = {}
        with tempfile.TemporaryDirectory(prefix="inspect-report-") as tmpname:
            tmp = Path(tmpname)
            # -- info: always computed (it carries the data profile the curves' deciles come from)
            t0 = time.perf_counter()
            from inspectcli.cli.info import with_flags
            from inspectcli.loading.data import load_dataset
            from inspectcli.workflows._inputs import Source
            from inspectcli.workflows.info import run_info

            source = Source(
                model,
                data,
                target=target,
                trust=tuple(trust or ()),
                sha256=sha256,
                no_pickle=no_pickle,
                strict=strict,
                sep=sep,
                encoding=encoding,
                decimal=decimal,
            )
            info = with_flags(run_info(source))
            info.raise_problem()
            mfacts, dfacts = info.model, info.data
            assert dfacts is not None
            names = [f["name"] for f in mfacts["features"] or []] or list(dfacts["used"])
            frame = load_dataset(data, columns=names, sep=sep, encoding=encoding, decimal=decimal).frame
            info_doc = {**info.document(), "profile": profile(frame, names)}
            loaded = info.loaded
            import sklearn

            from inspectcli import __version__
            from inspectcli.results import SCHEMA_VERSION

            parts["info"] = Part(
                "done",
                notes=list(mfacts["notes"]) + list(dfacts["notes"]),
                doc=info_doc,
                elapsed_s=round(time.perf_counter() - t0, 3),
            )
            if "info" in skipped:
                parts["info"] = Part("skipped", "--skip info (the data profile is still used for deciles)")
            base = [str(model), data, *(["--target", target] if target else []), *common]
            jobs = ["--n-jobs", str(n_jobs)]

            def run(name: str, argv: list[str]) -> None:
                t = time.perf_counter()
                doc, notes = run_command(ui, argv, tmp, name)
                parts[name] = Part("done", notes=notes, doc=doc, elapsed_s=round(time.perf_counter() - t, 3))

            # -- importance
            if "importance" in skipped:
                parts["importance"] = Part("skipped", "--skip importance")
            else:
                run(
                    "importance",
                    [
                        "importance",
                        *base,
                        "--n-repeats",
                        str(n_repeats),
                        "--cluster-threshold",
                        repr(cluster_threshold),
                        *jobs,
                        *(f"--scoring={s}" for s in scorers),
                    ],
                )
            imp_doc = parts["importance"].doc
            # -- which features
            chosen = split_names(features)
            for f in chosen:
                if f not in names:
                    from inspectcli.errors import did_you_mean

                    raise UsageError(f"--features: unknown feature '{f}'{did_you_mean(f, names)}")
            if not chosen:
                if imp_doc is not None:
                    chosen = top_columns(imp_doc, top_k)
                else:
                    chosen = names[:top_k]
                    ui.note(f"no importance to rank by: PD/ICE for the first {len(chosen)} features")
            rows = ["--subsample", subsample] if subsample not in ("", "all", "1.0") else []
            # -- PD / ICE
            if "pdp" in skipped:
                parts["pdp"] = Part("skipped", "--skip pdp")
            else:
                run(
                    "pdp",
                    [
                        "pdp",
                        *base,
                        *(f"--features={f}" for f in chosen),
                        "--kind",
                        "both",
                        "--ice-lines",
                        str(max(ice_lines, 1)),
                        "--grid-resolution",
                        str(grid_resolution),
                        *rows,
                        *jobs,
                    ],
                )
                if ice_lines == 0 and parts["pdp"].doc is not None:
                    for e in parts["pdp"].doc["results"]:
                        e.pop("individual", None)
                        e.pop("rows", None)
            # -- ALE for the correlated ones
            groups = ((imp_doc or {}).get("clusters") or {}).get("groups") or {}
            correlated = [f for f in chosen if any(f in cols for cols in groups.values())]
            if "ale" in skipped:
                parts["ale"] = Part("skipped", "--skip ale")
            elif imp_doc is None:
                parts["ale"] = Part(
                    "not applicable", "ALE is drawn for correlated features, found by importance"
                )
            elif not correlated:
                parts["ale"] = Part(
                    "not applicable",
                    f"none of the {len(chosen)} features shown belongs to a "
                    f"correlated cluster (Spearman, 1 − |ρ| < {cluster_threshold})",
                )
            else:
                run(
                    "ale",
                    ["ale", *base, *(f"--features={f}" for f in correlated), "--with-pdp", *rows, *jobs],
                )
            # -- H² of the top pairs
            top_pair = chosen[:pairs]
            pair_list = [(a, b) for i, a in enumerate(top_pair) for b in top_pair[i + 1 :]]
            if "h2" in skipped:
                parts["h2"] = Part("skipped", "--skip h2")
            elif not pair_list:
                parts["h2"] = Part("not applicable", "fewer than two features to pair (--pairs)")
            else:
                run(
                    "h2",
                    [
                        "pdp",
                        *base,
                        *(f"--pair={a},{b}" for a, b in pair_list),
                        "--grid-resolution",
                        str(pair_grid),
                        *rows,
                        *jobs,
                    ],
                )
            # -- coefficients
            from inspectcli.engines.coefficients import linear_parts

            if "coefficients" in skipped:
                parts["coefficients"] = Part("skipped", "--skip coefficients")
            else:
                try:
                    linear_parts(loaded.estimator)
                except InspectError:
                    parts["coefficients"] = Part(
                        "not applicable", f"{mfacts['final_estimator']} has no linear coefficients"
                    )
                else:
                    run("coefficients", ["coefficients", *base, *jobs])

        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": "report",
            "tool": {"name": "inspectcli", "version": __version__},
            "sklearn_version": sklearn.__version__,
            "model": {
                k: mfacts[k] for k in ("path", "sha256", "format", "class", "steps", "sklearn_version_saved")
            },
            "data": {
                "path": dfacts["path"],
                "sha256": dfacts["sha256"],
                "n_rows": dfacts["n_rows"],
                "n_columns": dfacts["n_columns"],
            },
            "parameters": {
                "target": target,
                "skip": sorted(skipped),
                "features": chosen,
                "top_k": top_k,
                "pairs": pairs,
                "n_repeats": n_repeats,
                "scoring": scorers or None,
                "cluster_threshold": cluster_threshold,
                "grid_resolution": grid_resolution,
                "pair_grid": pair_grid,
                "ice_lines": ice_lines,
                "subsample": subsample,
                "random_state": seed,
                "max_size": max_size,
                "timings": timings,
            },
            "versions": versions(),
            "parts": {name: parts[name].as_json(name) for name in PARTS if name in parts},
            "elapsed_s": round(time.perf_counter() - started, 3),
        }
        docs = {name: p.doc for name, p in parts.items() if p.doc is not None}
        inp = ReportInput(docs=docs, manifest=manifest, sources={k: FILES[k] for k in docs})
        files = {FILES[name]: to_json_bytes(doc) for name, doc in docs.items()}
        files["report.json"] = to_json_bytes(manifest)
        files["report.html"] = _page(build_page, inp, title, timings, limit)
        _finish(ui, dest, files, summary, docs)


def _page(build: Any, inp: Any, title: str | None, timings: bool, limit: int) -> bytes:
    page = build(inp, title=title, timings=timings)
    if len(page) > limit:
        raise ReportTooLarge(
            f"the page would be {len(page) / 1e6:.1f} MB, over --max-size {limit / 1e6:g} MB; "
            "nothing written",
            "draw fewer --ice-lines, fewer --top-k features or a smaller --grid-resolution, "
            "or raise --max-size",
        )
    return page


def _finish(ui: UI, dest: Path, files: dict[str, bytes], summary: Path | None, docs: dict[str, Any]) -> None:
    from inspectcli.reports.summary import report_summary, write_summary
    from inspectcli.results import write_files

    written = write_files(dest, files)
    ui.note("wrote " + ", ".join(str(p) for p in written))
    if summary is not None:
        write_summary(summary, report_summary(docs, page=str(dest / "report.html")))
    html = dest / "report.html"
    ui.show(f"report: {html} ({len(files['report.html']) / 1e6:.2f} MB)")


__all__ = ["EXIT_USAGE", "register"]
