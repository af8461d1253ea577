"""Exactness tests for the tree-path partial-dependence engine.

Every result is compared with scikit-learn evaluating the estimator on each grid point
(brute force), at a relative tolerance of 1e-10.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    ExtraTreeRegressor,
)
from sklearn.utils.extmath import cartesian
from threadpoolctl import threadpool_limits

from inspectcli.engines.trees import (
    TreePathMismatchError,
    supports_tree_paths,
    tree_path_responses,
)
from inspectcli.engines.trees import grid as tree_grid

RTOL = 1e-10
ATOL = 1e-12
N_ROWS = 240


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    # The brute-force references call HistGradientBoosting's OpenMP predict thousands of times
    # on tiny inputs; spinning OpenMP workers make that very slow on a busy machine.
    with threadpool_limits(limits=1):
        yield


def _close(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=ATOL)


def brute(est, X, free, grid, method, sample_weight=None):
    """(average, individual) by evaluating ``method`` on every grid point, like sklearn."""
    outs = []
    for point in grid:
        Xg = X.copy()
        for j, col in enumerate(free):
            if hasattr(Xg, "iloc"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    Xg.iloc[:, col] = point[j]
            else:
                Xg[:, col] = point[j]
        outs.append(np.asarray(getattr(est, method)(Xg), dtype=np.float64))
    individual = np.stack(outs)
    average = np.stack([np.average(o, axis=0, weights=sample_weight) for o in outs])
    return average, individual


def make_grid(X, free, size=7):
    """Cartesian grid of quantiles (unique values for low-cardinality columns)."""
    axes = []
    for col in free:
        column = X.iloc[:, col] if hasattr(X, "iloc") else X[:, col]
        values = np.asarray(column, dtype=np.float64)
        values = values[~np.isnan(values)]
        uniq = np.unique(values)
        if uniq.size <= size:
            axes.append(uniq)
        else:
            axes.append(np.unique(np.quantile(values, np.linspace(0.02, 0.98, size))))
    return cartesian(axes)


def run(est, X, free, grid, method="predict", individual=True, **kwargs):
    return tree_path_responses(
        est,
        X,
        free,
        grid,
        response_method=method,
        individual=individual,
        **kwargs,
    )


def check(est, X, free, method, grid=None, sample_weight=None, individual=True):
    grid = make_grid(X, free) if grid is None else grid
    assert supports_tree_paths(est, method)
    avg, ind = tree_path_responses(
        est,
        X,
        free,
        grid,
        response_method=method,
        individual=individual,
        sample_weight=sample_weight,
    )
    ref_avg, ref_ind = brute(est, X, free, grid, method, sample_weight)
    _close(avg, ref_avg)
    if individual:
        _close(ind, ref_ind)
    else:
        assert ind is None
    return avg, ind


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(N_ROWS, 5, n_informative=5, noise=5.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def binary_data():
    X, y = make_classification(N_ROWS, 5, n_informative=4, n_redundant=0, random_state=1)
    return X, y


@pytest.fixture(scope="module")
def multi_data():
    X, y = make_classification(
        N_ROWS,
        5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        random_state=2,
    )
    return X, np.array(["a", "b", "c"])[y]


def _with_nans(X, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


REGRESSORS = [
    HistGradientBoostingRegressor(max_iter=15, max_leaf_nodes=8, random_state=0),
    GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0),
    RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0),
    ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0),
    DecisionTreeRegressor(max_depth=6, random_state=0),
    ExtraTreeRegressor(max_depth=6, random_state=0),
]
CLASSIFIERS = [
    (HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=8, random_state=0), True),
    (GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0), True),
    (RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0), False),
    (ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0), False),
    (DecisionTreeClassifier(max_depth=6, random_state=0), False),
    (ExtraTreeClassifier(max_depth=6, random_state=0), False),
]


def _name(obj):
    return type(obj[0] if isinstance(obj, tuple) else obj).__name__


# --------------------------------------------------------------------------------------
# stage 1: bare estimators
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("est", REGRESSORS, ids=_name)
@pytest.mark.parametrize("free", [[1], [0, 3], [0, 2, 4]], ids=["1way", "2way", "3way"])
def test_regressors(est, free, reg_data):
    X, y = reg_data
    model = est.fit(X, y)
    check(model, X, free, "predict")
    check(model, X, free, "predict", individual=False)


@pytest.mark.parametrize("est,has_decision", CLASSIFIERS, ids=_name)
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_classifiers(est, has_decision, kind, binary_data, multi_data):
    X, y = binary_data if kind == "binary" else multi_data
    model = est.fit(X, y)
    for free in ([2], [0, 1]):
        avg, _ = check(model, X, free, "predict_proba")
        assert avg.shape[1] == len(model.classes_)  # both columns, even for binary
        check(model, X, free, "predict_proba", individual=False)
        if has_decision:
            check(model, X, free, "decision_function")
            check(model, X, free, "decision_function", individual=False)
    assert not supports_tree_paths(model, "predict")  # class labels
    assert supports_tree_paths(model, "decision_function") == has_decision


def test_against_sklearn_partial_dependence(reg_data, multi_data):
    X, y = reg_data
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    for features in ([0], [1, 3]):
        ref = partial_dependence(
            model,
            X,
            features,
            method="brute",
            kind="both",
            grid_resolution=12,
        )
        free = list(features)
        grid = cartesian(ref["grid_values"])
        avg, ind = run(model, X, free, grid)
        _close(avg, ref["average"][0].reshape(-1))
        _close(ind, ref["individual"][0].reshape(X.shape[0], -1).T)
    # multiclass predict_proba: sklearn keeps every class
    Xc, yc = multi_data
    clf = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(Xc, yc)
    ref = partial_dependence(
        clf,
        Xc,
        [4],
        method="brute",
        kind="both",
        grid_resolution=9,
        response_method="predict_proba",
    )
    grid = ref["grid_values"][0].reshape(-1, 1)
    avg, ind = run(clf, Xc, [4], grid, "predict_proba")
    _close(avg, ref["average"].T)
    _close(ind, np.moveaxis(ref["individual"], 0, -1).transpose(1, 0, 2))


def test_nonlinear_links(reg_data):
    X, y = reg_data
    y_pos = np.exp((y - y.mean()) / y.std())
    for loss in ("poisson", "gamma"):
        model = HistGradientBoostingRegressor(
            loss=loss,
            max_iter=12,
            max_leaf_nodes=8,
            random_state=0,
        )
        model.fit(X, y_pos)
        check(model, X, [0], "predict")
        check(model, X, [1, 2], "predict", individual=False)
    gbr = GradientBoostingRegressor(loss="huber", n_estimators=10, max_depth=3, random_state=0)
    gbr.fit(X, y)
    check(gbr, X, [0, 1], "predict")


def test_gradient_boosting_inits(binary_data, reg_data):
    X, y = binary_data
    zero = GradientBoostingClassifier(n_estimators=8, init="zero", random_state=0).fit(X, y)
    check(zero, X, [1], "predict_proba")
    expo = GradientBoostingClassifier(n_estimators=8, loss="exponential", random_state=0).fit(X, y)
    check(expo, X, [1], "predict_proba")
    check(expo, X, [1], "decision_function", individual=False)
    dummy = GradientBoostingClassifier(
        n_estimators=5, init=DummyClassifier(strategy="most_frequent"), random_state=0
    ).fit(X, y)
    check(dummy, X, [0, 2], "decision_function")
    # a non-constant init estimator would make the baseline depend on the grid
    Xr, yr = reg_data
    lin = GradientBoostingRegressor(n_estimators=5, init=LinearRegression()).fit(Xr, yr)
    assert not supports_tree_paths(lin, "predict")
    with pytest.raises(ValueError):
        tree_path_responses(lin, Xr, [0], [[0.0]], response_method="predict", individual=False)


def test_sample_weight(reg_data, multi_data):
    X, y = reg_data
    w = np.random.default_rng(0).uniform(0.0, 3.0, size=X.shape[0])
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    check(model, X, [0], "predict", sample_weight=w)
    check(model, X, [0, 1], "predict", sample_weight=w, individual=False)
    Xc, yc = multi_data
    clf = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(Xc, yc)
    check(clf, Xc, [3], "predict_proba", sample_weight=w, individual=False)
    forest = ExtraTreesClassifier(n_estimators=5, max_depth=5, random_state=0).fit(Xc, yc)
    check(forest, Xc, [3], "predict_proba", sample_weight=w, individual=False)


def test_tiny_memory_budget(reg_data, multi_data):
    # Row chunks of a few rows and several table blocks per chunk: still the exact sums.
    X, y = reg_data
    model = GradientBoostingRegressor(n_estimators=30, max_depth=4, random_state=0).fit(X, y)
    grid = make_grid(X, [0, 1])
    ours = run(model, X, [0, 1], grid, max_bytes=30_000)
    ref = brute(model, X, [0, 1], grid, "predict")
    _close(ours[0], ref[0])
    np.testing.assert_array_equal(ours[1], ref[1])  # bit-for-bit, like the estimator's sums
    Xc, yc = multi_data
    clf = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(Xc, yc)
    grid = make_grid(Xc, [2])
    ours = run(clf, Xc, [2], grid, "predict_proba", individual=False, max_bytes=10_000)
    _close(ours[0], brute(clf, Xc, [2], grid, "predict_proba")[0])


def test_multi_output_regressors(reg_data):
    X, y = reg_data
    Y = np.column_stack([y, y**2 / 100.0, -y])
    for est in (
        RandomForestRegressor(n_estimators=6, max_depth=6, random_state=0),
        DecisionTreeRegressor(max_depth=7, random_state=0),
    ):
        model = est.fit(X, Y)
        avg, ind = check(model, X, [1], "predict")
        assert avg.shape[1] == 3 and ind.shape[2] == 3
        check(model, X, [0, 4], "predict", individual=False)
    clf = DecisionTreeClassifier(max_depth=3).fit(X, np.column_stack([y > 0, y > 1]))
    assert not supports_tree_paths(clf, "predict_proba")  # list output


def test_missing_values_hgb(reg_data, binary_data):
    X, y = reg_data
    Xn = _with_nans(X, 0)
    model = HistGradientBoostingRegressor(max_iter=15, max_leaf_nodes=8, random_state=0)
    model.fit(Xn, y)
    # NaN in free columns of X and in non-free columns; NaN as a grid value
    grid = make_grid(Xn, [0])
    grid = np.vstack([grid, [[np.nan]]])
    check(model, Xn, [0], "predict", grid=grid)
    grid2 = np.vstack([make_grid(Xn, [1, 2]), [[np.nan, 0.3], [-0.2, np.nan]]])
    check(model, Xn, [1, 2], "predict", grid=grid2)
    check(model, Xn, [1, 2], "predict", grid=grid2, individual=False)
    Xc, yc = binary_data
    clf = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(_with_nans(Xc, 1), yc)
    check(clf, _with_nans(Xc, 2), [3], "predict_proba")


@pytest.mark.parametrize(
    "est",
    [
        DecisionTreeRegressor(max_depth=7, random_state=0),
        RandomForestRegressor(n_estimators=6, max_depth=7, random_state=0),
        ExtraTreesRegressor(n_estimators=6, max_depth=7, random_state=0),
    ],
    ids=_name,
)
def test_missing_values_sklearn_trees(est, reg_data):
    X, y = reg_data
    Xn = _with_nans(X, 3)
    model = est.fit(Xn, y)
    grid = np.vstack([make_grid(Xn, [0, 1]), [[np.nan, 0.0], [0.5, np.nan]]])
    check(model, _with_nans(X, 4), [0, 1], "predict", grid=grid)
    check(model, _with_nans(X, 4), [2], "predict", individual=False)


def test_missing_values_classifier_tree(binary_data):
    X, y = binary_data
    Xn = _with_nans(X, 5)
    model = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0).fit(Xn, y)
    check(model, Xn, [2], "predict_proba", grid=np.array([[-1.0], [0.0], [np.nan], [1.5]]))


def test_float32_thresholds():
    # Values that differ only below float32 resolution must follow the float32 cast.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] + rng.normal(scale=0.1, size=200)
    model = DecisionTreeRegressor(max_depth=5, random_state=0).fit(X, y)
    thresholds = model.tree_.threshold[model.tree_.feature == 0]
    grid = np.concatenate(
        [thresholds, np.nextafter(thresholds, np.inf), np.nextafter(thresholds, -np.inf)]
    ).reshape(-1, 1)
    check(model, X, [0], "predict", grid=grid)
    hgb = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    nodes = hgb._predictors[0][0].nodes
    thr = nodes["num_threshold"][(nodes["feature_idx"] == 0) & (nodes["is_leaf"] == 0)]
    grid = np.concatenate([thr, np.nextafter(thr, np.inf)]).reshape(-1, 1)
    check(hgb, X, [0], "predict", grid=grid)


@pytest.fixture(scope="module")
def categorical_frame():
    rng = np.random.default_rng(0)
    n = N_ROWS
    color = rng.choice(["red", "green", "blue", "white"], size=n)
    size = rng.choice(["S", "M", "L"], size=n)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(size=n)
    y = (
        np.select([color == "red", color == "green"], [2.0, -1.0], 0.5)
        + (size == "L") * x1
        + 3 * x2
        + rng.normal(scale=0.1, size=n)
    )
    X = pd.DataFrame(
        {
            "x1": x1,
            "color": pd.Categorical(color),
            "x2": x2,
            "size": pd.Categorical(size, categories=["S", "M", "L"]),
        }
    )
    X.loc[::17, "x1"] = np.nan
    X.loc[::23, "color"] = np.nan
    return X, y


def test_hgb_native_categorical(categorical_frame):
    X, y = categorical_frame
    model = HistGradientBoostingRegressor(
        max_iter=15, max_leaf_nodes=8, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    assert model.is_categorical_.any()
    colors = np.array([["blue"], ["green"], ["red"], ["white"]], dtype=object)
    check(model, X, [1], "predict", grid=colors)
    check(model, X, [1], "predict", grid=colors, individual=False)
    # pair categorical x numeric (object grid, as sklearn's cartesian builds it)
    grid = cartesian([np.array(["S", "M", "L"], dtype=object), np.array([0.1, 0.5, 0.9])])
    check(model, X, [3, 2], "predict", grid=grid)
    check(
        model,
        X,
        [0, 3],
        "predict",
        grid=cartesian([np.array([-1.0, 0.0, 1.0]), np.array(["S", "L"], dtype=object)]),
    )
    # a category unknown at fit time is routed like a missing value
    X2 = X.copy()
    X2["color"] = X2["color"].cat.add_categories(["purple"])
    X2.loc[::5, "color"] = "purple"
    grid = np.array([["purple"], ["red"]], dtype=object)
    check(model, X2, [1], "predict", grid=grid)
    check(model, X2, [0], "predict")

    yc = np.where(y > np.median(y), "hi", "lo")
    clf = HistGradientBoostingClassifier(
        max_iter=10,
        categorical_features="from_dtype",
        random_state=0,
    )
    clf.fit(X, yc)
    check(clf, X, [1], "predict_proba", grid=colors)


def test_self_check_detects_mismatch(reg_data, monkeypatch):
    X, y = reg_data
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    real = tree_grid._raw_rows

    def broken(*args):
        return real(*args) + 1e-6

    monkeypatch.setattr(tree_grid, "_raw_rows", broken)
    with pytest.raises(TreePathMismatchError):
        run(model, X, [0], make_grid(X, [0]))
    # the average path (no ICE): reachable leaves computed wrongly, in the average and the check
    from inspectcli.engines.trees import _reach

    real_reach = _reach.reach_bits

    def shifted(*args):
        return np.roll(real_reach(*args), 1, axis=0)

    monkeypatch.setattr(_reach, "reach_bits", shifted)
    monkeypatch.setattr(tree_grid, "reach_bits", shifted)
    with monkeypatch.context() as m:
        m.setattr(tree_grid, "_prefers_bits", lambda forest: False)  # the walks' average
        with pytest.raises(TreePathMismatchError):
            run(model, X, [0], make_grid(X, [0]), individual=False)
    # the split-bits average: leaves' reach bits wrong, in the average and the check
    from inspectcli.engines.trees._bits import Forest

    real_leaf_reach = Forest.leaf_reach

    def rolled(self, *args):
        return np.roll(real_leaf_reach(self, *args), 1, axis=0)

    monkeypatch.setattr(Forest, "leaf_reach", rolled)
    with pytest.raises(TreePathMismatchError):
        run(model, X, [0], make_grid(X, [0]), individual=False)


def test_argument_errors(reg_data):
    X, y = reg_data
    model = DecisionTreeRegressor(max_depth=3).fit(X, y)
    with pytest.raises(ValueError):
        tree_path_responses(model, X, [9], [[0.0]], response_method="predict", individual=False)
    with pytest.raises(ValueError):
        tree_path_responses(model, X, [0, 1], [[0.0]], response_method="predict", individual=False)
    with pytest.raises(ZeroDivisionError):
        tree_path_responses(
            model,
            X,
            [0],
            [[0.0]],
            response_method="predict",
            individual=False,
            sample_weight=np.zeros(X.shape[0]),
        )


def test_unsupported_estimators(reg_data, binary_data):
    X, y = reg_data
    assert not supports_tree_paths(LinearRegression().fit(X, y), "predict")
    assert not supports_tree_paths(HistGradientBoostingRegressor(), "predict")  # unfitted
    model = HistGradientBoostingRegressor(max_iter=3).fit(X, y)
    assert not supports_tree_paths(model, "predict_proba")
    assert not supports_tree_paths(model, "predict_log_proba")
    Xc, yc = binary_data
    assert not supports_tree_paths(LogisticRegression().fit(Xc, yc), "predict_proba")


# --------------------------------------------------------------------------------------
# stage 2: column-wise pipelines
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bikes_like():
    rng = np.random.default_rng(0)
    n = 400
    season = rng.choice(["spring", "summer", "fall", "winter"], size=n)
    weekday = rng.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], size=n)
    weather = rng.choice(["clear", "cloudy", "rain"], size=n, p=[0.6, 0.3, 0.1])
    hour = rng.integers(0, 24, size=n).astype(np.float64)
    temp = rng.normal(15, 8, size=n).round(1)
    humidity = rng.uniform(20, 100, size=n).round(1)
    y = (
        50
        + 30 * np.sin(hour / 24 * 2 * np.pi)
        + 2 * temp
        - 0.2 * humidity
        + np.isin(weekday, ["sat", "sun"]) * 10 * (hour > 9)
        - (weather == "rain") * 20
        + (season == "summer") * 5
        + rng.normal(scale=3, size=n)
    )
    X = pd.DataFrame(
        {
            "season": pd.array(season, dtype="str"),
            "weekday": pd.array(weekday, dtype="str"),
            "weather": pd.array(weather, dtype="str"),
            "hour": hour,
            "temp": temp,
            "humidity": humidity,
        }
    )
    return X, y


def _bikes_pipeline(final):
    ct = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["season", "weekday", "weather"]),
            ("numeric", "passthrough", ["hour", "temp", "humidity"]),
        ],
        sparse_threshold=0,
    )
    return Pipeline([("columns", ct), ("model", final)])


def test_bikes_like_pipeline(bikes_like):
    X, y = bikes_like
    pipe = _bikes_pipeline(HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, y)
    assert supports_tree_paths(pipe, "predict")
    hour = X.columns.get_loc("hour")
    temp = X.columns.get_loc("temp")
    season = X.columns.get_loc("season")
    weekday = X.columns.get_loc("weekday")
    check(pipe, X, [hour], "predict", grid=np.unique(X["hour"]).reshape(-1, 1))
    check(pipe, X, [temp], "predict", individual=False)
    seasons = np.array([["fall"], ["spring"], ["summer"], ["winter"], ["monsoon"]], dtype=object)
    check(pipe, X, [season], "predict", grid=seasons)  # 'monsoon' is unknown: ignored
    pair = cartesian([np.arange(0.0, 24.0, 3.0), np.unique(X["weekday"]).astype(object)])
    check(pipe, X, [hour, weekday], "predict", grid=pair)
    check(pipe, X, [hour, weekday], "predict", grid=pair, individual=False)
    # the same through sklearn's own partial_dependence
    ref = partial_dependence(pipe, X, ["hour"], method="brute", kind="both", grid_resolution=24)
    grid = ref["grid_values"][0].reshape(-1, 1)
    avg, ind = run(pipe, X, [hour], grid)
    _close(avg, ref["average"][0])
    _close(ind, ref["individual"][0].T)


def test_pipeline_classifier_with_scalers_and_imputers(bikes_like):
    X, y = bikes_like
    X = X.copy()
    X.loc[::11, "temp"] = np.nan
    X.loc[::13, "weather"] = pd.NA
    label = np.where(y > np.median(y), "busy", "quiet")
    numeric = Pipeline([("impute", SimpleImputer(add_indicator=True)), ("scale", StandardScaler())])
    ct = ColumnTransformer(
        [
            ("num", numeric, ["temp"]),
            ("minmax", MinMaxScaler(), ["humidity"]),
            ("robust", make_pipeline(RobustScaler(), MaxAbsScaler()), ["hour"]),
            (
                "cats",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ),
                ["weather", "season"],
            ),
        ],
        remainder="drop",
    )
    pipe = Pipeline(
        [
            ("ct", ct),
            ("id", FunctionTransformer()),
            ("rf", RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0)),
        ]
    ).fit(X, label)
    assert supports_tree_paths(pipe, "predict_proba")
    temp = X.columns.get_loc("temp")
    weather = X.columns.get_loc("weather")
    grid = np.array([[5.0], [15.0], [np.nan], [25.0]])
    check(pipe, X, [temp], "predict_proba", grid=grid)
    pair = cartesian([np.array([5.0, 20.0]), np.array(["clear", "rain", "snow"], dtype=object)])
    check(pipe, X, [temp, weather], "predict_proba", grid=pair)
    # a dropped input column has no effect
    weekday = X.columns.get_loc("weekday")
    days = np.array([["mon"], ["sun"]], dtype=object)
    _, ind = check(pipe, X, [weekday], "predict_proba", grid=days)
    np.testing.assert_array_equal(ind[0], ind[1])

    booster = GradientBoostingClassifier(n_estimators=10, random_state=0)
    gb = Pipeline([("ct", ct), ("gb", booster)]).fit(X, label)
    check(gb, X, [temp, weather], "decision_function", grid=pair)


def test_pipeline_ordinal_into_hgb_categorical(bikes_like):
    # Numeric columns first, encoded categories last: HistGradientBoosting's own preprocessor
    # moves its categorical columns to the front, so the column maps compose non-trivially.
    X, y = bikes_like
    ct = ColumnTransformer(
        [
            ("num", "passthrough", ["hour", "temp"]),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                ["weekday", "season"],
            ),
        ]
    )
    hgb = HistGradientBoostingRegressor(
        max_iter=20,
        categorical_features=[False, False, True, True],
        random_state=0,
    )
    pipe = Pipeline([("ct", ct), ("hgb", hgb)]).fit(X, y)
    assert hgb.is_categorical_.tolist() == [False, False, True, True]
    weekday = X.columns.get_loc("weekday")
    hour = X.columns.get_loc("hour")
    days = np.array([["mon"], ["sat"], ["sun"], ["holiday"]], dtype=object)
    check(pipe, X, [weekday], "predict", grid=days)
    pair = cartesian([np.array([3.0, 12.0, 18.0]), np.array(["mon", "sun"], dtype=object)])
    check(pipe, X, [hour, weekday], "predict", grid=pair)


def test_pipeline_numpy_input(reg_data):
    X, y = reg_data
    pipe = make_pipeline(
        StandardScaler(), "passthrough", ExtraTreesRegressor(n_estimators=5, random_state=0)
    ).fit(X, y)
    check(pipe, X, [0, 3], "predict")
    check(pipe, X, [2], "predict", individual=False)


@pytest.mark.parametrize(
    "step", [PolynomialFeatures(degree=2), PCA(n_components=3), FunctionTransformer(np.log1p)]
)
def test_unsupported_pipelines(step, reg_data):
    X, y = reg_data
    pipe = make_pipeline(step, HistGradientBoostingRegressor(max_iter=3)).fit(np.abs(X), y)
    assert not supports_tree_paths(pipe, "predict")
    with pytest.raises(ValueError):
        run(pipe, np.abs(X), [0], [[0.5]])
    lin = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    assert not supports_tree_paths(lin, "predict")
