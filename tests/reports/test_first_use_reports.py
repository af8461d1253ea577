"""Report helpers a first run leans on: fitted tables, ICE caps, size estimates, the 5.2 hints."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from rich.table import Table

from inspectcli.errors import UsageError
from inspectcli.formatting import Spark, fit_table, sparkline
from inspectcli.reports import hints
from inspectcli.reports.pdp import (
    DEFAULT_ICE_ROWS,
    estimate_output_bytes,
    ice_sample,
    parse_ice_rows,
    size_text,
)


def render(table: Table, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(fit_table(table, width))
    return buf.getvalue().splitlines()


def test_shared_scale_sparklines():
    assert sparkline([0, 1], width=2) == "▁█"
    assert sparkline([5, 5.01], width=2, lo=0, hi=10) == "▅▅"  # flat on the shared scale
    assert Spark([0, 10], lo=0, hi=10, width=2).render() == "▁█"


def test_fit_table_keeps_numbers_and_gives_way_with_the_sparkline():
    t = Table(title="a title that is long enough to wrap at forty columns")
    t.add_column("name")
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("curve", no_wrap=True)
    t.add_row("alpha", "-0.07123", Spark(np.linspace(0, 1, 50), lo=0, hi=1))
    wide = render(t, 120)
    [row] = [ln for ln in wide if "alpha" in ln]
    assert "-0.07123" in row and "█" in row
    t2 = Table(title="a title that is long enough to wrap at forty columns")
    t2.add_column("name")
    t2.add_column("value", justify="right", no_wrap=True)
    t2.add_column("curve", no_wrap=True)
    t2.add_row("alpha", "-0.07123", Spark(np.linspace(0, 1, 50), lo=0, hi=1))
    narrow = render(t2, 26)
    assert all(len(ln) <= 26 for ln in narrow)
    assert narrow[0].startswith("a title") and narrow[0].endswith("…")  # one line, never wrapped
    assert any("-0.07123" in ln for ln in narrow) and not any("█" in ln for ln in narrow)


def test_ice_rows_options_and_sample():
    assert parse_ice_rows(None) == DEFAULT_ICE_ROWS == 1000
    assert parse_ice_rows("all") is None and parse_ice_rows("2,000") == 2000
    with pytest.raises(UsageError, match="give N"):
        parse_ice_rows("many")
    with pytest.raises(UsageError, match="at least 1"):
        parse_ice_rows("0")
    rows = ice_sample(20_000, 1000, 0)
    assert len(rows) == 1000 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, ice_sample(20_000, 1000, 0))  # seeded
    assert ice_sample(500, 1000, 0) is None and ice_sample(500, None, 0) is None
    # the bikes example of issue 14: 7 features, 339 grid points, 20,000 ICE rows -> ~580 MB
    size = estimate_output_bytes([24, 100, 100, 100, 4, 7, 4], 1, 20_000, ["json", "csv"])
    assert size == 339 * 20_001 * 90 and size_text(size) == "582 MB"
    assert size_text(1500) == "1.5 KB" and size_text(3 * 2**30) == "3 GB"
    assert estimate_output_bytes([10], 1, 0, []) == 0


def test_hints():
    class Block:
        def __init__(self, scorer, base, imps):
            self.scorer, self.baseline_score, self.importances = scorer, base, np.asarray(imps)

    class Result:
        def __init__(self):
            self.features = ["a", "b", "c"]
            self.scorers = [
                Block("accuracy", 1.0, [[0.1, 0.2], [0, 0], [0, 0]]),
                Block("neg_log_loss", -0.3, [[1]] * 3),
            ]

    [note] = hints.perfect_baseline_notes(Result(), "train.csv")
    assert note.startswith("baseline accuracy is 1 on train.csv, (near-)perfect; 2 of 3 features show 0 ± 0")
    rng = np.random.RandomState(0)
    x = rng.normal(size=300)
    X = pd.DataFrame({"x": x, "x2": x * 2 + rng.normal(0, 0.01, 300), "z": rng.normal(size=300), "s": "a"})
    pairs = hints.correlated_pairs(X, list(X.columns))
    assert [(a, b) for a, b, _ in pairs] == [("x", "x2")] and pairs[0][2] > 0.99
    assert "x–x2 (ρ 1.00)" in hints.correlation_note(
        pairs
    ) and "`cluster_threshold=0.5`" in hints.correlation_note(pairs)
    assert hints.correlation_note([]) is None
    assert "'y' is constant (every row is 3.0)" in hints.constant_target_note(np.full(5, 3.0), "y")
    assert hints.constant_target_note(np.arange(5), "y") is None
