"""Accumulated local effects: hand-computed cases, scikit-learn's PD as oracle for --with-pdp, the
CLI on the sample models (diabetes, bikes), and the figure's structure."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.inspection import partial_dependence as sk_pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from inspectcli.engines.ale import accumulated_local_effects, bin_codes, center, quantile_edges
from inspectcli.engines.execution import Execution
from inspectcli.engines.level_order import level_distances, mds_order
from inspectcli.errors import UsageError
from inspectcli.loading.model import load_model


class Additive(RegressorMixin, BaseEstimator):
    """f(X) = sin(2·x1) + x2² (+ 3·[c == 'b'] − [c == 'c'] when there is a column c)."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        out = np.sin(2 * X["x1"].to_numpy(float)) + X["x2"].to_numpy(float) ** 2
        if "c" in X:
            c = np.asarray(X["c"], dtype=object)
            out = out + 3.0 * (c == "b") - 1.0 * (c == "c")
        return out


class Product(RegressorMixin, BaseEstimator):
    """f(X) = x1 · x2: the local effect of x1 is x2."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return X["x1"].to_numpy(float) * X["x2"].to_numpy(float)


def correlated(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(-2, 2, n)
    x2 = x1 + rng.normal(0, 0.1, n)  # strongly correlated
    return pd.DataFrame({"x1": x1, "x2": x2})


def midpoint_mean(edges, counts):
    mids = (edges[:-1] + edges[1:]) / 2
    return float((mids * counts).sum() / counts.sum())


def test_linear_model_ale_is_coef_times_centred_x():
    X = correlated()
    y = 3.0 * X["x1"] - 2.0 * X["x2"] + 1.0
    model = LinearRegression().fit(X, y)
    [res] = accumulated_local_effects(model, X, ["x1"], bins=10)
    x = X["x1"].to_numpy()
    edges = np.unique(np.sort(x)[[max(int(np.ceil(len(x) * k / 10)), 1) - 1 for k in range(11)]])
    np.testing.assert_array_equal(res.grid, edges)
    assert res.grid[0] == x.min() and res.grid[-1] == x.max()
    counts = np.array([np.sum((x > a) & (x <= b)) for a, b in itertools.pairwise(edges)])
    counts[0] += np.sum(x == edges[0])
    np.testing.assert_array_equal(res.counts, counts)
    coef = model.coef_[0]
    # hand-computed: coef·(z − x̄_b), x̄_b the count-weighted mean of the bin midpoints …
    np.testing.assert_allclose(res.ale[0], coef * (edges - midpoint_mean(edges, counts)), atol=1e-12)
    # … which is coef·(z − mean(x)) up to a fraction of a bin
    width = np.diff(edges).max()
    np.testing.assert_allclose(res.ale[0], coef * (edges - x.mean()), atol=abs(coef) * width / 2)
    assert res.targets == (None,) and res.response_method == "predict" and not res.categorical


def test_additive_model_gives_each_known_effect_despite_correlation():
    X = correlated(500, seed=1)
    X["c"] = np.random.default_rng(2).choice(["a", "b", "c"], size=len(X))
    model = Additive().fit(X)
    res = {r.feature: r for r in accumulated_local_effects(model, X, ["x1", "x2", "c"], bins=15)}
    for f, g in (("x1", lambda z: np.sin(2 * z)), ("x2", lambda z: z**2)):
        r = res[f]
        truth = g(r.grid) - g(r.grid[0])  # exact accumulated differences of an additive term
        np.testing.assert_allclose(r.ale[0], center(truth[None], r.counts, False)[0], atol=1e-12)
    c = res["c"]
    assert c.categorical and sorted(map(str, c.grid)) == ["a", "b", "c"]
    effect = {"a": 0.0, "b": 3.0, "c": -1.0}
    truth = np.array([effect[str(v)] for v in c.grid])
    np.testing.assert_allclose(c.ale[0], center(truth[None], c.counts, True)[0], atol=1e-12)
    assert c.counts.sum() == len(X)


def test_ale_stays_on_the_data_where_pdp_does_not():
    """x1·x2 with x2 ≈ x1: the local effect of x1 is x2 ≈ x1, so ALE ≈ x1²/2; PD is x1·mean(x2)."""
    X = correlated(2000, seed=3)
    model = Product().fit(X)
    [res] = accumulated_local_effects(model, X, ["x1"], bins=40, with_pdp=True)
    z = res.grid
    expected = center((z**2 / 2)[None], res.counts, False)[0]
    assert np.max(np.abs(res.ale[0] - expected)) < 0.1  # within the noise of x2 around x1
    assert np.max(np.abs(res.pdp[0] - expected)) > 1.0  # PD averages over points never seen


def test_with_pdp_is_scikit_learns_pd_on_the_same_grid(samples):
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target").iloc[:150]
    [res] = accumulated_local_effects(model, X, ["bmi"], bins=8, with_pdp=True)
    ref = sk_pd(model, X, ["bmi"], custom_values={"bmi": res.grid}, method="brute", kind="average")
    np.testing.assert_array_equal(ref["grid_values"][0], res.grid)
    np.testing.assert_allclose(res.pdp, center(ref["average"], res.counts, False), rtol=1e-10, atol=1e-9)


def test_quantile_edges_merge_repeats_and_bins_close_right():
    x = np.array([1, 1, 1, 1, 2, 2, 3, 4, 4, 4], dtype=float)
    edges = quantile_edges(x, 5)
    # type 1 at 0, .2, .4, .6, .8, 1: ranks 1, 2, 4, 6, 8, 10 -> 1, 1, 1, 2, 4, 4
    np.testing.assert_array_equal(edges, [1, 2, 4])
    np.testing.assert_array_equal(bin_codes(x, edges), [1, 1, 1, 1, 1, 1, 2, 2, 2, 2])
    y = np.random.default_rng(0).normal(size=101)
    q = np.linspace(0, 1, 8)
    np.testing.assert_array_equal(quantile_edges(y, 7), np.unique(np.quantile(y, q, method="inverted_cdf")))


def test_binary_classifier_positive_class_and_its_complement():
    X = correlated(300, seed=4)
    y = (X["x1"] + 0.3 * np.random.default_rng(0).normal(size=len(X)) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    [pos] = accumulated_local_effects(model, X, ["x1"], bins=6)
    [neg] = accumulated_local_effects(model, X, ["x1"], bins=6, classes=["0"])
    assert pos.targets == (1,) and neg.targets == (0,) and pos.response_method == "predict_proba"
    np.testing.assert_allclose(neg.ale, -pos.ale, atol=1e-12)
    assert pos.ale[0, -1] > pos.ale[0, 0]


def test_multiclass_one_curve_per_class_summing_to_zero():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300)})
    y = np.digitize(X["x1"] + 0.5 * X["x2"], [-0.5, 0.5])
    model = LogisticRegression().fit(X, y)
    [res] = accumulated_local_effects(model, X, ["x2"], bins=5)
    assert res.targets == (0, 1, 2) and res.ale.shape == (3, len(res.grid))
    np.testing.assert_allclose(res.ale.sum(axis=0), 0, atol=1e-12)  # probabilities sum to one


def test_missing_values_are_left_out_and_counted():
    X = correlated(300, seed=6)
    y = X["x1"] * 2
    model = HistGradientBoostingRegressor(max_iter=20).fit(X, y)
    X.loc[::10, "x1"] = np.nan
    [res] = accumulated_local_effects(model, X, ["x1"], bins=5)
    assert res.n_missing == 30 and res.counts.sum() == 270
    assert np.isfinite(res.ale).all()


def test_categorical_order_by_similarity_and_overrides():
    rng = np.random.default_rng(7)
    level = rng.choice(["a", "b", "c", "d"], size=800)
    centre = {"a": 0.0, "b": 9.0, "c": 3.0, "d": 6.0}  # by the other feature: a, c, d, b
    X = pd.DataFrame({"c": level, "x1": [centre[v] for v in level] + rng.normal(0, 1, 800)})
    X["x2"] = rng.normal(size=800)
    model = Additive().fit(X)
    [res] = accumulated_local_effects(model, X, ["c"])
    assert list(res.grid) in (["a", "c", "d", "b"], ["b", "d", "c", "a"]) and res.order == "similarity"
    [given] = accumulated_local_effects(model, X, ["c"], orders={"c": ["d", "c", "b", "a"]})
    assert list(given.grid) == ["d", "c", "b", "a"] and given.order == "given"
    # an additive model's effects do not depend on the order
    by_level = dict(zip(res.grid, res.ale[0]))
    np.testing.assert_allclose([by_level[v] for v in given.grid], given.ale[0], atol=1e-12)
    Xo = X.assign(c=pd.Categorical(X["c"], categories=["b", "a", "d", "c"], ordered=True))
    [ordered] = accumulated_local_effects(model, Xo, ["c"])
    assert list(ordered.grid) == ["b", "a", "d", "c"] and ordered.order == "categories"
    with pytest.raises(UsageError, match="every level"):
        accumulated_local_effects(model, X, ["c"], orders={"c": ["a", "b"]})
    with pytest.raises(UsageError, match="not a level"):
        accumulated_local_effects(model, X, ["c"], orders={"c": ["a", "b", "c", "zz"]})


def test_mds_order_recovers_a_line():
    pts = np.array([0.0, 5.0, 1.0, 3.0])
    D = np.abs(pts[:, None] - pts[None, :])
    assert list(mds_order(D)) == [0, 2, 3, 1]
    codes = np.array([0, 0, 1, 1])
    X = pd.DataFrame({"c": ["a", "a", "b", "b"], "x": [0.0, 0.1, 5.0, 5.1]})
    D2 = level_distances(X, 0, codes, np.arange(4), 2)
    assert D2[0, 1] == 1.0 and D2[0, 0] == 0.0


def test_batching_workers_and_weights_do_not_change_numbers(samples):
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target")
    base = accumulated_local_effects(model, X, ["bmi", "sex"], bins=10)
    tiny = accumulated_local_effects(
        model,
        X,
        ["bmi", "sex"],
        bins=10,
        execution=Execution(memory_budget=2**20, n_jobs=2, backend="threading"),
    )
    ones = accumulated_local_effects(model, X, ["bmi", "sex"], bins=10, sample_weight=np.full(len(X), 2.0))
    for a, b, c in zip(base, tiny, ones):
        np.testing.assert_array_equal(a.ale, b.ale)
        np.testing.assert_allclose(a.ale, c.ale, atol=1e-12)


def test_errors():
    X = correlated(50)
    model = LinearRegression().fit(X, X["x1"])
    with pytest.raises(UsageError, match="unknown feature"):
        accumulated_local_effects(model, X, ["nope"])
    with pytest.raises(UsageError, match="constant"):
        accumulated_local_effects(model, X.assign(x2=1.0), ["x2"])
    with pytest.raises(UsageError, match="bins"):
        accumulated_local_effects(model, X, ["x1"], bins=0)
    with pytest.raises(UsageError, match="categorical"):
        accumulated_local_effects(model, X, ["x1"], orders={"x1": ["1", "2"]})


def test_pipeline_with_one_hot_categorical_linear():
    rng = np.random.default_rng(8)
    X = pd.DataFrame({"c": rng.choice(["lo", "mid", "hi"], 300), "x1": rng.normal(size=300)})
    y = X["c"].map({"lo": 0.0, "mid": 1.0, "hi": 5.0}) + 2 * X["x1"]
    model = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["c"])], remainder="passthrough"), LinearRegression()
    ).fit(X, y)
    [res] = accumulated_local_effects(model, X, ["c"])
    truth = np.array([{"lo": 0.0, "mid": 1.0, "hi": 5.0}[v] for v in res.grid])
    np.testing.assert_allclose(res.ale[0], center(truth[None], res.counts, True)[0], atol=1e-9)


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_diabetes_files_json_and_numbers(cli, samples, tmp_path):
    out = tmp_path / "out"
    r = cli(
        "ale",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi,s5",
        "--bins",
        "10",
        "--with-pdp",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ale.csv", "ale.json", "ale.png"]
    doc = json.loads((out / "ale.json").read_text())
    assert doc["kind"] == "ale" and doc["data"]["n_used"] == 442
    assert doc["parameters"]["bins"] == 10 and doc["parameters"]["with_pdp"] is True
    entries = {e["features"][0]: e for e in doc["results"]}
    assert set(entries) == {"bmi", "s5"}
    bmi = entries["bmi"]
    assert list(bmi)[:7] == ["features", "categorical", "target", "response_method", "grid", "ale", "counts"]
    assert bmi["target"] is None and len(bmi["grid"][0]) == len(bmi["ale"]) == len(bmi["counts"]) + 1
    assert sum(bmi["counts"]) == 442 and len(bmi["pdp"]) == len(bmi["ale"])
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    X = pd.read_parquet(samples / "diabetes.parquet").drop(columns="target")
    [ref] = accumulated_local_effects(model, X, ["bmi"], bins=10)
    np.testing.assert_array_equal(bmi["ale"], ref.ale[0])
    np.testing.assert_array_equal(bmi["grid"][0], ref.grid)
    csv = pd.read_csv(out / "ale.csv")
    assert list(csv.columns) == ["feature", "target", "position", "grid", "ale", "bin_count", "pdp", "se"]
    assert len(csv) == len(bmi["ale"]) + len(entries["s5"]["ale"])
    assert "bmi" in r.stdout and "s5" in r.stdout and "PD" in r.stdout


def test_cli_bikes_categorical_and_numeric(cli, samples, tmp_path):
    small = tmp_path / "bikes_small.parquet"
    pd.read_parquet(samples / "bikes.parquet").iloc[:1200].to_parquet(small)
    out = tmp_path / "out"
    r = cli(
        "ale",
        samples / "bikes_hgb.joblib",
        small,
        "--target",
        "count",
        "-f",
        "hour",
        "-f",
        "season",
        "-f",
        "weekday",
        "--order",
        "weekday=mon,tue,wed,thu,fri,sat,sun",
        "--bins",
        "8",
        "--json",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    entries = {e["features"][0]: e for e in doc["results"]}
    assert entries["hour"]["categorical"] == [False]
    season = entries["season"]
    assert season["categorical"] == [True] and season["order"] == "similarity"
    assert sorted(season["grid"][0]) == ["fall", "spring", "summer", "winter"]
    assert len(season["counts"]) == 4 and sum(season["counts"]) == 1200
    weekday = entries["weekday"]
    assert (
        weekday["grid"][0] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        and weekday["order"] == "given"
    )
    # weighted mean zero over the levels
    assert abs(np.dot(season["ale"], season["counts"])) < 1e-9 * 1200
    assert (out / "ale.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "nope"], "unknown feature"),
        (["-f", "bmi", "--bins", "0"], "--bins"),
        (["-f", "bmi", "--order", "bmi=1,2"], "categorical"),
        (["-f", "bmi", "--order", "bmi"], "FEATURE="),
        (["-f", "target"], "--target"),
    ],
)
def test_cli_usage_errors(cli, samples, tmp_path, args, message):
    out = tmp_path / "out"
    r = cli(
        "ale",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        *args,
        "--out",
        out,
    )
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: ") and message in r.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# figure


def test_plot_structure():
    from inspectcli.plots.ale import plot_ale
    from inspectcli.reports.ale import build_curves

    rng = np.random.default_rng(9)
    X = correlated(300, seed=9)
    X["c"] = rng.choice(["a", "b", "c"], size=300)
    model = Additive().fit(X)
    results = accumulated_local_effects(model, X, ["x1", "c"], bins=6, with_pdp=True)
    curves = build_curves(results)
    display = plot_ale(curves, deciles={"x1": np.percentile(X["x1"], np.arange(10, 100, 10))})
    assert len(display.axes_) == 2
    (line,) = display.lines_[0]
    np.testing.assert_array_equal(line.get_xdata(), results[0].grid)
    np.testing.assert_array_equal(line.get_ydata(), results[0].ale[0])
    (pd_line,) = display.pdp_lines_[0]
    np.testing.assert_array_equal(pd_line.get_ydata(), results[0].pdp[0])
    assert display.axes_[0].get_xlabel() == "x1" and "ALE" in display.axes_[0].get_ylabel()
    assert len(display.deciles_vlines_[0]) == 1
    [bars] = display.bars_[1]
    np.testing.assert_allclose([b.get_height() for b in bars], results[1].ale[0])
    assert [t.get_text() for t in display.axes_[1].get_xticklabels()] == [str(v) for v in results[1].grid]
    assert display.axes_[1].get_xlabel().startswith("c")
    # one legend for the figure, below the panels, none on the curves
    legend = [t.get_text() for t in display.legend_.get_texts()]
    assert legend[0] == "ALE" and legend[1].startswith("PD")
    assert display.axes_[0].get_legend() is None and display.axes_[1].get_legend() is None
