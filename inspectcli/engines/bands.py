"""Uncertainty bands of PD and ALE curves: standard errors over rows and a seeded bootstrap.

**Standard error of a PD value.** A PD value is the (weighted) mean over rows of the ICE values
``x_i`` at one grid point, ``m = Σ w_i x_i / Σ w_i``. Its standard error is

    SE = √( n/(n−1) · Σ w_i² (x_i − m)² ) / Σ w_i

with ``n`` the rows of non-zero weight. Without weights (``w_i = 1``) this is exactly
``std(x, ddof=1) / √n``. With weights it is the linearization (sandwich) standard error of a
weighted mean, as survey statistics use for a ratio estimator: unchanged when every weight is
scaled, and equal to the unweighted one when the weights are equal. The rows are taken as
independent draws from the population the curve describes; the grid is held fixed; the model
is fixed (the band says how much the *average over these rows* could move with other rows, not
how uncertain the model is).

**Standard error of an ALE curve.** ALE is not a mean over rows per grid point: it is a running
sum of each bin's mean local effect (the mean of its rows' prediction differences), then
centred by the bin-weighted mean. Each bin's mean has the standard error above, computed over
the bin's rows (``std of the bin's differences (ddof=1) / √n_bin`` without weights). The
running sum and the centring are a linear map ``M`` of the bins' means, so that part of the
variance is ``diag(M Σ Mᵀ)`` with ``Σ`` the covariance of the bins' means: diagonal for numeric
features (each row lies in one bin, and rows are independent, so bins are), tridiagonal for
categorical ones (a row of a middle level feeds the pairs on both sides of it). The centring
constant also moves with the bins' shares of the rows; that part enters through each row's
influence on it (the delta method, :func:`ale_se`). Bin edges and level order are held fixed.
A bin with a single row has no variance estimate: the band is then undefined (null) over the
whole curve.

**Bootstrap.** ``n_boot`` resamples of the rows (with replacement, a NumPy ``default_rng(seed)``
drawing ``n`` row positions per resample, resample after resample, so the draws do not depend on
how the work is split), the curve recomputed from the per-row values already computed (ICE
values for PD, prediction differences for ALE: no new predictions), the percentile interval
``(1 − level)/2 … (1 + level)/2`` of the recomputed curves per grid point (NumPy's default
linear interpolation). Grid, bin edges and level order are held fixed; for ALE a bin a resample
leaves empty keeps the data's own mean local effect, and the centring uses the resample's bin
weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

#: Default coverage of the bootstrap interval and of the ± z·SE band drawn without a bootstrap.
DEFAULT_LEVEL = 0.95


def z_value(level: float) -> float:
    """The normal quantile ``z`` with ``P(|Z| < z) = level`` (1.96 for 0.95)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def check_band_options(
    bootstrap: Any,
    level: Any,
    *,
    standard_error: Any = False,
    random_state: Any = 0,
) -> None:
    """Usage errors (naming the parameter) for a ``bootstrap`` that is not a whole number >= 0, a
    ``band_level`` that is not a number strictly between 0 and 1, a ``standard_error`` other than
    True / False / "auto", or, with a bootstrap, a ``random_state`` that cannot seed it."""
    from inspectcli.errors import UsageError

    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)):
        raise UsageError(
            f"`bootstrap={bootstrap!r}` must be a whole number of resamples", "e.g. 200 (0: none)"
        )
    if bootstrap < 0:
        raise UsageError(f"`bootstrap={bootstrap}` must be 0 (none) or a number of resamples", "e.g. 200")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise UsageError(f"`band_level={level!r}` must be a number strictly between 0 and 1", "e.g. 0.95")
    if not (0 < level < 1 and math.isfinite(level)):
        raise UsageError(f"`band_level={level}` must lie strictly between 0 and 1", "e.g. 0.95")
    if not (standard_error is True or standard_error is False or standard_error == "auto"):
        raise UsageError(f"`standard_error={standard_error!r}` must be True, False or 'auto'")
    if bootstrap and (
        isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0
    ):
        raise UsageError(
            f"`random_state={random_state!r}` must be a whole number >= 0 to seed the bootstrap", "e.g. 0"
        )


# --------------------------------------------------------------------------------------------
# standard error of a mean over rows


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)


