"""Issue #18, the 1M-row memory bound: the model's float64 inputs are read once into one block, and
nothing after (matching, the trial prediction, scikit-learn's validation, the tree engine's model
space, the correlated-pairs hint, ALE's plans) makes a second full copy of them.

Measured here on moderate data with tracemalloc (numpy's allocations are traced), relative to the
size of the data: before, the same steps peaked at several times the data (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_array

from inspectcli.loading.data import open_data
from inspectcli.workflows._inputs import Collected, Source, load_inputs

N_ROWS, N_FEATURES = 40_000, 8
NAMES = [f"x{i}" for i in range(N_FEATURES)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A Parquet file (several row groups, the target between the features) and a small HGB model."""
    import joblib

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(N_ROWS, N_FEATURES))
    y = 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 5 * X[:, 3]
    y += rng.normal(size=N_ROWS)
    frame = pd.DataFrame(X, columns=NAMES)
    frame.insert(3, "y", y)
    frame["tag"] = np.where(X[:, 0] > 0.5, "hi", "lo")
    out = tmp_path_factory.mktemp("one_block")
    frame.to_parquet(out / "data.parquet", row_group_size=7_000)  # (6 row groups)
    frame.to_csv(out / "data.csv", index=False)
    model = HistGradientBoostingRegressor(max_iter=8, max_leaf_nodes=15, random_state=0)
    model.fit(frame[NAMES].iloc[:3000], y[:3000])
    joblib.dump(model, out / "model.joblib")
    return out, frame, model


def _peak(fn):
    """(result, peak bytes traced while fn runs)."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["data.parquet", "data.csv"])
def test_block_read_equals_the_frame_read_and_shares_its_memory(dataset, name):
    out, _, _ = dataset
    opened = open_data(out / name, where="x4 < 0.9")
    rows = np.random.default_rng(1).permutation(opened.n_rows)[:5000]  # unordered positions
    for positions in (None, rows):
        plain = opened.read([*NAMES, "y", "tag"], rows=positions)
        block = opened.read([*NAMES, "y", "tag"], rows=positions, block=NAMES[::-1])
        assert plain.block is None and block.block is not None
        pd.testing.assert_frame_equal(block.frame, plain.frame.reset_index(drop=True))
        values = block.block.values
        assert values.flags.f_contiguous and values.dtype == np.float64 and values.shape[1] == N_FEATURES
        assert all(np.shares_memory(block.frame[c].to_numpy(), values) for c in NAMES)
        assert not np.shares_memory(block.frame["y"].to_numpy(), values)
    # a column that is not float64 (or not read) leaves the frame as it was
    assert opened.read([*NAMES, "tag"], block=[*NAMES, "tag"]).block is None
    assert opened.read(NAMES[:3], block=NAMES).block is None


def test_the_engines_get_one_block_and_nothing_copies_it(dataset):
    out, frame, model = dataset
    source = Source(out / "model.joblib", str(out / "data.parquet"), target="y")
    data_bytes = frame[[*NAMES, "y"]].memory_usage(index=False).sum()
    inputs, peak = _peak(lambda: load_inputs(source, Collected(), require_target=True))
    # reading, matching and the trial prediction: the block, the target and a column's temporaries
    assert peak < 1.35 * data_bytes, (peak, data_bytes)
    X, block = inputs.prepared.X, inputs.data.block
    assert list(X.columns) == NAMES and X._mgr.nblocks == 1
    assert np.shares_memory(np.asarray(X), block.values)
    # scikit-learn's validation (every predict) reads it as it is
    assert np.shares_memory(check_array(X, dtype=np.float64, ensure_all_finite=False), block.values)
    est = inputs.model.estimator
    predicted, peak = _peak(lambda: est.predict(X))
    assert peak < 0.5 * data_bytes, (peak, data_bytes)  # (was 1.1: the columns stacked)
    assert np.array_equal(predicted, model.predict(frame[NAMES]))

    # the tree engine's model space is the block itself, not a copy of it
    from inspectcli.engines.trees import PermutedTreePaths

    _, peak = _peak(lambda: PermutedTreePaths(est, X, ["predict"]))
    assert peak < 0.3 * data_bytes, (peak, data_bytes)  # (was 1.0)

    # the correlated-pairs hint ranks column by column (DataFrame.rank stacked 4 copies)
    from inspectcli.reports.hints import correlated_pairs

    _, peak = _peak(lambda: correlated_pairs(X, NAMES))
    assert peak < 1.6 * data_bytes, (peak, data_bytes)  # (was 4.0)


def test_ale_of_every_feature_holds_one_feature_at_a_time(dataset):
    _, frame, model = dataset
    from inspectcli.engines.ale import accumulated_local_effects
    from inspectcli.engines.execution import Execution

    X = pd.DataFrame(np.asfortranarray(frame[NAMES].to_numpy()[:20_000]), columns=NAMES, copy=False)
    data_bytes = X.memory_usage(index=False).sum()
    budget = 2**20
    results, peak = _peak(
        lambda: accumulated_local_effects(model, X, NAMES, bins=10, execution=Execution(memory_budget=budget))
    )
    # was: every feature's virtual rows (2 int64 + 2 float64 per row) and predictions held at once
    assert peak < 2 * data_bytes + 2 * budget, (peak, data_bytes)  # (was 10 x the data)
    assert [r.feature for r in results] == NAMES
