"""The split-bits average of the tree-path engine (``engines/trees/_bits.py``) and what it keeps.

PD averages from packed split bits of all trees are compared with brute force (scikit-learn's
predictions on every grid point, 1e-10 relative) and with the walks' average they replace; the
trees and split bits kept between calls must follow refits, warm starts and changed data.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from threadpoolctl import threadpool_limits

from inspectcli.engines.trees import _bits, tree_path_responses
from inspectcli.engines.trees import grid as tree_grid
from inspectcli.engines.trees._plan import _KEPT, forget_kept

RTOL = 1e-10
ATOL = 1e-12


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _cold():
    forget_kept()
    yield
    forget_kept()


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(300, 4, n_informative=4, noise=5.0, random_state=3)
    return X, y


def brute_average(est, X, free, grid, method="predict", sample_weight=None):
    outs = []
    for point in grid:
        Xg = X.copy()
        Xg[:, free] = point
        outs.append(
            np.average(np.asarray(getattr(est, method)(Xg), dtype=np.float64), axis=0, weights=sample_weight)
        )
    return np.stack(outs)


def grid_of(X, free, size=6):
    axes = [np.unique(np.quantile(X[:, f], np.linspace(0.05, 0.95, size))) for f in free]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def average(est, X, free, grid, method="predict", **kw):
    avg, ind = tree_path_responses(est, X, free, grid, response_method=method, individual=False, **kw)
    assert ind is None
    return avg


def test_bits_average_against_brute_and_walks(data, monkeypatch):
    X, y = data
    X = X.copy()
    X[::7, 1] = np.nan
    models = [
        HistGradientBoostingRegressor(max_iter=20, max_leaf_nodes=12, random_state=0).fit(X, y),
        RandomForestRegressor(n_estimators=6, min_samples_leaf=2, random_state=0).fit(np.nan_to_num(X), y),
    ]
    w = np.random.default_rng(0).random(X.shape[0])
    for model in models:
        Xm = X if isinstance(model, HistGradientBoostingRegressor) else np.nan_to_num(X)
        for free in ([0], [1], [2, 3]):
            grid = grid_of(Xm, free)
            for weights in (None, w):
                ours = average(model, Xm, free, grid, sample_weight=weights)
                np.testing.assert_allclose(
                    ours, brute_average(model, Xm, free, grid, sample_weight=weights), rtol=RTOL, atol=ATOL
                )
                with monkeypatch.context() as m:
                    m.setattr(tree_grid, "_prefers_bits", lambda forest: False)
                    walks = average(model, Xm, free, grid, sample_weight=weights)
                np.testing.assert_allclose(ours, walks, rtol=1e-12, atol=1e-13)


def test_row_chunks_and_popcount_fallback_agree(data, monkeypatch):
    X, y = data
    model = HistGradientBoostingRegressor(max_iter=15, max_leaf_nodes=10, random_state=0).fit(X, y)
    grid = grid_of(X, [0])
    whole = average(model, X, [0], grid)
    chunked = average(model, X, [0], grid, max_bytes=4_000)  # 64-row chunks, bits not kept
    np.testing.assert_array_equal(whole, chunked)  # integer counts either way
    forget_kept()
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy < 2
    np.testing.assert_array_equal(whole, average(model, X, [0], grid))


def test_classifier_probabilities_and_decision(data):
    X, y = data
    yc = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    forest = RandomForestClassifier(n_estimators=5, max_depth=7, random_state=0).fit(X, yc)
    boost = GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, yc)
    grid = grid_of(X, [2])
    for model, method in ((forest, "predict_proba"), (boost, "decision_function")):
        np.testing.assert_allclose(
            average(model, X, [2], grid, method),
            brute_average(model, X, [2], grid, method),
            rtol=RTOL,
            atol=ATOL,
        )


def test_kept_bits_follow_changed_data(data):
    X, y = data
    model = ExtraTreesRegressor(n_estimators=5, max_depth=6, random_state=0).fit(X, y)
    grid = grid_of(X, [0])
    first = average(model, X, [0], grid)
    np.testing.assert_allclose(first, brute_average(model, X, [0], grid), rtol=RTOL, atol=ATOL)
    forest = _bits.forest_of(_KEPT[0].specs[("predict", False)])
    kept = forest._keep["bits"]
    # The same data again (another feature): the bits are reused, not recomputed.
    average(model, X, [1], grid_of(X, [1]))
    assert forest._keep["bits"] is kept
    # One column changed, same shape: that column's bits are computed again.
    X2 = X.copy()
    X2[:, 2] = X2[::-1, 2]
    np.testing.assert_allclose(
        average(model, X2, [0], grid), brute_average(model, X2, [0], grid), rtol=RTOL, atol=ATOL
    )
    # Fewer rows.
    np.testing.assert_allclose(
        average(model, X[:101], [0], grid), brute_average(model, X[:101], [0], grid), rtol=RTOL, atol=ATOL
    )


def test_kept_trees_follow_refits_and_warm_starts(data):
    X, y = data
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0)
    grid = grid_of(X, [1])
    model.fit(X, y)
    average(model, X, [1], grid)
    model.fit(X, -y)  # refit of the same object
    np.testing.assert_allclose(
        average(model, X, [1], grid), brute_average(model, X, [1], grid), rtol=RTOL, atol=ATOL
    )
    model.set_params(warm_start=True, max_iter=9).fit(X, -y)  # trees appended in place
    np.testing.assert_allclose(
        average(model, X, [1], grid), brute_average(model, X, [1], grid), rtol=RTOL, atol=ATOL
    )
    forest = RandomForestRegressor(n_estimators=3, max_depth=5, warm_start=True, random_state=0).fit(X, y)
    average(forest, X, [1], grid)
    forest.set_params(n_estimators=6).fit(X, y)  # estimators_ extended in place
    np.testing.assert_allclose(
        average(forest, X, [1], grid), brute_average(forest, X, [1], grid), rtol=RTOL, atol=ATOL
    )
