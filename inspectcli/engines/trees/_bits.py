"""Packed split bits of all trees at once: which leaves rows reach, without walking them.

A row reaches leaf ``l`` with some splits going both ways exactly when it goes the way of the
path to ``l`` at every other split on that path.  Here every split decision of every row is one
bit (``x <= threshold``, NaN the way of ``missing_left``, categorical tables: the rule of
:func:`~inspectcli.engines.trees._walk._go_left_many`), computed once per model column for the
nodes of *all* trees together, packed 64 rows to a word.  The rows reaching a node are then the
AND of those bits along its path (all ones where the split goes both ways), formed level by level
over the nodes of all trees at once: a few array operations per depth, whatever the number of
trees, and no per-tree Python work.

The split bits do not depend on the free set, so :class:`Forest` keeps them across calls on the
same data (verified column by column against a copy of the data, never assumed): the PDs of ten
features of one model compute them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inspectcli.engines.trees._model import _Tree

_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
# Node x row comparisons per block when the split bits are computed (bounds the bool temporary).
_CMP_BLOCK = 1 << 22
# The split bits kept across calls: at most this many bytes (and a quarter of the call's budget).
_KEEP_BYTES = 96 * 2**20
# Words of rows per block of the level-by-level AND (a level of ~1,000 nodes: 256 KiB).
_BLOCK_WORDS = 256
_POPCOUNT8 = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)
_BYTE_BITS = ((np.arange(256)[None, :] >> np.arange(8)[:, None]) & 1).astype(np.float64)  # (8, 256)


def n_words(n: int) -> int:
    return -(-n // 64)


@dataclass
class _Level:
    """Nodes of all trees at one depth, internal nodes first, and how the next depth is formed.

    The next depth is ``[left children; right children]`` of this depth's internal nodes,
    reordered by ``perm`` (internal nodes first again).
    """

    tree: np.ndarray  # tree of each node of the level
    n_int: int  # internal nodes (the first ones)
    rows: slice | np.ndarray  # their rows in the split bits
    leaf_slot: np.ndarray  # the leaves' (the other nodes') index in Forest.leaves
    perm: np.ndarray | None  # next level: position in [left; right] of each of its nodes


class Forest:
    """All trees of a spec as one set of node arrays (tree ``t`` at ``offset[t]``).

    Parameters
    ----------
    trees : list of _Tree
        In prediction order.
    """

    def __init__(self, trees: list[_Tree]) -> None:
        self.n_trees = len(trees)
        sizes = np.array([t.n_nodes for t in trees], dtype=np.intp)
        offset = np.zeros(self.n_trees + 1, dtype=np.intp)
        np.cumsum(sizes, out=offset[1:])
        self.offset = offset
        cat = any(t.cat_row is not None for t in trees)
        self.left = np.concatenate([np.where(t.left >= 0, t.left + o, -1) for t, o in zip(trees, offset)])
        self.right = np.concatenate([np.where(t.right >= 0, t.right + o, -1) for t, o in zip(trees, offset)])
        self.feature = np.concatenate([t.feature for t in trees]).astype(np.intp)
        self.threshold = np.concatenate([t.threshold for t in trees]).astype(np.float64)
        self.missing_left = np.concatenate([t.missing_left for t in trees]).astype(bool)
        self.is_leaf = np.concatenate([t.is_leaf for t in trees]).astype(bool)
        self.cat_row: np.ndarray | None = None
        self.cat_tables: np.ndarray | None = None
        if cat:
            rows, tables, base = [], [], 0
            for t in trees:
                if t.cat_row is None:
                    rows.append(np.full(t.n_nodes, -1, dtype=np.intp))
                    continue
                rows.append(np.where(t.cat_row >= 0, t.cat_row + base, -1))
                tables.append(t.cat_tables)
                base += t.cat_tables.shape[0]
            self.cat_row = np.concatenate(rows)
            self.cat_tables = np.concatenate(tables) if tables else np.zeros((0, 256), dtype=bool)
        # Levels over all trees at once, internal nodes first; the split bits hold the internal
        # nodes in level order, so that a level's bits are one slice of rows.
        levels: list[_Level] = []
        leaves: list[np.ndarray] = []
        internal: list[np.ndarray] = []
        n_leaves = n_int = 0
        nodes = offset[:-1].copy()
        nodes = nodes[np.argsort(self.is_leaf[nodes], kind="stable")]
        while nodes.size:
            m = int((~self.is_leaf[nodes]).sum())
            par = nodes[:m]
            internal.append(par)
            leaves.append(nodes[m:])
            nxt = np.concatenate([self.left[par], self.right[par]])
            perm = np.argsort(self.is_leaf[nxt], kind="stable") if m else None
            levels.append(
                _Level(
                    tree=np.searchsorted(offset, nodes, side="right") - 1,
                    n_int=m,
                    rows=slice(n_int, n_int + m),
                    leaf_slot=np.arange(n_leaves, n_leaves + nodes.size - m),
                    perm=perm,
                )
            )
            n_leaves += nodes.size - m
            n_int += m
            nodes = nxt[perm] if m else nxt[:0]
        self.levels = levels
        self.internal = np.concatenate(internal) if internal else np.zeros(0, dtype=np.intp)
        self.n_internal = int(self.internal.size)
        self.int_feature = self.feature[self.internal]
        self.int_tree = np.searchsorted(offset, self.internal, side="right") - 1
        self.leaves = np.concatenate(leaves) if leaves else np.zeros(0, dtype=np.intp)
        self.leaf_tree = np.searchsorted(offset, self.leaves, side="right") - 1
        self.max_level = max((2 * lv.n_int for lv in levels), default=0)
        # Per raw-column group of trees: the leaves' values (zero outside the group).
        groups: dict[tuple[int, ...], list[int]] = {}
        for t, tree in enumerate(trees):
            groups.setdefault(tree.out_cols, []).append(t)
        self.groups: list[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = []
        for out_cols, members in groups.items():
            mask = np.isin(self.leaf_tree, members)
            k = len(out_cols)
            vals = np.zeros((self.leaves.size, k), dtype=np.float64)
            for t in members:
                mine = np.flatnonzero(self.leaf_tree == t)
                vals[mine] = trees[t].values[self.leaves[mine] - offset[t]]
            self.groups.append((out_cols, mask, vals))
        self._keep: dict[str, Any] | None = None

    # ------------------------------------------------------------------ split bits

    def split_bits(
        self, cols: np.ndarray, nan_cols: np.ndarray, need: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Packed go-left bits ``(n_internal, n_words(n))`` of the rows of ``cols`` (feature-major).

        Only the rows of internal nodes splitting on a model column in ``need`` (bool mask) are
        written; the others are left as they are in ``out`` (uninitialised when it is None).
        Padding bits past ``n`` are zero.
        """
        n = cols.shape[1]
        w = n_words(n)
        if out is None:
            out = np.empty((self.n_internal, w), dtype=np.uint64)
        out8 = out.view(np.uint8)
        n_bytes = -(-n // 8)
        for c in np.flatnonzero(need):
            ranks = np.flatnonzero(self.int_feature == c)
            if not ranks.size:
                continue
            x = cols[c]
            nodes = self.internal[ranks]
            missing = np.isnan(x) if nan_cols[c] else None
            step = max(1, _CMP_BLOCK // max(n, 1))
            for a in range(0, ranks.size, step):
                nd = nodes[a : a + step]
                left = x[None, :] <= self.threshold[nd][:, None]
                if missing is not None and missing.any():
                    left[:, missing] = self.missing_left[nd][:, None]
                if self.cat_row is not None:
                    rows = self.cat_row[nd]
                    cat = np.flatnonzero(rows >= 0)
                    if cat.size:
                        left[cat] = self._cat_left(rows[cat], nd[cat], x)
                packed = np.packbits(left, axis=1, bitorder="little")
                out8[ranks[a : a + step], :n_bytes] = packed
                out8[ranks[a : a + step], n_bytes:] = 0
        return out

    def _cat_left(self, rows: np.ndarray, nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
        # NaN, negative codes: missing.  Otherwise <uint8> cast (truncation) and bitset lookup.
        assert self.cat_tables is not None
        missing = ~(x >= 0)
        if x.size and not missing.all() and np.nanmax(np.where(missing, 0.0, x)) >= 256:
            raise ValueError("categorical code out of range")
        codes = np.where(missing, 0.0, x).astype(np.intp)
        looked_up = self.cat_tables[rows][:, codes]
        return np.where(missing[None, :], self.missing_left[nodes][:, None], looked_up)

    def kept_split_bits(
        self, cols: np.ndarray, nan_cols: np.ndarray, need: np.ndarray, budget: int
    ) -> np.ndarray:
        """:meth:`split_bits` of all rows, kept across calls when they fit ``budget``.

        A column's bits are reused only when the column equals (NaN included) the one they were
        computed from; changed or missing columns are computed again.
        """
        size = self.n_internal * n_words(cols.shape[1]) * 8
        if size > min(budget, _KEEP_BYTES):
            self._keep = None
            return self.split_bits(cols, nan_cols, need)
        keep = self._keep
        if keep is None or keep["cols"].shape != cols.shape:
            keep = {
                "cols": cols.copy(),
                "done": np.zeros(cols.shape[0], dtype=bool),
                "bits": np.empty((self.n_internal, n_words(cols.shape[1])), dtype=np.uint64),
            }
        todo = need.copy()
        for c in np.flatnonzero(need & keep["done"]):
            if np.array_equal(cols[c], keep["cols"][c], equal_nan=True):
                todo[c] = False
        if todo.any():
            keep["done"][todo] = False  # until written
            self.split_bits(cols, nan_cols, todo, out=keep["bits"])
            keep["cols"][todo] = cols[todo]
            keep["done"][todo] = True
            keep.pop("plain", None)
        self._keep = keep
        return keep["bits"]

    def kept_plain_counts(self, bits: np.ndarray, n: int) -> np.ndarray:
        """Rows landing in every leaf (every split followed), for the kept bits of all columns."""
        keep = self._keep
        if keep is None or keep["bits"] is not bits or not keep["done"].all():
            return self.leaf_weights(bits, np.ones(self.n_internal, dtype=bool), n, None)
        if "plain" not in keep:
            keep["plain"] = self.leaf_weights(bits, np.ones(self.n_internal, dtype=bool), n, None)
        return keep["plain"]

    # ------------------------------------------------------------------ reach

    def _levels_of(self, trees: np.ndarray) -> list[_Level]:
        """:attr:`levels` restricted to the trees in ``trees`` (bool per tree)."""
        out = []
        keep_next = None
        for level in self.levels:
            keep = trees[level.tree] if keep_next is None else keep_next
            m = level.n_int
            keep_int = keep[:m]
            start = level.rows.start if isinstance(level.rows, slice) else 0
            perm = None
            if level.perm is not None:
                # position of a kept child in [left; right] of the kept internal nodes
                new_int = np.cumsum(keep_int) - 1
                m_kept = int(keep_int.sum())
                full = level.perm
                side = full >= m
                parent = np.where(side, full - m, full)
                keep_next = keep_int[parent]
                kept = full[keep_next]
                kept_parent = parent[keep_next]
                perm = new_int[kept_parent] + np.where(kept >= m, m_kept, 0)
            out.append(
                _Level(
                    tree=level.tree[keep],
                    n_int=int(keep_int.sum()),
                    rows=start + np.flatnonzero(keep_int),
                    leaf_slot=level.leaf_slot[keep[m:]],
                    perm=perm,
                )
            )
        return out

    def _propagate(
        self, bits: np.ndarray, follow: np.ndarray, n: int, emit: Any, levels: list[_Level] | None = None
    ) -> None:
        """AND the bits down all trees; ``emit(level, words, a)`` gets each level's leaf rows.

        ``follow`` (bool per internal rank): the split uses the bits; elsewhere both ways.
        Rows go in blocks of ``_BLOCK_WORDS`` words (from word ``a``), so that a level's arrays
        stay in cache.  Per level: the left children are ``parent & bits``, the right ones
        ``parent ^ left`` (the parent's rows not going left), both the parent's at free splits.
        """
        w = bits.shape[1]
        start = np.full(w, _ALL, dtype=np.uint64)
        if n % 64:
            start[-1] = np.uint64((1 << (n % 64)) - 1)
        levels = self.levels if levels is None else levels
        if not levels or not levels[0].tree.size:
            return
        free = []
        for level in levels:
            both = ~follow[level.rows]
            free.append(both if both.any() else None)
        for a in range(0, w, _BLOCK_WORDS):
            b = min(w, a + _BLOCK_WORDS)
            block = bits[:, a:b]
            cur = np.repeat(start[None, a:b], levels[0].tree.size, axis=0)
            for level, both in zip(levels, free):
                m = level.n_int
                if level.leaf_slot.size:
                    emit(level, cur[m:], a)
                if not m:
                    break
                parent = cur[:m]
                nxt = np.empty((2 * m, b - a), dtype=np.uint64)
                np.bitwise_and(parent, block[level.rows], out=nxt[:m])
                np.bitwise_xor(parent, nxt[:m], out=nxt[m:])
                if both is not None:
                    nxt[:m][both] = parent[both]
                    nxt[m:][both] = parent[both]
                cur = nxt[level.perm]

    def leaf_reach(self, bits: np.ndarray, follow: np.ndarray, n: int) -> np.ndarray:
        """``(n_leaves, n_words(n))`` packed rows reaching every leaf of :attr:`leaves`."""
        out = np.empty((self.leaves.size, bits.shape[1]), dtype=np.uint64)

        def emit(level: _Level, words: np.ndarray, a: int) -> None:
            out[level.leaf_slot, a : a + words.shape[1]] = words

        self._propagate(bits, follow, n, emit)
        return out

    def leaf_weights(
        self,
        bits: np.ndarray,
        follow: np.ndarray,
        n: int,
        weights: np.ndarray | None,
        trees: np.ndarray | None = None,
    ) -> np.ndarray:
        """Weight (count when ``weights`` is None) of the rows reaching every leaf, ``(n_leaves,)``.

        With ``trees`` (bool per tree), only the leaves of those trees (the others are 0).
        """
        total = np.zeros(self.leaves.size, dtype=np.float64)
        table = None
        if weights is not None:
            w8 = np.zeros(bits.shape[1] * 64, dtype=np.float64)
            w8[:n] = weights
            table = w8.reshape(-1, 8) @ _BYTE_BITS  # (n_bytes, 256): weight of each byte value
            byte_idx = np.arange(table.shape[0])

        def emit(level: _Level, words: np.ndarray, a: int) -> None:
            if table is not None:
                cols = byte_idx[8 * a : 8 * (a + words.shape[1])]
                total[level.leaf_slot] += table[cols, words.view(np.uint8)].sum(axis=1)
            elif hasattr(np, "bitwise_count"):
                total[level.leaf_slot] += np.bitwise_count(words).sum(axis=1, dtype=np.int64)
            else:  # numpy < 2
                total[level.leaf_slot] += _POPCOUNT8[words.view(np.uint8)].sum(axis=1, dtype=np.int64)

        self._propagate(bits, follow, n, emit, None if trees is None else self._levels_of(trees))
        return total

    def reach_rows(self, bits: np.ndarray, rows: np.ndarray, follow: np.ndarray) -> np.ndarray:
        """``(n_leaves, len(rows))`` bool: the rows ``rows`` (positions in ``bits``) reach each leaf."""
        b8 = bits.view(np.uint8)
        picked = (b8[:, rows // 8] >> (rows % 8).astype(np.uint8)) & 1  # (n_internal, m)
        small = np.zeros((self.n_internal, 1), dtype=np.uint64)
        small.view(np.uint8)[:, : -(-rows.size // 8)] = np.packbits(
            picked.astype(bool), axis=1, bitorder="little"
        )
        reach = self.leaf_reach(small, follow, rows.size)
        return unpack(reach, rows.size)


def unpack(words: np.ndarray, n: int) -> np.ndarray:
    """``(m, n)`` bool from ``(m, n_words(n))`` packed words."""
    return np.unpackbits(words.view(np.uint8), axis=1, count=n, bitorder="little").astype(bool)


def forest_of(spec: Any) -> Forest:
    """The spec's :class:`Forest`, built once and kept on the spec."""
    forest = spec.__dict__.get("_forest")
    if forest is None:
        forest = spec.__dict__["_forest"] = Forest(spec.trees)
    return forest
