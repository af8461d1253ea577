"""The compiled walks and sums of the tree-path engine (engines/trees/_kernels.py).

Against a plain-Python reference walk (categorical splits, NaN, values exactly at thresholds,
row blocks) and against scikit-learn's own predict on data that crosses the kernels' row blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from inspectcli.engines.trees import _kernels, tree_path_permuted_responses, tree_path_responses
from inspectcli.engines.trees._model import _Tree
from inspectcli.engines.trees._walk import _number_keys, _row_patterns, _walk

# Rows: two full kernel blocks and a ragged one.
N = 2 * _kernels._BLOCK + 7


def _tree() -> _Tree:
    """A hand-made tree: numerical splits (NaN both ways) and a categorical split.

    0: x0 <= 0.5 (NaN left) -> 1, 2
    1: x1 categorical {1, 3, 200} left, missing right -> 3, 4
    2: x0 <= 2.0 (NaN right) -> 5, 6
    3: x1 <= 0.0 -> 7, 8   (categorical column used numerically too: codes compared)
    """
    left = np.array([1, 3, 5, 7, -1, -1, -1, -1, -1])
    right = np.array([2, 4, 6, 8, -1, -1, -1, -1, -1])
    feature = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0])
    threshold = np.array([0.5, 0.0, 2.0, 0.0, 0, 0, 0, 0, 0])
    missing_left = np.array([True, False, False, True, False, False, False, False, False])
    is_leaf = left < 0
    values = np.arange(9, dtype=np.float64)[:, None] * 1.5
    cat_row = np.full(9, -1)
    cat_row[1] = 0
    tables = np.zeros((1, 256), dtype=bool)
    tables[0, [1, 3, 200]] = True
    return _Tree(left, right, feature, threshold, missing_left, is_leaf, values, (0,), cat_row, tables)


def _reference(tree: _Tree, x: np.ndarray, follow: np.ndarray, node: int = 0) -> list[int]:
    """Leaves row ``x`` reaches (splits not in ``follow`` both ways), left to right."""
    if tree.is_leaf[node]:
        return [node]
    if not follow[node]:
        return _reference(tree, x, follow, tree.left[node]) + _reference(tree, x, follow, tree.right[node])
    v = x[tree.feature[node]]
    if tree.cat_row[node] >= 0:
        go = tree.missing_left[node] if not v >= 0 else tree.cat_tables[tree.cat_row[node], int(v)]
    elif np.isnan(v):
        go = tree.missing_left[node]
    else:
        go = v <= tree.threshold[node]
    return _reference(tree, x, follow, tree.left[node] if go else tree.right[node])


def _rows(rng: np.random.Generator) -> np.ndarray:
    """(2, N) feature-major: thresholds exactly, their float neighbours, NaN, categories, negatives."""
    x0 = rng.choice([0.5, np.nextafter(0.5, 1), np.nextafter(0.5, 0), 2.0, 3.0, -1.0, np.nan], N)
    x1 = rng.choice([0.0, 1.0, 3.0, 3.7, 200.0, 2.0, -1.0, np.nan, 255.0], N)
    return np.stack([x0, x1])


@pytest.mark.parametrize("free", [[], [0], [1], [0, 1]])
def test_walks_match_reference(free):
    tree = _tree()
    cols = _rows(np.random.default_rng(len(free)))
    follow = ~tree.is_leaf & ~np.isin(tree.feature, free)
    expected = [_reference(tree, cols[:, i], follow) for i in range(N)]
    rows, nodes = _walk(tree, cols, np.ones(2, bool), follow, tree.is_leaf, N)
    got: list[list[int]] = [[] for _ in range(N)]
    for r, nd in zip(rows.tolist(), nodes.tolist(), strict=True):
        got[r].append(nd)
    assert [sorted(g) for g in got] == [sorted(e) for e in expected]
    codes, n_pat, _, _ = _row_patterns(tree, follow, cols, np.ones(2, bool))
    sets = [tuple(sorted(e)) for e in expected]
    if not free:  # every split followed: the pattern is the leaf (its rank)
        assert codes.tolist() == [int(tree.leaf_rank[e[0]]) for e in expected]
        return
    # same pattern <=> same set of leaves; numbered in order of first appearance
    assert codes.tolist() == pd.factorize(pd.Series(sets, dtype=object))[0].tolist()
    assert n_pat == len(set(sets))


def test_categorical_code_out_of_range():
    tree = _tree()
    cols = np.array([[0.0, 0.0], [1.0, 256.0]])
    with pytest.raises(ValueError, match="out of range"):
        _walk(tree, cols, np.zeros(2, bool), ~tree.is_leaf, tree.is_leaf, 2)
    with pytest.raises(ValueError, match="out of range"):
        _row_patterns(tree, ~tree.is_leaf, cols, np.zeros(2, bool))


def test_number_keys_first_appearance_and_collisions():
    rng = np.random.default_rng(0)
    key = rng.integers(0, 50, 3000).astype(np.uint64)
    codes, rep = _number_keys(key, None)
    assert codes.tolist() == pd.factorize(key)[0].tolist()
    assert np.array_equal(key[rep], pd.unique(key))
    many = rng.integers(0, 2**63, 5000).astype(np.uint64)[rng.integers(0, 4000, 9000)]  # table grows
    assert _number_keys(many, None)[0].tolist() == pd.factorize(many)[0].tolist()
    # a fingerprint collision: equal first keys, different second keys are told apart
    key2 = key * np.uint64(3) + (np.arange(3000) % 2).astype(np.uint64)
    codes, rep = _number_keys(key, key2)
    pairs = pd.factorize(pd.Series(list(zip(key.tolist(), key2.tolist(), strict=True)), dtype=object))[0]
    assert len(rep) == len(set(pairs.tolist()))
    assert np.array_equal(codes[rep], np.arange(len(rep)))
    for a, b in ((codes, pairs), (pairs, codes)):  # the same partition of the rows
        first = {}
        assert all(first.setdefault(u, v) == v for u, v in zip(a.tolist(), b.tolist(), strict=True))


@pytest.fixture(scope="module")
def block_data():
    """N rows with NaN, values exactly at the model's thresholds and a categorical column."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=N),
            "b": rng.uniform(-1, 1, N),
            "c": pd.Categorical(rng.integers(0, 5, N)),
        }
    )
    X.loc[rng.random(N) < 0.1, "a"] = np.nan
    y = X["a"].fillna(0).to_numpy() * 2 + np.sin(3 * X["b"].to_numpy()) + X["c"].cat.codes.to_numpy() % 2
    reg = HistGradientBoostingRegressor(max_iter=15, max_leaf_nodes=15, categorical_features="from_dtype")
    reg.fit(X, y)
    thresholds = np.unique(
        [n["num_threshold"] for p in reg._predictors for t in p for n in t.nodes if not n["is_leaf"]]
    )
    at = rng.random(N) < 0.2
    X.loc[at, "b"] = rng.choice(thresholds, int(at.sum()))
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    clf = HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=15, categorical_features="from_dtype")
    clf.fit(X, labels)
    return X, reg, clf


