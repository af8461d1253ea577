"""engines/worker_data.py without a cluster: offers, derived frames, the stand-ins a map sends,
the per-worker cache and the check's verdicts (the cluster tests run the same through Dask)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inspectcli.engines import worker_data as wd
from inspectcli.engines.frames import take_rows
from inspectcli.errors import DataLoadError, UsageError


class Recipe:
    """Builds a fixed frame, counting its builds; ``problem`` is what the check says."""

    def __init__(self, frame: pd.DataFrame, problem: str | None = None) -> None:
        self.key, self.path = f"k{id(self)}", "/data/d"
        self.frame, self.problem, self.builds = frame, problem, 0

    def check_here(self) -> str | None:
        return self.problem

    def materialise(self, estimator):
        self.builds += 1
        return self.frame.copy()


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 9, 50)})


def _check(recipe):
    return {"tcp://w1": recipe.check_here(), "tcp://w2": recipe.check_here()}


def test_offered_and_derived_frames_are_rebuilt_the_same(frame):
    recipe = Recipe(frame)
    delivery = wd.Delivery("d")
    X = frame.copy()
    wd.offer(X, recipe, delivery)
    rows = np.array([3, 1, 40])
    Xs = wd.derive(take_rows, X, rows)
    assert wd.offered(frame) is None and wd.offered(Xs)[1] is delivery
    sent = wd.stand_ins(("model", X, Xs, None), _check, "tcp://s", "auto")
    assert sent[0] == "model" and sent[3] is None
    assert isinstance(sent[1], wd.Part) and isinstance(sent[2], wd.Part)
    assert delivery.path_taken == "workers-read" and not delivery.notes
    try:
        got = wd.resolve(sent)
        pd.testing.assert_frame_equal(got[1], X, check_exact=True)
        pd.testing.assert_frame_equal(got[2], Xs, check_exact=True)
        assert wd.resolve(sent)[2] is got[2]  # cached: one build per worker process
        assert recipe.builds == 1
    finally:
        wd.forget([recipe.key])
    assert not [k for k in wd._CACHE if k.startswith(recipe.key)]


def test_auto_sends_with_a_note_yes_stops_no_never_asks(frame):
    asked = []

    def check(recipe):
        asked.append(recipe)
        return {"tcp://w2": "'part-0.parquet' has 10 bytes there, 12 here", "tcp://w1": None}

    for mode in ("auto", "yes", "no"):
        X, delivery = frame.copy(), wd.Delivery("d")
        wd.offer(X, Recipe(frame), delivery)
        if mode == "yes":
            with pytest.raises(DataLoadError) as exc:
                wd.stand_ins(("m", X), check, "tcp://s", mode)
            text = str(exc.value)
            assert "tcp://w2: 'part-0.parquet' has 10 bytes there, 12 here" in text
            assert "data_on_workers=auto" in text and "/data/d" in text
            continue
        sent = wd.stand_ins(("m", X), check, "tcp://s", mode)
        assert sent[1] is X and delivery.path_taken == "scatter"
        assert len(delivery.notes) == (mode == "auto")
    assert len(asked) == 2  # auto and yes asked the workers; no did not
    with pytest.raises(UsageError, match="data_on_workers=maybe"):
        wd.check_mode("maybe")


def test_the_check_is_asked_once_per_scheduler(frame):
    calls = []
    X, delivery = frame.copy(), wd.Delivery("d")
    wd.offer(X, Recipe(frame), delivery)
    for _ in range(3):
        wd.stand_ins(("m", X), lambda r: calls.append(r) or {"w": None}, "tcp://s")
    assert len(calls) == 1


class Columns:
    """A ColumnReader over a fixed frame, recording what was read."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame, self.reads = frame, []

    def column(self, name):
        self.reads.append(name)
        return self.frame[name].copy()

    def whole(self):
        self.reads.append("*")
        return self.frame.copy()


def test_a_lean_frame_reads_a_column_or_a_few_rows_at_a_time(frame, monkeypatch):
    frame["c"] = pd.Categorical(list("xyz" * 16 + "xy"))
    reader = Columns(frame)
    lean = wd.LeanFrame(reader, frame.columns, frame.dtypes, len(frame))
    assert lean.shape == frame.shape and len(lean) == 50 and list(lean.columns) == ["a", "b", "c"]
    pd.testing.assert_series_equal(lean.iloc[:, 1], frame.iloc[:, 1])
    pd.testing.assert_series_equal(lean["c"], frame["c"])
    pd.testing.assert_series_equal(lean.iloc[[3, 1, 1], 0], frame.iloc[[3, 1, 1], 0])
    rows = np.array([7, 2, 2, 40])
    pd.testing.assert_frame_equal(take_rows(lean, rows), frame.iloc[rows])
    pd.testing.assert_frame_equal(lean.iloc[5:9], frame.iloc[5:9])
    assert "*" not in reader.reads
    # many rows, or some columns in another dtype: lean frames again, the same values
    monkeypatch.setattr(wd, "SMALL_ROWS", 3)
    group = lean.iloc[np.arange(10, 30)]
    assert isinstance(group, wd.LeanFrame) and group.shape == (20, 3)
    pd.testing.assert_series_equal(group["a"], frame.iloc[10:30]["a"])
    wide = group.astype({"b": np.float64})
    assert isinstance(wide, wd.LeanFrame) and wide.dtypes["b"] == np.float64
    pd.testing.assert_series_equal(wide["b"], frame.iloc[10:30].astype({"b": np.float64})["b"])
    assert "*" not in reader.reads
    # what a lean frame does not know reads the whole frame, once; so does scattering it
    pd.testing.assert_frame_equal(wide.materialise(), frame.iloc[10:30].astype({"b": float}))
    assert reader.reads.count("*") == 1
    np.testing.assert_array_equal(lean.to_numpy(), frame.to_numpy())
    assert reader.reads.count("*") == 1
    wd.offer(lean, Recipe(frame), wd.Delivery("d"))
    sent = wd.stand_ins((None, lean), _check, "tcp://s", "no")
    assert isinstance(sent[1], pd.DataFrame)
    pd.testing.assert_frame_equal(sent[1], frame)
