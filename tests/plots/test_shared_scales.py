"""Artist-level checks of the figures' shared scales, labels and legends (not pixels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from inspectcli.engines.partial_dependence import partial_dependence
from inspectcli.engines.permutation import permutation_importance
from inspectcli.plots.importance import plot_importance
from inspectcli.plots.pdp import plot_pdp
from inspectcli.reports.pdp import build_curves, pair_counts


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(1)
    n = 400
    X = pd.DataFrame(
        {
            "big": rng.uniform(0, 10, n),
            "noise": rng.uniform(0, 1, n),
            "color": rng.choice(["red", "green", "blue"], n),
            "size": rng.choice(["S", "L"], n),
        }
    )
    X.loc[X["color"] == "blue", "size"] = "S"  # (blue, L) never occurs: an empty heatmap cell
    y = 5 * X["big"] + (X["color"] == "red") * 3 + rng.normal(0, 0.1, n)
    enc = ColumnTransformer([("oh", OneHotEncoder(), ["color", "size"])], remainder="passthrough")
    model = make_pipeline(enc, HistGradientBoostingRegressor(max_iter=40, random_state=0)).fit(X, y)
    return model, X, y


def test_one_way_panels_share_one_y_range_unless_independent(frame):
    model, X, _ = frame
    curves = build_curves(partial_dependence(model, X, ["noise", "big", "color"], grid_resolution=8))
    display = plot_pdp(curves)
    limits = {ax.get_ylim() for ax in display.axes_}
    assert len(limits) == 1 and display.ylim_ == limits.pop()
    lo, hi = display.ylim_
    for c in curves:
        assert lo <= np.min(c.average) and np.max(c.average) <= hi
    assert hi - lo > 40  # the flat 'noise' panel is drawn on big's scale
    own = plot_pdp(curves, independent_y=True)
    noise_lo, noise_hi = own.axes_[0].get_ylim()
    assert noise_hi - noise_lo < 10 and own.ylim_ is None
    # categorical panels show their level names
    assert [t.get_text() for t in display.axes_[2].get_xticklabels()] == ["blue", "green", "red"]


def test_rank_orders_panels_and_ice_legend_is_off_the_curves(frame):
    model, X, _ = frame
    results = partial_dependence(model, X, ["noise", "big"], kind="both", grid_resolution=6)
    curves = build_curves(results, rank=True)
    display = plot_pdp(curves, max_ice_lines=50, n_rows=20_000)
    assert [ax.get_xlabel() for ax in display.axes_] == ["big", "noise"]  # most variable first
    assert all(ax.get_legend() is None for ax in display.axes_)
    texts = [t.get_text() for t in display.legend_.get_texts()]
    assert texts == ["ICE (50 of 20,000 rows)", "average"]


def test_categorical_heatmap_greys_empty_cells_and_shows_counts(frame):
    model, X, _ = frame
    curves = build_curves(partial_dependence(model, X, [("color", "size")]))
    counts = pair_counts(X, list(X.columns), curves)
    grid = [list(g) for g in curves[0].grid]
    expected = pd.crosstab(X["color"], X["size"]).reindex(index=grid[0], columns=grid[1], fill_value=0)
    np.testing.assert_array_equal(counts[("color", "size")], expected.to_numpy())
    display = plot_pdp(curves, counts=counts)
    image = display.images_[0].get_array()
    empty = counts[("color", "size")] == 0
    assert empty.sum() == 1 and np.array_equal(np.ma.getmaskarray(image), empty.T)
    texts = [t.get_text() for t in display.texts_[0]]
    assert sum("no rows" in t for t in texts) == 1
    a, b = np.argwhere(~empty)[0]
    assert f"n={counts[('color', 'size')][a, b]:,}" in texts[a * len(grid[1]) + b]


def test_importance_means_labels_and_compare_share_x(frame):
    model, X, y = frame
    first = permutation_importance(
        model, X, y, scoring=["neg_root_mean_squared_error"], n_repeats=3, random_state=0
    )
    half = X.index < 200
    second = permutation_importance(
        model, X[half], y[half], scoring=["neg_root_mean_squared_error"], n_repeats=3, random_state=1
    )
    display = plot_importance(first, compare=second, data_name="train", compare_name="test")
    assert display.axes_[0].get_xlabel() == "increase in RMSE"
    assert display.axes_[0].get_xlim() == display.axes_[1].get_xlim()
    base = first.scorers[0].baseline_score
    assert "baseline" in display.axes_[0].get_title() and f"{base:.4g}"[:4] in display.axes_[0].get_title()
    means = display.means_[0]
    order = [first.features.index(n) for n in display.order_[::-1]]
    np.testing.assert_allclose(means.get_xdata(), first.scorers[0].importances_mean[order])


def test_linear_model_level_order_reaches_the_plot():
    rng = np.random.RandomState(0)
    week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    X = pd.DataFrame({"day": rng.choice(week, 200), "x": rng.normal(size=200)})
    enc = ColumnTransformer([("oh", OneHotEncoder(categories=[week]), ["day"])], remainder="passthrough")
    model = make_pipeline(enc, Ridge()).fit(X, X["x"] + X["day"].eq("sun"))
    display = plot_pdp(build_curves(partial_dependence(model, X, ["day"])))
    assert [t.get_text() for t in display.axes_[0].get_xticklabels()] == week
