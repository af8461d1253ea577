"""LightGBM and XGBoost through the tree-path engine: its outputs are the model's own predictions.

Rows with NaN (trees that saw NaN in training, and trees that did not: NaN is then 0.0), values
exactly at split thresholds and their float64 / float32 neighbours, unseen and missing categories.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from inspectcli import partial_dependence, permutation_importance
from tests.gbm_models import LEVELS, TASKS, fit, make_data, make_model

pytest.importorskip("lightgbm")


CASES = [("lightgbm", task) for task in TASKS] + [("xgboost", task) for task in TASKS]


@pytest.fixture(scope="module")
def models():
    pytest.importorskip("xgboost")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {task: fit("lightgbm", task) for task in TASKS}
        for task in TASKS:
            out["xgboost", task] = fit("xgboost", task)
        return out


def _thresholds(model, feature: int) -> np.ndarray:
    """Every numerical threshold the model uses on ``feature``."""
    if type(model).__module__.startswith("xgboost"):
        import json

        doc = json.loads(bytes(model.get_booster().save_raw("json")))
        found = []
        for t in doc["learner"]["gradient_booster"]["model"]["trees"]:
            for f, c, kind, left in zip(
                t["split_indices"], t["split_conditions"], t["split_type"], t["left_children"]
            ):
                if f == feature and kind == 0 and left != -1:
                    found.append(float(np.float32(c)))
        return np.unique(found)
    text = model.booster_.model_to_string()
    found = []
    for block in text.split("\nTree=")[1:]:
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "split_feature" not in fields:
            continue
        feats = [int(v) for v in fields["split_feature"].split()]
        thr = [float(v) for v in fields["threshold"].split()]
        kinds = [int(v) for v in fields["decision_type"].split()]
        found += [t for f, t, d in zip(feats, thr, kinds) if f == feature and not d & 1]
    return np.unique(found)


def _edges(thresholds: np.ndarray) -> np.ndarray:
    """Thresholds, their float64 neighbours, and the float32 values around them."""
    t = thresholds
    t32 = t.astype(np.float32)
    vals = [
        t,
        np.nextafter(t, -np.inf),
        np.nextafter(t, np.inf),
        t32.astype(np.float64),
        np.nextafter(t32, np.float32(-np.inf)).astype(np.float64),
        np.nextafter(t32, np.float32(np.inf)).astype(np.float64),
    ]
    return np.unique(np.concatenate(vals))


def _hard_rows(X: pd.DataFrame, model) -> pd.DataFrame:
    """X plus rows at thresholds of x2, NaN in every numeric column, missing categories, and for
    LightGBM unseen ones (XGBoost's answer to those is undefined: see the test below)."""
    x2 = _edges(_thresholds(model, 2))
    extra = X.iloc[np.arange(len(x2)) % len(X)].copy()
    extra["x2"] = x2
    nan_rows = X.iloc[:8].copy()
    nan_rows[["x0", "x1", "x2"]] = np.nan
    out = pd.concat([X, extra, nan_rows], ignore_index=True)
    # a category the model never saw (LightGBM reads it as NaN) and a missing one
    if type(model).__module__.startswith("lightgbm"):
        out["c"] = out["c"].cat.add_categories(["purple"])
        out.loc[len(X) : len(X) + 3, "c"] = "purple"
    out.loc[len(X) + 4 : len(X) + 6, "c"] = np.nan
    return out


@pytest.mark.parametrize(("lib", "task"), CASES)
def test_ice_equals_the_model_on_hard_rows(models, lib, task):
    from sklearn.inspection import partial_dependence as sk_pd

    model, X, _ = models[task] if lib == "lightgbm" else models[lib, task]
    rows = _hard_rows(X, model)
    grid = np.concatenate([_edges(_thresholds(model, 0)), [np.nan]])
    [ours] = partial_dependence(
        model, rows, ["x0"], kind="individual", custom_values={"x0": grid}, engine="tree-paths"
    )
    assert ours.engine == "tree-paths"
    theirs = sk_pd(model, rows, ["x0"], kind="individual", custom_values={"x0": grid})
    np.testing.assert_array_equal(ours.individual, theirs["individual"])
    [cat] = partial_dependence(model, rows, ["c"], kind="both", engine="tree-paths")
    assert cat.engine == "tree-paths"
    levels = cat.grid_values[0]
    for j, level in enumerate(levels):
        moved = rows.assign(c=pd.Categorical([level] * len(rows), categories=rows["c"].cat.categories))
        pred = model.predict_proba(moved) if task != "regression" else model.predict(moved)[:, None]
        pred = pred[:, 1:] if task == "binary" else pred  # the positive class, as scikit-learn
        np.testing.assert_array_equal(cat.individual[:, :, j], np.asarray(pred).T)
        # the mean of the model's outputs (XGBoost: the float64 mean of its float32 predictions)
        np.testing.assert_allclose(
            cat.average[:, j], np.asarray(pred, dtype=np.float64).mean(axis=0), rtol=1e-12
        )


def test_trees_that_never_saw_nan():
    """missing_type None: LightGBM turns NaN into 0.0 before the comparison."""
    X, y = make_data("lightgbm", "regression")
    X["x1"] = X["x1"].fillna(0.25)
    model = make_model("lightgbm", "regression").fit(X, y)
    kinds = re.findall(r"^decision_type=(.*)$", model.booster_.model_to_string(), flags=re.MULTILINE)
    assert all((int(d) >> 2) & 3 == 0 for line in kinds for d in line.split())  # missing type None
    rows = X.copy()
    rows.loc[::3, ["x1", "x2"]] = np.nan
    grid = np.array([-1.0, 0.0, np.nan, 0.5])
    [ours] = partial_dependence(
        model, rows, ["x0"], kind="individual", custom_values={"x0": grid}, engine="tree-paths"
    )
    for j, v in enumerate(grid):
        np.testing.assert_array_equal(ours.individual[0, :, j], model.predict(rows.assign(x0=v)))


@pytest.mark.parametrize("task", TASKS)
def test_lightgbm_random_forest_mode_averages_its_trees(task):
    """boosting_type="rf": LightGBM divides the trees' sum by the number of iterations."""
    X, y = make_data("lightgbm", task)
    model = make_model("lightgbm", task).set_params(
        boosting_type="rf", bagging_fraction=0.7, bagging_freq=1, n_estimators=7
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    grid = np.array([-1.0, 0.0, np.nan, 0.5])
    method = "predict_proba" if task != "regression" else "predict"
    [ours] = partial_dependence(
        model, X, ["x0"], kind="individual", custom_values={"x0": grid}, engine="tree-paths",
        response_method="auto",
    )  # fmt: skip
    for j, v in enumerate(grid):
        expected = getattr(model, method)(X.assign(x0=v))
        expected = expected if task == "regression" else expected[:, 1] if task == "binary" else expected.T
        np.testing.assert_allclose(ours.individual[..., j].squeeze(), expected.squeeze(), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("lib", "task"), CASES)
def test_permutation_importance_through_tree_paths(models, lib, task):
    from sklearn.inspection import permutation_importance as sk_pi

    model, X, y = models[task] if lib == "lightgbm" else models[lib, task]
    # probabilities (neg_log_loss) and labels (accuracy) for classifiers
    for scoring in ["r2"] if task == "regression" else ["neg_log_loss", "accuracy"]:
        ours = permutation_importance(
            model, X, y, scoring=scoring, n_repeats=3, random_state=0, engine="tree-paths"
        )
        assert ours.engine == "tree-paths"
        theirs = sk_pi(model, X, y, scoring=scoring, n_repeats=3, random_state=0)
        order = [list(X.columns).index(f) for f in ours.features]
        np.testing.assert_array_equal(ours.scorers[0].importances, theirs.importances[order])


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_xgboost_classifiers_with_a_base_score(task):
    """Unbalanced classes: binary:logistic's base_score is a probability (its logit is the base
    margin), multi:softprob's a margin per class; both enter before the trees."""
    import json

    from sklearn.inspection import partial_dependence as sk_pd

    X, _ = make_data("xgboost", task)
    y = (X["x0"] > 0.7).astype(int) if task == "binary" else np.digitize(X["x0"], [-0.8, 0.9])
    model = make_model("xgboost", task).fit(X, y)
    params = json.loads(bytes(model.get_booster().save_raw("json")))["learner"]["learner_model_param"]
    assert all(float(b) not in (0.0, 0.5) for b in json.loads(params["base_score"]))
    rows = _hard_rows(X, model)
    grid = np.concatenate([_edges(_thresholds(model, 0)), [np.nan]])
    [ours] = partial_dependence(
        model, rows, ["x0"], kind="individual", custom_values={"x0": grid}, engine="tree-paths"
    )
    assert ours.engine == "tree-paths" and ours.individual.dtype == np.float32
    theirs = sk_pd(model, rows, ["x0"], kind="individual", custom_values={"x0": grid})
    np.testing.assert_array_equal(ours.individual, theirs["individual"])


def test_xgboost_unseen_category_is_predicted(models):
    """XGBoost 3.x reads a category it never saw as an arbitrary code (or errors): the engine
    does not guess; the model answers (PD with engine="tree-paths" refuses)."""
    from sklearn.inspection import permutation_importance as sk_pi

    from inspectcli.errors import ComputationError

    model, X, y = models["xgboost", "binary"]
    rows = X.assign(c=X["c"].cat.add_categories(["purple"]))
    rows.loc[:3, "c"] = "purple"
    with pytest.raises(ComputationError, match="never saw"):
        partial_dependence(model, rows, ["x0"], grid_resolution=5, engine="tree-paths")
    with pytest.warns(RuntimeWarning, match="disagreed"):
        ours = permutation_importance(
            model, rows, y, scoring="accuracy", n_repeats=2, random_state=0, engine="tree-paths"
        )
    theirs = sk_pi(model, rows, y, scoring="accuracy", n_repeats=2, random_state=0)
    order = [list(X.columns).index(f) for f in ours.features]
    np.testing.assert_array_equal(ours.scorers[0].importances, theirs.importances[order])


def test_expf_is_the_c_librarys():
    """The float64 route with the C library near float32 midpoints equals expf everywhere; the
    float64 route alone does not (numpy's float32 exp even less)."""
    from inspectcli.engines.trees._xgboost import _cmath, _expf

    cm = _cmath()
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-104, 88.7, 30000), rng.normal(size=30000)]).astype(np.float32)
    ref = np.asarray(cm.each_expf(x), dtype=np.float32)
    np.testing.assert_array_equal(_expf(x, cm), ref)
    assert (np.exp(x.astype(np.float64)).astype(np.float32) != ref).any()
    assert (np.exp(x) != ref).sum() > 1000


