"""Partial dependence through the tree-path engine: one task per feature set, the same numbers as
brute force from the trees' structure (engines/trees/), self-checked, with the sets whose check
failed handed back to be predicted.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from inspectcli.engines import trees
from inspectcli.engines.bands import se_from_sum_sq
from inspectcli.engines.execution import Execution
from inspectcli.engines.grid import cartesian
from inspectcli.engines.pd_batched import _working_frame
from inspectcli.engines.progress import Progress
from inspectcli.engines.response import Response
from inspectcli.errors import ComputationError, raised_in_our_code

if TYPE_CHECKING:
    from inspectcli.engines.partial_dependence import PDPResult


def _tree_path_results(
    estimator: Any,
    X: Any,
    prepared: list[tuple[tuple[int, ...], list[np.ndarray]]],
    names: list[str],
    columns: Mapping[int, tuple[Any, bool]],
    response: Response,
    sample_weight: np.ndarray | None,
    kind: str,
    engine: str,
    execution: Execution,
    progress: Progress,
    results: list[PDPResult | None],
    standard_error: bool | str = False,
) -> list[int]:
    """Fill ``results`` through tree paths; the positions whose self-check failed (to predict).

    One task per feature set, spread over the workers like the batched chunks (each worker gets
    its share of the memory budget; Dask receives the model and data once).
    """
    progress.start(len(prepared), "partial dependence (tree paths)")
    fallback = []
    with execution.runner() as runner:
        max_bytes = max(1, execution.memory_budget // 2 // runner.n_workers)
        tasks = [
            (idx, axes, names, tuple(columns[j][1] for j in idx), response, kind, max_bytes, standard_error)
            for idx, axes in prepared
        ]
        gen = runner.map(_tree_paths_task, tasks, shared=(estimator, X, sample_weight), progress=progress)
        for i, (result, mismatch) in enumerate(gen):
            if result is not None:
                results[i] = result
                continue
            if engine == "tree-paths":
                raise ComputationError(f"the tree-paths engine disagrees with the model: {mismatch}")
            warnings.warn(
                f"tree-path results disagreed with the model's own predictions ({mismatch}); "
                "computing by brute-force predictions instead",
                RuntimeWarning,
                stacklevel=3,
            )
            fallback.append(i)
    return fallback


def _tree_paths_task(
    estimator: Any,
    X: Any,
    sample_weight: np.ndarray | None,
    idx: tuple[int, ...],
    axes: list[np.ndarray],
    names: list[str],
    categorical: tuple[bool, ...],
    response: Response,
    kind: str,
    max_bytes: int,
    standard_error: bool | str = False,
) -> tuple[PDPResult | None, str | None]:
    """One feature set through tree paths, in any worker: (result, None) or (None, mismatch)."""
    try:
        result = _tree_paths(
            estimator,
            X,
            idx,
            axes,
            names,
            categorical,
            response,
            sample_weight,
            kind,
            max_bytes,
            standard_error,
        )
    except trees.TreePathMismatchError as exc:
        return None, str(exc)
    return result, None


def _tree_paths(
    estimator: Any,
    X: Any,
    idx: tuple[int, ...],
    axes: list[np.ndarray],
    names: list[str],
    categorical: tuple[bool, ...],
    response: Response,
    sample_weight: np.ndarray | None,
    kind: str,
    max_bytes: int,
    standard_error: bool | str = False,
) -> PDPResult:
    want_individual = kind != "average"
    grid = cartesian(axes)
    shape = tuple(len(a) for a in axes)
    Xw = _working_frame(X, idx, grid)
    try:
        avg_raw, ind_raw, sq_raw = trees.tree_path_moments(
            estimator,
            Xw,
            list(idx),
            grid,
            response_method=response.method,
            individual=want_individual,
            sample_weight=sample_weight,
            max_bytes=max_bytes,
            spread=standard_error,
        )
    except (ValueError, TypeError, IndexError) as exc:
        if raised_in_our_code(exc):
            raise
        raise ComputationError(
            f"the model failed while computing partial dependence: {exc}",
            "this is the estimator's own error; try `method=brute`",
        ) from exc
    average = np.moveaxis(response.select(avg_raw, leading=1), -1, 0)  # (k, G)
    average = average.reshape(response.n_targets, *shape)
    individual = None
    if want_individual:
        ind = response.select(ind_raw, leading=2)  # (G, n, k)
        individual = (
            np.moveaxis(ind, -1, 0).transpose(0, 2, 1).reshape(response.n_targets, X.shape[0], *shape)
        )
    se = None
    if sq_raw is not None:  # (a negated response leaves the squares as they are)
        sq = np.abs(np.moveaxis(response.select(sq_raw, leading=1), -1, 0)).reshape(
            response.n_targets, *shape
        )
        se = se_from_sum_sq(sq, sample_weight, X.shape[0])
    from inspectcli.engines.partial_dependence import PDPResult  # (it imports this module)

    return PDPResult(
        features=tuple(names[i] for i in idx),
        feature_indices=idx,
        categorical=categorical,
        grid_values=axes,
        targets=response.targets,
        method="brute",
        engine="tree-paths",
        response_method=response.method,
        average=average if kind != "individual" else None,
        individual=individual,
        se=se,
    )
