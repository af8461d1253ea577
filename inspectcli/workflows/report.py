"""`inspect report` as a workflow: every part through the other workflows; documents and a page out.

>>> from inspectcli.workflows import Source                                   # doctest: +SKIP
>>> from inspectcli.workflows.report import ReportOptions, run_report         # doctest: +SKIP
>>> run = run_report(Source("model.joblib", "data.parquet", target="y"))      # doctest: +SKIP
>>> open("report.html", "wb").write(run.page)                                 # doctest: +SKIP

The parts are the commands' own workflows (``run_info``, ``run_importance``, ``run_pdp``,
``run_ale``, ``run_interactions``, ``run_coefficients``) with the report's choices: clusters of
correlated features for importance, PD/ICE for the top features by importance, ALE for those in a
correlated cluster, Friedman's H² at data points (``inspect interactions``) for the pairs of the top
features and each one's overall H², coefficients when the model is linear. Each part's
JSON document is what the command writes; the manifest (``report.json``) records the options,
each part's status, notes and time, and the library versions.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectcli.engines.execution import Execution
from inspectcli.errors import InspectError, UsageError, did_you_mean
from inspectcli.workflows._inputs import Collected, Reporter, Source, check_at_least, resolve_seed

#: part -> result file
FILES = {
    "info": "info.json",
    "importance": "importance.json",
    "pdp": "pdp.json",
    "ale": "ale.json",
    "h2": "interactions.json",
    "coefficients": "coefficients.json",
}
MAX_SIZE = 10 * 10**6


class ReportTooLarge(UsageError):
    """The page would exceed ``max_size`` (exit 2 from the CLI)."""


@dataclass(frozen=True)
class ReportOptions:
    """What `inspect report` runs.

    Parameters
    ----------
    skip : tuple of str, default=()
        Parts left out: info, importance, pdp, ale, h2, coefficients.
    features : tuple of str, default=()
        PD/ICE for these; empty: the ``top_k`` most important.
    top_k : int, default=6
    top_pairs : int, default=3
        H² for every pair of the ``top_pairs`` first features, and each one's overall H², as
        `inspect interactions` computes them (0: none).
    n_repeats : int, default=5
    scoring : tuple of str, default=()
    cluster_threshold : float, default=0.5
        Spearman distance 1 − |ρ| below which features cluster (permuted together; ALE for them).
    grid_resolution : int, default=40
    pair_rows : int, default=300
        Rows (a seeded sample) H² is computed on, as `inspect interactions --rows`.
    ice_lines : int, default=50
    subsample : int, float, str or None, default=2000
        Rows for PD/ICE and ALE (importance uses every row; H² ``pair_rows``).
    random_state : int or None, default=0
    title : str or None, default=None
    timings : bool, default=False
        Run times on the page (the page then differs between runs).
    max_size : int, default=10 MB
        Bytes; a larger page is an error.
    """

    skip: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    top_k: int = 6
    top_pairs: int = 3
    n_repeats: int = 5
    scoring: tuple[str, ...] = ()
    cluster_threshold: float = 0.5
    grid_resolution: int = 40
    pair_rows: int = 300
    ice_lines: int = 50
    subsample: int | float | str | None = 2000
    random_state: int | None = 0
    title: str | None = None
    timings: bool = False
    max_size: int = MAX_SIZE


@dataclass
class Part:
    """One part's outcome, for the manifest."""

    status: str  # done | skipped | not applicable
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float | None = None
    document: dict[str, Any] | None = None

    def as_json(self, name: str) -> dict[str, Any]:
        return {
            "status": self.status,
            "file": FILES[name] if self.document is not None else None,
            "reason": self.reason,
            "notes": self.notes,
            "elapsed_s": self.elapsed_s,
        }