def test_self_check_falls_back_to_predicting(models, monkeypatch):
    """A tree form that disagrees with the model is caught at run time; brute force answers."""
    from sklearn.inspection import partial_dependence as sk_pd

    from inspectcli.engines.trees import _lightgbm

    real = _lightgbm._tree

    def off_by_a_bit(fields, out_col):
        tree = real(fields, out_col)
        tree.values = tree.values + 1e-3
        return tree

    monkeypatch.setattr(_lightgbm, "_tree", off_by_a_bit)
    model, X, _ = models["regression"]
    with pytest.warns(RuntimeWarning, match="disagreed with the model's own predictions"):
        [ours] = partial_dependence(model, X, ["x0"], kind="both", grid_resolution=5)
    assert ours.engine == "batched"
    theirs = sk_pd(model, X, ["x0"], kind="both", custom_values={"x0": ours.grid_values[0]})
    np.testing.assert_array_equal(ours.individual, theirs["individual"])


def test_xgboost_sums_in_float32(models):
    """Sums in float64 would differ from XGBoost's predictions in the last float32 bits."""
    from inspectcli.engines.trees._specs import _model_spec

    model, X, _ = models["xgboost", "regression"]
    spec = _model_spec(model, "predict")
    assert spec.raw_dtype is np.float32 and not spec.linear
    [ours] = partial_dependence(model, X, ["x0"], kind="both", grid_resolution=9, engine="tree-paths")
    assert ours.individual.dtype == np.float32
    exact = np.array([model.predict(X.assign(x0=v)).astype(np.float64).mean() for v in ours.grid_values[0]])
    np.testing.assert_array_equal(ours.average[0], exact)
    # the averages alone (the self-check then recomputes a few pairs, in float32 too)
    [alone] = partial_dependence(model, X, ["x0"], grid_resolution=9, engine="tree-paths")
    np.testing.assert_array_equal(alone.average, ours.average)
    # engine="auto" takes the tree paths (faster than XGBoost's own predictions since 52ea5a8)
    [auto] = partial_dependence(model, X, ["x0"], grid_resolution=9)
    assert auto.engine == "tree-paths"
    np.testing.assert_array_equal(auto.average, ours.average)