def _permuted(X: pd.DataFrame, free: list[int], p: np.ndarray) -> pd.DataFrame:
    Xp = X.copy()
    for j in free:
        Xp.isetitem(j, X.iloc[p, j].to_numpy())
    return Xp


def test_permuted_across_blocks_bit_for_bit(block_data):
    X, reg, clf = block_data
    rng = np.random.default_rng(1)
    perms = [rng.permutation(N) for _ in range(2)]
    for free in ([0], [1], [2], [0, 2]):
        got = tree_path_permuted_responses(reg, X, free, perms, response_method="predict")
        for p, g in zip(perms, got, strict=True):
            assert np.array_equal(g, reg.predict(_permuted(X, free, p)))
        got = tree_path_permuted_responses(clf, X, free, perms[:1], response_method="predict_proba")
        assert np.array_equal(got[0], clf.predict_proba(_permuted(X, free, perms[0])))


def test_ice_across_blocks(block_data):
    X, reg, clf = block_data
    grid = np.array([[-0.5], [0.0], [np.nanmedian(X["a"])], [1.5]])
    for est, method in ((reg, "predict"), (clf, "predict_proba")):
        avg, ind = tree_path_responses(est, X, [0], grid, response_method=method, individual=True)
        for g, value in enumerate(grid[:, 0]):
            Xg = X.copy()
            Xg["a"] = value
            ref = getattr(est, method)(Xg)
            assert np.allclose(ind[g], ref, rtol=1e-13, atol=1e-13)
            assert np.allclose(avg[g], ref.mean(axis=0), rtol=1e-13, atol=1e-13)
