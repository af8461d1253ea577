"""Accumulated local effects as `inspect ale` runs it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
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


@dataclass
class AleRun:
    """What :func:`run_ale` returns."""

    inputs: Inputs
    rows: Rows
    results: list[Any]  # engines.ale.ALEResult
    curves: list[Any]  # reports.ale.ALECurve
    document: dict[str, Any]

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
    opts, execution, report = options or AleOptions(), execution or Execution(), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.bins, "bins", 1, "20")
    inputs = load_inputs(source, report, rows=subsample_plan(opts.subsample, seed))
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

    from inspectcli.engines.ale import accumulated_local_effects

    results = accumulated_local_effects(
        est,
        rows.X,
        chosen,
        feature_names=names,
        categorical_features=cats or None,
        bins=opts.bins,
        orders=orders,
        response_method=opts.response_method,
        classes=list(opts.classes) or None,
        sample_weight=rows.sample_weight,
        with_pdp=opts.with_pdp,
        standard_error=opts.band,
        bootstrap=opts.bootstrap,
        band_level=opts.band_level,
        random_state=seed,
        execution=execution,
    )
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
    document = envelope(
        "ale",
        model=model_block(inputs.model),
        data=data_block(inputs.data, rows.X.shape[0]),
        parameters=params,
        results=ale_report.json_entries(curves),
        elapsed_s=time.perf_counter() - started,
    )
    return AleRun(inputs, rows, list(results), curves, document)
