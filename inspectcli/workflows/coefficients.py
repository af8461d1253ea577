"""Linear-model coefficients as `inspect coefficients` computes them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from inspectcli.engines.execution import Execution
from inspectcli.workflows._inputs import (
    Collected,
    Inputs,
    Reporter,
    Source,
    check_at_least,
    load_inputs,
    resolve_seed,
)


@dataclass(frozen=True)
class CoefficientsOptions:
    """What `inspect coefficients` computes.

    Parameters
    ----------
    cv : int or None, default=None
        Refit on this many folds (RepeatedKFold, seeded) and report each coefficient's spread.
    n_repeats : int, default=5
        Repeats of the folds (with ``cv`` only).
    classes : tuple of str, default=()
    random_state : int or None, default=0
    """

    cv: int | None = None
    n_repeats: int = 5
    classes: tuple[str, ...] = ()
    random_state: int | None = 0


@dataclass
class CoefficientsRun:
    """What :func:`run_coefficients` returns."""

    inputs: Inputs
    result: Any  # engines.coefficients.Coefficients
    document: dict[str, Any]


def run_coefficients(
    source: Source,
    options: CoefficientsOptions | None = None,
    execution: Execution | None = None,
    report: Reporter | None = None,
) -> CoefficientsRun:
    """Coefficients × feature std, and their spread across refits, as `inspect coefficients` computes them.

    Parameters
    ----------
    source : Source
        Model and data files (the target is inferred when ``source.target`` is None).
    options : CoefficientsOptions, default=CoefficientsOptions()
    execution : Execution, default=Execution()
    report : Reporter, default=Collected()

    Returns
    -------
    CoefficientsRun
        ``result`` (coefficients of shape (n_targets, n_features)) and ``document``.
    """
    started = time.perf_counter()
    opts = options or CoefficientsOptions()
    execution, report = execution or Execution(), report or Collected()
    seed = resolve_seed(opts.random_state)
    check_at_least(opts.cv, "cv", 2, "5")
    check_at_least(opts.n_repeats, "n_repeats", 1)
    if opts.cv is None and opts.n_repeats != 5:
        report.note("`n_repeats` applies only with `cv`; ignoring it")
    inputs = load_inputs(
        source, report, infer_target=source.target is None, require_target=opts.cv is not None
    )
    est, prep = inputs.model.estimator, inputs.prepared
    from inspectcli.engines.coefficients import coefficients, linear_parts

    linear_parts(est)  # a model without coefficients is a usage error before any work
    y = None
    if opts.cv is not None:
        from inspectcli.loading.match import check_target

        y = check_target(est, prep.y, inputs.data.name, prep.target)  # type: ignore[arg-type]
    res = coefficients(
        est,
        prep.X,
        y,
        feature_names=prep.feature_names,
        sample_weight=prep.sample_weight,
        classes=list(opts.classes) or None,
        cv=opts.cv,
        n_repeats=opts.n_repeats,
        random_state=seed,
        execution=execution,
    )
    for note in res.notes:
        report.note(note)
    from inspectcli.reports import coefficients as coef_report
    from inspectcli.results import data_block, envelope, model_block

    params = {
        "target": prep.target,
        "estimator": res.estimator,
        "cv": opts.cv,
        "n_repeats": opts.n_repeats if opts.cv is not None else None,
        "n_fits": res.cv.n_fits if res.cv is not None else None,
        "classes": list(opts.classes) or None,
        "sample_weight": source.sample_weight,
        "random_state": seed,
        "feature_std_ddof": 1,
        "target_transform": res.target_transform,
    }
    document = envelope(
        "coefficients",
        model=model_block(inputs.model),
        data=data_block(inputs.data, prep.n_rows),
        parameters=params,
        results=coef_report.json_entries(res),
        elapsed_s=time.perf_counter() - started,
        extra={"notes": res.notes},
    )
    return CoefficientsRun(inputs, res, document)
