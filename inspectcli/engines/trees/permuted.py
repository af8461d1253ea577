"""Responses on copies of ``X`` with permuted columns (:class:`PermutedTreePaths`).

Permuting the free columns with a row permutation ``p`` gives row ``i`` the free values of
row ``p[i]`` (its *donor*) and its own values elsewhere: ICE at one grid point per row, the
grid being the rows themselves.  Per tree, the row side (the pattern of leaves a row reaches
with the free splits going both ways) depends only on the unpermuted columns, and the donor
side (the class of frontier nodes a donor reaches) only on the donor's free values, so both
are computed once per free set; every permutation then costs one table lookup and one
addition per (row, tree), instead of a traversal.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from inspectcli.engines.trees import _kernels
from inspectcli.engines.trees._model import (
    TreePathMismatchError,
    TreePathsTooSlow,
    _agrees,
    _check_rows,
    _Tree,
    _Unsupported,
)
from inspectcli.engines.trees._plan import (
    _checked_plan,
    _model_space,
    _plan,
)
from inspectcli.engines.trees._walk import (
    _Frontiers,
    _frontiers,
    _own_leaf_values,
    _pattern_leaves,
    _row_codes,
    _row_walk,
    _set_codes,
    _walk,
)

# Folded tables (pattern x donor bin) up to this many entries; beyond, bin -> class first.
_FOLD_ENTRIES = 1 << 15
# (permutation, row) entries per lookup step: the step's index, value and sum arrays stay in cache.
_STEP_ENTRIES = 1 << 16


def _donor_bins(
    trees: Sequence[_Tree], cols: np.ndarray, model_free: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by their free model values into bins that every free split treats alike.

    A numerical free column is cut at the union of its split thresholds over all trees (plus
    one bin for NaN), so two values in one bin compare alike with every threshold; a column
    with categorical splits is grouped by value.  Bins are finer than needed, never coarser.

    Returns
    -------
    bins : ndarray of shape (n,)
        Bin of every row.
    reps : ndarray of shape (n_bins,)
        One row of each bin.
    """
    n = cols.shape[1]
    code = np.zeros(n, dtype=np.int64)
    n_codes = 1
    for c in np.flatnonzero(model_free):
        x = cols[c]
        categorical = False
        thresholds = []
        for tree in trees:
            split = ~tree.is_leaf & (tree.feature == c)
            if tree.cat_row is not None:
                cat = split & (tree.cat_row >= 0)
                if cat.any():
                    categorical = True
                    split &= ~cat
            thresholds.append(tree.threshold[split])
        if categorical:
            b, uniques = pd.factorize(x, use_na_sentinel=False)
            n_b = len(uniques)
        else:
            cuts = np.unique(np.concatenate(thresholds))
            cuts = cuts[~np.isnan(cuts)]
            # searchsorted(side="left") counts the cuts below x: x <= cut[k] iff k >= that count.
            b = np.searchsorted(cuts, x, side="left")
            b[np.isnan(x)] = cuts.size + 1
            n_b = cuts.size + 2
        code = code * n_b + b
        n_codes *= n_b
        if n_codes > n:
            code, uniques = pd.factorize(code)
            n_codes = len(uniques)
    bins, uniques = pd.factorize(code)
    reps = np.empty(len(uniques), dtype=np.intp)
    reps[bins] = np.arange(n, dtype=np.intp)
    return np.asarray(bins, dtype=np.intp), reps


