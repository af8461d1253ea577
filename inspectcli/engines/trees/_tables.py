"""Per-tree tables of the PD/ICE grid engine (:mod:`~inspectcli.engines.trees.grid`).

Per tree and free set, grid points are grouped into classes (same frontier nodes reached) and
rows into patterns (same leaves reached); a tree's ``(pattern, class)`` table holds its leaf
values, and the tables are added to running sums in the estimator's own order (the compiled
``_kernels.grid_add``). ``_linear_average`` is the average of a model linear in
its trees without per-row values (leaf weights per class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from inspectcli.engines.bands import SumSq
from inspectcli.engines.trees import _kernels
from inspectcli.engines.trees._model import _Tree
from inspectcli.engines.trees._specs import _Spec
from inspectcli.engines.trees._walk import (
    _frontiers,
    _pattern_leaves,
    _row_codes,
    _set_codes,
    _walk,
)

# Per-tree grid incidences (frontiers x grid classes) up to this many entries are dense arrays.
_DENSE_ENTRIES = 1 << 14


@dataclass
class _Topo:
    """Per-tree structure that depends on the free set and on the grid."""

    follow_rows: np.ndarray  # bool per node: rows follow their values (non-free splits)
    leaf_stop: np.ndarray  # bool per node: leaves
    front_of: np.ndarray  # intp per node: frontier column of the node's frontier ancestor
    n_front: int
    g_class: np.ndarray  # (G,) class of each grid point (same frontier set, same leaves)
    # (n_front, n_classes) 1.0 where a grid class reaches a frontier: dense when small (no
    # sparse-matrix construction per tree), CSR beyond _DENSE_ENTRIES.
    bt: np.ndarray | sp.csr_matrix


def _topology(tree: _Tree, model_free: np.ndarray, gcols: np.ndarray, gnan: np.ndarray) -> _Topo:
    fr = _frontiers(tree, model_free)
    internal = ~tree.is_leaf
    free_split, has_free, col_of, front_of = fr.free_split, fr.has_free, fr.col_of, fr.front_of
    fronts = np.flatnonzero(col_of >= 0)
    # Grid points: follow free splits, both ways elsewhere, stop at frontier nodes.  Grid
    # points reaching the same frontier set give every row the same leaf: one class.
    n_grid = gcols.shape[1]
    g_rows, g_nodes = _walk(tree, gcols, gnan, free_split, ~has_free, n_grid)
    g_fronts = col_of[g_nodes]
    g_class, g_rep = _set_codes(g_rows, g_fronts, n_grid, int(fronts.size))
    is_rep = np.zeros(n_grid, dtype=bool)
    is_rep[g_rep] = True
    keep = is_rep[g_rows]
    shape = (fronts.size, g_rep.size)
    if shape[0] * shape[1] <= _DENSE_ENTRIES:
        bt = np.zeros(shape, dtype=np.float64)
        bt[g_fronts[keep], g_class[g_rows[keep]]] = 1.0
    else:
        bt = sp.csr_matrix((np.ones(int(keep.sum())), (g_fronts[keep], g_class[g_rows[keep]])), shape=shape)
    return _Topo(
        follow_rows=internal & ~free_split,
        leaf_stop=tree.is_leaf,
        front_of=front_of,
        n_front=int(fronts.size),
        g_class=g_class,
        bt=bt,
    )


@dataclass
class _Context:
    spec: _Spec
    topos: list[_Topo]
    cols: np.ndarray  # (p, n) float64 model matrix, feature-major
    nan_cols: np.ndarray  # (p,) bool
    init: np.ndarray | None  # (n_raw,)
    n_grid: int


def _patterns(
    tree: _Tree, topo: _Topo, cols: np.ndarray, nan_cols: np.ndarray, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by the set of leaves they reach and tabulate each group's outputs.

    The rows are walked with the free splits going both ways (:func:`_row_codes`: the set of
    leaves is keyed while walking, small trees node by node).

    Returns
    -------
    codes : ndarray of shape (n,)
        Pattern id of every row.
    table : ndarray of shape (n_patterns, n_grid_classes, k)
        The tree's contribution for each pattern and class of grid points.
    """
    codes, n_pat, reps, uniques, rows, nodes = _row_codes(tree, topo.follow_rows, cols, nan_cols)
    if reps is None and uniques is None:  # no row branched: the patterns are the leaves
        p, leaf = np.arange(tree.n_leaves), np.flatnonzero(tree.is_leaf)
    elif rows is not None:  # the particles of a level walk: those of one row per pattern
        is_rep = np.zeros(codes.size, dtype=bool)
        is_rep[reps] = True
        sel = is_rep[rows]
        p, leaf = codes[rows[sel]], nodes[sel]
    else:
        p, leaf = _pattern_leaves(tree, topo.follow_rows, cols, reps, uniques)
    f = topo.front_of[leaf]
    k = tree.values.shape[1]
    table = np.empty((n_pat, topo.bt.shape[1], k), dtype=np.float64)
    dense = not sp.issparse(topo.bt) and n_pat * topo.n_front <= 16 * _DENSE_ENTRIES
    for j in range(k):
        # Exactly one product per (pattern, grid class) is non-zero (the others are exact zeros):
        # the sum is that product, exactly, dense or sparse.
        if dense:
            s = np.zeros((n_pat, topo.n_front), dtype=np.float64)
            s[p, f] = tree.values[leaf, j]
            table[:, :, j] = s @ topo.bt
        else:
            s = sp.csr_matrix((tree.values[leaf, j], (p, f)), shape=(n_pat, topo.n_front))
            table[:, :, j] = (s @ topo.bt).toarray() if sp.issparse(topo.bt) else s @ topo.bt
    if dtype is not np.float64:
        table = table.astype(dtype)  # leaf values of a float32 model: exact
    return codes, table