def sum_sq_dev(values: np.ndarray, weights: np.ndarray | None, mean: np.ndarray) -> np.ndarray:
    """``Σ_i w_i² (x_i − m)²`` over axis 0 of ``values`` (n, ...), ``mean`` of shape (...)."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf or NaN values: an undefined SE (NaN)
        dev = np.asarray(values, dtype=np.float64) - mean
        w2 = _weights(len(dev), weights) ** 2
        return np.tensordot(w2, dev * dev, axes=(0, 0))


def se_from_sum_sq(sq: np.ndarray, weights: np.ndarray | None, n_rows: int) -> np.ndarray:
    """The standard error from ``Σ w_i² (x_i − m)²`` (NaN with fewer than 2 rows of non-zero weight)."""
    w = _weights(n_rows, weights)
    n = int(np.count_nonzero(w))
    if n < 2:
        return np.full(np.shape(sq), np.nan)
    return np.sqrt(n / (n - 1) * np.asarray(sq, dtype=np.float64)) / float(w.sum())


def mean_se(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Standard error of the (weighted) mean over axis 0 of ``values`` (n, ...), shape (...)."""
    # (C order: the sums' rounding then does not depend on the layout, which differs between ICE
    # computed in this process and ICE returned by a Dask worker)
    values = np.ascontiguousarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = np.average(values, axis=0, weights=weights)
    return se_from_sum_sq(sum_sq_dev(values, weights, mean), weights, len(values))


class SumSq:
    """``Σ w_i² (x_i − m)²`` accumulated over blocks of rows, before the mean ``m`` is known.

    Each block keeps its own ``Σ w²``, its ``w²``-weighted mean ``a`` and ``Σ w² (x − a)²``
    (two passes over the block); :meth:`finish` adds ``Σ w² (a − m)²`` per block, an exact
    decomposition with non-negative terms only (no cancellation of large sums).

    Blocks are cut into pieces of :data:`PIECE` rows, so that the rounding depends only on the
    rows, not on how callers chunk them (in-process, loky and Dask chunk by their own memory
    shares): callers that chunk at multiples of ``PIECE`` rows get the same bits in every case.
    """

    #: Rows per piece; callers chunk rows at multiples of it (:func:`piece_aligned`).
    PIECE = 1024

    def __init__(self) -> None:
        self.parts: list[tuple[float, np.ndarray, np.ndarray]] = []

    def add(self, values: np.ndarray, weights: np.ndarray | None) -> None:
        """A block ``values`` of shape (rows, ...) with its rows' weights (or None)."""
        for a in range(0, len(values), self.PIECE):
            b = a + self.PIECE
            self._add(values[a:b], None if weights is None else weights[a:b])

    def _add(self, values: np.ndarray, weights: np.ndarray | None) -> None:
        w2 = _weights(len(values), weights) ** 2
        total = float(w2.sum())
        if total == 0.0:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            center = np.tensordot(w2, values, axes=(0, 0)) / total
        self.parts.append((total, center, sum_sq_dev(values, None if weights is None else weights, center)))

    @classmethod
    def piece_aligned(cls, rows: int, n: int) -> int:
        """``rows`` per chunk rounded down to whole pieces (at least one piece, at most ``n``)."""
        if rows >= n:
            return n
        return min(n, max(cls.PIECE, rows - rows % cls.PIECE))

    def finish(self, mean: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(mean))
        with np.errstate(invalid="ignore", over="ignore"):
            for total, center, q in self.parts:
                out = out + q + total * (center - mean) ** 2
        return out


# --------------------------------------------------------------------------------------------
# bootstrap


@dataclass
class Bootstrap:
    """A percentile bootstrap interval of a curve: ``lower`` and ``upper`` per grid point."""

    n: int
    seed: int
    level: float
    lower: np.ndarray
    upper: np.ndarray

    def select(self, index: Any) -> Bootstrap:
        """The same interval, of ``lower[index]`` / ``upper[index]`` (e.g. one target)."""
        return Bootstrap(self.n, self.seed, self.level, self.lower[index], self.upper[index])

    def as_json(self) -> dict[str, Any]:
        """The result files' ``"bootstrap"`` entry: ``{n, seed, level, lower, upper}``."""
        return {
            "n": self.n,
            "seed": self.seed,
            "level": self.level,
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }


