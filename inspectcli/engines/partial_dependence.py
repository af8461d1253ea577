"""Partial dependence and ICE: scikit-learn's numbers, computed in fewer, larger prediction calls.

Methods (what is computed) and engines (how) are separate:

- ``method="brute"`` averages real predictions over the rows. Engines:
  ``"tree-paths"`` (engines/trees/) reads tree ensembles' structure and gives the same numbers
  without predicting every (row, grid point); ``"batched"`` stacks the copies of X for many grid
  points into each predict call, in chunks sized by engines/batching.py and spread over workers
  by engines/parallel.py. ``engine="auto"`` takes tree-paths where it applies.
- ``method="recursion"`` is scikit-learn's own tree recursion (average over the training data).
  Only when asked: for gradient boosting its values leave out the model's baseline (initial
  prediction), so they are not on the model's output scale (``recursion_note`` says so).
- ``method="auto"`` is brute force: the model's own outputs, averaged (unlike scikit-learn's
  ``auto``, which picks recursion for tree ensembles); through tree paths where they apply, so
  it is as fast.

Averages are taken per grid point with ``np.average`` over all rows in one call, exactly as
scikit-learn does, whatever the chunking: results do not depend on the budget or worker count.

Bands (engines/bands.py): ``standard_error=True`` gives each PD value's standard error over the
rows (``std(ddof=1)/√n`` of its ICE values; with weights, the linearization standard error of a
weighted mean), from the ICE values as the engines pass them, without keeping them;
``bootstrap=N`` a seeded percentile interval from N resamples of the rows, recomputed from the ICE
values (kept in memory for it; no new predictions). ``method="recursion"`` has no ICE values and
so no band.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectcli.engines import trees
from inspectcli.engines.bands import (
    DEFAULT_LEVEL,
    Bootstrap,
    bootstrap_means,
    check_band_options,
    se_from_sum_sq,
)
from inspectcli.engines.estimate import check_pdp_request
from inspectcli.engines.execution import Execution
from inspectcli.engines.finite import NonFinite, flag_pdp
from inspectcli.engines.frames import (
    check_sample_weight,
    feature_names_of,
    resolve_feature,
    scaled_weights,
)
from inspectcli.engines.grid import (
    check_grid_options,
    feature_grid,
    is_categorical_dtype,
    order_levels,
)
from inspectcli.engines.pd_batched import _batched
from inspectcli.engines.pd_tree_paths import _tree_path_results
from inspectcli.engines.response import resolve_response
from inspectcli.errors import (
    UsageError,
)
from inspectcli.introspect import encoder_categories, final_estimator, supports_recursion, task_of

KINDS = ("average", "individual", "both")
#: Other names of kinds: ``ice`` is the usual name of individual curves, ``pd`` of their average.
KIND_ALIASES = {"ice": "individual", "pd": "average", "pdp": "average"}
METHODS = ("auto", "brute", "recursion")
ENGINES = ("auto", "batched", "tree-paths")

FeatureSpec = str | int | Sequence[str | int]


@dataclass
class PDPResult:
    """Partial dependence of one feature set, for every target of the model.

    ``average`` has shape (n_targets, len(grid_values[0]), ...); ``individual`` (ICE) has shape
    (n_targets, n_rows, len(grid_values[0]), ...), as in scikit-learn's Bunch.
    """

    features: tuple[str, ...]
    feature_indices: tuple[int, ...]
    categorical: tuple[bool, ...]
    grid_values: list[np.ndarray]
    targets: tuple[Any, ...]
    method: str
    engine: str
    response_method: str
    average: np.ndarray | None
    individual: np.ndarray | None
    #: {categorical feature: where its level order came from}: given | categories | model | sorted
    level_order: dict[str, str] = field(default_factory=dict)
    non_finite: NonFinite | None = None  # where the model returned NaN / inf (engines/finite.py)
    #: standard error of each PD value over the rows, shape of ``average`` (``standard_error=True``)
    se: np.ndarray | None = None
    #: percentile bootstrap interval, ``lower`` / ``upper`` of the shape of ``average`` (``bootstrap=N``)
    bootstrap: Bootstrap | None = None

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.grid_values)


def normalize_kind(kind: str) -> str:
    """``kind`` with its aliases resolved (``ice`` -> ``individual``); unknown kinds are usage errors."""
    kind = KIND_ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in KINDS:
        raise UsageError(
            f"`kind='{kind}'` is not one of {', '.join(KINDS)}",
            "choose one of them (ice is another name for individual)",
        )
    return kind


def recursion_note(estimator: Any) -> str | None:
    """What a user must know about ``method="recursion"`` values of ``estimator``, or None.

    For gradient boosting (GradientBoosting* and HistGradientBoosting*), scikit-learn's recursion
    leaves out the boosting's initial prediction, the baseline: the curve has the right shape, but
    it is shifted away from the model's outputs (and, for classifiers, is on the decision scale).
    """
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting

    est = final_estimator(estimator)
    if not isinstance(est, (BaseGradientBoosting, BaseHistGradientBoosting)):
        return None
    base = getattr(est, "_baseline_prediction", None)
    shown = ""
    if base is not None and np.size(base) == 1:
        shown = f" ({float(np.ravel(base)[0]):.4g})"
    return (
        f"`method=recursion`: the values omit the baseline (initial prediction{shown}) of "
        f"{type(est).__name__}: the shape is right, the level is not the model's output; the default "
        "(brute) gives the model's own averages"
    )


def _as_sets(features: FeatureSpec | Sequence[FeatureSpec]) -> list[tuple[str | int, ...]]:
    if isinstance(features, (str, int, np.integer)):
        return [(features,)]
    sets = []
    for f in features:
        if isinstance(f, (str, int, np.integer)):
            sets.append((f,))
        else:
            sets.append(tuple(f))
    return sets


def partial_dependence(
    estimator: Any,
    X: Any,
    features: FeatureSpec | Sequence[FeatureSpec],
    *,
    feature_names: Sequence[str] | None = None,
    sample_weight: np.ndarray | None = None,
    categorical_features: Sequence[str | int] | None = None,
    response_method: str = "auto",
    classes: Sequence[str] | None = None,
    percentiles: tuple[float, float] = (0.05, 0.95),
    grid_resolution: int = 100,
    custom_values: Mapping[str | int, Any] | None = None,
    orders: Mapping[str | int, Sequence[Any]] | None = None,
    method: str = "auto",
    kind: str = "average",
    engine: str = "auto",
    execution: Execution | None = None,
    standard_error: bool | str = False,
    bootstrap: int = 0,
    band_level: float = DEFAULT_LEVEL,
    random_state: int = 0,
) -> list[PDPResult]:
    """Partial dependence (and ICE) of each feature or feature set in ``features``.

    Parameters
    ----------
    estimator : fitted regressor or classifier (pipelines included)
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Rows to average over, exactly as the estimator takes them.
    features : name, index, or a sequence of them and of tuples (pairs, or more) of them
        One-way PDs for single names, multi-way PDs for tuples.
    feature_names : sequence of str, optional
        Names for ndarray columns (default x0, x1, ...).
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the average (forces ``method="brute"``, as in scikit-learn).
    categorical_features : names or indices, optional
        Categorical features (their grid is their levels). String, object, category and bool
        columns are categorical in any case.
    response_method : {"auto", "predict_proba", "decision_function"}
    classes : sequence of str, optional
        Keep only these classes of a classifier (by label text).
    percentiles, grid_resolution, custom_values :
        The grid, as in scikit-learn (custom_values maps a feature name to its values).
    orders : {feature: every level, in order}, optional
        The order of a categorical feature's levels. Without it: the categories' order of a
        pandas Categorical column that is ordered, else the order of the model's encoder
        (``categories_``), else sorted (scikit-learn's order). ``PDPResult.order`` says which.
    method : {"auto", "brute", "recursion"}
        ``"auto"`` is ``"brute"`` (exact averages of the model's outputs); ``"recursion"`` only
        when asked (see ``recursion_note``).
    kind : {"average", "individual", "both"}
    engine : {"auto", "batched", "tree-paths"}
        How brute force is computed; the numbers are the same.
    execution : Execution, default=Execution()
        Memory budget (bytes that batched predictions may take in all workers together), workers,
        backend, Dask scheduler and progress reporting.
    standard_error : bool or "auto", default=False
        Fill ``PDPResult.se``: the standard error of each PD value over the rows (engines/bands.py).
        Brute force only (recursion has no per-row values). ``"auto"``: when it costs little
        beside the averages, for every feature set alike: batched predictions; tree paths with
        ICE, with outputs that are not a sum of the trees, or with few rows × grid points ×
        trees (``trees.grid.spread_comes_cheap``). Otherwise ``se`` stays None: tree paths
        average a sum of trees without per-row values, and computing them costs about ten
        times as much.
    bootstrap : int, default=0
        Fill ``PDPResult.bootstrap`` with the percentile interval of ``bootstrap`` resamples of
        the rows (seeded with ``random_state``), recomputed from the ICE values.
    band_level : float, default=0.95
        Coverage of the bootstrap interval.
    random_state : int, default=0
        Seed of the bootstrap's resamples.

    Returns
    -------
    list of PDPResult, one per feature set, in the order given.
    """
    kind = normalize_kind(kind)
    asked_kind = kind
    check_band_options(bootstrap, band_level, standard_error=standard_error, random_state=random_state)
    if method not in METHODS:
        raise UsageError(f"`method='{method}'` is not one of {', '.join(METHODS)}", "choose one of them")
    if engine not in ENGINES:
        raise UsageError(f"engine '{engine}' is not one of {', '.join(ENGINES)}")
    percentiles = check_grid_options(percentiles, grid_resolution)
    execution = Execution.of(execution)
    names = feature_names_of(X, feature_names)
    n_rows = X.shape[0]
    sample_weight = scaled_weights(check_sample_weight(sample_weight, n_rows))

    task = task_of(estimator)
    if task.kind == "other":
        raise UsageError(
            f"{type(estimator).__name__} is neither a regressor nor a classifier",
            "partial dependence needs one (as in scikit-learn)",
        )
    if kind != "average" and method == "recursion":
        raise UsageError(
            f"`method` recursion computes averages only; `kind={kind}` needs the predictions of every row",
            "use `method=brute` (or auto)",
        )
    if method == "recursion" and standard_error == "auto":
        standard_error = False
    if method == "recursion" and (standard_error or bootstrap):
        band = "`bootstrap`" if bootstrap else "`standard_error`"
        raise UsageError(
            f"`method` recursion gives no per-row values, so no band ({band})",
            "use `method=brute` (or auto)",
        )
    if method == "recursion" and sample_weight is not None:
        raise UsageError(
            "`method` recursion averages over the training data and cannot use `sample_weight`",
            "use `method=brute` (or auto)",
        )
    if method == "auto":
        method = "brute"
    if method == "recursion":
        if not supports_recursion(estimator):
            raise UsageError(
                f"`method` recursion does not support {type(estimator).__name__}",
                "it applies to bare GradientBoosting, HistGradientBoosting, DecisionTreeRegressor "
                "and RandomForestRegressor models; use `method=brute`",
            )
        if response_method not in ("auto", "decision_function"):
            raise UsageError(
                f"`method` recursion uses decision_function, not {response_method}",
                "use `response_method=decision_function` or `method=brute`",
            )

    cat_idx = set()
    for c in categorical_features or ():
        cat_idx.add(resolve_feature(c, names))
    custom = {}
    for key, vals in (custom_values or {}).items():
        custom[resolve_feature(key, names)] = np.asarray(vals)
    given_orders = {resolve_feature(k, names): list(v) for k, v in (orders or {}).items()}

    sets = []
    for spec in _as_sets(features):
        if not spec:
            raise UsageError("an empty feature set was given", "name at least one feature")
        idx = tuple(resolve_feature(s, names) for s in spec)
        if len(set(idx)) != len(idx):
            raise UsageError(
                f"feature set {', '.join(map(str, spec))} names a feature twice",
                "give `pair` two different features",
            )
        sets.append(idx)
    if not sets:
        raise UsageError("no features given", "name at least one with `features`")

    # {feature: (None, categorical)}: each column is taken again where its grid is built, so
    # that they are not all held at once (a lean frame, engines/worker_data.py, reads each then)
    columns: dict[int, tuple[Any, bool]] = {}
    for idx in {i for s in sets for i in s}:
        col = X.iloc[:, idx] if hasattr(X, "iloc") else np.asarray(X)[:, idx]
        categorical = idx in cat_idx or is_categorical_dtype(col)
        columns[idx] = (None, categorical)
        del col

    # What the grids (and ICE) will hold, bounded before any grid is built (engines/estimate.py).
    bound = {i: len(custom[i]) if i in custom else min(grid_resolution, n_rows) for i in columns}
    check_pdp_request(
        [[bound[i] for i in idx] for idx in sets],
        n_rows=n_rows,
        n_targets=max(1, len(task.classes or ()) if task.is_classifier else (task.n_outputs or 1)),
        individual=kind != "average" or bootstrap > 0,
        bootstrap=bootstrap,
        option=f"`grid_resolution={grid_resolution}`" if len(custom) < len(columns) else "`custom_values`",
    )

    model_orders: dict[str, list[Any]] | None = None
    level_orders: dict[int, str] = {}
    grids: dict[int, np.ndarray] = {}
    for i in {i for s in sets for i in s}:
        col = X.iloc[:, i] if hasattr(X, "iloc") else np.asarray(X)[:, i]
        grid = feature_grid(
            col,
            name=names[i],
            categorical=columns[i][1],
            percentiles=percentiles,
            grid_resolution=grid_resolution,
            custom=custom.get(i),
        )
        if columns[i][1] and i not in custom:
            if model_orders is None and i not in given_orders:
                model_orders = encoder_categories(estimator)
            grid, level_orders[i] = order_levels(
                grid, col, names[i], given_orders.get(i), (model_orders or {}).get(names[i])
            )
        elif i in given_orders:
            raise UsageError(
                f"`order={names[i]}`: '{names[i]}' is not categorical here",
                "`order` applies to categorical features (or give `values` for a numeric grid)",
            )
        grids[i] = grid
        del col
    prepared = [(idx, [grids[i] for i in idx]) for idx in sets]

    def with_orders(done: list[PDPResult]) -> list[PDPResult]:
        for r in done:
            r.level_order = {names[i]: level_orders[i] for i in r.feature_indices if i in level_orders}
            if bootstrap and r.individual is not None:
                ice = np.moveaxis(np.asarray(r.individual, dtype=np.float64), 1, 0)  # (n, k, *grid)
                r.bootstrap = bootstrap_means(
                    ice, sample_weight, bootstrap, random_state, band_level, max_bytes=execution.memory_budget
                )
            if asked_kind == "average":
                r.individual = None
        return flag_pdp(done)

    if method == "recursion":
        return with_orders(
            [
                _recursion(estimator, X, idx, axes, names, [columns[i][1] for i in idx], classes, task)
                for idx, axes in prepared
            ]
        )

    response = resolve_response(estimator, response_method=response_method, classes_wanted=classes)
    if bootstrap and kind == "average":
        kind = "both"  # the bootstrap recomputes the averages from the ICE values
    want_individual = kind in ("individual", "both")
    use_trees = False
    if engine in ("auto", "tree-paths"):
        use_trees = trees.supports_tree_paths(estimator, response.method)
        if use_trees and engine == "auto":
            from inspectcli.engines.trees.grid import pd_prefers_predicting

            n_grid = max(int(np.prod([len(a) for a in axes])) for _, axes in prepared)
            use_trees = not pd_prefers_predicting(estimator, response.method, n_grid)
        if engine == "tree-paths" and not use_trees:
            raise UsageError(
                f"the tree-paths engine does not support {type(estimator).__name__} with {response.method}",
                "use the batched engine",
            )
    if standard_error == "auto":  # one decision for the run: every curve has a band, or none
        from inspectcli.engines.trees.grid import spread_comes_cheap

        points = sum(math.prod(len(a) for a in axes) for _, axes in prepared)
        standard_error = not use_trees or spread_comes_cheap(
            estimator, response.method, n_rows, points, want_individual
        )
    results: list[PDPResult | None] = [None] * len(prepared)
    pending = list(range(len(prepared)))
    # Tree paths, then brute force for the sets they could not do: one Dask cluster for both.
    with execution.sharing(use_trees) as on, on.reporting() as progress:
        if use_trees:
            pending = _tree_path_results(
                estimator,
                X,
                prepared,
                names,
                columns,
                response,
                sample_weight,
                kind,
                engine,
                on,
                progress,
                results,
                standard_error,
            )
        if not pending:
            return with_orders(results)  # type: ignore[arg-type]
        computed = _batched(
            estimator,
            X,
            [prepared[i] for i in pending],
            response,
            sample_weight,
            want_individual,
            on,
            progress,
            spread=bool(standard_error),
        )
    for slot, (avg, ind, sq) in zip(pending, computed):
        idx, axes = prepared[slot]
        results[slot] = PDPResult(
            features=tuple(names[i] for i in idx),
            feature_indices=idx,
            categorical=tuple(columns[i][1] for i in idx),
            grid_values=axes,
            targets=response.targets,
            method="brute",
            engine="batched",
            response_method=response.method,
            average=avg if kind != "individual" else None,
            individual=ind,
            se=None if sq is None else se_from_sum_sq(sq, sample_weight, n_rows),
        )
    return with_orders(results)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# recursion: scikit-learn's own


def _recursion(
    estimator: Any,
    X: Any,
    idx: tuple[int, ...],
    axes: list[np.ndarray],
    names: list[str],
    categorical: list[bool],
    classes: Sequence[str] | None,
    task: Any,
) -> PDPResult:
    from sklearn.inspection import partial_dependence as sk_pd

    from inspectcli.engines.response import match_label

    Xr = X
    if hasattr(X, "iloc"):
        ints = [X.columns[i] for i in idx if X.iloc[:, i].dtype.kind in "iu"]
        if ints:
            Xr = X.astype({c: np.float64 for c in ints})
    elif np.asarray(X).dtype.kind in "iu":
        Xr = np.asarray(X, dtype=np.float64)
    cats = [i for i, c in zip(idx, categorical) if c] or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        out = sk_pd(
            estimator,
            Xr,
            features=list(idx),
            categorical_features=cats,
            custom_values={i: a for i, a in zip(idx, axes)},
            method="recursion",
            kind="average",
        )
    average = np.asarray(out["average"], dtype=float)
    if task.is_classifier:
        labels = list(task.classes)
        if len(labels) == 2:
            label = match_label(classes[0], labels) if classes else labels[1]
            targets: tuple[Any, ...] = (label,)
            if label == labels[0]:
                average = -average
        else:
            keep = [match_label(c, labels) for c in classes] if classes else labels
            average = average[[labels.index(c) for c in keep]]
            targets = tuple(keep)
    else:
        if classes:
            raise UsageError(
                "`classes` applies to classifiers; this model is a regressor", "leave out `classes`"
            )
        targets = (None,) if average.shape[0] == 1 else tuple(range(average.shape[0]))
    return PDPResult(
        features=tuple(names[i] for i in idx),
        feature_indices=idx,
        categorical=tuple(categorical),
        grid_values=[np.asarray(v) for v in out["grid_values"]],
        targets=targets,
        method="recursion",
        engine="recursion",
        response_method="decision_function" if task.is_classifier else "predict",
        average=average,
        individual=None,
    )