def _groups(spec: _Spec) -> list[tuple[tuple[int, ...], list[int]]]:
    """Trees grouped by the raw columns they add to, each group in prediction order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for t, tree in enumerate(spec.trees):
        groups.setdefault(tree.out_cols, []).append(t)
    return list(groups.items())


def _raw_rows(ctx: _Context, sel: slice | np.ndarray, max_bytes: int) -> np.ndarray:
    """Raw outputs ``(n_rows, G, n_raw)`` for the rows ``sel`` and every grid point."""
    spec = ctx.spec
    cols = np.ascontiguousarray(ctx.cols[:, sel])
    n = cols.shape[1]
    nan_cols = np.isnan(cols).any(axis=1)
    G = ctx.n_grid
    groups = _groups(spec)
    whole = len(groups) == 1 and groups[0][0] == tuple(range(spec.n_raw))
    dtype = spec.raw_dtype
    raw = None if whole else np.empty((n, G, spec.n_raw), dtype=dtype)
    for out_cols, members in groups:
        k = len(out_cols)
        # Running sums in the estimator's own order: the baseline, then the trees in prediction
        # order, one addition per (row, grid point, output) per tree (compiled: grid_add).
        prod = np.empty((n, G, k), dtype=dtype)
        prod[...] = 0.0 if ctx.init is None else ctx.init[list(out_cols)].astype(dtype)
        sums = prod.reshape(n, G * k)
        for t in members:
            tree, topo = spec.trees[t], ctx.topos[t]
            codes, table = _patterns(tree, topo, cols, nan_cols, dtype)
            # (n_patterns, G * k): each pattern's outputs at every grid point, then one row each
            rows = np.take(table, topo.g_class, axis=1).reshape(table.shape[0], G * k)
            _kernels.grid_add(sums, codes, rows)
        if raw is None:
            raw = prod
        else:
            raw[:, :, list(out_cols)] = prod
    if spec.divisor is not None:
        raw /= spec.divisor
    return raw


def _chunk_rows(spec: _Spec, n: int, n_grid: int, max_bytes: int) -> int:
    """Rows per chunk so that the temporaries stay (approximately) within ``max_bytes``.

    Per row: the running sums, the finalized and averaged copies and one spare (4 ``(G, n_raw)``
    float64 rows), and a tree's pattern keys and codes.  The other half of the budget holds
    the per-tree tables.
    """
    per_row = 4 * n_grid * spec.n_raw * 8 + 32
    # whole pieces of the spread's blocks (bands.SumSq): the same bits whatever the budget share
    return SumSq.piece_aligned(max(1, (max_bytes // 2) // per_row), n)


def _finalize(spec: _Spec, raw: np.ndarray) -> np.ndarray:
    n, G, n_raw = raw.shape
    out = np.asarray(spec.finalize(raw.reshape(n * G, n_raw)))
    return out.reshape((n, G, *out.shape[1:]))


def _linear_average(ctx: _Context, weights: np.ndarray | None, total: float) -> np.ndarray:
    """Weighted average raw output per grid point, from per-leaf weight totals."""
    spec = ctx.spec
    n = ctx.cols.shape[1]
    avg = np.zeros((ctx.n_grid, spec.n_raw), dtype=np.float64)
    for tree, topo in zip(spec.trees, ctx.topos, strict=True):
        r, nd = _walk(tree, ctx.cols, ctx.nan_cols, topo.follow_rows, topo.leaf_stop, n)
        w = None if weights is None else weights[r]
        leaf_w = np.bincount(nd, weights=w, minlength=tree.n_nodes)
        leaves = np.flatnonzero(tree.is_leaf & (leaf_w != 0))
        fronts = topo.front_of[leaves]
        k = tree.values.shape[1]
        front_w = np.empty((topo.n_front, k), dtype=np.float64)
        for j in range(k):
            front_w[:, j] = np.bincount(
                fronts, weights=leaf_w[leaves] * tree.values[leaves, j], minlength=topo.n_front
            )
        contrib = np.asarray(topo.bt.T @ front_w)[topo.g_class]
        avg[:, list(tree.out_cols)] += contrib
    avg /= total
    if ctx.init is not None:
        avg += ctx.init
    if spec.divisor is not None:
        avg /= spec.divisor
    return np.asarray(spec.finalize(avg))
