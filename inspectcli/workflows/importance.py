"""Permutation importance as `inspect importance` runs it: groups, correlated clusters, a second dataset."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inspectcli.engines.execution import Execution
from inspectcli.numbers import parse_finite
from inspectcli.workflows._inputs import (
    Collected,
    Inputs,
    Reporter,
    RowPlan,
    Source,
    check_at_least,
    load_inputs,
    load_matched_data,
    resolve_seed,
)
from inspectcli.workflows._on_workers import delivery_notes


@dataclass(frozen=True)
class ImportanceOptions:
    """What `inspect importance` computes.

    Parameters
    ----------
    scoring : tuple of str, default=()
        Scorer names; empty: the model's own score.
    n_repeats : int, default=5
        Permutations per feature.
    max_samples : int, float or str, default=1.0
        Rows per feature: a count (int, '1000') or a fraction (float, '0.5').
    groups : mapping of str to sequence of str, default={}
        Columns permuted together, by group name.
    cluster_threshold : float or None, default=None
        Group correlated features: cut the Spearman/Ward dendrogram at this distance.
    compare : str or None, default=None
        A second data file, computed with the same options.
    mdi : bool, default=True
        Impurity importance of tree models too.
    random_state : int or None, default=0
        Seed; None draws one (recorded).
    fail_if : tuple of str, default=()
        Gate conditions.
    """

    scoring: tuple[str, ...] = ()
    n_repeats: int = 5
    max_samples: int | float | str = 1.0
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cluster_threshold: float | None = None
    compare: str | None = None
    mdi: bool = True
    random_state: int | None = 0
    fail_if: tuple[str, ...] = ()


@dataclass
class ImportanceRun:
    """What :func:`run_importance` returns."""

    inputs: Inputs
    result: Any  # engines.permutation.PermutationImportance
    groups: dict[str, list[str]]
    clustering: Any = None  # engines.correlation.Clustering
    impurity: Any = None  # engines.impurity.ImpurityImportance
    compare: Any = None  # PermutationImportance on the second dataset
    compare_data: Any = None  # its Dataset
    document: dict[str, Any] = field(default_factory=dict)
    gates: Any = None
    notes: list[str] = field(default_factory=list)  # the 5.2 hints (also in the JSON)

    @property
    def compare_name(self) -> str:
        return self.compare_data.name if self.compare_data is not None else "compare"


def max_samples_value(value: int | float | str) -> int | float:
    """'1000' -> 1000 rows; '0.5' or '1.0' -> a fraction; numbers pass unchanged."""
    if not isinstance(value, str):
        return value
    number = parse_finite(value, "`max_samples`", "give a row count or a fraction")
    if "." in value or "e" in value.lower():
        return number
    return int(number)


def _merge_clusters(groups: dict[str, list[str]], clustering: Any, report: Reporter) -> None:
    """Add each correlated cluster as a group, unless it overlaps a group given by hand."""
    taken = {c for cols in groups.values() for c in cols}
    for gname, cols in clustering.groups().items():
        if taken & set(cols):
            report.note(f"{gname} ({', '.join(cols)}) overlaps a `groups`; keeping the `groups`")
            continue
        groups[gname] = cols


def run_importance(
    source: Source,
    options: ImportanceOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
) -> ImportanceRun:
    """Permutation importance of a model file on a data file, as `inspect importance` computes it.

    Parameters
    ----------
    source : Source
        Model and data files (the target is inferred when ``source.target`` is None).
    options : ImportanceOptions, default=ImportanceOptions()
    execution : Execution, default=Execution()
    report : Reporter, default=Collected()

    Returns
    -------
    ImportanceRun
        ``result`` (importances of shape (n_features, n_repeats) per scorer), ``compare``,
        ``impurity``, ``clustering``, ``document`` (the importance.json content) and ``gates``.
    """
    started = time.perf_counter()
    opts = options or ImportanceOptions()
    execution, report = Execution.of(execution), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.n_repeats, "n_repeats", 1, "5")
    ms = max_samples_value(opts.max_samples)
    groups = {k: list(v) for k, v in opts.groups.items()}
    scorers = list(opts.scoring) or None
    if scorers:
        from inspectcli.engines.permutation import check_scorer_names

        check_scorer_names(scorers)
    gates = None
    if opts.fail_if:
        from inspectcli.gates import parse_conditions

        gates = parse_conditions(list(opts.fail_if), kind="importance")

    # Only the rows max_samples permutes are read (scikit-learn's draw, from the row count).
    from inspectcli.engines.permutation import importance_rows

    rows = RowPlan("--max-samples", seed, lambda n: importance_rows(seed, n, ms))
    inputs = load_inputs(source, report, infer_target=source.target is None, require_target=True, rows=rows)
    est, prep = inputs.model.estimator, inputs.prepared
    names = prep.feature_names
    # Column names as written (' a'), else without their spaces ('a, b' lists).
    groups = {
        g: [c if c in names or c.strip() not in names else c.strip() for c in cols]
        for g, cols in groups.items()
    }
    from inspectcli.loading.match import check_target

    y = check_target(est, prep.y, inputs.data.name, prep.target)  # type: ignore[arg-type]
    if scorers:  # before any computation: a scorer that cannot apply is a usage error
        from inspectcli.engines.permutation import check_scorers_fit

        check_scorers_fit(est, scorers)
    from inspectcli.reports import hints

    notes = hints.data_notes(
        prep.X,
        names,
        y,
        prep.target,
        clustered=opts.cluster_threshold is not None,
        groups=list(groups.values()),
    )
    for note in notes:
        report.note(note)
    clustering = None
    if opts.cluster_threshold is not None:
        from inspectcli.engines.correlation import spearman_clusters

        clustering = spearman_clusters(prep.X, names, opts.cluster_threshold)
        _merge_clusters(groups, clustering, report)

    from inspectcli.engines.permutation import default_scorer_name, permutation_importance

    if gates:
        gates.check_importance(names, groups, scorers or [default_scorer_name(est) or "score"])

    def compute(X: Any, yy: Any, sw: Any, data: Any, on: Execution) -> Any:
        # the data's row count when only the max_samples rows were read (see importance_rows)
        population = data.n_total if data.sample is not None else None
        return permutation_importance(
            est,
            X,
            yy,
            scoring=scorers,
            n_repeats=opts.n_repeats,
            random_state=seed,
            sample_weight=sw,
            max_samples=ms,
            population=population,
            groups=groups,
            feature_names=names,
            execution=on,
        )

    cmp_result, cmp_data = None, None
    # Two computations with the dask backend and no scheduler share one LocalCluster.
    twice = opts.compare is not None
    with execution.sharing(twice) as on:
        result = compute(prep.X, y, prep.sample_weight, inputs.data, on)
        if result.default_scoring:
            report.note(
                f"scoring with the model's default score ({result.scorers[0].scorer}); choose with `scoring`"
            )
        if opts.compare is not None:
            cmp_source = Source(**{**source.__dict__, "target": prep.target})
            cmp_data, cmp_prep = load_matched_data(cmp_source, est, opts.compare, report, rows=rows)
            cmp_y = check_target(est, cmp_prep.y, cmp_data.name, prep.target)  # type: ignore[arg-type]
            cmp_result = compute(cmp_prep.X, cmp_y, cmp_prep.sample_weight, cmp_data, on)

    after = hints.perfect_baseline_notes(result, inputs.data.name)
    if cmp_result is not None and cmp_data is not None:
        after += hints.perfect_baseline_notes(cmp_result, cmp_data.name)
    after += delivery_notes(inputs.data, cmp_data)
    for note in after:
        report.note(note)
    notes += after

    impurity = None
    if opts.mdi:
        from inspectcli.engines.impurity import impurity_importance

        impurity = impurity_importance(est, prep.X, names, random_state=seed)
        if impurity is not None and impurity.note:
            report.note(f"{impurity.kind}: " + impurity.note)

    run = ImportanceRun(inputs, result, groups, clustering, impurity, cmp_result, cmp_data, notes=notes)
    if gates:
        from inspectcli.gates import evaluate_importance

        run.gates = evaluate_importance(gates, result)
    run.document = _document(run, opts, source, ms, seed, time.perf_counter() - started)
    return run


def _document(
    run: ImportanceRun, opts: ImportanceOptions, source: Source, ms: float, seed: int, elapsed: float
) -> dict[str, Any]:
    from inspectcli.reports import importance as imp_report
    from inspectcli.results import data_block, envelope, model_block

    result, cmp_result = run.result, run.compare
    params = {
        "target": run.inputs.prepared.target,
        "scoring": [b.scorer for b in result.scorers],
        "default_scoring": result.default_scoring,
        "n_repeats": opts.n_repeats,
        "max_samples": ms,
        "max_samples_rows": result.max_samples,
        "sample_weight": source.sample_weight,
        "random_state": seed,
        "groups": dict(run.groups),
        "cluster_threshold": opts.cluster_threshold,
        "compare": opts.compare,
    }
    extra: dict[str, Any] = {
        "impurity": run.impurity.as_json() if run.impurity is not None else None,
        "clusters": run.clustering.as_json() if run.clustering is not None else None,
        "compare": None
        if cmp_result is None
        else {
            "data": data_block(run.compare_data, cmp_result.max_samples),
            "results": imp_report.json_entries(cmp_result),
        },
    }
    if run.notes:
        from inspectcli.errors import render_params

        extra["notes"] = [render_params(n) for n in run.notes]
    if run.gates is not None:
        extra["gates"] = run.gates.as_json()
    return envelope(
        "importance",
        model=model_block(run.inputs.model),
        data=data_block(run.inputs.data, result.max_samples),
        parameters=params,
        results=imp_report.json_entries(result),
        elapsed_s=elapsed,
        extra=extra,
    )