class _PartNotes:
    """A :class:`Reporter` that keeps a part's notes (spelled by ``spell``) and passes them on."""

    def __init__(self, name: str, outer: Reporter, spell: Callable[[str], str]) -> None:
        self.name, self.outer, self.spell = name, outer, spell
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(self.spell(message))
        self.outer.note(f"{self.name}: {message}")

    def warn(self, message: str) -> None:
        self.notes.append(f"warning: {self.spell(message)}")
        self.outer.warn(f"{self.name}: {message}")

    def info(self, message: str) -> None:
        self.outer.info(f"{self.name}: {message}")

    def status(self, message: str) -> AbstractContextManager[Any]:
        return self.outer.status(f"{self.name}: {message}")


@dataclass
class ReportRun:
    """What :func:`run_report` returns: each part, the manifest, the page."""

    parts: dict[str, Part]
    manifest: dict[str, Any]
    page: bytes

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        return {name: p.document for name, p in self.parts.items() if p.document is not None}

    def files(self) -> dict[str, bytes]:
        """Every file of the report folder, rendered: result JSON, report.json, report.html."""
        from inspectcli.results import to_json_bytes

        out = {FILES[name]: to_json_bytes(doc) for name, doc in self.documents.items()}
        out["report.json"] = to_json_bytes(self.manifest)
        out["report.html"] = self.page
        return out


