"""Traversals of :class:`_Tree` and the structures built from them (one version of each).

* walks: rows sent down a tree, following their own values at some splits and going both ways at
  the others (compiled, row by row: :mod:`~inspectcli.engines.trees._kernels`);
* set codes: numbering the distinct sets of leaves / frontier nodes that rows reach (exact bits
  up to 64 members, verified 64-bit fingerprints beyond);
* frontiers: the nodes below which a tree no longer splits on the free columns;
* row patterns: each row's set of reachable leaves when the free splits go both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspectcli.engines.trees import _kernels
from inspectcli.engines.trees._model import _Tree

_HASH_SEED = 0x5EED_7BEE


def _go_left_many(tree: _Tree, nodes: np.ndarray, x: np.ndarray, has_nan: bool) -> np.ndarray:
    """Vectorised split decisions of values ``x`` at ``nodes``, exactly as the estimator's predict."""
    left = x <= tree.threshold[nodes]
    if has_nan:
        nan = np.isnan(x)
        if nan.any():
            left[nan] = tree.missing_left[nodes[nan]]
    if tree.cat_row is not None:
        rows = tree.cat_row[nodes]
        cat = rows >= 0
        if cat.any():
            xc = x[cat]
            missing = ~(xc >= 0)
            if not missing.all() and np.where(missing, 0.0, xc).max() >= 256:
                raise ValueError("categorical code out of range")
            codes = np.where(missing, 0.0, xc).astype(np.intp)
            looked_up = tree.cat_tables[rows[cat], codes]
            left[cat] = np.where(missing, tree.missing_left[nodes[cat]], looked_up)
    return left


def _kernel_cols(cols: np.ndarray) -> np.ndarray:
    """``cols`` as the kernels take it: C-contiguous float64 (no copy when it already is)."""
    return np.ascontiguousarray(cols, dtype=np.float64)


def _stack(tree: _Tree) -> np.ndarray:
    """Work stack of a depth-first walk: (node, first, end) per pending subtree, at most one per level."""
    return np.empty((len(tree.levels) + 1, 3), dtype=np.intp)


