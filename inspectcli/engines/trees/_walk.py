"""Traversals of :class:`_Tree` and the structures built from them (one version of each).

* walks: rows sent down a tree, following their own values at some splits and going both ways at
  the others (node by node over index arrays for small trees, level-synchronous for large ones);
* set codes: numbering the distinct sets of leaves / frontier nodes that rows reach (exact bits
  up to 64 members, verified 64-bit fingerprints beyond);
* frontiers: the nodes below which a tree no longer splits on the free columns;
* row patterns: each row's set of reachable leaves when the free splits go both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inspectcli.engines.trees._model import (
    _NodeLists,
    _Tree,
)

# Trees with more nodes than ``rows / _NODE_WALK_RATIO`` are walked level by level.
_NODE_WALK_RATIO = 64
# Rows (and donor bins) are walked node by node when the tree has at most this many nodes per
# row (measured on HistGradientBoosting trees: faster than level walks from a few hundred rows).
_ROW_WALK_RATIO = 1
_HASH_SEED = 0x5EED_7BEE


def _go_left_node(
    tree: _Tree,
    lists: _NodeLists,
    node: int,
    x: np.ndarray,
    has_nan: bool,
) -> np.ndarray:
    """Vectorised split decision at one node, exactly as the estimator's predict."""
    if lists.cat_row is not None and lists.cat_row[node] >= 0:
        return _go_left_cat(tree.cat_tables[lists.cat_row[node]], lists.missing_left[node], x)
    left = x <= lists.threshold[node]
    if has_nan and lists.missing_left[node]:
        left |= np.isnan(x)
    return left


def _go_left_cat(table: np.ndarray, missing_left: bool, x: np.ndarray) -> np.ndarray:
    # NaN, negative codes: missing.  Otherwise <uint8> cast (truncation) and bitset lookup.
    missing = ~(x >= 0)
    if x.size and not missing.all() and np.nanmax(np.where(missing, 0.0, x)) >= 256:
        raise ValueError("categorical code out of range")
    codes = np.where(missing, 0.0, x).astype(np.intp)
    return np.where(missing, missing_left, table[codes])


def _go_left_many(tree: _Tree, nodes: np.ndarray, x: np.ndarray, has_nan: bool) -> np.ndarray:
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


