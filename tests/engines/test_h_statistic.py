"""Friedman's H² at data points: the engine against a direct computation of the definition."""

from __future__ import annotations

import itertools

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from inspectcli.engines.h_statistic import h_statistics


def _direct_pd(method, X: np.ndarray, free: list[int]) -> np.ndarray:
    """F_S(x_i,S) for every row i, by predicting X with the columns S set to row i's values."""
    out = []
    for i in range(X.shape[0]):
        Xc = X.copy()
        Xc[:, free] = X[i, free]
        out.append(method(Xc).mean(axis=0))
    return np.asarray(out)


def _c(v: np.ndarray) -> np.ndarray:
    return v - v.mean(axis=0)


def _direct(method, X: np.ndarray, pairs, features):
    one = {j: _c(_direct_pd(method, X, [j])) for j in features}
    full = _c(method(X))
    pair_h2, share = [], []
    for a, b in pairs:
        joint = _c(_direct_pd(method, X, [a, b]))
        inter = joint - one[a] - one[b]
        pair_h2.append((inter**2).sum(axis=0) / (joint**2).sum(axis=0))
        share.append((inter**2).sum(axis=0) / (full**2).sum(axis=0))
    overall = []
    for j in features:
        rest = [c for c in range(X.shape[1]) if c != j]
        others = _c(_direct_pd(method, X, rest))
        overall.append(((full - one[j] - others) ** 2).sum(axis=0) / (full**2).sum(axis=0))
    return np.asarray(pair_h2), np.asarray(share), np.asarray(overall)


def _data(n=300, p=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(n, p))
    y = 3 * X[:, 0] * X[:, 1] + X[:, 2] + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("engine", ["auto", "brute"])
def test_regressor_equals_direct_definition(engine):
    X, y = _data()
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    res = h_statistics(model, X, n_rows=40, random_state=3, engine=engine)
    Xs = X[res.rows]
    assert len(res.rows) == 40 and res.n_population == 300
    idx = {f"x{j}": j for j in range(4)}
    pairs = [(idx[a], idx[b]) for a, b in res.pairs]
    feats = [idx[f] for f in res.features]
    pair_h2, share, overall = _direct(lambda Z: model.predict(Z)[:, None], Xs, pairs, feats)
    np.testing.assert_allclose(res.pair_h2, pair_h2, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(res.pair_share, share, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(res.overall, overall, rtol=1e-10, atol=1e-13)
    assert res.engine == ("tree-paths" if engine == "auto" else "brute")
    # the real interaction (x0 × x1) comes first
    top = res.pairs[res.pair_order()[0]]
    assert set(top) == {"x0", "x1"}


def test_classifier_and_pipeline_equal_direct_definition():
    X, y = _data(seed=1)
    labels = (y > np.median(y)).astype(int)
    forest = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0).fit(X, labels)
    linear = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, labels)
    for model in (forest, linear):
        res = h_statistics(model, X, n_rows=30, random_state=0, top_k=3)
        Xs = X[res.rows]
        idx = {f"x{j}": j for j in range(4)}
        pairs = [(idx[a], idx[b]) for a, b in res.pairs]
        feats = [idx[f] for f in res.features]
        assert res.targets == (1,) and len(res.pairs) == 3 and len(res.features) == 3
        pair_h2, share, overall = _direct(lambda Z, m=model: m.predict_proba(Z)[:, [1]], Xs, pairs, feats)
        np.testing.assert_allclose(res.pair_h2, pair_h2, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(res.pair_share, share, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(res.overall, overall, rtol=1e-10, atol=1e-13)


def test_named_pairs_all_pairs_and_seeded_rows():
    X, y = _data(p=5)
    df = pd.DataFrame(X, columns=list("abcde"))
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(df, y)
    named = h_statistics(model, df, pairs=[("a", "b"), ("c", "e")], n_rows=25, overall=False)
    assert named.pairs == (("a", "b"), ("c", "e")) and named.overall is None
    every = h_statistics(model, df, pairs="all", n_rows=25, random_state=0)
    assert len(every.pairs) == 10 and set(itertools.chain(*every.pairs)) == set("abcde")
    again = h_statistics(model, df, pairs="all", n_rows=25, random_state=0)
    np.testing.assert_array_equal(every.rows, again.rows)
    np.testing.assert_array_equal(every.pair_h2, again.pair_h2)
    other = h_statistics(model, df, pairs="all", n_rows=25, random_state=1)
    assert not np.array_equal(every.rows, other.rows)


def test_friedman_screening_ranks_x0_x1_first(samples):
    """Friedman #1: only x0·x1 interact; every other pair's share is near zero."""
    model = joblib.load(samples / "friedman_hgb.joblib")
    X = pd.read_parquet(samples / "friedman.parquet").drop(columns="y")
    res = h_statistics(model, X, features=["x0", "x1", "x2", "x3", "x5"], n_rows=60, overall=False)
    order = res.pair_order()
    assert set(res.pairs[order[0]]) == {"x0", "x1"}
    assert res.pair_share[order[0], 0] > 0.03
    assert all(res.pair_share[i, 0] < 0.005 for i in order[1:])


def test_flat_pair_is_undefined_not_zero():
    X, y = _data()
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X[:, :3], y)
    X4 = np.column_stack([X[:, :3], np.zeros(len(X))])  # the model never reads the fourth column

    class Wrapper(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, Z):
            return model.predict(np.asarray(Z)[:, :3])

    res = h_statistics(Wrapper().fit(X4, y), X4, pairs=[("x3", "x0")], n_rows=20, overall=False)
    assert np.isnan(res.pair_h2[0, 0]) or res.pair_h2[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert res.pair_share[0, 0] == pytest.approx(0.0, abs=1e-12)


def test_bad_arguments_are_value_errors():
    X, y = _data()
    model = HistGradientBoostingRegressor(max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="n_rows"):
        h_statistics(model, X, n_rows=1)
    with pytest.raises(ValueError, match="top_k"):
        h_statistics(model, X, top_k=1)
    with pytest.raises(ValueError, match="two different features"):
        h_statistics(model, X, pairs=[("x0", "x0")])