def resample_counts(n_rows: int, n_boot: int, seed: int, block: int) -> Iterator[np.ndarray]:
    """How often each row is drawn, resample by resample: blocks of shape (≤ block, n_rows).

    One generator draws ``n_rows`` positions per resample, in order, so the counts of resample
    ``b`` do not depend on ``block``.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        counts = np.empty((size, n_rows), dtype=np.float64)
        for i in range(size):
            counts[i] = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows)
        yield counts


def _block(n_rows: int, width: int, max_bytes: int) -> int:
    return max(1, int(max_bytes // max(1, 8 * (2 * n_rows + 2 * width))))


def percentile_interval(curves: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``curves`` (n_boot, ...), the percentiles (1 ∓ level)/2, ignoring NaN resamples."""
    import warnings

    q = [50 * (1 - level), 50 * (1 + level)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": that point's interval is NaN
        lo, hi = (
            np.nanpercentile(curves, q, axis=0)
            if np.isnan(curves).any()
            else np.percentile(curves, q, axis=0)
        )
    return lo, hi


@np.errstate(invalid="ignore", over="ignore")  # a model's NaN / inf: undefined, no numpy warning
def bootstrap_means(
    values: np.ndarray,
    weights: np.ndarray | None,
    n_boot: int,
    seed: int,
    level: float = DEFAULT_LEVEL,
    max_bytes: int = 64 * 2**20,
) -> Bootstrap:
    """Percentile bootstrap of the (weighted) mean over axis 0 of ``values`` (n, ...).

    Each resample's mean is ``Σ c_i w_i x_i / Σ c_i w_i`` with ``c_i`` the times row i is drawn.
    With fewer than 2 rows of non-zero weight the interval is NaN (undefined, as the SE is): every
    resample that draws the one row would repeat its value, a band of width 0.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)  # (see mean_se)
    n = values.shape[0]
    flat = values.reshape(n, -1)
    w = _weights(n, weights)
    if np.count_nonzero(w) < 2:
        nan = np.full(values.shape[1:], np.nan)
        return Bootstrap(n_boot, seed, level, nan, nan.copy())
    means = np.empty((n_boot, flat.shape[1]))
    at = 0
    for counts in resample_counts(n, n_boot, seed, _block(n, flat.shape[1], max_bytes)):
        cw = counts * w
        with np.errstate(invalid="ignore", divide="ignore"):
            means[at : at + len(cw)] = (cw @ flat) / cw.sum(axis=1)[:, None]
        at += len(cw)
    lo, hi = percentile_interval(means, level)
    shape = values.shape[1:]
    return Bootstrap(n_boot, seed, level, lo.reshape(shape), hi.reshape(shape))


# --------------------------------------------------------------------------------------------
# ALE


@dataclass
class LocalEffects:
    """The per-row prediction differences behind one feature's ALE, and how they make the curve.

    ``rows[c]`` (a position among the data's rows) contributes ``diffs[c]`` (k targets) with
    weight ``weights[c]`` to bin (numeric) or level pair (categorical) ``groups[c]``; ``local``
    (n_groups, k) are the groups' weighted means. The curve is ``M @ local`` with ``M`` the
    running sum from 0 followed by the centring; ``center_of[r]`` is the bin or level of data row
    ``r`` (−1: none) that weighs the centring.
    """

    rows: np.ndarray
    groups: np.ndarray
    diffs: np.ndarray
    weights: np.ndarray
    n_groups: int
    local: np.ndarray
    categorical: bool
    center_of: np.ndarray
    n_rows: int


def _running_sum(n_groups: int) -> np.ndarray:
    """(n_groups + 1, n_groups): row k sums the first k groups."""
    return np.tril(np.ones((n_groups + 1, n_groups)), k=-1)


def curve_map(n_groups: int, center_weights: np.ndarray, categorical: bool) -> np.ndarray:
    """The matrix ``M`` (G, n_groups) taking the groups' mean local effects to the centred ALE.

    Numeric: G = n_groups + 1 edges, centring weights per bin, each bin valued at the mean of its
    two edges; categorical: G = n_groups + 1 levels, centring weights per level (engines/ale.py).
    """
    T = _running_sum(n_groups)
    v = np.asarray(center_weights, dtype=np.float64)
    level = T if categorical else (T[:-1] + T[1:]) / 2
    gamma = (v / v.sum()) @ level
    return T - gamma[None, :]


@np.errstate(invalid="ignore", over="ignore")  # a model's NaN / inf: an undefined SE, no numpy warning
def ale_se(effects: LocalEffects, center_weights: np.ndarray) -> np.ndarray:
    """Delta-method standard error of the centred ALE, shape (k, G) (see the module docstring).

    Each row's influence on the curve at grid point g is ``Σ_p M[g, p] ψ_p`` over the bins (or
    level pairs) p it contributes to, ``ψ_p = w (d − local_p) / W_p`` scaled by
    ``√(m_p/(m_p − 1))`` (``m_p`` the bin's contributions), minus its influence on the centring
    constant through the bin weights, ``w (ℓ_b − c) / V`` (``ℓ_b`` the uncentred level of its
    centring bin, ``c`` the centring constant, ``V`` the total weight) scaled by ``√(n/(n − 1))``;
    the variance is the sum over rows of the squared influences (rows independent).
    """
    e = effects
    k = e.diffs.shape[1]
    P = e.n_groups
    v = np.asarray(center_weights, dtype=np.float64)
    M = curve_map(P, v, e.categorical)
    m = np.bincount(e.groups, weights=(e.weights != 0).astype(float), minlength=P)
    W = np.bincount(e.groups, weights=e.weights, minlength=P)
    has = e.center_of >= 0
    row_w = np.zeros(e.n_rows)
    row_w[e.rows] = e.weights
    n = int(np.count_nonzero(row_w[has]))
    if (m < 2).any() or n < 2:
        return np.full((k, M.shape[0]), np.nan)
    scale = np.sqrt(m / (m - 1)) / W  # per group
    T = _running_sum(P)
    level_map = T if e.categorical else (T[:-1] + T[1:]) / 2  # (n_center, P): uncentred levels
    out = np.empty((k, M.shape[0]))
    for j in range(k):
        psi = e.weights * (e.diffs[:, j] - e.local[e.groups, j]) * scale[e.groups]
        U = sp.csr_matrix((psi, (e.rows, e.groups)), shape=(e.n_rows, P))
        cov = np.asarray((U.T @ U).todense())
        levels = level_map @ e.local[:, j]
        c = float(v @ levels / v.sum())
        t = np.zeros(e.n_rows)
        t[has] = row_w[has] * (levels[e.center_of[has]] - c) / v.sum() * np.sqrt(n / (n - 1))
        cross = np.asarray(U.T @ t).ravel()  # (P,)
        var = np.einsum("gp,pq,gq->g", M, cov, M) - 2 * (M @ cross) + float(t @ t)
        out[j] = np.sqrt(np.maximum(var, 0.0))
    return out


@np.errstate(invalid="ignore", over="ignore")  # a model's NaN / inf: undefined, no numpy warning
def ale_bootstrap(
    effects: LocalEffects,
    n_boot: int,
    seed: int,
    level: float = DEFAULT_LEVEL,
    max_bytes: int = 64 * 2**20,
) -> Bootstrap:
    """Percentile bootstrap of the centred ALE (k, G): rows resampled, bins and edges held fixed.

    With fewer than 2 rows of non-zero weight the interval is NaN (undefined, as the SE is).
    """
    e = effects
    k, P = e.diffs.shape[1], e.n_groups
    n = e.n_rows
    has = e.center_of >= 0
    if len(np.unique(e.rows[e.weights != 0])) < 2:
        nan = np.full((k, P + 1), np.nan)
        return Bootstrap(n_boot, seed, level, nan, nan.copy())
    n_center = P + 1 if e.categorical else P
    C = sp.csr_matrix((np.ones(int(has.sum())), (np.flatnonzero(has), e.center_of[has])), shape=(n, n_center))
    row_w = np.zeros(n)  # each data row's weight (the same in all its contributions)
    row_w[e.rows] = e.weights
    member = sp.csr_matrix((e.weights, (e.rows, e.groups)), shape=(n, P))
    D = [sp.csr_matrix((e.weights * e.diffs[:, j], (e.rows, e.groups)), shape=(n, P)) for j in range(k)]
    T = _running_sum(P)
    curves = np.empty((n_boot, k, P + 1))
    at = 0
    for counts in resample_counts(n, n_boot, seed, _block(n, (k + 2) * P, max_bytes)):
        tot = np.asarray((member.T @ counts.T).T)  # (b, P)
        center_w = np.asarray((C.T @ (counts * row_w).T).T)  # (b, n_center)
        for j in range(k):
            sums = np.asarray((D[j].T @ counts.T).T)
            with np.errstate(invalid="ignore", divide="ignore"):
                local = np.where(tot > 0, sums / tot, e.local[:, j][None, :])
            ale = local @ T.T  # (b, G)
            level_v = ale if e.categorical else (ale[:, :-1] + ale[:, 1:]) / 2
            with np.errstate(invalid="ignore", divide="ignore"):
                c = (level_v * center_w).sum(axis=1) / center_w.sum(axis=1)
            curves[at : at + len(counts), j] = ale - c[:, None]
        at += len(counts)
    lo, hi = percentile_interval(curves, level)
    return Bootstrap(n_boot, seed, level, lo, hi)
