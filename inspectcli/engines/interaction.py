"""Statistics computed from partial dependence: Friedman's H² and a PD-based feature ranking.

H² (Friedman & Popescu 2008, "Predictive learning via rule ensembles", eq. 44) measures the share
of the variance of the two-way partial dependence F_jk that the one-way ones do not explain:

    H²_jk = Σ_ab [F̃_jk(a, b) − F̃_j(a) − F̃_k(b)]²  /  Σ_ab F̃_jk(a, b)²

where ~ means centred to mean zero. Friedman evaluates the sums at the data points; here they run
over the grid (a, b) on which the PDs were computed, each grid point weighted equally, and F_j, F_k
are computed on the same grid axes. 0: no interaction (the effects add up); 1: the joint effect is
pure interaction. Undefined (NaN) when the two-way PD is flat.

The ranking follows Greenwell, Boehmke & McCarthy (2018), "A simple and effective model-based
variable importance measure": the standard deviation (ddof=1) of a numeric feature's PD curve, and
(max − min) / 4 for a categorical feature.
"""

from __future__ import annotations

import numpy as np


@np.errstate(invalid="ignore", over="ignore")  # a model's NaN / inf: H² undefined, no numpy warning
def h_squared(pair: np.ndarray, one_a: np.ndarray, one_b: np.ndarray) -> float:
    """Friedman's H² from a two-way PD (shape (A, B)) and the one-way PDs on its axes."""
    pair = np.asarray(pair, dtype=float)
    one_a = np.asarray(one_a, dtype=float).reshape(-1)
    one_b = np.asarray(one_b, dtype=float).reshape(-1)
    if pair.shape != (one_a.size, one_b.size):
        raise ValueError(f"shapes differ: pair {pair.shape}, one-way {one_a.size} and {one_b.size}")
    fjk = pair - pair.mean()
    fj = one_a - one_a.mean()
    fk = one_b - one_b.mean()
    denom = float(np.sum(fjk**2))
    if denom <= np.finfo(float).tiny or not np.isfinite(denom):
        return float("nan")
    num = float(np.sum((fjk - fj[:, None] - fk[None, :]) ** 2))
    return num / denom


def pd_variability(average: np.ndarray, categorical: bool) -> float:
    """Greenwell et al.'s PD-based importance of one feature (one target's curve)."""
    values = np.asarray(average, dtype=float).reshape(-1)
    if values.size < 2:
        return 0.0
    if not np.isfinite(values).all():  # a model's NaN or inf: undefined, without numpy's warning
        return float("nan")
    if categorical:
        return float((values.max() - values.min()) / 4.0)
    return float(np.std(values, ddof=1))
