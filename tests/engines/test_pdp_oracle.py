"""Partial dependence equals scikit-learn's `partial_dependence` (relative difference <= 1e-10).

Every case runs scikit-learn and our engine on the same model, data and options and compares
grid values, averages and ICE arrays. Both of our brute-force engines (batched predictions and
tree paths) are checked where they apply, as is the recursion method.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.inspection import partial_dependence as sk_pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inspectcli.cli.handling import cli_message
from inspectcli.engines.execution import Execution
from inspectcli.engines.partial_dependence import partial_dependence
from inspectcli.errors import UsageError

RTOL = 1e-10


def assert_same(ours, ref, *, individual=True, atol=1e-12):
    for a, b in zip(ours.grid_values, ref["grid_values"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if "average" in ref:
        np.testing.assert_allclose(ours.average, ref["average"], rtol=RTOL, atol=atol)
    if individual and "individual" in ref:
        np.testing.assert_allclose(ours.individual, ref["individual"], rtol=RTOL, atol=atol)


@pytest.fixture(scope="module")
def diabetes():
    data = load_diabetes(as_frame=True)
    return data.data, data.target


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), y


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, n_clusters_per_class=1, random_state=1
    )
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), np.array(["a", "b", "c"])[y]


@pytest.fixture(scope="module")
def mixed():
    """A frame with string categoricals, as pipelines see it, and a target with an interaction."""
    rng = np.random.RandomState(0)
    n = 400
    color = rng.choice(["red", "green", "blue"], n)
    size = rng.choice(["S", "M", "L", "XL"], n)
    x1, x2 = rng.normal(size=n), rng.uniform(0, 10, n)
    y = x1 * (color == "red") + 0.3 * x2 + (size == "XL") * 2 + rng.normal(0, 0.1, n)
    X = pd.DataFrame({"color": color, "size": size, "x1": x1, "x2": x2})
    return X, y


def _pipeline(estimator):
    return make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["color", "size"])],
            remainder="passthrough",
            sparse_threshold=0,
        ),
        estimator,
    )


@pytest.mark.parametrize("engine", ["batched", "auto"])
@pytest.mark.parametrize("kind", ["average", "individual", "both"])
def test_regressor_one_way(diabetes, engine, kind):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    ref = sk_pd(model, X, ["bmi"], method="brute", kind=kind)
    [ours] = partial_dependence(model, X, ["bmi"], method="brute", kind=kind, engine=engine)
    assert ours.method == "brute"
    assert ours.targets == (None,)
    assert_same(ours, ref)


@pytest.mark.parametrize("engine", ["batched", "auto"])
def test_two_way_and_custom_values(regression, engine):
    X, y = regression
    model = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(X, y)
    custom = {"f1": [-1.0, 0.0, 0.5, 2.0]}
    ref = sk_pd(model, X, ["f0", "f1"], method="brute", kind="both", grid_resolution=15, custom_values=custom)
    [ours] = partial_dependence(
        model,
        X,
        [("f0", "f1")],
        method="brute",
        kind="both",
        grid_resolution=15,
        custom_values=custom,
        engine=engine,
    )
    assert ours.average.shape == (1, 15, 4)
    assert ours.individual.shape == (1, 300, 15, 4)
    assert_same(ours, ref)


def test_linear_model_and_percentiles(regression):
    X, y = regression
    model = LinearRegression().fit(X, y)
    ref = sk_pd(model, X, ["f2"], percentiles=(0.1, 0.8), grid_resolution=7, kind="both")
    [ours] = partial_dependence(model, X, ["f2"], percentiles=(0.1, 0.8), grid_resolution=7, kind="both")
    assert_same(ours, ref)


@pytest.mark.parametrize("response_method", ["auto", "predict_proba", "decision_function"])
def test_binary_classifier(binary, response_method):
    X, y = binary
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    ref = sk_pd(model, X, ["f0"], response_method=response_method, kind="both", grid_resolution=20)
    [ours] = partial_dependence(
        model, X, ["f0"], response_method=response_method, kind="both", grid_resolution=20
    )
    assert ours.targets == (1,)  # the positive class, as scikit-learn
    assert_same(ours, ref)


def test_binary_negative_class_mirrors_positive(binary):
    X, y = binary
    model = LogisticRegression().fit(X, y)
    [pos] = partial_dependence(model, X, ["f1"], grid_resolution=10)
    [neg] = partial_dependence(model, X, ["f1"], grid_resolution=10, classes=["0"])
    assert neg.targets == (0,)
    np.testing.assert_allclose(neg.average, 1 - pos.average, rtol=1e-12)
    [dec] = partial_dependence(
        model, X, ["f1"], grid_resolution=10, classes=["0"], response_method="decision_function"
    )
    [dpos] = partial_dependence(model, X, ["f1"], grid_resolution=10, response_method="decision_function")
    np.testing.assert_allclose(dec.average, -dpos.average, rtol=1e-12)


@pytest.mark.parametrize("engine", ["batched", "auto"])
def test_multiclass_every_class_and_one(multiclass, engine):
    X, y = multiclass
    model = RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0).fit(X, y)
    ref = sk_pd(model, X, ["f3"], kind="both", grid_resolution=12)
    [ours] = partial_dependence(model, X, ["f3"], kind="both", grid_resolution=12, engine=engine)
    assert ours.targets == ("a", "b", "c")
    assert_same(ours, ref)
    [only_b] = partial_dependence(
        model, X, ["f3"], kind="both", grid_resolution=12, classes=["b"], engine=engine
    )
    np.testing.assert_allclose(only_b.average[0], ref["average"][1], rtol=RTOL)


def test_multiclass_decision_function(multiclass):
    X, y = multiclass
    model = LogisticRegression(max_iter=500).fit(X, y)
    ref = sk_pd(model, X, ["f0", "f2"], response_method="decision_function", grid_resolution=8)
    [ours] = partial_dependence(
        model, X, [("f0", "f2")], response_method="decision_function", grid_resolution=8
    )
    assert_same(ours, ref)


@pytest.mark.parametrize("engine", ["batched", "auto"])
def test_pipeline_with_categoricals(mixed, engine):
    X, y = mixed
    model = _pipeline(HistGradientBoostingRegressor(max_iter=40, random_state=0)).fit(X, y)
    ref = sk_pd(model, X, ["color"], categorical_features=["color"], kind="both")
    [ours] = partial_dependence(model, X, ["color"], kind="both", engine=engine)
    assert ours.categorical == (True,)  # string column: categorical without being told
    assert_same(ours, ref)
    ref2 = sk_pd(model, X, ["x1", "color"], categorical_features=["color"], grid_resolution=9)
    [pair] = partial_dependence(model, X, [("x1", "color")], grid_resolution=9, engine=engine)
    assert_same(pair, ref2)
    ref3 = sk_pd(model, X, ["color", "size"], categorical_features=["color", "size"])
    [cats] = partial_dependence(model, X, [("color", "size")], engine=engine)
    assert_same(cats, ref3)


def test_sample_weight(diabetes):
    X, y = diabetes
    sw = np.random.RandomState(0).uniform(0.1, 3, len(X))
    model = KNeighborsRegressor(n_neighbors=7).fit(X, y)
    ref = sk_pd(model, X, ["s5"], sample_weight=sw, kind="both", grid_resolution=25)
    [ours] = partial_dependence(model, X, ["s5"], sample_weight=sw, kind="both", grid_resolution=25)
    assert_same(ours, ref)


def test_recursion_matches_sklearn(diabetes, binary, multiclass):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    ref = sk_pd(model, X, ["bmi", "bp"], method="recursion", grid_resolution=20)
    [ours] = partial_dependence(model, X, [("bmi", "bp")], method="recursion", grid_resolution=20)
    assert ours.method == ours.engine == "recursion"
    assert_same(ours, ref)
    # auto is brute force (the model's outputs, through tree paths), unlike scikit-learn's auto
    [auto] = partial_dependence(model, X, ["bmi"], grid_resolution=20)
    assert (auto.method, auto.engine) == ("brute", "tree-paths")
    assert_same(auto, sk_pd(model, X, ["bmi"], method="brute", grid_resolution=20))
    Xb, yb = binary
    gb = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(Xb, yb)
    ref = sk_pd(gb, Xb, ["f1"], method="recursion", grid_resolution=10)
    [ours] = partial_dependence(gb, Xb, ["f1"], method="recursion", grid_resolution=10)
    assert_same(ours, ref)
    Xm, ym = multiclass
    hgc = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(Xm, ym)
    ref = sk_pd(hgc, Xm, ["f2"], method="recursion", grid_resolution=10)
    [ours] = partial_dependence(hgc, Xm, ["f2"], method="recursion", grid_resolution=10)
    assert ours.targets == ("a", "b", "c")
    assert_same(ours, ref)


def test_multi_output_regressor(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y + 1])
    model = RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(X, Y)
    for engine in ("batched", "auto"):
        ref = sk_pd(model, X, ["f0"], method="brute", kind="both", grid_resolution=10)
        [ours] = partial_dependence(
            model, X, ["f0"], method="brute", kind="both", grid_resolution=10, engine=engine
        )
        assert ours.targets == (0, 1)
        assert_same(ours, ref)


def test_numpy_input(regression):
    X, y = regression
    arr = X.to_numpy()
    model = LinearRegression().fit(arr, y)
    ref = sk_pd(model, arr, [3], kind="both", grid_resolution=6)
    [ours] = partial_dependence(model, arr, [3], kind="both", grid_resolution=6)
    assert ours.features == ("x3",)
    assert_same(ours, ref)


def test_integer_columns_beyond_sklearn(diabetes):
    """scikit-learn refuses integer columns; we treat them as numeric (grid: unique values)."""
    X, y = diabetes
    Xi = X.assign(age=(X["age"] * 1000).round().astype("int64"))
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(Xi, y)
    with pytest.raises(ValueError, match="integer"):
        sk_pd(model, Xi, ["age"], method="brute")
    [ours] = partial_dependence(model, Xi, ["age"], method="brute", engine="batched", kind="both")
    Xf = Xi.astype({"age": float})
    ref = sk_pd(model, Xf, ["age"], method="brute", kind="both")
    assert_same(ours, ref)


def test_batching_does_not_change_numbers(diabetes):
    """A budget so small that each grid point is split over several calls gives the same numbers."""
    X, y = diabetes
    model = make_pipeline(StandardScaler(), KNeighborsRegressor()).fit(X, y)
    [big] = partial_dependence(model, X, ["bmi"], kind="both", engine="batched")
    [tiny] = partial_dependence(
        model, X, ["bmi"], kind="both", engine="batched", execution=Execution(memory_budget=2**20)
    )
    np.testing.assert_array_equal(big.average, tiny.average)
    np.testing.assert_array_equal(big.individual, tiny.individual)


def test_parallel_workers_give_identical_numbers(diabetes):
    X, y = diabetes
    model = make_pipeline(StandardScaler(), KNeighborsRegressor()).fit(X, y)
    one = partial_dependence(model, X, ["bmi", "bp", ("s5", "s6")], engine="batched", grid_resolution=20)
    two = partial_dependence(
        model,
        X,
        ["bmi", "bp", ("s5", "s6")],
        engine="batched",
        grid_resolution=20,
        execution=Execution(n_jobs=2, backend="loky"),
    )
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.average, b.average)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "recursion", "kind": "both"}, "averages only"),
        ({"method": "recursion", "sample_weight": np.ones(442)}, "sample-weight"),
        ({"percentiles": (0.9, 0.1)}, "out of order"),
        ({"percentiles": (0.0, 1.5)}, r"\[0, 1\]"),
        ({"grid_resolution": 1}, "at least 2"),
    ],
)
def test_usage_errors(diabetes, kwargs, match):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=5).fit(X, y)
    with pytest.raises(UsageError) as info:
        partial_dependence(model, X, ["bmi"], **kwargs)
    assert re.search(match, cli_message(info.value))  # as the CLI says it: parameters as flags


def test_unknown_and_constant_features(diabetes):
    X, y = diabetes
    model = LinearRegression().fit(X.assign(const=1.0), y)
    with pytest.raises(UsageError, match="did you mean 'bmi'"):
        partial_dependence(model, X.assign(const=1.0), ["bmj"])
    with pytest.raises(UsageError, match="constant"):
        partial_dependence(model, X.assign(const=1.0), ["const"])
    with pytest.raises(UsageError, match="does not support LinearRegression"):
        partial_dependence(model, X.assign(const=1.0), ["bmi"], method="recursion")


def test_tree_paths_self_check_failure_falls_back_to_batched(diabetes, monkeypatch):
    from inspectcli.engines import trees

    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)

    def disagree(*args, **kwargs):
        raise trees.TreePathMismatchError("row 3, grid point 1")

    monkeypatch.setattr(trees, "tree_path_moments", disagree)
    ref = sk_pd(model, X, ["bmi"], method="brute", grid_resolution=10)
    with pytest.warns(RuntimeWarning, match="brute-force predictions instead"):
        [ours] = partial_dependence(model, X, ["bmi"], method="brute", grid_resolution=10)
    assert ours.engine == "batched"
    assert_same(ours, ref)
    from inspectcli.errors import ComputationError

    with pytest.raises(ComputationError, match="disagrees"):
        partial_dependence(model, X, ["bmi"], method="brute", engine="tree-paths", grid_resolution=10)


def test_tiny_data_fewer_virtual_rows_than_the_memory_probe():
    # 20 rows × 3 grid points = 60 virtual rows: the bytes-per-row probe must stay within them
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = make_regression(n_samples=20, n_features=3, random_state=0)
    model = HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=2).fit(X, y)
    [ours] = partial_dependence(model, X, [0], method="brute", grid_resolution=3, engine="batched")
    ref = sk_pd(model, X, [0], method="brute", grid_resolution=3)
    np.testing.assert_allclose(ours.average, ref["average"], rtol=1e-10)
