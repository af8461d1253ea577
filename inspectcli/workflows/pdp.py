"""Partial dependence and ICE as `inspect pdp` runs it: options in, curves and the JSON document out."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectcli.engines.execution import Execution
from inspectcli.errors import UsageError, render_params
from inspectcli.workflows._inputs import (
    Collected,
    Inputs,
    Reporter,
    Rows,
    Source,
    check_at_least,
    check_feature,
    decile_marks,
    feature_column,
    load_inputs,
    resolve_seed,
    subsample_plan,
    subsample_rows,
)
from inspectcli.workflows._on_workers import delivery_notes


@dataclass(frozen=True)
class PdpOptions:
    """What `inspect pdp` computes.

    Parameters
    ----------
    features : tuple of str, default=()
        One-way curves; empty (and no ``pairs``): every feature that varies.
    pairs : tuple of tuple of str, default=()
        Two-way (or three-way) grids.
    kind : {"average", "individual", "both"}, default="average"
        PD, ICE, or both.
    centered : bool, default=False
        Curves start at 0.
    ice_lines : int or None, default=None
        ICE lines drawn (a seeded sample; the plot's default is 250). Given without ``ice_rows``,
        also the rows whose ICE is kept.
    ice_rows : int, "all" or None, default=None
        Rows whose ICE is kept in the results (a seeded sample); None: 1,000; "all": every row.
    orders : mapping of str to sequence of str, default={}
        The order of a categorical feature's levels (every level once).
    independent_y : bool, default=False
        One-way panels each get their own y-range (recorded; the CLI's plot reads it).
    grid_resolution : int, default=100
        Grid points per feature.
    percentiles : (float, float), default=(0.05, 0.95)
        Grid span.
    values : mapping of str to str or array-like, default={}
        Custom grid per feature ('20,40,60' is parsed in the column's type).
    categorical : tuple of str, default=()
        Features treated as categorical.
    method : {"auto", "brute", "recursion"}, default="auto"
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
    classes : tuple of str, default=()
        Classes to keep (default: every class; binary: the positive one).
    subsample : int, float, str or None, default=None
        Rows used: a count, or a fraction (seeded).
    rank : bool, default=False
        Number curves by PD variability (Greenwell 2018).
    random_state : int or None, default=0
        Seed; None draws one (recorded).
    fail_if : tuple of str, default=()
        Gate conditions (exit 1 from the CLI when one holds).
    by : str or None, default=None
        A column of the data (a model feature or any other): one curve per group of its rows, on
        the grid of all rows, beside the all-rows curve (workflows/_groups.py says how groups are
        made). One-way curves only.
    by_bins : int, default=4
        Quantile bins of a numeric ``by`` column.
    by_max_levels : int, default=8
        Most groups of a ``by`` column's levels (the rest pooled into "other").
    ice_clusters : int or None, default=None
        Cluster each one-way curve's ICE lines (the rows kept) into this many shapes
        (engines/ice_clusters.py); implies ``kind="both"`` when ``kind`` is average.
    band : bool or None, default=None
        Each PD value's standard error over the rows (engines/bands.py); brute force only. None:
        where the per-row values are computed anyway (every engine but tree paths averaging a
        sum of trees, where it costs about ten times the average; a note says so).
    bootstrap : int, default=0
        Resamples of the rows for a percentile interval per grid point (seeded with
        ``random_state``; recomputed from the ICE values, no new predictions).
    band_level : float, default=0.95
        Coverage of the bootstrap interval and of the ± z·SE band drawn without one.
    """

    features: tuple[str, ...] = ()
    pairs: tuple[tuple[str, ...], ...] = ()
    kind: str = "average"
    centered: bool = False
    ice_lines: int | None = None
    ice_rows: int | str | None = None
    orders: Mapping[str, Any] = field(default_factory=dict)
    independent_y: bool = False
    grid_resolution: int = 100
    percentiles: tuple[float, float] = (0.05, 0.95)
    values: Mapping[str, Any] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    method: str = "auto"
    response_method: str = "auto"
    classes: tuple[str, ...] = ()
    subsample: int | float | str | None = None
    rank: bool = False
    random_state: int | None = 0
    fail_if: tuple[str, ...] = ()
    by: str | None = None
    by_bins: int = 4
    by_max_levels: int = 8
    ice_clusters: int | None = None
    band: bool | None = None
    bootstrap: int = 0
    band_level: float = 0.95


@dataclass
class PdpRun:
    """What :func:`run_pdp` returns: inputs, the curves shown, the JSON document and the gates."""

    inputs: Inputs
    rows: Rows
    results: list[Any]  # engine results, helpers for H² after the shown ones
    curves: list[Any]  # reports.pdp.PDPCurve
    seed: int
    document: dict[str, Any]
    gates: Any = None  # gates.GateReport
    notes: list[str] = field(default_factory=list)  # what a reader must know (also in the JSON)
    grouping: Any = None  # workflows._groups.Grouping (``by``)

    @property
    def title(self) -> str:
        return f"{self.inputs.model.name} on {self.inputs.data.name}"

    def deciles(self) -> dict[str, np.ndarray]:
        """Deciles of the numeric features drawn (rug marks)."""
        names = self.inputs.prepared.feature_names
        drawn = {f for c in self.curves for f in c.features}
        cats = {f for c in self.curves for f, cat in zip(c.features, c.categorical) if cat}
        return decile_marks(self.rows.X, names, drawn - cats)


def _varies(report: Reporter, name: str, column: Any) -> bool:
    """When every feature is asked for implicitly, leave out those without a curve (with a note)."""
    import pandas as pd

    values = pd.Series(np.asarray(column, dtype=object)).dropna()
    try:
        n_distinct = values.nunique()
    except TypeError:
        return True
    if n_distinct >= 2:
        return True
    what = "only missing values" if n_distinct == 0 else f"constant ({values.iloc[0]!r})"
    report.note(f"skipping feature '{name}': {what}, so it has no partial dependence curve")
    return False


def _feature_sets(
    opts: PdpOptions, inputs: Inputs, sample_weight: str | None, report: Reporter
) -> tuple[list[str], list[tuple[str, ...]]]:
    """The one-way features and pairs to show, checked against the model's features."""
    prep = inputs.prepared
    names = prep.feature_names

    def check(name: str, param: str) -> str:
        return check_feature(name, param, prep, sample_weight)

    one_way = [check(f, "features") for f in opts.features]
    pairs = [tuple(check(f, "pairs") for f in p) for p in opts.pairs]
    if not one_way and not pairs:
        one_way = [f for f in names if _varies(report, f, feature_column(prep.X, names, f))]
        if not one_way:
            raise UsageError(
                f"every feature of '{inputs.data.name}' is constant or missing: no partial dependence "
                "to compute",
                "give data whose features vary",
            )
        report.note(f"no `features` given: computing all {len(one_way)} features")
    return list(dict.fromkeys(one_way)), pairs


def run_pdp(
    source: Source,
    options: PdpOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
) -> PdpRun:
    """Partial dependence (and ICE) of a model file on a data file, as `inspect pdp` computes it.

    Parameters
    ----------
    source : Source
        Model and data files, and how to read them.
    options : PdpOptions, default=PdpOptions()
    execution : Execution, default=Execution()
    report : Reporter, default=Collected()
        Where notes go.

    Returns
    -------
    PdpRun
        ``curves`` (one per feature set and class), ``document`` (the pdp.json content), ``gates``.
    """
    started = time.perf_counter()
    opts, execution, report = options or PdpOptions(), Execution.of(execution), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.ice_lines, "ice_lines", 1, "100")
    from dataclasses import replace

    from inspectcli.engines.partial_dependence import normalize_kind, recursion_note
    from inspectcli.reports import pdp as pdp_report

    opts = replace(opts, kind=normalize_kind(opts.kind))
    _check_subgroups(opts)
    if opts.ice_clusters is not None and opts.kind == "average":
        opts = replace(opts, kind="both")
        report.note("`ice_clusters` clusters ICE curves: computing them too (`kind=both`)")
    # ice_lines alone also keeps that many rows (as before ice_rows existed)
    keep_ice = pdp_report.parse_ice_rows(
        opts.ice_rows if opts.ice_rows is not None or opts.ice_lines is None else opts.ice_lines
    )
    gates = None
    if opts.fail_if:
        from inspectcli.gates import parse_conditions

        gates = parse_conditions(list(opts.fail_if), kind="pdp")

    inputs = load_inputs(
        source,
        report,
        rows=subsample_plan(opts.subsample, seed),
        also=(("by", opts.by),) if opts.by else (),
        lean=execution.reads_on_workers and opts.method != "recursion",  # (recursion runs here)
    )
    est, prep = inputs.model.estimator, inputs.prepared
    names = prep.feature_names
    one_way, pairs = _feature_sets(opts, inputs, source.sample_weight, report)
    if gates:
        gates.check_pdp(one_way, pairs, names, opts.kind, classes=list(opts.classes) or None)
    cats = [check_feature(c, "categorical_features", prep, source.sample_weight) for c in opts.categorical]
    custom = _custom_values(opts.values, prep, source.sample_weight)
    orders = {
        check_feature(k, "orders", prep, source.sample_weight): _levels(v) for k, v in opts.orders.items()
    }
    rows = subsample_rows(prep, opts.subsample, seed, report, drawn=inputs.data.sample)
    notes: list[str] = []
    grouping = _grouping(opts, inputs, rows) if opts.by else None
    if grouping is not None:
        notes += grouping.notes()
    ice_rows = None
    if opts.kind != "average":
        ice_rows = pdp_report.ice_sample(rows.X.shape[0], keep_ice, seed)
        if ice_rows is not None:
            notes.append(
                f"ICE kept for {len(ice_rows):,} of {rows.X.shape[0]:,} rows (a sample seeded with "
                f"`random_state` {seed}); `ice_rows=all` keeps every row"
            )
        size_note = pdp_report.size_note(
            est, rows.X, names, one_way, pairs, opts.grid_resolution, custom, cats, opts.classes, ice_rows
        )
        if size_note:
            report.note(size_note)
    if opts.ice_clusters is not None:
        from inspectcli.engines.ice_clusters import check_k

        check_k(opts.ice_clusters, rows.X.shape[0] if ice_rows is None else len(ice_rows))

    # One-way PDs of pair members on the same grid axes give H²; compute those not asked for.
    helpers = list(dict.fromkeys(f for p in pairs if len(p) == 2 for f in p if f not in one_way))
    sets: list[Any] = [(f,) for f in one_way] + list(pairs) + [(f,) for f in helpers]
    engine_kind = "both" if opts.kind == "individual" and pairs else opts.kind
    if grouping is not None:
        engine_kind = "average"  # all rows: the grid and the reference curve; groups below
    from inspectcli.engines.bands import check_band_options

    check_band_options(opts.bootstrap, opts.band_level)
    mode = None if opts.band is None else bool(opts.band)  # None: where it comes free
    if opts.method == "recursion" or opts.kind == "individual":
        mode = False
    band = mode is not False
    boot = opts.bootstrap if opts.kind != "individual" else 0
    if opts.bootstrap and not boot:
        report.note("`bootstrap` bands the average curve; `kind=individual` has none, so none is computed")
    elif opts.band is True and opts.kind == "individual":
        report.note("`band` bands the average curve; `kind=individual` has none, so none is computed")
    # Centred curves: the band of the centred values, from the ICE values (kept for it).
    centred_band = opts.centered and (mode is True or boot > 0 or (mode is None and engine_kind != "average"))
    if centred_band and engine_kind == "average":
        engine_kind = "both"
    from inspectcli.engines.partial_dependence import partial_dependence

    results = partial_dependence(
        est,
        rows.X,
        sets,
        feature_names=names,
        sample_weight=rows.sample_weight,
        categorical_features=cats or None,
        response_method=opts.response_method,
        classes=list(opts.classes) or None,
        percentiles=opts.percentiles,
        grid_resolution=opts.grid_resolution,
        custom_values=custom,
        orders=orders,
        method=opts.method,
        kind=engine_kind,
        standard_error=False if centred_band else ("auto" if mode is None else mode),
        bootstrap=0 if centred_band else boot,
        band_level=opts.band_level,
        random_state=seed,
        execution=execution,
    )
    if centred_band:
        _centred_bands(results, rows.sample_weight, band, boot, opts.band_level, seed, opts.kind == "average")
    for r in results[: len(one_way) + len(pairs)]:
        if r.non_finite is not None:
            report.warn(r.non_finite.describe(r.features, r.grid_values, rows.ids))
    lacking = [r for r in results[: len(one_way) + len(pairs)] if r.se is None and r.average is not None]
    if mode is None and lacking and opts.kind != "individual":
        notes.append(
            "no standard error of the PD values: the tree-path engine averages this model's trees without "
            f"per-row values, and computing them for {rows.X.shape[0]:,} rows would take about ten times "
            "as long; `band!` computes it"
        )
    if "recursion" in {r.method for r in results}:
        note = recursion_note(est)
        if note:
            notes.append(note)
    notes += delivery_notes(inputs.data)
    for note in notes:
        report.note(note)
    if grouping is not None:
        bands = (band, boot, centred_band, seed)
        curves = _group_curves(
            opts, est, names, results, one_way, grouping, rows, ice_rows, cats, execution, report, bands
        )
    else:
        curves = _curves(opts, results, len(one_way) + len(pairs), rows, ice_rows)
    if opts.ice_clusters is not None:
        _cluster(curves, opts.ice_clusters, seed)
    gate_report = None
    if gates:
        from inspectcli.gates import evaluate_pdp

        gate_report = evaluate_pdp(gates, curves)
    params = {
        "features": one_way,
        "pairs": [list(p) for p in pairs],
        "kind": opts.kind,
        "centered": opts.centered,
        "method": opts.method,
        "method_used": sorted({r.method for r in results}),
        "response_method": opts.response_method,
        "response_method_used": results[0].response_method,
        "grid_resolution": opts.grid_resolution,
        "percentiles": list(opts.percentiles),
        "custom_values": {k: v.tolist() for k, v in custom.items()},
        "categorical": cats,
        "classes": list(opts.classes) or None,
        "target": prep.target,
        "sample_weight": source.sample_weight,
        "subsample": rows.subsample,
        "ice_lines": opts.ice_lines,
        "ice_rows": "all" if keep_ice is None else keep_ice,
        "ice_rows_kept": None
        if opts.kind == "average"
        else (rows.X.shape[0] if ice_rows is None else len(ice_rows)),
        "order": orders,
        "level_order": {k: v for r in results for k, v in r.level_order.items()},
        "rank": opts.rank,
        "independent_y": opts.independent_y,
        "random_state": seed,
        "band": "auto" if mode is None and band else band,
        "bootstrap": boot,
        "band_level": opts.band_level,
    }
    if grouping is not None:
        params["by"] = grouping.as_json()
    if opts.ice_clusters is not None:
        params["ice_clusters"] = opts.ice_clusters
    from inspectcli.gbm import FLOAT32_AVERAGE_NOTE, library_of

    if library_of(est) == "xgboost":
        params["average_note"] = FLOAT32_AVERAGE_NOTE
    from inspectcli.results import data_block, envelope, model_block

    document = envelope(
        "pdp",
        model=model_block(inputs.model),
        data=data_block(inputs.data, rows.X.shape[0]),
        parameters=params,
        results=pdp_report.json_entries(curves),
        elapsed_s=time.perf_counter() - started,
        extra={
            **({"gates": gate_report.as_json()} if gate_report is not None else {}),
            **({"notes": [render_params(n) for n in notes]} if notes else {}),
        },
    )
    return PdpRun(inputs, rows, results, curves, seed, document, gate_report, notes, grouping)


def _centred_bands(
    results: Sequence[Any],
    sample_weight: np.ndarray | None,
    band: bool,
    boot: int,
    level: float,
    seed: int,
    drop_ice: bool,
) -> None:
    """Bands of the centred curves: SE / bootstrap of ``ICE − ICE at the first grid point``."""
    from inspectcli.engines.bands import bootstrap_means, mean_se

    for r in results:
        if r.individual is None:
            continue
        ice = np.moveaxis(np.asarray(r.individual, dtype=float), 1, 0)  # (n, k, *grid)
        corner = ice[(slice(None), slice(None)) + (0,) * (ice.ndim - 2)]
        with np.errstate(invalid="ignore"):  # a model's inf at the first grid point: NaN, no warning
            centred = ice - corner.reshape(corner.shape + (1,) * (ice.ndim - 2))
        r.se = mean_se(centred, sample_weight) if band else None
        r.bootstrap = bootstrap_means(centred, sample_weight, boot, seed, level) if boot else None
        if drop_ice:
            r.individual = None


def _levels(value: Any) -> list[str]:
    """'a,b,c' or a sequence -> the levels, in order."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _custom_values(values: Mapping[str, Any], prep: Any, sample_weight: str | None) -> dict[str, np.ndarray]:
    from inspectcli.engines.grid import parse_custom_values

    custom: dict[str, np.ndarray] = {}
    for fname, vals in values.items():
        fname = check_feature(fname, "custom_values", prep, sample_weight)
        column = feature_column(prep.X, prep.feature_names, fname)
        custom[fname] = (
            parse_custom_values(vals, column, fname) if isinstance(vals, str) else np.asarray(vals)
        )
    return custom


def _curves(
    opts: PdpOptions, results: Sequence[Any], n_shown: int, rows: Rows, ice_rows: np.ndarray | None
) -> list[Any]:
    """The curves shown (ICE rows sampled, helpers kept for H², ranked when asked)."""
    from inspectcli.reports import pdp as pdp_report

    shown = results[:n_shown]
    by_features = {r.features: r for r in results if len(r.features) == 1}
    if opts.kind == "individual":
        for r in shown:
            r.average = None
    return pdp_report.build_curves(
        shown,
        centered=opts.centered,
        ice_rows=ice_rows,
        row_ids=rows.ids,
        helpers=by_features,
        rank=opts.rank,
    )


def _check_subgroups(opts: PdpOptions) -> None:
    """Usage errors of ``by`` / ``ice_clusters`` that need no data."""
    if opts.ice_clusters is not None and opts.ice_clusters < 2:
        from inspectcli.engines.ice_clusters import check_k

        check_k(opts.ice_clusters, opts.ice_clusters)
    if opts.by is None:
        return
    if opts.pairs:
        raise UsageError(
            "`by` draws one curve per group on one axis; a `pair` has no curve to draw that way",
            "run the pairs without `by`",
        )
    if opts.ice_clusters is not None:
        raise UsageError(
            "`by` and `ice_clusters` both colour the curves by group: use one at a time",
            "run them separately",
        )
    if opts.method == "recursion":
        raise UsageError(
            "`method` recursion averages over the training data, not over the rows of a group (`by`)",
            "use `method=brute` (or auto)",
        )
    from inspectcli.workflows._groups import check_group_options

    check_group_options(opts.by_bins, opts.by_max_levels)


def _grouping(opts: PdpOptions, inputs: Inputs, rows: Rows) -> Any:
    """The groups of the rows used, by ``opts.by``."""
    from inspectcli.workflows._groups import by_values, make_groups

    values = by_values(opts.by, inputs, rows)  # type: ignore[arg-type]
    return make_groups(values, opts.by, bins=opts.by_bins, max_levels=opts.by_max_levels)  # type: ignore[arg-type]


def _group_curves(
    opts: PdpOptions,
    est: Any,
    names: list[str],
    results: Sequence[Any],
    one_way: Sequence[str],
    grouping: Any,
    rows: Rows,
    ice_rows: np.ndarray | None,
    cats: Sequence[str],
    execution: Execution,
    report: Reporter,
    bands: tuple[bool, int, bool, int] = (False, 0, False, 0),
) -> list[Any]:
    """The all-rows curves, each followed by one curve per group: the ordinary engine on the
    group's rows, on the all-rows grid (``custom_values``), so every group shares the x axis.

    ``bands``: (standard error, bootstrap resamples, centred band, seed) as for all rows, each
    group's band from its own rows.
    """
    from inspectcli.engines.frames import take_rows
    from inspectcli.engines.partial_dependence import partial_dependence
    from inspectcli.engines.worker_data import derive
    from inspectcli.reports import pdp as pdp_report

    band, boot, centred_band, seed = bands
    shown = list(results[: len(one_way)])
    # One decision per run: under "auto", the groups have a band when the all-rows curves got one.
    with_se = bool(opts.band) or any(r.se is not None for r in shown)
    for r in shown:  # all rows: the average (ICE, if computed for a centred band, is the groups')
        r.individual = None
    overall = pdp_report.build_curves(shown, centered=opts.centered, row_ids=rows.ids, rank=opts.rank)
    grids = {r.features[0]: r.grid_values[0] for r in shown}
    per_group = []
    with execution.sharing() as execution:  # (dask: one cluster for every group)
        for g in grouping.groups:
            sw = rows.sample_weight[g.positions] if rows.sample_weight is not None else None
            got = partial_dependence(
                est,
                derive(take_rows, rows.X, g.positions),  # (Dask workers reading the data: the same rows)
                [(f,) for f in one_way],
                feature_names=names,
                sample_weight=sw,
                categorical_features=list(cats) or None,
                response_method=opts.response_method,
                classes=list(opts.classes) or None,
                custom_values=grids,
                method=opts.method,
                kind="both" if centred_band and opts.kind == "average" else opts.kind,
                standard_error=with_se if band and not centred_band else False,
                bootstrap=0 if centred_band else boot,
                band_level=opts.band_level,
                random_state=seed,
                execution=execution,
            )
            if centred_band:
                _centred_bands(got, sw, band, boot, opts.band_level, seed, opts.kind == "average")
            for r in got:
                if r.non_finite is not None:
                    where = r.non_finite.describe(r.features, r.grid_values, rows.ids[g.positions])
                    report.warn(f"group '{g.label}': {where}")
                if opts.kind == "individual":
                    r.average = None
            local = None if ice_rows is None else np.flatnonzero(np.isin(g.positions, ice_rows))
            curves = pdp_report.build_curves(
                got, centered=opts.centered, ice_rows=local, row_ids=rows.ids[g.positions]
            )
            for c in curves:
                c.group = g.as_json(grouping.column)
            per_group.append(curves)
    out = []
    for i, c in enumerate(overall):
        out.append(c)
        out += [curves[i] for curves in per_group]
    return out


def _cluster(curves: Sequence[Any], k: int, seed: int) -> None:
    """ICE clusters of every one-way curve that has ICE lines (``curve.clusters``)."""
    from inspectcli.engines.ice_clusters import cluster_ice

    for c in curves:
        if c.ndim == 1 and c.individual is not None:
            c.clusters = cluster_ice(c.individual, k, random_state=seed)
