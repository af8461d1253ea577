"""The tree form every model family is read into, the exceptions, and the self-checks' rule.

A family's spec (``_specs.py``) converts each fitted tree into a :class:`_Tree`: flat node arrays
in the model's own column space, with the split rule of the estimator's ``predict`` expressed as
``x <= threshold`` (go left), NaN going the way of ``missing_left``, and categorical splits as a
256-entry table per node.  Everything downstream (walks, grids, permutations) reads only this
form.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


class TreePathMismatchError(RuntimeError):
    """The tree-path result disagreed with the estimator's own predictions.

    Raised by :func:`tree_path_responses` when its built-in self-check (a few (row, grid
    point) pairs recomputed with the estimator's real response method) finds a difference.
    Callers should fall back to brute-force evaluation.
    """


class TreePathsTooSlow(Exception):
    """Raised by :meth:`PermutedTreePaths.responses` when it would exceed its ``give_up_after``."""


class _Unsupported(Exception):
    """Internal: the estimator cannot be reproduced exactly."""


@dataclass
class _Tree:
    """One tree in flat arrays, in the model's own column space.

    ``values[:, j]`` is what a leaf adds to raw output column ``out_cols[j]``.
    """

    left: np.ndarray  # intp, -1 for leaves
    right: np.ndarray  # intp, -1 for leaves
    feature: np.ndarray  # intp, 0 for leaves
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    is_leaf: np.ndarray  # bool
    values: np.ndarray  # (n_nodes, k) float64
    out_cols: tuple[int, ...]
    cat_row: np.ndarray | None = None  # intp row into cat_tables, -1 for numerical splits
    cat_tables: np.ndarray | None = None  # (n_cat_splits, 256) bool: go left for code c

    def __post_init__(self) -> None:
        self.n_nodes = int(self.left.shape[0])
        levels = []
        level = np.zeros(1, dtype=np.intp)
        while level.size:
            levels.append(level)
            internal = level[~self.is_leaf[level]]
            level = np.concatenate([self.left[internal], self.right[internal]])
        self.levels: list[np.ndarray] = levels
        self.leaf_rank = np.cumsum(self.is_leaf) - 1  # leaf index among leaves
        self.n_leaves = int(self.is_leaf.sum())

    @cached_property
    def shape(self) -> _Shape:
        """Structure that does not depend on the free set (computed once, cached)."""
        return _shape(self)

    @cached_property
    def leaf_paths(self) -> _LeafPaths:
        """Root-to-leaf paths (computed once, cached)."""
        return _leaf_paths(self)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The split arrays as the compiled walks take them (``_kernels``), computed once.

        (left, right, feature, threshold, missing_left, cat_row, cat_tables): contiguous intp /
        float64 / bool arrays; ``cat_row`` all -1 and a dummy table when there is no categorical
        split.
        """
        cat_row = self.cat_row
        tables = self.cat_tables
        if cat_row is None or tables is None or tables.shape[0] == 0:
            cat_row = np.full(self.n_nodes, -1, dtype=np.intp)
            tables = np.zeros((1, 256), dtype=bool)
        return (
            np.ascontiguousarray(self.left, dtype=np.intp),
            np.ascontiguousarray(self.right, dtype=np.intp),
            np.ascontiguousarray(self.feature, dtype=np.intp),
            np.ascontiguousarray(self.threshold, dtype=np.float64),
            np.ascontiguousarray(self.missing_left, dtype=bool),
            np.ascontiguousarray(cat_row, dtype=np.intp),
            np.ascontiguousarray(tables, dtype=bool),
        )


@dataclass
class _Shape:
    """Per-tree structure that does not depend on the free set."""

    split_cols: np.ndarray  # distinct model columns the tree splits on
    below: np.ndarray  # (n_nodes, ceil(n_split_cols / 8)) uint8: packed bits, column splits at/below
    parent: np.ndarray  # intp, -1 for the root


def _shape(tree: _Tree) -> _Shape:
    internal = ~tree.is_leaf
    split_cols, col_idx = np.unique(tree.feature[internal], return_inverse=True)
    below = np.zeros((tree.n_nodes, split_cols.size), dtype=bool)
    nodes = np.flatnonzero(internal)
    below[nodes, col_idx] = True
    for level in reversed(tree.levels):
        nodes = level[internal[level]]
        if nodes.size:
            below[nodes] |= below[tree.left[nodes]] | below[tree.right[nodes]]
    parent = np.full(tree.n_nodes, -1, dtype=np.intp)
    for level in tree.levels:
        nodes = level[internal[level]]
        parent[tree.left[nodes]] = nodes
        parent[tree.right[nodes]] = nodes
    return _Shape(split_cols, np.packbits(below, axis=1), parent)


@dataclass
class _LeafPaths:
    """Root-to-leaf paths of a tree: for each leaf, its ancestors and the way it goes at each."""

    leaves: np.ndarray  # (n_leaves,) leaf node ids, in node order
    nodes: np.ndarray  # (n_leaves, depth) ancestor at each step, n_nodes where the path is shorter
    left: np.ndarray  # (n_leaves, depth) the path goes left there


def _leaf_paths(tree: _Tree) -> _LeafPaths:
    """Ancestors of every leaf (from the cached parents), deepest first."""
    parent = tree.shape.parent
    leaves = np.flatnonzero(tree.is_leaf)
    depth = len(tree.levels) - 1
    nodes = np.full((leaves.size, max(depth, 1)), tree.n_nodes, dtype=np.intp)
    left = np.zeros((leaves.size, max(depth, 1)), dtype=bool)
    child = leaves.copy()
    for d in range(depth):
        up = parent[child]
        has = up >= 0
        nodes[has, d] = up[has]
        left[has, d] = tree.left[up[has]] == child[has]
        child = np.where(has, up, child)
    return _LeafPaths(leaves, nodes, left)


def leaf_paths(tree: _Tree) -> _LeafPaths:
    """The tree's :class:`_LeafPaths`, computed once and kept on the tree."""
    paths = tree.__dict__.get("_leaf_paths")
    if paths is None:
        paths = tree.__dict__["_leaf_paths"] = _leaf_paths(tree)
    return paths


# Number of (row, grid point) pairs checked against the estimator's real predictions.
_CHECK_ROWS = 4


def _check_rows(n: int) -> np.ndarray:
    """The rows the self-checks predict for real: up to _CHECK_ROWS, spread over the data."""
    return np.unique(np.linspace(0, n - 1, min(n, _CHECK_ROWS)).round().astype(np.intp))


def _agrees(ours: np.ndarray, ref: np.ndarray) -> bool:
    """Our outputs equal the estimator's: exactly for labels, to rounding of sums otherwise."""
    if ours.shape != ref.shape:
        return False
    if ref.dtype.kind not in "fc" or ours.dtype.kind not in "fc":
        return bool(np.array_equal(ours, ref))
    scale = float(np.nanmax(np.abs(ref))) if ref.size else 1.0
    return bool(np.allclose(ours, ref, rtol=1e-9, atol=1e-11 * max(1.0, scale), equal_nan=True))


# Parsed models, by the digest of the model's own serialisation: a PD over several feature sets
# builds the spec once per feature set, and parsing a library's model dump costs more than its
# walks for small grids. The key is the exact bytes of the model (and the parser), so a model
# changed in place is parsed again.
_PARSED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 4


def parsed_once(data: bytes, parser: Callable[..., Any], parse: Callable[[], Any]) -> Any:
    """``parse()``, or its result for the same ``data`` and ``parser`` from a recent call.

    Parameters
    ----------
    data : bytes
        The model's serialisation (everything ``parse`` reads is determined by it).
    parser : callable
        The function that does the parsing (part of the key: a replaced parser parses again).
    parse : callable
        Builds the parsed form; it must not be modified by its users.
    """
    key = (hashlib.blake2b(data, digest_size=20).digest(), parser)
    with _PARSED_LOCK:
        hit = _PARSED.get(key)
        if hit is not None:
            _PARSED.move_to_end(key)
            return hit
    value = parse()
    with _PARSED_LOCK:
        _PARSED[key] = value
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return value