def _walk(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Send the ``n`` rows of ``cols`` (feature-major) down ``tree`` (compiled, row by row).

    At a node with ``follow`` the rows follow their own values; at other internal nodes they go
    both ways.  Rows are emitted at nodes with ``stop``.  ``nan_cols`` is not needed (NaN is
    tested per value) and kept for the callers' symmetry.

    Returns
    -------
    rows, nodes : ndarray
        One entry per (row, stop node) reached, stop node by stop node (depth first, left to
        right).
    """
    del nan_cols
    cols = _kernel_cols(cols)
    assert cols.shape[1] == n
    args = (
        *tree.arrays,
        np.ascontiguousarray(follow, dtype=bool),
        np.ascontiguousarray(stop, dtype=bool),
        cols,
    )
    stack = _stack(tree)
    cap = 2 * n + 64
    while True:
        rows = np.empty(cap, dtype=np.intp)
        nodes = np.empty(cap, dtype=np.intp)
        m = _kernels.walk_stops(*args, rows, nodes, stack)
        if m < 0:
            raise ValueError("categorical code out of range")
        if m <= cap:
            return rows[:m], nodes[:m]
        cap = m


_row_walk = _walk


def _set_weights(n_members: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-member weights whose sum over a set is the set's key.

    One bit per member up to 64 members (exact, ``check`` None); otherwise 64-bit random
    fingerprints and a second, independent ``check`` fingerprint that :func:`_number_keys`
    uses to detect collisions.
    """
    if n_members <= 64:
        return np.left_shift(np.uint64(1), np.arange(n_members, dtype=np.uint64)), None
    rng = np.random.Generator(np.random.PCG64(_HASH_SEED))
    hi = np.iinfo(np.uint64).max
    weight = rng.integers(0, hi, size=n_members, dtype=np.uint64, endpoint=True)
    check = rng.integers(0, hi, size=n_members, dtype=np.uint64, endpoint=True)
    return weight, check


def _number_keys(key: np.ndarray, key2: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct keys in order of first appearance, split by ``key2`` where it differs.

    Returns
    -------
    codes : ndarray of shape (n_owners,)
    rep : ndarray of shape (n_sets,)
        One owner holding each set (its first).
    """
    n_owners = key.shape[0]
    key = np.ascontiguousarray(key, dtype=np.uint64)
    check = key if key2 is None else np.ascontiguousarray(key2, dtype=np.uint64)
    codes = np.empty(n_owners, dtype=np.intp)
    rep = np.empty(n_owners, dtype=np.intp)
    # A small table first (most key sets have few distinct keys: it stays in cache); when more
    # than half of it fills up, one table with room for every key.
    size = min(1 << 12, 1 << max(1, int(2 * n_owners).bit_length()))
    while True:
        slots = np.full(size, -1, dtype=np.int64)
        n_sets, collision = _kernels.number_keys(key, check, key2 is not None, codes, rep, slots)
        if n_sets >= 0:
            break
        size = 1 << max(1, int(2 * n_owners).bit_length())
    if collision:  # fingerprint collision (two different sets, one key): number the pairs
        pairs = np.stack([key, check], axis=1)
        codes = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.intp)
        rep = np.empty(int(codes.max()) + 1, dtype=np.intp)
        rep[codes[::-1]] = np.arange(n_owners, dtype=np.intp)[::-1]
        return codes, rep
    return codes, rep[:n_sets].copy()


def _set_codes(
    owners: np.ndarray, members: np.ndarray, n_owners: int, n_members: int
) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct member sets of the owners.

    ``(owners[e], members[e])`` are the (owner, member) incidences, each at most once and
    every owner with at least one member.

    Returns
    -------
    codes : ndarray of shape (n_owners,)
        Set id of every owner, numbered in order of first appearance.
    rep : ndarray of shape (n_sets,)
        One owner holding each set.
    """
    weight, check = _set_weights(n_members)
    key = np.zeros(n_owners, dtype=np.uint64)
    key2 = np.zeros(n_owners if check is not None else 0, dtype=np.uint64)
    _kernels.set_keys(
        np.ascontiguousarray(owners, dtype=np.intp),
        np.ascontiguousarray(members, dtype=np.intp),
        weight,
        weight if check is None else check,
        key,
        key2,
    )
    return _number_keys(key, None if check is None else key2)


@dataclass
class _Frontiers:
    """Where the free splits of a tree are: the part above the frontier depends on them."""

    free_split: np.ndarray  # bool per node: internal node splitting on a free feature
    has_free: np.ndarray  # bool per node: a free split at or below the node
    n_front: int  # frontier nodes: roots of subtrees without free splits (parent has one)
    col_of: np.ndarray  # intp per node: frontier column of a frontier node, else -1
    front_of: np.ndarray  # intp per node: frontier column of the node's frontier ancestor


def _frontiers(tree: _Tree, model_free: np.ndarray) -> _Frontiers:
    """Where the free splits of ``tree`` are, for the model columns ``model_free`` (bool mask).

    A few vectorised steps over the tree's cached :attr:`_Tree.shape`: "a free split at or below"
    is one masked test of the packed per-node column bits, and every node below the frontier
    finds its frontier ancestor by pointer jumping (log2(depth) gathers).
    """
    shape = tree.shape
    n_nodes = tree.n_nodes
    internal = ~tree.is_leaf
    free_split = internal & model_free[tree.feature]
    mask = np.packbits(model_free[shape.split_cols])
    if mask.size:
        has_free = (shape.below & mask).any(axis=1)
    else:
        has_free = np.zeros(n_nodes, dtype=bool)
    # Frontier: roots of subtrees without free splits whose parent has one (or the root).
    parent_free = np.ones(n_nodes, dtype=bool)
    parent_free[1:] = has_free[shape.parent[1:]]
    is_front = ~has_free & parent_free
    fronts = np.flatnonzero(is_front)
    col_of = np.full(n_nodes, -1, dtype=np.intp)
    col_of[fronts] = np.arange(fronts.size)
    # has_free is monotone along a path (a node with a free split below has one above it too):
    # below the frontier, follow parents until a frontier node.
    ptr = np.where(is_front | has_free, np.arange(n_nodes), shape.parent)
    while True:
        up = ptr[ptr]
        if np.array_equal(up, ptr):
            break
        ptr = up
    front_of = np.where(has_free, -1, col_of[ptr])
    return _Frontiers(free_split, has_free, int(fronts.size), col_of, front_of)


def _row_patterns(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, nan_cols: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None]:
    """Pattern (set of reachable leaves) of every row, free splits both ways.

    A compiled walk row by row (:func:`~inspectcli.engines.trees._kernels.walk_keys`) that marks
    each row's leaves in a key as it reaches them: one bit per leaf for trees of at most 64
    leaves, two independent 64-bit fingerprints (as in _set_codes) otherwise; the keys are then
    numbered in order of first appearance.

    Returns
    -------
    codes : ndarray of shape (n,)
        Pattern of every row.
    n_patterns : int
    reps : ndarray of shape (n_patterns,) or None
        One row of each pattern (fingerprint keys only).
    uniques : ndarray of shape (n_patterns,) or None
        Each pattern's key, one bit per leaf rank (trees of at most 64 leaves).

    When every split of the tree is followed (no free split), the pattern is the row's leaf:
    ``codes`` are leaf ranks, ``n_patterns`` the leaf count, and ``reps`` and ``uniques`` are None.
    """
    del nan_cols
    cols = _kernel_cols(cols)
    n = cols.shape[1]
    weight, check = _set_weights(tree.n_leaves)
    can_branch = not follow[~tree.is_leaf].all()
    mode = _kernels.LEAF if not can_branch else (_kernels.BITS if check is None else _kernels.SUMS)
    key = np.empty(n, dtype=np.uint64)
    key2 = np.empty(n, dtype=np.uint64)
    bad = _kernels.walk_keys(
        *tree.arrays,
        tree.is_leaf,
        tree.leaf_rank,
        np.ascontiguousarray(follow, dtype=bool),
        cols,
        weight,
        weight if check is None else check,
        mode,
        key,
        key2,
        _stack(tree),
    )
    if bad:
        raise ValueError("categorical code out of range")
    if mode == _kernels.LEAF:
        return key.astype(np.intp), tree.n_leaves, None, None
    if mode == _kernels.BITS:
        codes, rep = _number_keys(key, None)
        return codes, rep.size, None, key[rep]
    codes, reps = _number_keys(key, key2)
    return codes, reps.size, reps, None


def _pattern_leaves(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, reps: np.ndarray | None, uniques: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(pattern, leaf node) for every leaf of every pattern.

    With one bit per leaf (``uniques``: the patterns' keys) the leaves are the set bits;
    otherwise one row of each pattern (``reps``) is walked again.
    """
    if uniques is not None:
        bits = (uniques[:, None] >> np.arange(tree.n_leaves, dtype=np.uint64)[None, :]) & np.uint64(1)
        p, rank = np.nonzero(bits)
        return p, np.flatnonzero(tree.is_leaf)[rank]
    assert reps is not None
    rcols = np.ascontiguousarray(cols[:, reps])
    return _row_walk(tree, rcols, np.isnan(rcols).any(axis=1), follow, tree.is_leaf, reps.size)


def _row_codes(
    tree: _Tree, follow: np.ndarray, cols: np.ndarray, nan_cols: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Every row's pattern, free splits (not in ``follow``) both ways (:func:`_row_patterns`).

    Returns (codes, n_patterns, reps, uniques, rows, nodes): ``reps`` and ``uniques`` as in
    :func:`_row_patterns` (both None when the tree has no free split: the codes are leaf ranks);
    ``rows`` and ``nodes`` (the (row, leaf) particles of a walk) are always None: callers that
    need them walk with :func:`_walk`.
    """
    return (*_row_patterns(tree, follow, cols, nan_cols), None, None)


def _own_leaf_values(tree: _Tree, cols: np.ndarray, nan_cols: np.ndarray) -> np.ndarray:
    """(n, k) values of the leaf each row reaches with its own values (every split followed)."""
    codes = _row_codes(tree, ~tree.is_leaf, cols, nan_cols)[0]
    return tree.values[np.flatnonzero(tree.is_leaf)][codes]