def test_unsupported_lightgbm_models_go_to_brute_force():
    from inspectcli.engines.trees import supports_tree_paths

    X, y = make_data("lightgbm", "multiclass")
    ova = make_model("lightgbm", "multiclass", objective="multiclassova").fit(X, y)
    assert not supports_tree_paths(ova, "predict_proba")
    linear = make_model("lightgbm", "regression", linear_tree=True).fit(X[["x0", "x2"]], y)
    assert not supports_tree_paths(linear, "predict")
    assert LEVELS  # (the shared levels of tests/gbm_models.py)


# CatBoost: oblivious trees; categorical splits (one-hot, CTR) read through calc_leaf_indexes


def _catboost(task: str, nan_mode: str):
    pytest.importorskip("catboost")
    X, y = make_data("catboost", task)
    X = X.drop(columns="c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("catboost", task, cat_features=None, nan_mode=nan_mode).fit(X, y)
    return model, X, y


def _catboost_borders(model, feature: int) -> np.ndarray:
    from inspectcli.engines.trees._catboost import _export

    doc = _export(model)
    flat = [f["flat_feature_index"] for f in doc["features_info"]["float_features"]]
    found = [
        s["border"]
        for t in doc["oblivious_trees"]
        for s in t["splits"]
        if s["split_type"] == "FloatFeature" and flat[s["float_feature_index"]] == feature
    ]
    return np.unique(np.asarray(found, dtype=np.float32).astype(np.float64))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("nan_mode", ["Min", "Max"])
def test_catboost_equals_the_model_on_hard_rows(task, nan_mode):
    """Raw values bit for bit (regression: the predictions); probabilities to 1e-12 (CatBoost's
    links use its own fast exp)."""
    from sklearn.inspection import partial_dependence as sk_pd

    model, X, _ = _catboost(task, nan_mode)
    x2 = _edges(_catboost_borders(model, 2))
    extra = X.iloc[np.arange(len(x2)) % len(X)].copy()
    extra["x2"] = x2
    nan_rows = X.iloc[:8].copy()
    nan_rows[["x0", "x1", "x2"]] = np.nan
    rows = pd.concat([X, extra, nan_rows], ignore_index=True)
    grid = np.concatenate([_edges(_catboost_borders(model, 0)), [np.nan]])
    [ours] = partial_dependence(
        model, rows, ["x0"], kind="both", custom_values={"x0": grid}, engine="tree-paths"
    )
    assert ours.engine == "tree-paths"
    theirs = sk_pd(model, rows, ["x0"], kind="both", custom_values={"x0": grid})
    if task == "regression":
        np.testing.assert_array_equal(ours.individual, theirs["individual"])
    else:
        assert _rel(ours.individual, theirs["individual"]) <= 1e-12
    assert _rel(ours.average, theirs["average"]) <= 1e-12
    raw = model.predict(rows.assign(x0=grid[0]), prediction_type="RawFormulaVal")
    from inspectcli.engines.trees._specs import _model_spec

    spec = _model_spec(model, "predict" if task == "regression" else "predict_proba")
    assert spec.raw_dtype is np.float64 and spec.linear == (task == "regression")
    if task == "regression":
        np.testing.assert_array_equal(ours.individual[0, :, 0], raw)


@pytest.mark.parametrize("task", TASKS)
def test_catboost_permutation_importance_through_tree_paths(task):
    from sklearn.inspection import permutation_importance as sk_pi

    model, X, y = _catboost(task, "Min")
    scoring = "r2" if task == "regression" else "neg_log_loss"
    ours = permutation_importance(
        model, X, y, scoring=scoring, n_repeats=3, random_state=0, engine="tree-paths"
    )
    assert ours.engine == "tree-paths"
    theirs = sk_pi(model, X, y, scoring=scoring, n_repeats=3, random_state=0)
    order = [list(X.columns).index(f) for f in ours.features]
    if task == "regression":
        np.testing.assert_array_equal(ours.scorers[0].importances, theirs.importances[order])
    else:  # log losses of probabilities equal to 1e-15
        np.testing.assert_allclose(ours.scorers[0].importances, theirs.importances[order], atol=1e-12)


def _catboost_categorical(task: str):
    """x0..x2 (NaN in x1), c (4 levels: CTR splits) and d (3 levels: one-hot splits)."""
    pytest.importorskip("catboost")
    X, y = make_data("catboost", task, n=400)
    X["d"] = np.random.default_rng(3).choice(["u", "v", "w"], size=len(X))
    if task == "regression":
        y = y + 1.5 * (X["d"] == "u")
    else:
        y = np.where(X["d"] == "u", (y + 1) % (y.max() + 1), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model(
            "catboost", task, iterations=12, depth=4, cat_features=["c", "d"], one_hot_max_size=3
        ).fit(X, y)
    return model, X, y


@pytest.mark.parametrize("task", TASKS)
def test_catboost_categorical_equals_the_model(task):
    """One-hot and CTR splits read through CatBoost's own leaf indexes: outputs equal predict
    (raw values bit for bit; probabilities to 1e-12) on NaN rows, split borders and their
    neighbours, and categories the model never saw; PD of a categorical feature and permutation
    importance too."""
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    from inspectcli.engines.trees._catboost import _export

    model, X, y = _catboost_categorical(task)
    kinds = {s["split_type"] for t in _export(model)["oblivious_trees"] for s in t["splits"]}
    assert kinds == {"FloatFeature", "OnlineCtr", "OneHotFeature"}
    x2 = _edges(_catboost_borders(model, 2))
    extra = X.iloc[np.arange(len(x2)) % len(X)].copy()
    extra["x2"] = x2
    odd = X.iloc[:12].copy()
    odd[["x0", "x1", "x2"]] = np.nan
    odd.iloc[:6, 3] = "purple"  # categories never seen in training
    odd.iloc[3:9, 4] = "zz"
    rows = pd.concat([X, extra, odd], ignore_index=True)
    exact = np.testing.assert_array_equal if task == "regression" else _close
    for feature, grid in (
        ("x0", np.concatenate([_edges(_catboost_borders(model, 0)), [np.nan]])),
        ("c", np.array([*LEVELS, "purple"], dtype=object)),
        ("d", np.array(["u", "v", "w", "zz"], dtype=object)),
    ):
        [ours] = partial_dependence(
            model, rows, [feature], kind="both", custom_values={feature: grid}, engine="tree-paths"
        )
        assert ours.engine == "tree-paths"
        theirs = sk_pd(model, rows, [feature], kind="both", custom_values={feature: grid})
        exact(ours.individual, theirs["individual"])
        assert _rel(ours.average, theirs["average"]) <= 1e-12
    scoring = "r2" if task == "regression" else "neg_log_loss"
    ours = permutation_importance(
        model, rows.iloc[: len(X)], y, scoring=scoring, n_repeats=3, random_state=0, engine="tree-paths"
    )
    assert ours.engine == "tree-paths"
    theirs = sk_pi(model, rows.iloc[: len(X)], y, scoring=scoring, n_repeats=3, random_state=0)
    order = [list(X.columns).index(f) for f in ours.features]
    if task == "regression":
        np.testing.assert_array_equal(ours.scorers[0].importances, theirs.importances[order])
    else:
        np.testing.assert_allclose(ours.scorers[0].importances, theirs.importances[order], atol=1e-12)


def _close(a, b):
    assert _rel(a, b) <= 1e-12


def test_catboost_ctr_of_a_combination_is_predicted(monkeypatch):
    """A CTR of several features (CatBoost builds them on larger models): its bit moves with more
    than one column, which the engine cannot follow; the model is predicted."""
    from inspectcli.engines.trees import _catboost, supports_tree_paths
    from inspectcli.engines.trees._plan import forget_kept

    model, X, _ = _catboost_categorical("regression")
    assert supports_tree_paths(model, "predict")
    real = _catboost._export

    def combined(est):
        doc = real(est)
        for ctr in doc["features_info"]["ctrs"]:
            ctr["elements"].append({"combination_element": "cat_feature_value", "cat_feature_index": 1})
        return doc

    monkeypatch.setattr(_catboost, "_export", combined)
    forget_kept()  # the spec read above is kept for this estimator
    assert not supports_tree_paths(model, "predict")
    [ours] = partial_dependence(model, X, ["x0"], grid_resolution=40)
    assert ours.engine == "batched"


def test_catboost_scale_and_bias():
    """RawFormulaVal = scale * (sum of the trees from zero) + bias, in that order."""
    model, X, _ = _catboost("regression", "Min")
    model.set_scale_and_bias(2.7, [0.3])
    [ours] = partial_dependence(model, X, ["x1"], kind="individual", grid_resolution=6, engine="tree-paths")
    for j, v in enumerate(ours.grid_values[0]):
        np.testing.assert_array_equal(ours.individual[0, :, j], model.predict(X.assign(x1=v)))


@pytest.mark.parametrize("lib", ["lightgbm", "xgboost"])
def test_parsed_models_are_reused_until_the_model_changes(lib):
    """The parse of a model dump is kept by the digest of the dump: a refitted model is new."""
    from inspectcli.engines.trees._specs import _model_spec

    model, X, y = fit(lib, "regression")
    first = _model_spec(model, "predict").trees
    assert _model_spec(model, "predict").trees is first
    model.fit(X, -y)
    assert _model_spec(model, "predict").trees is not first
    [ours] = partial_dependence(model, X, ["x0"], kind="individual", grid_resolution=4, engine="tree-paths")
    np.testing.assert_array_equal(
        ours.individual[0, :, 0], model.predict(X.assign(x0=ours.grid_values[0][0]))
    )


def test_catboost_small_grids_are_predicted_under_auto():
    """CatBoost evaluates its oblivious trees faster than the numpy walks: auto predicts PDs on
    grids of fewer than 32 points, takes the tree paths on larger ones."""
    model, X, _ = _catboost("regression", "Min")
    [auto] = partial_dependence(model, X, ["x0"], grid_resolution=5)
    [paths] = partial_dependence(model, X, ["x0"], grid_resolution=5, engine="tree-paths")
    assert (auto.engine, paths.engine) == ("batched", "tree-paths")
    assert _rel(paths.average, auto.average) <= 1e-12
    [large] = partial_dependence(model, X, ["x0"], grid_resolution=40)
    assert large.engine == "tree-paths"
