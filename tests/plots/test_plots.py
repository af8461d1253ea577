"""Plots are checked by what was drawn (axes, lines and their data, bars, labels), not by pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

from inspectcli.engines.correlation import spearman_clusters
from inspectcli.engines.impurity import impurity_importance
from inspectcli.engines.partial_dependence import partial_dependence
from inspectcli.engines.permutation import permutation_importance
from inspectcli.plots import figure_bytes
from inspectcli.plots.importance import plot_correlation, plot_importance
from inspectcli.plots.pdp import plot_pdp
from inspectcli.reports.pdp import build_curves


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.RandomState(0)
    n = 200
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.uniform(0, 5, n),
            "color": rng.choice(["red", "green", "blue"], n),
            "size": rng.choice(["S", "L"], n),
        }
    )
    codes = X["color"].map({"red": 2.0, "green": 0.0, "blue": -1.0})
    y = X["x"] * codes + X["z"] + (X["size"] == "L")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["color", "size"])], remainder="passthrough"),
        HistGradientBoostingRegressor(max_iter=60, random_state=0),
    ).fit(X, y)
    return model, X


def test_one_way_numeric_with_ice_and_deciles(mixed):
    model, X = mixed
    results = partial_dependence(model, X, ["x", "z"], kind="both", grid_resolution=12)
    curves = build_curves(results)
    deciles = {f: np.percentile(X[f], np.arange(10, 100, 10)) for f in ("x", "z")}
    display = plot_pdp(curves, deciles=deciles, max_ice_lines=50)
    assert len(display.axes_) == 2
    for i, curve in enumerate(curves):
        ax = display.axes_[i]
        assert ax.get_xlabel() == curve.features[0]
        assert ax.get_ylabel() == "Partial dependence"
        [pd_line] = display.lines_[i]
        np.testing.assert_allclose(pd_line.get_xdata(), curve.grid[0])
        np.testing.assert_allclose(pd_line.get_ydata(), curve.average)
        ice = display.ice_lines_[i]
        assert isinstance(ice, LineCollection) and len(ice.get_segments()) == 50  # subsampled to 50 of 200
        [rug] = display.deciles_vlines_[i]
        assert len(rug.get_segments()) == 9
    assert figure_bytes(display.figure_)[:8] == b"\x89PNG\r\n\x1a\n"


def test_categorical_bars_and_ice_dots(mixed):
    model, X = mixed
    [avg] = build_curves(partial_dependence(model, X, ["color"]))
    display = plot_pdp([avg])
    bars = display.bars_[0]
    np.testing.assert_allclose([b.get_height() for b in bars], avg.average)
    assert [t.get_text() for t in display.axes_[0].get_xticklabels()] == ["blue", "green", "red"]
    [both] = build_curves(partial_dependence(model, X, ["color"], kind="both"))
    display = plot_pdp([both], max_ice_lines=30)
    assert len(display.ice_lines_[0].get_segments()) == 30  # one thin line per row, across levels
    [marker] = display.lines_[0]
    np.testing.assert_allclose(marker.get_ydata(), both.average)


def test_pairs_numeric_categorical_and_mixed(mixed):
    model, X = mixed
    results = partial_dependence(model, X, [("x", "z"), ("color", "size"), ("x", "color")], grid_resolution=6)
    helpers = {
        r.features: r for r in partial_dependence(model, X, ["x", "z", "color", "size"], grid_resolution=6)
    }
    curves = build_curves(results, helpers=helpers)
    display = plot_pdp(curves)
    assert len(display.axes_) == 3
    assert 0 in display.contours_  # numeric pair: filled contours
    assert display.axes_[0].get_xlabel() == "x" and display.axes_[0].get_ylabel() == "z"
    image = display.images_[1]  # categorical pair: heatmap of the PD values
    np.testing.assert_allclose(image.get_array(), curves[1].average.T)
    lines = display.lines_[2]  # mixed pair: one line per level
    assert [ln.get_label() for ln in lines] == ["blue", "green", "red"]
    for k, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(), curves[2].average[:, k])
    # x * color interaction: H² is large and shown in the title; x and z add up: H² ~ 0
    assert curves[2].h2 > 0.3 and "H² =" in display.axes_[2].get_title()
    assert curves[0].h2 < 0.05


def test_classes_share_a_panel_and_three_way_is_not_drawn():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    labels = np.digitize(y, np.percentile(y, [33, 66]))
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, labels)
    results = partial_dependence(model, X, ["bmi", ("bmi", "bp", "s5")], grid_resolution=5)
    curves = build_curves(results)
    display = plot_pdp(curves)
    assert len(display.axes_) == 1  # three classes in one panel, the 3-way set skipped
    assert [ln.get_label() for ln in display.lines_[0]] == ["class 0", "class 1", "class 2"]
    assert plot_pdp([c for c in curves if c.ndim == 3]) is None


def test_importance_boxplots_mdi_and_correlation():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    labels = (y > y.median()).astype(int)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, labels)
    result = permutation_importance(
        model, X, labels, scoring=["accuracy", "roc_auc"], n_repeats=3, random_state=0
    )
    mdi = impurity_importance(model, X, list(X.columns))
    display = plot_importance(result, top=5, impurity=mdi)
    assert len(display.axes_) == 3  # two scorers + MDI
    top5 = [result.features[i] for i in np.argsort(-result.scorers[0].importances_mean, kind="stable")[:5]]
    assert display.order_ == top5
    labels_drawn = [t.get_text() for t in display.axes_[0].get_yticklabels()]
    assert labels_drawn[::-1] == top5  # most important on top
    assert len(display.boxplots_[0]["boxes"]) == 5
    bars = display.bars_[2]
    expected = [mdi.values[f] for f in top5[::-1]]
    np.testing.assert_allclose([b.get_width() for b in bars], expected)
    clustering = spearman_clusters(X, list(X.columns), 0.5)
    corr = plot_correlation(clustering)
    assert sorted(corr.dendrogram_["ivl"]) == sorted(X.columns)
    assert corr.image_.get_array().shape == (10, 10)


def test_figures_are_reproducible(mixed):
    model, X = mixed
    curves = build_curves(partial_dependence(model, X, ["x", "color"], kind="both", grid_resolution=8))
    a = figure_bytes(plot_pdp(curves).figure_)
    b = figure_bytes(plot_pdp(curves).figure_)
    assert a == b