def profile(frame: Any, names: list[str]) -> dict[str, Any]:
    """Per feature: kind, missing values, distinct values, and min / max / mean / deciles if numeric."""
    import pandas as pd

    feats = []
    for name in names:
        if name not in frame.columns:
            continue
        col = frame[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        entry: dict[str, Any] = {
            "name": name,
            "kind": "numeric" if numeric else "categorical",
            "missing": int(col.isna().sum()),
            "n_unique": int(col.nunique(dropna=True)),
            "min": None,
            "max": None,
            "mean": None,
            "deciles": None,
        }
        if numeric:
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
    """Versions of Python and the libraries whose numbers or drawing the page shows."""
    import joblib
    import matplotlib
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
    features = sorted(entry.get("features") or [], key=lambda f: f.get("rank") or 0)
    ranked = [f.get("columns") or [f["feature"]] for f in features]
    out: list[str] = []
    for cols in [c[:1] for c in ranked] + [c[1:] for c in ranked]:
        out.extend(c for c in cols if c not in out)
    return out[:k]


def h2_options(features: list[str], opts: ReportOptions, seed: int) -> Any:
    """The report's H² part as `inspect interactions` options: every pair of ``features`` (the
    ``top_pairs`` most important) and each one's overall H², on ``pair_rows`` rows drawn with ``seed``.

    ``inspect interactions -f A -f B … --pairs all --rows N --random-state SEED`` gives the same numbers.
    """
    from inspectcli.workflows import InteractionsOptions

    return InteractionsOptions(
        features=tuple(features),
        pairs="all",
        rows=opts.pair_rows,
        random_state=seed,
    )


def check_options(opts: ReportOptions) -> None:
    from inspectcli.reports.html import PARTS

    bad = sorted(set(opts.skip) - set(PARTS))
    if bad:
        raise UsageError(
            f"`skip` {', '.join(bad)}: unknown part", f"parts are: {', '.join(PARTS)}", param="skip"
        )
    for param, value, low in (
        ("top_k", opts.top_k, 1),
        ("top_pairs", opts.top_pairs, 0),
        ("n_repeats", opts.n_repeats, 1),
        ("grid_resolution", opts.grid_resolution, 2),
        ("pair_rows", opts.pair_rows, 2),
        ("ice_lines", opts.ice_lines, 0),
    ):
        check_at_least(value, param, low)
    if not math.isfinite(opts.cluster_threshold) or opts.cluster_threshold <= 0:
        raise UsageError(f"`cluster_threshold={opts.cluster_threshold}` must be positive", "e.g. 0.5")


def run_report(
    source: Source,
    options: ReportOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
    *,
    spell: Callable[[str], str] | None = None,
) -> ReportRun:
    """Every part of the report of a model file on a data file, and the page.

    Parameters
    ----------
    source : Source
        Model and data files (the target is needed for importance).
    options : ReportOptions, default=ReportOptions()
    execution : Execution, default=Execution()
    report : Reporter, default=Collected()
        Where each part's notes go (prefixed with the part's name).
    spell : callable, optional
        How notes are written into the manifest and the page (the CLI spells parameters as its
        flags); default: as the workflows say them (Python parameter names).

    Returns
    -------
    ReportRun
        ``parts`` (status, notes, time, document of each), ``manifest`` and ``page`` (HTML bytes).

    Raises
    ------
    ReportTooLarge
        When the page exceeds ``options.max_size``.
    """
    from inspectcli.workflows import (
        AleOptions,
        CoefficientsOptions,
        ImportanceOptions,
        PdpOptions,
        run_ale,
        run_coefficients,
        run_importance,
        run_info,
        run_interactions,
        run_pdp,
    )

    started = time.perf_counter()
    opts = options or ReportOptions()
    execution, report = Execution.of(execution), report or Collected()
    check_options(opts)
    seed = resolve_seed(opts.random_state)
    skipped = set(opts.skip)
    parts: dict[str, Part] = {}

    def part(name: str, fn: Any) -> Any:
        notes = _PartNotes(name, report, spell or (lambda text: text))
        t = time.perf_counter()
        try:
            run = fn(notes)
        except InspectError as exc:  # say which part failed, keep the error's class and code
            exc.message = f"report part '{name}': {exc.message}"
            raise
        doc = run.document() if callable(run.document) else run.document
        parts[name] = Part(
            "done", notes=notes.notes, document=doc, elapsed_s=round(time.perf_counter() - t, 3)
        )
        return run

    # info: always run; its data profile gives the curves' deciles
    info = part("info", lambda r: run_info(source, r))
    info.raise_problem()
    mfacts, dfacts = info.model, info.data or {}
    names = [f["name"] for f in mfacts["features"] or []] or list(dfacts.get("used") or [])
    from inspectcli.loading.data import load_dataset

    frame = load_dataset(
        source.data, columns=names, sep=source.sep, encoding=source.encoding, decimal=source.decimal
    ).frame  # type: ignore[arg-type]
    parts["info"].document["profile"] = profile(frame, names)  # type: ignore[index]
    if "info" in skipped:
        parts["info"] = Part("skipped", "`skip` info (the data profile still gives the deciles)")

    if "importance" in skipped:
        parts["importance"] = Part("skipped", "`skip` importance")
    else:
        part(
            "importance",
            lambda r: run_importance(
                source,
                ImportanceOptions(
                    scoring=tuple(opts.scoring),
                    n_repeats=opts.n_repeats,
                    cluster_threshold=opts.cluster_threshold,
                    random_state=seed,
                ),
                execution,
                r,
            ),
        )
    imp_doc = parts["importance"].document

    chosen = list(dict.fromkeys(opts.features))
    for f in chosen:
        if f not in names:
            raise UsageError(f"`features`: unknown feature '{f}'{did_you_mean(f, names)}", param="features")
    if not chosen:
        if imp_doc is not None:
            chosen = top_columns(imp_doc, opts.top_k)
        else:
            chosen = names[: opts.top_k]
            report.note(f"no importance to rank by: PD/ICE for the first {len(chosen)} features")

    if "pdp" in skipped:
        parts["pdp"] = Part("skipped", "`skip` pdp")
    else:
        part(
            "pdp",
            lambda r: run_pdp(
                source,
                PdpOptions(
                    features=tuple(chosen),
                    kind="both" if opts.ice_lines else "average",
                    ice_lines=opts.ice_lines or None,
                    grid_resolution=opts.grid_resolution,
                    subsample=opts.subsample,
                    random_state=seed,
                ),
                execution,
                r,
            ),
        )

    groups = ((imp_doc or {}).get("clusters") or {}).get("groups") or {}
    correlated = [f for f in chosen if any(f in cols for cols in groups.values())]
    if "ale" in skipped:
        parts["ale"] = Part("skipped", "`skip` ale")
    elif imp_doc is None:
        parts["ale"] = Part("not applicable", "ALE is drawn for correlated features, found by importance")
    elif not correlated:
        parts["ale"] = Part(
            "not applicable",
            f"none of the {len(chosen)} features shown belongs to a correlated cluster "
            f"(Spearman, 1 − |ρ| < {opts.cluster_threshold})",
        )
    else:
        part(
            "ale",
            lambda r: run_ale(
                source,
                AleOptions(
                    features=tuple(correlated), with_pdp=True, subsample=opts.subsample, random_state=seed
                ),
                execution,
                r,
            ),
        )

    firsts = chosen[: opts.top_pairs]
    pairs = tuple((a, b) for i, a in enumerate(firsts) for b in firsts[i + 1 :])
    if "h2" in skipped:
        parts["h2"] = Part("skipped", "`skip` h2")
    elif not pairs:
        parts["h2"] = Part("not applicable", "fewer than two features to pair (`top_pairs`)")
    else:
        part("h2", lambda r: run_interactions(source, h2_options(firsts, opts, seed), execution, r))

    from inspectcli.engines.coefficients import linear_parts

    if "coefficients" in skipped:
        parts["coefficients"] = Part("skipped", "`skip` coefficients")
    else:
        try:
            linear_parts(info.loaded.estimator)
        except InspectError:
            parts["coefficients"] = Part(
                "not applicable", f"{mfacts['final_estimator']} has no linear coefficients"
            )
        else:
            part(
                "coefficients",
                lambda r: run_coefficients(source, CoefficientsOptions(random_state=seed), execution, r),
            )

    import sklearn

    from inspectcli import __version__
    from inspectcli.reports.html import PARTS
    from inspectcli.results import SCHEMA_VERSION

    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "report",
        "tool": {"name": "inspectcli", "version": __version__},
        "sklearn_version": sklearn.__version__,
        "model": {
            k: mfacts.get(k) for k in ("path", "sha256", "format", "class", "steps", "sklearn_version_saved")
        },
        "data": {k: dfacts.get(k) for k in ("path", "sha256", "n_rows", "n_columns")},
        "parameters": {
            "target": source.target,
            "skip": sorted(skipped),
            "features": chosen,
            "top_k": opts.top_k,
            "top_pairs": opts.top_pairs,
            "n_repeats": opts.n_repeats,
            "scoring": list(opts.scoring) or None,
            "cluster_threshold": opts.cluster_threshold,
            "grid_resolution": opts.grid_resolution,
            "pair_rows": opts.pair_rows,
            "ice_lines": opts.ice_lines,
            "subsample": opts.subsample,
            "random_state": seed,
            "max_size": opts.max_size,
            "timings": opts.timings,
        },
        "versions": versions(),
        "parts": {name: parts[name].as_json(name) for name in PARTS if name in parts},
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    from inspectcli.reports.html import ReportInput

    docs = {name: p.document for name, p in parts.items() if p.document is not None}
    inp = ReportInput(docs=docs, manifest=manifest, sources={k: FILES[k] for k in docs})
    page = build_checked_page(inp, opts.title, opts.timings, opts.max_size)
    return ReportRun(parts, manifest, page)


def build_checked_page(inp: Any, title: str | None, timings: bool, max_size: int) -> bytes:
    """The page of ``inp``; :class:`ReportTooLarge` when it is over ``max_size`` bytes."""
    from inspectcli.reports.html import build_page

    page = build_page(inp, title=title, timings=timings)
    if len(page) > max_size:
        raise ReportTooLarge(
            f"the page would be {len(page) / 1e6:.1f} MB, over `max_size` {max_size / 1e6:g} MB; "
            "nothing written",
            "draw fewer `ice_lines`, fewer `top_k` features or a smaller `grid_resolution`, "
            "or raise `max_size`",
            param="max_size",
        )
    return page
