"""permutation_importance on the max_samples rows alone (read from a large dataset) repeats
scikit-learn's permutations on the whole data bit for bit; only the baseline is taken on the rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance as sk_pi
from sklearn.linear_model import Ridge
from sklearn.metrics import get_scorer

from inspectcli.engines.permutation import importance_rows, permutation_importance


@pytest.mark.parametrize(
    "model", [Ridge(alpha=1.0), HistGradientBoostingRegressor(max_iter=15, random_state=0)]
)
@pytest.mark.parametrize("max_samples", [37, 0.3])
def test_rows_read_alone_give_sklearns_permutations(model, max_samples):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(scale=0.1, size=300)
    model.fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=3, random_state=7, max_samples=max_samples, scoring="r2")
    rows = importance_rows(7, len(X), max_samples)
    assert rows is not None and len(rows) == (37 if max_samples == 37 else 90)
    ours = permutation_importance(
        model, X[rows], y[rows], n_repeats=3, random_state=7, max_samples=max_samples,
        scoring="r2", population=len(X),
    )  # fmt: skip
    block = ours.scorers[0]
    assert ours.n_rows == 300 and ours.max_samples == len(rows)
    assert block.baseline_score == get_scorer("r2")(model, X[rows], y[rows])
    sk_baseline = get_scorer("r2")(model, X, y)
    np.testing.assert_allclose(
        block.baseline_score - block.importances, sk_baseline - ref.importances, rtol=1e-12
    )
    assert importance_rows(7, len(X), 1.0) is None