class _ConstLookup:
    """A tree whose leaf does not depend on the donor: the same values for every permutation."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values  # (n, k)

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        values = self.values.astype(acc.dtype, copy=False)  # float32 sums: float32 leaf values, exact
        for j, c in enumerate(out_cols):
            acc[c] += values[:, j]  # broadcast over the permutations


class _TableLookup:
    """Leaf values per (row pattern, donor class): one gather per (row, permutation)."""

    def __init__(self, codes: np.ndarray, table: np.ndarray, cls_of_bin: np.ndarray) -> None:
        n_pat, n_cls, k = table.shape
        n_bins = cls_of_bin.size
        self.folded = n_pat * n_bins <= _FOLD_ENTRIES
        if self.folded:  # index by donor bin directly
            self.tables = np.ascontiguousarray(np.moveaxis(table[:, cls_of_bin, :], 2, 0).reshape(k, -1))
            self.base = codes * n_bins
        else:
            self.tables = np.ascontiguousarray(np.moveaxis(table, 2, 0).reshape(k, -1))
            self.base = codes * n_cls
        self.cls_of_bin = np.ascontiguousarray(cls_of_bin, dtype=np.intp)

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        # float32 sums (XGBoost): the leaf values are float32 numbers, so float32 tables are exact,
        # and float32 += float32 rounds as float64 addition then rounding would.  One compiled
        # loop over (output, permutation, row): a lookup and an addition each, in tree order.
        tables = self.tables.astype(acc.dtype, copy=False)
        _kernels.table_add(
            acc,
            np.asarray(out_cols, dtype=np.intp),
            donors,
            np.ascontiguousarray(self.base, dtype=np.intp),
            self.cls_of_bin,
            tables,
            self.folded,
        )


class _IncidenceLookup:
    """Leaf per (row, permutation) from the row's reachable leaves, for tables too large.

    A row's reachable leaves lie under distinct frontier nodes; its donor's class reaches
    exactly one of those frontiers.
    """

    def __init__(
        self, tree: _Tree, fr: _Frontiers, rows: np.ndarray, nodes: np.ndarray, n: int, dc: _DonorClasses
    ) -> None:
        order = np.argsort(rows, kind="stable")
        self.inc_rows = rows[order]
        self.inc_leaf = nodes[order]
        self.inc_front = fr.front_of[self.inc_leaf]
        self.ptr = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(np.bincount(rows, minlength=n), out=self.ptr[1:])
        self.reach = max(1.0, rows.size / max(n, 1))
        self.values = tree.values
        self.cls_of_bin = dc.cls_of_bin
        self.n_front = fr.n_front
        self.member = dc.member
        self.keys = dc.keys

    def add(self, acc: np.ndarray, donors: np.ndarray, out_cols: tuple[int, ...], chunk: int) -> None:
        n_perm, n = donors.shape
        step = max(1, int(chunk / self.reach))
        for a in range(0, n, step):
            b = min(n, a + step)
            s = slice(self.ptr[a], self.ptr[b])
            cls = self.cls_of_bin[donors[:, a:b]][:, self.inc_rows[s] - a]  # (P, incidences)
            front = self.inc_front[s]
            if self.member is not None:
                hit = self.member[cls, front]
            else:
                key = cls.astype(np.int64) * self.n_front + front
                pos = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
                hit = self.keys[pos] == key
            # Exactly one hit per (permutation, row), in row order.
            leaf = np.broadcast_to(self.inc_leaf[s], cls.shape)[hit]
            if leaf.size != n_perm * (b - a):
                raise TreePathMismatchError("a row did not reach exactly one leaf")
            for j, c in enumerate(out_cols):
                acc[c, :, a:b] += self.values[leaf, j].reshape(n_perm, b - a)


@dataclass
class _DonorClasses:
    """Donor bins grouped by the frontier nodes they reach (free splits followed, others both ways)."""

    cls_of_bin: np.ndarray  # (n_bins,) class of every donor bin
    n_cls: int
    member: np.ndarray | None  # (n_cls, n_front) bool: the class reaches the frontier (if small)
    keys: np.ndarray | None  # else: sorted class * n_front + frontier of the same pairs


def _donor_classes(
    tree: _Tree, fr: _Frontiers, gcols: np.ndarray, gnan: np.ndarray, max_bytes: int
) -> _DonorClasses:
    n_bins = gcols.shape[1]
    g_rows, g_nodes = _row_walk(tree, gcols, gnan, fr.free_split, ~fr.has_free, n_bins)
    g_fronts = fr.col_of[g_nodes]
    cls_of_bin, rep = _set_codes(g_rows, g_fronts, n_bins, fr.n_front)
    n_cls = rep.size
    if n_cls * fr.n_front <= max(max_bytes // 8, 1):
        member = np.zeros((n_cls, fr.n_front), dtype=bool)
        member[cls_of_bin[g_rows], g_fronts] = True
        return _DonorClasses(cls_of_bin, n_cls, member, None)
    keys = np.unique(cls_of_bin[g_rows].astype(np.int64) * fr.n_front + g_fronts)
    return _DonorClasses(cls_of_bin, n_cls, None, keys)


def _permuted_lookup(
    tree: _Tree,
    fr: _Frontiers,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    gcols: np.ndarray,
    gnan: np.ndarray,
    max_bytes: int,
) -> _ConstLookup | _TableLookup | _IncidenceLookup:
    """The per-tree structure that answers every permutation.

    Rows are grouped by pattern (the leaves they reach with free splits both ways), donor bins
    by class (the frontier nodes they reach); the leaf of (pattern, class) is the pattern's
    leaf under the one frontier of the pattern that the class reaches.
    """
    n = cols.shape[1]
    k = tree.values.shape[1]
    follow = ~tree.is_leaf & ~fr.free_split
    codes, n_pat, reps, uniques, rows, nodes = _row_codes(tree, follow, cols, nan_cols)
    if reps is None and uniques is None:
        # No row meets a free split: each row's own leaf, whatever its donor.
        return _ConstLookup(tree.values[np.flatnonzero(tree.is_leaf)][codes])
    dc = _donor_classes(tree, fr, gcols, gnan, max_bytes)
    if dc.member is None or n_pat * dc.n_cls * k * 8 > max_bytes // 4 or n_pat * dc.n_cls > 16 * n:
        if rows is None:
            rows, nodes = _walk(tree, cols, nan_cols, follow, tree.is_leaf, n)
        return _IncidenceLookup(tree, fr, rows, nodes, n, dc)
    p, leaf = _pattern_leaves(tree, follow, cols, reps, uniques)
    del rows, nodes
    # Leaf of (pattern, class): the pattern's leaf under a frontier the class reaches. Exactly
    # one per pair; copying leaf values (no arithmetic) keeps them exact.
    c_idx, i_idx = np.nonzero(dc.member[:, fr.front_of[leaf]])
    table_leaf = np.zeros((n_pat, dc.n_cls), dtype=np.intp)
    table_leaf[p[i_idx], c_idx] = leaf[i_idx]
    hits = np.bincount(p[i_idx] * dc.n_cls + c_idx, minlength=n_pat * dc.n_cls).reshape(n_pat, dc.n_cls)
    used = np.zeros(n_pat, dtype=bool)
    used[codes] = True
    if (hits[used] != 1).any():
        raise TreePathMismatchError("a (row pattern, donor class) pair did not meet in exactly one leaf")
    table = tree.values[table_leaf]  # (n_pat, n_cls, k)
    if dc.n_cls == 1:
        return _ConstLookup(table[codes, 0, :])
    return _TableLookup(codes, table, dc.cls_of_bin)


def supports_permuted_tree_paths(estimator: Any, response_method: str) -> bool:
    """Whether :func:`tree_path_permuted_responses` can reproduce ``response_method`` exactly.

    The estimators of :func:`supports_tree_paths`, with one more method: a classifier's
    ``"predict"`` (class labels), which the permuted responses derive from the exact raw sums
    or probabilities with the estimator's own rule (``raw > 0`` for HistGradientBoosting
    binary, ``raw >= 0`` for GradientBoosting binary, ``argmax`` otherwise).
    """
    try:
        _plan(estimator, response_method, labels=True)
    except (_Unsupported, AttributeError, TypeError, ValueError):
        return False
    return True


def tree_path_permuted_responses(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    permutations: Sequence[np.ndarray],
    *,
    response_method: str,
    max_bytes: int = 256 * 2**20,
) -> list[np.ndarray]:
    """Responses of a tree model on copies of ``X`` whose ``free`` columns are permuted.

    For each permutation ``p`` (an int array of length ``n = X.shape[0]``), the output of
    ``getattr(estimator, response_method)(X_p)``, where ``X_p`` is ``X`` with the columns at
    positions ``free`` taken from rows ``p`` (``X_p[:, free] = X[p][:, free]``, all free columns
    with the same ``p``) and the other columns unchanged.

    Per tree, the leaves a row can reach with the free splits going both ways (its pattern) and
    the frontier nodes a donor row reaches with the other splits going both ways (its class)
    are computed once; the leaf of row ``i`` under ``p`` is then a table lookup at (pattern of
    ``i``, class of ``p[i]``).  Raw sums are formed as the estimator forms them (the same start,
    the trees added one by one in prediction order, in float64), and the estimator's own link /
    decision rule is applied to each permutation's raw array laid out as the estimator lays it
    out, so the values are bit-identical to the estimator's.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_permuted_tree_paths` is True.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The data, exactly as the estimator takes it.
    free : sequence of int
        Column positions in ``X`` that are permuted (together, with the same permutation).
    permutations : sequence of int ndarray of shape (n_samples,)
        Source rows of the free columns, one array per output.
    response_method : {"predict", "predict_proba", "decision_function"}
        The method whose output is reproduced.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory. The outputs, and the raw sums they are computed
        from (``len(permutations) * n_samples * n_raw`` float64), are not counted.

    Returns
    -------
    list of ndarray
        One output per permutation, with the shape and dtype of the method's own output.

    Raises
    ------
    ValueError
        If the estimator is not supported or the arguments are inconsistent (and whatever the
        estimator's own validation raises).
    TypeError
        If ``X`` is a sparse matrix.
    TreePathMismatchError
        If the self-check against the estimator's real predictions fails.
    """
    paths = PermutedTreePaths(estimator, X, (response_method,), max_bytes=max_bytes)
    return paths.responses(free, permutations)[response_method]


class PermutedTreePaths:
    """A tree model's responses on copies of ``X`` with permuted columns, for many free sets.

    Built once per (estimator, X, response methods): the model-space matrix (``X`` through the
    column-wise prefix and the model's validation) and the trees; :meth:`responses` then
    answers one free set (feature or group) and its permutations.  See
    :func:`tree_path_permuted_responses`.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_permuted_tree_paths` is True for every
        method.
    X : DataFrame or ndarray of shape (n_samples, n_features)
    response_methods : sequence of str
        Methods answered together: they differ only in what is applied to the raw sums.
    max_bytes : int, default=256 MiB
        Approximate bound on the temporaries of :meth:`responses`.
    """

    def __init__(
        self, estimator: Any, X: Any, response_methods: Sequence[str], *, max_bytes: int = 256 * 2**20
    ) -> None:
        methods = list(dict.fromkeys(response_methods))
        if not methods:
            raise ValueError("no response method given")
        plans = {method: _checked_plan(estimator, method, labels=True) for method in methods}
        plan = plans[methods[0]]
        spec = plan.spec
        for other in plans.values():
            o = other.spec
            if (o.n_raw, o.divisor, o.init_on_zeros, o.order, len(o.trees)) != (
                spec.n_raw,
                spec.divisor,
                spec.init_on_zeros,
                spec.order,
                len(spec.trees),
            ):
                raise ValueError("these response methods do not share raw sums")
        if sp.issparse(X):
            raise TypeError("sparse X is not supported; pass a dense array or a DataFrame")
        if X.shape[0] == 0:
            raise ValueError("X must be non-empty")
        self.estimator = estimator
        self.X = X
        self.methods = methods
        self.max_bytes = int(max_bytes)
        self._plans = plans
        self._spec = spec
        space = _model_space(plan, X)
        self._cols, self._nan_cols, self._source = space.cols, space.nan_cols, space.source
        self._init = None if space.init is None else space.init.reshape(-1)
        # Each row's own leaf values per tree, for the free sets a tree never splits on (the
        # same for all of them); kept while they fit half of max_bytes, else recomputed.
        self._own: dict[int, _ConstLookup] = {}
        self._own_bytes = 0

    def _own_leaves(self, t: int) -> _ConstLookup:
        """Tree ``t`` has no free split: every row keeps its own leaf (cached within budget)."""
        lookup = self._own.get(t)
        if lookup is None:
            lookup = _ConstLookup(_own_leaf_values(self._spec.trees[t], self._cols, self._nan_cols))
            size = lookup.values.nbytes
            if self._own_bytes + size <= self.max_bytes // 2:
                self._own[t] = lookup
                self._own_bytes += size
        return lookup

    def responses(
        self, free: Sequence[int], permutations: Sequence[np.ndarray], *, give_up_after: float | None = None
    ) -> dict[str, list[np.ndarray]]:
        """``{method: [output on X with the columns free permuted by p, for p in permutations]}``.

        With ``give_up_after`` (seconds), raise :class:`TreePathsTooSlow` as soon as the time
        spent, extrapolated over the trees, exceeds it: a caller that can also predict learns
        that tree paths lose while it has spent no more than about that.
        """
        started = time.perf_counter()
        X, spec, cols = self.X, self._spec, self._cols
        free = [int(f) for f in free]
        n_features = X.shape[1]
        if not free or len(set(free)) != len(free) or any(f < 0 or f >= n_features for f in free):
            raise ValueError(f"invalid free columns {free}")
        n = X.shape[0]
        perms = []
        for p in permutations:
            p = np.asarray(p)
            if p.shape != (n,) or p.dtype.kind not in "iu" or (p.min() < 0 or p.max() >= n):
                raise ValueError(f"each permutation must be an int array of {n} row positions")
            perms.append(p.astype(np.intp, copy=False))
        if not perms:
            return {method: [] for method in self.methods}
        max_bytes = self.max_bytes
        model_free = np.isin(self._source, free)

        # Donors: bins of rows that every free split treats alike; one representative each.
        bins, reps = _donor_bins(spec.trees, cols, model_free)
        gcols = np.ascontiguousarray(cols[:, reps])
        gnan = np.isnan(gcols).any(axis=1)
        n_perm = len(perms)
        donors = np.empty((n_perm, n), dtype=np.intp)
        for r, p in enumerate(perms):
            np.take(bins, p, out=donors[r])
        del bins

        # Raw sums (n_raw, P, n), started as the estimator starts them.
        # (float32 for XGBoost: float64 values added into float32 sums round as float32 additions)
        # The trees before the first one that splits on a free column give every permutation the
        # same values: their sums are formed once per row (the same additions, in the same order)
        # and then copied to every permutation.
        trees = spec.trees
        first = next(
            (t for t, tree in enumerate(trees) if model_free[tree.shape.split_cols].any()), len(trees)
        )
        base = np.zeros((spec.n_raw, n), dtype=spec.raw_dtype)
        if self._init is not None:
            if spec.init_on_zeros:
                base += self._init[:, None]
            else:
                base[...] = self._init[:, None]
        for t in range(first):
            own = self._own_leaves(t)
            for j, c in enumerate(trees[t].out_cols):
                base[c] += own.values[:, j]
        acc = np.empty((spec.n_raw, n_perm, n), dtype=spec.raw_dtype)
        acc[...] = base[:, None, :]
        del base
        # Rows per step: an index and a value array of (P, chunk) per step, kept in cache.
        chunk = max(1, min(n, (max_bytes // 4) // (n_perm * 16), _STEP_ENTRIES // n_perm))
        set_up = time.perf_counter() - started  # donors, the shared trees and sums: paid once
        loop_start = time.perf_counter()
        for t in range(first, len(trees)):  # prediction order: each raw column in order
            tree = trees[t]
            if model_free[tree.shape.split_cols].any():
                fr = _frontiers(tree, model_free)
                lookup = _permuted_lookup(tree, fr, cols, self._nan_cols, gcols, gnan, max_bytes)
            else:
                lookup = self._own_leaves(t)
            lookup.add(acc, donors, tree.out_cols, chunk)
            del lookup
            if give_up_after is not None:
                # Extrapolated once a tenth of the trees (or ten) are done: the first trees also
                # pay one-off costs and timer noise, which must not decide alone.
                spent, done, total = time.perf_counter() - loop_start, t + 1 - first, len(trees) - first
                projected = spent * total / done if 10 * done >= total or done >= 10 else spent
                if set_up + projected > give_up_after:
                    where = f"{t + 1} of {len(trees)} trees"
                    raise TreePathsTooSlow(f"{spent:.3g} s for {where}; the limit is {give_up_after:.3g} s")
        del donors
        if spec.divisor is not None:
            acc /= spec.divisor
        result: dict[str, list[np.ndarray]] = {method: [] for method in self.methods}
        for r in range(n_perm):
            # The raw array of one permutation as the estimator holds it (shape, memory order).
            raw = np.array(acc[:, r, :].T, order=spec.order)
            for method in self.methods:
                out = self._plans[method].spec.finalize(
                    raw if len(self.methods) == 1 else raw.copy(order="K")
                )
                result[method].append(np.asarray(out))
        del acc
        for method in self.methods:
            _permuted_self_check(self.estimator, method, X, free, perms, result[method])
        return result


def _permuted_self_check(
    estimator: Any,
    response_method: str,
    X: Any,
    free: list[int],
    perms: list[np.ndarray],
    outputs: list[np.ndarray],
) -> None:
    """Compare a few rows of the first and last permutation with the real response method."""
    from inspectcli.engines.frames import assemble, column, take

    rows = _check_rows(X.shape[0])
    which = sorted({0, len(perms) - 1})
    src = np.concatenate([rows] * len(which))
    donors = np.concatenate([perms[r][rows] for r in which])
    x_check = assemble(X, src, {j: take(column(X, j), donors) for j in free})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(getattr(estimator, response_method)(x_check))
    ours = np.concatenate([outputs[r][rows] for r in which])
    if not _agrees(ours, ref):
        what = f"the estimator's own {response_method}"
        raise TreePathMismatchError(f"permuted tree-path responses disagree with {what} on a self-check")
