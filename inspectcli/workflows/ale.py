"""Accumulated local effects as `inspect ale` runs it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectcli.engines.execution import Execution
from inspectcli.workflows._inputs import (
    Collected,
    Inputs,
    Reporter,
    Rows,
    Source,
    check_at_least,
    check_feature,
    decile_marks,
    load_inputs,
    resolve_seed,
    subsample_plan,
    subsample_rows,
)
from inspectcli.workflows._on_workers import delivery_notes


@dataclass(frozen=True)
class AleOptions:
    """What `inspect ale` computes.

    Parameters
    ----------
    features : tuple of str, default=()
        Features; empty: all.
    bins : int, default=20
        Quantile bins of numeric features (repeated edges merged).
    categorical : tuple of str, default=()
        Features treated as categorical.
    orders : mapping of str to sequence of str, default={}
        Order of a categorical feature's levels (default: by similarity of the other features).
    with_pdp : bool, default=False
        The partial dependence on the same grid too.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
    classes : tuple of str, default=()
    subsample : int, float, str or None, default=None
    random_state : int or None, default=0
        Seed of the subsample and of the bootstrap; None draws one (recorded).
    band : bool, default=True
        The delta-method standard error of each curve (engines/bands.py).
    bootstrap : int, default=0
        Resamples of the rows for a percentile interval per grid point (no new predictions).
    band_level : float, default=0.95
        Coverage of the bootstrap interval and of the ± z·SE band drawn without one.
    by : str or None, default=None
        A column of the data (a model feature or any other): one curve per group of its rows
        (workflows/_groups.py), beside the all-rows curve. Each group's ALE is the ordinary ALE
        on its rows: numeric features on the group's own quantile bins (a group's curve spans
        the values its rows hold), categorical ones in the all-rows level order.
    by_bins : int, default=4
    by_max_levels : int, default=8
    """

    features: tuple[str, ...] = ()
    bins: int = 20
    categorical: tuple[str, ...] = ()
    orders: Mapping[str, Sequence[str]] = field(default_factory=dict)
    with_pdp: bool = False
    response_method: str = "auto"
    classes: tuple[str, ...] = ()
    subsample: int | float | str | None = None
    random_state: int | None = 0
    band: bool = True
    bootstrap: int = 0
    band_level: float = 0.95
    by: str | None = None
    by_bins: int = 4
    by_max_levels: int = 8


@dataclass
class AleRun:
    """What :func:`run_ale` returns."""

    inputs: Inputs
    rows: Rows
    results: list[Any]  # engines.ale.ALEResult
    curves: list[Any]  # reports.ale.ALECurve
    document: dict[str, Any]
    grouping: Any = None  # workflows._groups.Grouping (``by``)

    def deciles(self) -> dict[str, np.ndarray]:
        numeric = [r.feature for r in self.results if not r.categorical]
        return decile_marks(self.rows.X, self.inputs.prepared.feature_names, numeric)


def run_ale(
    source: Source,
    options: AleOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
) -> AleRun:
    """First-order ALE (Apley & Zhu 2020) of a model file on a data file, as `inspect ale` computes it.

    Parameters
    ----------
    source : Source
    options : AleOptions, default=AleOptions()
    execution : Execution, default=Execution()
    report : Reporter, default=Collected()

    Returns
    -------
    AleRun
        ``curves`` (one per feature and class) and ``document`` (the ale.json content).
    """
    started = time.perf_counter()
    opts, execution, report = options or AleOptions(), Execution.of(execution), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.bins, "bins", 1, "20")
    if opts.by is not None:
        from inspectcli.workflows._groups import check_group_options

        check_group_options(opts.by_bins, opts.by_max_levels)
    inputs = load_inputs(
        source,
        report,
        rows=subsample_plan(opts.subsample, seed),
        also=(("by", opts.by),) if opts.by else (),
        lean=execution.reads_on_workers,
    )
    est, prep = inputs.model.estimator, inputs.prepared
    names = prep.feature_names

    def check(name: str, param: str) -> str:
        return check_feature(name, param, prep, source.sample_weight)

    chosen = list(dict.fromkeys(check(f, "features") for f in opts.features))
    if not chosen:
        chosen = list(names)
        report.note(f"no `features` given: computing all {len(names)} features")
    cats = [check(c, "categorical_features") for c in opts.categorical]
    orders = {check(name, "orders"): list(levels) for name, levels in opts.orders.items()}
    rows = subsample_rows(prep, opts.subsample, seed, report, drawn=inputs.data.sample)
    grouping = None
    if opts.by is not None:
        from inspectcli.workflows._groups import by_values, make_groups

        values = by_values(opts.by, inputs, rows)
        grouping = make_groups(values, opts.by, bins=opts.by_bins, max_levels=opts.by_max_levels)
        for note in grouping.notes():
            report.note(note)

    from inspectcli.engines.ale import accumulated_local_effects

    def ale_of(
        X: Any, features: Sequence[str], levels: Mapping[str, Any], weights: Any, on: Execution
    ) -> Any:
        """The ALE of ``features`` on rows ``X`` (all rows, or one group's), as the options ask."""
        return accumulated_local_effects(
            est,
            X,
            list(features),
            feature_names=names,
            categorical_features=cats or None,
            bins=opts.bins,
            orders=levels,
            response_method=opts.response_method,
            classes=list(opts.classes) or None,
            sample_weight=weights,
            with_pdp=opts.with_pdp,
            standard_error=opts.band is not False,
            bootstrap=opts.bootstrap,
            band_level=opts.band_level,
            random_state=seed,
            execution=on,
        )

    results = ale_of(rows.X, chosen, orders, rows.sample_weight, execution)
    for note in delivery_notes(inputs.data):
        report.note(note)
    for r in results:
        if r.non_finite:
            report.warn(r.non_finite)
        if r.n_missing:
            report.note(
                f"{r.feature}: {r.n_missing:,} row(s) with a missing value are in no bin and left out"
            )
        if r.categorical and r.order == "similarity":
            report.info(f"{r.feature}: levels ordered by similarity: {', '.join(map(str, r.grid))}")
    from inspectcli.reports import ale as ale_report
    from inspectcli.results import data_block, envelope, model_block

    curves = ale_report.build_curves(results)
    if grouping is not None:
        curves = _group_curves(ale_of, names, results, curves, grouping, rows, execution, report)
    params = {
        "features": chosen,
        "bins": opts.bins,
        "categorical": cats,
        "order": orders,
        "with_pdp": opts.with_pdp,
        "response_method": opts.response_method,
        "response_method_used": results[0].response_method,
        "classes": list(opts.classes) or None,
        "target": prep.target,
        "sample_weight": source.sample_weight,
        "subsample": rows.subsample,
        "random_state": seed,
        "band": opts.band,
        "bootstrap": opts.bootstrap,
        "band_level": opts.band_level,
        "quantiles": "type 1 (inverse empirical CDF), repeated edges merged",
        "centering": "bin-count weighted mean of bin midpoints (numeric), of levels (categorical)",
    }
    if grouping is not None:
        params["by"] = grouping.as_json(GROUP_GRID)
    document = envelope(
        "ale",
        model=model_block(inputs.model),
        data=data_block(inputs.data, rows.X.shape[0]),
        parameters=params,
        results=ale_report.json_entries(curves),
        elapsed_s=time.perf_counter() - started,
    )
    return AleRun(inputs, rows, list(results), curves, document, grouping)


GROUP_GRID = (
    "per group: numeric features on the group's own quantile bins, categorical ones in the all-rows "
    "level order (levels the group lacks left out)"
)


def _group_curves(
    ale_of: Callable[..., Any],
    names: list[str],
    results: Sequence[Any],
    overall: list[Any],
    grouping: Any,
    rows: Rows,
    execution: Execution,
    report: Reporter,
) -> list[Any]:
    """The all-rows curves, each followed by one curve per group (``ale_of``, the ordinary ALE, on
    the group's rows, with its own band when ``band`` / ``bootstrap`` ask for one).

    A feature with fewer than two values (levels) in a group has no local effect there: that
    group's curve of it is left out, with a note.
    """
    import pandas as pd

    from inspectcli.engines.frames import take_rows
    from inspectcli.engines.worker_data import derive
    from inspectcli.reports import ale as ale_report
    from inspectcli.workflows._inputs import feature_column

    per_group: dict[tuple[str, int], list[Any]] = {}
    skipped: list[str] = []
    with execution.sharing() as execution:  # (dask: one cluster for every group)
        for g in grouping.groups:
            Xg = derive(take_rows, rows.X, g.positions)  # (Dask workers reading the data: the same rows)
            chosen, orders = [], {}
            for r in results:
                col = pd.Series(np.asarray(feature_column(Xg, names, r.feature), dtype=object)).dropna()
                if r.categorical:
                    present = {str(v) for v in col.tolist()}
                    given = [v for v in r.grid if str(v) in present]
                    if len(given) < 2:
                        skipped.append(f"{r.feature} in '{g.label}'")
                        continue
                    orders[r.feature] = given
                elif pd.to_numeric(col, errors="coerce").dropna().nunique() < 2:
                    skipped.append(f"{r.feature} in '{g.label}'")
                    continue
                chosen.append(r.feature)
            if not chosen:
                continue
            sw = rows.sample_weight[g.positions] if rows.sample_weight is not None else None
            got = ale_of(Xg, chosen, orders, sw, execution)
            for r in got:
                if r.non_finite:
                    report.warn(f"group '{g.label}': {r.non_finite}")
            for c in ale_report.build_curves(got):
                c.group = g.as_json(grouping.column)
                per_group.setdefault((c.feature, repr(c.target)), []).append(c)
    if skipped:
        report.note(
            f"no local effect (fewer than 2 values in the group), so no group curve: {', '.join(skipped[:8])}"
            + (f", … (+{len(skipped) - 8})" if len(skipped) > 8 else "")
        )
    out = []
    for c in overall:
        out.append(c)
        out += per_group.get((c.feature, repr(c.target)), [])
    return out
