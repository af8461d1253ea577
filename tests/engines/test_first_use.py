"""Engine defaults a first user meets: PD method, kind aliases, level order, scorer checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.inspection import partial_dependence as sk_pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import LinearSVC

from inspectcli.engines.partial_dependence import normalize_kind, partial_dependence, recursion_note
from inspectcli.engines.permutation import check_scorer_names, check_scorers_fit, scorer_change_label
from inspectcli.errors import UsageError


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


def test_default_is_brute_on_the_output_scale(diabetes):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    [auto] = partial_dependence(model, X, ["bmi"], grid_resolution=10)
    ref = sk_pd(model, X, ["bmi"], method="brute", grid_resolution=10)
    assert (auto.method, auto.engine) == ("brute", "tree-paths")
    np.testing.assert_allclose(auto.average, ref["average"], rtol=1e-10)
    # recursion, when asked, is scikit-learn's recursion: it leaves out the baseline (~152)
    [rec] = partial_dependence(model, X, ["bmi"], grid_resolution=10, method="recursion")
    ref_rec = sk_pd(model, X, ["bmi"], method="recursion", grid_resolution=10)
    np.testing.assert_allclose(rec.average, ref_rec["average"], rtol=1e-10)
    assert abs(np.mean(auto.average - rec.average) - y.mean()) < 10
    assert "omit the baseline (initial prediction (152.1))" in recursion_note(model)
    assert "GradientBoostingRegressor" in recursion_note(GradientBoostingRegressor(n_estimators=3).fit(X, y))
    assert recursion_note(RandomForestRegressor(n_estimators=2).fit(X, y)) is None


def test_kind_aliases():
    assert normalize_kind("ice") == "individual" and normalize_kind("PD") == "average"
    assert normalize_kind("both") == "both"
    with pytest.raises(UsageError, match="ice is another name for individual"):
        normalize_kind("lines")


@pytest.fixture(scope="module")
def days():
    rng = np.random.RandomState(0)
    week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    X = pd.DataFrame({"day": rng.choice(week, 300), "x": rng.normal(size=300)})
    y = X["x"] + X["day"].isin(["sat", "sun"]) * 2.0
    enc = ColumnTransformer([("oh", OneHotEncoder(categories=[week]), ["day"])], remainder="passthrough")
    model = make_pipeline(enc, Ridge()).fit(X, y)
    return model, X, week


def test_level_order_model_given_and_ordered_categorical(days):
    model, X, week = days
    [r] = partial_dependence(model, X, ["day"])
    assert r.grid_values[0].tolist() == week and r.level_order == {"day": "model"}
    ref = sk_pd(model, X, ["day"], categorical_features=["day"])  # sorted levels
    by_level = dict(zip(ref["grid_values"][0], ref["average"][0]))
    np.testing.assert_allclose(r.average[0], [by_level[d] for d in week], rtol=1e-12)
    given = ["sun", "sat", "fri", "thu", "wed", "tue", "mon"]
    [g] = partial_dependence(model, X, ["day"], orders={"day": given})
    assert g.grid_values[0].tolist() == given and g.level_order == {"day": "given"}
    with pytest.raises(UsageError, match="must list every level of 'day' once"):
        partial_dependence(model, X, ["day"], orders={"day": ["mon", "tue"]})
    with pytest.raises(UsageError, match="'moon' is not a level"):
        partial_dependence(model, X, ["day"], orders={"day": ["moon"]})
    plain = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["day"])], remainder="passthrough"), Ridge()
    ).fit(X, X["x"])
    Xc = X.assign(day=pd.Categorical(X["day"], categories=week[::-1], ordered=True))
    [c] = partial_dependence(plain, Xc, ["day"])
    assert c.grid_values[0].tolist() == week[::-1] and c.level_order == {"day": "categories"}


def test_scorer_names_and_task_checks(diabetes):
    for typed, meant in [("rmse", "neg_root_mean_squared_error"), ("mae", "neg_mean_absolute_error")]:
        with pytest.raises(UsageError, match=f"unknown scorer '{typed}' \\(did you mean '{meant}'\\?\\)"):
            check_scorer_names([typed])
    with pytest.raises(UsageError, match="did you mean 'neg_log_loss'"):
        check_scorer_names(["log_loss"])
    X, y = diabetes
    labels = np.digitize(y, np.percentile(y, [33, 66]))
    multi = LogisticRegression(max_iter=300).fit(X, labels)
    with pytest.raises(UsageError, match="roc_auc applies to two classes; this target has 3") as err:
        check_scorers_fit(multi, ["roc_auc"])
    assert "roc_auc_ovr" in err.value.hint
    with pytest.raises(UsageError, match="f1_macro"):
        check_scorers_fit(multi, ["f1"])
    svc = LinearSVC().fit(X, labels > 0)
    with pytest.raises(UsageError, match="neg_log_loss needs predict_proba, which LinearSVC does not have"):
        check_scorers_fit(svc, ["neg_log_loss"])
    check_scorers_fit(svc, ["roc_auc", "accuracy"])  # decision_function is enough for roc_auc
    with pytest.raises(UsageError, match="is a regression scorer"):
        check_scorers_fit(svc, ["r2"])
    assert scorer_change_label("neg_root_mean_squared_error") == "increase in RMSE"
    assert scorer_change_label("r2") == "decrease in R²"
    assert scorer_change_label("neg_log_loss") == "increase in log loss"