def _walk(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
    ratio: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Send ``n`` rows down ``tree``.

    At a node with ``follow`` the rows follow their own values in ``cols`` (feature-major);
    at other internal nodes they go both ways.  Rows are emitted at nodes with ``stop``.

    Returns
    -------
    rows, nodes : ndarray
        One entry per (row, stop node) reached.
    """
    ratio = _NODE_WALK_RATIO if ratio is None else ratio
    if tree.n_nodes * ratio <= max(n, 1) or tree.n_nodes <= 3:
        return _walk_nodes(tree, cols, nan_cols, follow, stop, n)
    return _walk_levels(tree, cols, nan_cols, follow, stop, n)


def _row_walk(
    tree: _Tree, cols: np.ndarray, nan_cols: np.ndarray, follow: np.ndarray, stop: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_walk` tuned for the permuted responses' row sets (``_ROW_WALK_RATIO``)."""
    return _walk(tree, cols, nan_cols, follow, stop, n, _ROW_WALK_RATIO)


def _partition(idx: np.ndarray | None, go_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions going left and right (``idx`` None: all rows).

    (take / compress: several times faster than fancy and boolean indexing here.)
    """
    if idx is None:
        return np.flatnonzero(go_left), np.flatnonzero(~go_left)
    return idx.compress(go_left), idx.compress(~go_left)


def _walk_nodes(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Node-by-node traversal over index arrays (few nodes, many rows)."""
    follow_l = follow.tolist()
    stop_l = stop.tolist()
    nan_l = nan_cols.tolist()
    lists = tree.lists
    left_l, right_l, feature_l = lists.left, lists.right, lists.feature
    out_rows: list[np.ndarray] = []
    out_nodes: list[int] = []
    everyone = np.arange(n, dtype=np.intp)
    # ``None`` stands for all rows, which saves the gathers near the root.
    stack: list[tuple[int, np.ndarray | None]] = [(0, None)]
    while stack:
        node, idx = stack.pop()
        while True:
            if stop_l[node]:
                out_rows.append(everyone if idx is None else idx)
                out_nodes.append(node)
                break
            if not follow_l[node]:
                stack.append((right_l[node], idx))
                node = left_l[node]
                continue
            f = feature_l[node]
            x = cols[f] if idx is None else cols[f].take(idx)
            li, ri = _partition(idx, _go_left_node(tree, lists, node, x, nan_l[f]))
            if li.size and ri.size:
                stack.append((right_l[node], ri))
                node, idx = left_l[node], li
            elif li.size:
                node = left_l[node]
            else:
                node = right_l[node]
    if not out_rows:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    sizes = [r.size for r in out_rows]
    return np.concatenate(out_rows), np.repeat(np.asarray(out_nodes, dtype=np.intp), sizes)


def _walk_levels(
    tree: _Tree,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    follow: np.ndarray,
    stop: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Level-synchronous traversal of (row, node) particles (many nodes)."""
    n_total = cols.shape[1]
    rows = np.arange(n, dtype=np.intp)
    nodes = np.zeros(n, dtype=np.intp)
    out_rows: list[np.ndarray] = []
    out_nodes: list[np.ndarray] = []
    has_nan = bool(nan_cols.any())
    flat = cols.reshape(-1)
    while rows.size:
        done = stop[nodes]
        if done.any():
            out_rows.append(rows[done])
            out_nodes.append(nodes[done])
            keep = ~done
            rows, nodes = rows[keep], nodes[keep]
            if not rows.size:
                break
        fol = follow[nodes]
        if fol.all():
            rf, nf = rows, nodes
            rb = nb = None
        else:
            rf, nf = rows[fol], nodes[fol]
            both = ~fol
            rb, nb = rows[both], nodes[both]
        x = flat[tree.feature[nf] * n_total + rf]
        go_left = _go_left_many(tree, nf, x, has_nan)
        nxt = np.where(go_left, tree.left[nf], tree.right[nf])
        if rb is None:
            nodes = nxt
        else:
            rows = np.concatenate([rf, rb, rb])
            nodes = np.concatenate([nxt, tree.left[nb], tree.right[nb]])
    if not out_rows:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(out_rows), np.concatenate(out_nodes)


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
        One owner holding each set.
    """
    n_owners = key.shape[0]
    codes = np.asarray(pd.factorize(key)[0], dtype=np.intp)
    rep = np.empty(int(codes.max()) + 1, dtype=np.intp)
    rep[codes] = np.arange(n_owners, dtype=np.intp)
    if key2 is not None and not np.array_equal(key2[rep[codes]], key2):  # fingerprint collision
        pairs = np.stack([key, key2], axis=1)
        codes = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.intp)
        rep = np.empty(int(codes.max()) + 1, dtype=np.intp)
        rep[codes] = np.arange(n_owners, dtype=np.intp)
    return codes, rep


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
    np.add.at(key, owners, weight[members])
    key2 = None
    if check is not None:
        key2 = np.zeros(n_owners, dtype=np.uint64)
        np.add.at(key2, owners, check[members])
    return _number_keys(key, key2)


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

    A node-by-node walk (small trees) that marks each row's leaves in a key as it reaches them:
    one bit per leaf for trees of at most 64 leaves, two independent 64-bit fingerprints (as in
    _set_codes) otherwise.

    Returns
    -------
    codes : ndarray of shape (n,)
        Pattern of every row.
    n_patterns : int
    reps : ndarray of shape (n_patterns,) or None
        One row of each pattern (fingerprint keys only).
    uniques : ndarray of shape (n_patterns,) or None
        Each pattern's key, one bit per leaf rank (trees of at most 64 leaves).

    When the tree has no free split, the pattern is the row's leaf: ``codes`` are leaf ranks,
    ``n_patterns`` the leaf count, and ``reps`` and ``uniques`` are None.
    """
    n = cols.shape[1]
    lists = tree.lists
    follow_l = follow.tolist()
    leaf_l = tree.is_leaf.tolist()
    nan_l = nan_cols.tolist()
    left_l, right_l, feature_l = lists.left, lists.right, lists.feature
    thr_l, cat_l = lists.threshold, lists.cat_row
    weight, check = _set_weights(tree.n_leaves)
    exact = check is None
    rank = tree.leaf_rank
    # A tree whose splits are all followed sends each row to one leaf: only that is recorded;
    # otherwise only the keys (a row that meets no free split gets the key of its one leaf).
    can_branch = not follow[~tree.is_leaf].all()
    leaf_of = None if can_branch else np.empty(n, dtype=np.intp)
    key = np.zeros(n, dtype=np.uint64) if can_branch else None
    key2 = None if check is None or not can_branch else np.zeros(n, dtype=np.uint64)
    stack: list[tuple[int, np.ndarray | None]] = [(0, None)]  # None: all rows
    while stack:
        node, idx = stack.pop()
        while True:
            if leaf_l[node]:
                sel = slice(None) if idx is None else idx
                if leaf_of is not None:
                    leaf_of[sel] = node
                elif exact:
                    key[sel] |= weight[rank[node]]
                else:
                    key[sel] += weight[rank[node]]
                    key2[sel] += check[rank[node]]
                break
            if not follow_l[node]:
                stack.append((right_l[node], idx))
                node = left_l[node]
                continue
            f = feature_l[node]
            x = cols[f] if idx is None else cols[f].take(idx)
            if nan_l[f] or (cat_l is not None and cat_l[node] >= 0):
                go_left = _go_left_node(tree, lists, node, x, nan_l[f])
            else:
                go_left = x <= thr_l[node]
            li, ri = _partition(idx, go_left)
            if li.size and ri.size:
                stack.append((right_l[node], ri))
                node, idx = left_l[node], li
            elif li.size:
                node = left_l[node]
            else:
                node = right_l[node]
    if leaf_of is not None:
        return rank[leaf_of], tree.n_leaves, None, None
    if exact:
        codes, uniques = pd.factorize(key)
        return np.asarray(codes, dtype=np.intp), len(uniques), None, np.asarray(uniques, dtype=np.uint64)
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
    """Every row's pattern, free splits (not in ``follow``) both ways: :func:`_row_patterns`
    for small trees, a level walk for large ones.

    Returns (codes, n_patterns, reps, uniques, rows, nodes): ``reps`` and ``uniques`` as in
    :func:`_row_patterns` (both None when no row branches, e.g. the tree has no free split: the
    codes are leaf ranks); ``rows`` and ``nodes`` the walk's (row, leaf) particles when it was a
    level walk, else None.
    """
    n = cols.shape[1]
    if tree.n_nodes * _ROW_WALK_RATIO <= max(n, 1) or tree.n_nodes <= 3:
        return (*_row_patterns(tree, follow, cols, nan_cols), None, None)
    rows, nodes = _walk(tree, cols, nan_cols, follow, tree.is_leaf, n)
    if rows.size == n:
        codes = np.empty(n, dtype=np.intp)
        codes[rows] = tree.leaf_rank[nodes]
        return codes, tree.n_leaves, None, None, rows, nodes
    codes, reps = _set_codes(rows, tree.leaf_rank[nodes], n, tree.n_leaves)
    return codes, reps.size, reps, None, rows, nodes


def _own_leaf_values(tree: _Tree, cols: np.ndarray, nan_cols: np.ndarray) -> np.ndarray:
    """(n, k) values of the leaf each row reaches with its own values (every split followed)."""
    codes = _row_codes(tree, ~tree.is_leaf, cols, nan_cols)[0]
    return tree.values[np.flatnonzero(tree.is_leaf)][codes]
