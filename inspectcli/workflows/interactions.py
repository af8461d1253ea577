"""Interaction screening as `inspect interactions` runs it: Friedman's H² at data points."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from inspectcli.engines.execution import Execution
from inspectcli.errors import UsageError
from inspectcli.workflows._inputs import (
    Collected,
    Inputs,
    Reporter,
    Source,
    check_at_least,
    check_feature,
    load_inputs,
    resolve_seed,
)


@dataclass(frozen=True)
class InteractionsOptions:
    """What `inspect interactions` computes.

    Parameters
    ----------
    features : tuple of str, default=()
        Candidate features; empty: all of the model's features.
    top_k : int, default=10
        How many candidates (largest one-way PD spread first) are screened pairwise
        (``top_k·(top_k−1)/2`` pairs).
    pairs : "top", "all" or tuple of (str, str), default="top"
        Every pair among the top-k, every pair of candidates, or the pairs named.
    rows : int, default=300
        Rows (a seeded sample) the statistics are computed on; each PD costs rows² outputs.
    overall : bool, default=True
        Each screened feature's overall H² (its interaction with all others) too.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
    classes : tuple of str, default=()
    random_state : int or None, default=0
        Seed of the row sample.
    fail_if : tuple of str, default=()
        ``h2(a,b) > 0.1`` conditions.
    """

    features: tuple[str, ...] = ()
    top_k: int = 10
    pairs: str | tuple[tuple[str, str], ...] = "top"
    rows: int = 300
    overall: bool = True
    response_method: str = "auto"
    classes: tuple[str, ...] = ()
    random_state: int | None = 0
    fail_if: tuple[str, ...] = ()


@dataclass
class InteractionsRun:
    """What :func:`run_interactions` returns."""

    inputs: Inputs
    result: Any  # engines.h_statistic.InteractionResult
    document: dict[str, Any]
    gates: Any = None  # gates.GateReport

    @property
    def title(self) -> str:
        return f"{self.inputs.model.name} on {self.inputs.data.name}"


def run_interactions(
    source: Source,
    options: InteractionsOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
) -> InteractionsRun:
    """Friedman's H² for the pairs among the top-k features, and each one's overall H².

    Parameters
    ----------
    source : Source
        Model and data files, and how to read them.
    options : InteractionsOptions, default=InteractionsOptions()
    execution : Execution, default=Execution()
        Its memory budget bounds the stacked predictions of non-tree models.
    report : Reporter, default=Collected()
        Where notes go.

    Returns
    -------
    InteractionsRun
        ``result`` (:class:`~inspectcli.engines.h_statistic.InteractionResult`), ``document``
        (the interactions.json content) and ``gates``.
    """
    started = time.perf_counter()
    opts = options or InteractionsOptions()
    execution, report = Execution.of(execution), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.top_k, "top_k", 2, "10")
    check_at_least(opts.rows, "rows", 2, "300")
    gates = None
    if opts.fail_if:
        from inspectcli.gates import parse_conditions

        gates = parse_conditions(list(opts.fail_if), kind="interactions")
    inputs = load_inputs(source, report)
    est, prep = inputs.model.estimator, inputs.prepared
    names = prep.feature_names

    def check(name: str, param: str) -> str:
        return check_feature(name, param, prep, source.sample_weight)

    candidates = [check(f, "features") for f in dict.fromkeys(opts.features)]
    pairs: Any = opts.pairs
    if not isinstance(pairs, str):
        pairs = tuple((check(a, "pairs"), check(b, "pairs")) for a, b in pairs)
        for a, b in pairs:
            if a == b:
                raise UsageError(f"`pairs`: a pair needs two different features, got {a!r} twice")
    if len(candidates or names) < 2:
        raise UsageError("interactions need at least two features", "name two or more `features`")
    gate_pairs = []
    if gates:
        for cond in gates:
            for n in cond.names or ():
                check(n, "fail_if")
            if cond.names:
                gate_pairs.append(tuple(cond.names))
    n_rows = min(opts.rows, prep.n_rows)
    if n_rows < prep.n_rows:
        report.note(
            f"H² on {n_rows:,} of {prep.n_rows:,} rows (`rows`, seed {seed}): {n_rows:,}² outputs per PD"
        )

    from inspectcli.engines.h_statistic import h_statistics

    result = h_statistics(
        est,
        prep.X,
        features=candidates or None,
        top_k=opts.top_k,
        pairs=pairs,
        extra_pairs=gate_pairs,
        overall=opts.overall,
        n_rows=n_rows,
        random_state=seed,
        response_method=opts.response_method,
        classes=list(opts.classes) or None,
        feature_names=names,
        max_bytes=execution.memory_budget // 2,
    )
    for note in result.notes:
        report.note(note)
    from inspectcli.reports import interactions as ix_report

    gate_report = None
    if gates:
        from inspectcli.gates import evaluate_pdp

        gate_report = evaluate_pdp(gates, ix_report.pair_curves(result))
    params = {
        "features": candidates or None,
        "top_k": opts.top_k,
        "pairs": pairs if isinstance(pairs, str) else [list(p) for p in pairs],
        "rows": n_rows,
        "overall": opts.overall,
        "response_method": opts.response_method,
        "response_method_used": result.response_method,
        "classes": list(opts.classes) or None,
        "target": prep.target,
        "engine": result.engine,
        "random_state": seed,
    }
    from inspectcli.results import data_block, envelope, model_block

    document = envelope(
        "interactions",
        model=model_block(inputs.model),
        data=data_block(inputs.data, n_rows),
        parameters=params,
        results=ix_report.json_entries(result),
        elapsed_s=time.perf_counter() - started,
        extra={
            "rows": [int(i) for i in result.rows],
            **({"gates": gate_report.as_json()} if gate_report is not None else {}),
        },
    )
    return InteractionsRun(inputs, result, document, gate_report)
