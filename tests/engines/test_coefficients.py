"""Linear-model coefficients: scikit-learn's example "Common pitfalls in the interpretation of
coefficients of linear models" as the oracle (coef_, std of the transformed data, cross_validate on
RepeatedKFold), the CLI on cancer_logreg, and the figure's structure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_wine
from sklearn.linear_model import LassoCV, LogisticRegression, Ridge
from sklearn.model_selection import RepeatedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inspectcli.engines.coefficients import coefficients
from inspectcli.engines.execution import Execution
from inspectcli.engines.linear import column_std, linear_parts
from inspectcli.errors import UsageError
from inspectcli.loading.model import load_model


@pytest.fixture(scope="module")
def cancer(samples):
    model = load_model(samples / "cancer_logreg.joblib").estimator
    df = pd.read_csv(samples / "cancer.csv")
    return model, df.drop(columns="target"), df["target"]


def test_cancer_coefficients_and_std_as_the_example_computes_them(cancer):
    model, X, _ = cancer
    res = coefficients(model, X)
    assert res.estimator == "LogisticRegression" and res.targets == (1,) and res.is_classifier
    assert res.features == list(model[:-1].get_feature_names_out())
    np.testing.assert_array_equal(res.coef[0], model[-1].coef_[0])
    assert res.intercept[0] == model[-1].intercept_[0]
    # the example: X transformed by pipeline[:-1], pandas .std() (ddof=1)
    std = pd.DataFrame(model[:-1].transform(X), columns=res.features).std(axis=0)
    np.testing.assert_allclose(res.feature_std, std.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.scaled[0], model[-1].coef_[0] * std.to_numpy(), rtol=1e-12)
    assert res.sources == [[f] for f in X.columns] and not any(res.one_hot)
    assert res.standardized and any("standardized" in n for n in res.notes)
    assert any("log-odds" in n for n in res.notes)
    neg = coefficients(model, X, classes=["0"])
    assert neg.targets == (0,)
    np.testing.assert_array_equal(neg.coef, -res.coef)
    assert neg.intercept[0] == -res.intercept[0]


def test_cv_refits_are_cross_validate_on_repeated_kfold(cancer):
    model, X, y = cancer
    res = coefficients(model, X, y, cv=3, n_repeats=2, random_state=1)
    cvr = res.cv
    assert cvr is not None and cvr.n_fits == 6 and cvr.coef.shape == (6, 1, 30)
    splitter = RepeatedKFold(n_splits=3, n_repeats=2, random_state=1)
    ref = cross_validate(model, X, y, cv=splitter, return_estimator=True)
    for f, (est, (train, _)) in enumerate(zip(ref["estimator"], splitter.split(X, y))):
        np.testing.assert_allclose(cvr.coef[f, 0], est[-1].coef_[0], rtol=1e-10)
        # the example's variability plot: coef × std of that fold's transformed training rows
        std = pd.DataFrame(est[:-1].transform(X.iloc[train])).std(axis=0).to_numpy()
        np.testing.assert_allclose(cvr.scaled[f, 0], est[-1].coef_[0] * std, rtol=1e-10)
    c = cvr.coef[:, 0, :]
    np.testing.assert_array_equal(cvr.sign_flips[0], (c.min(axis=0) < 0) & (c.max(axis=0) > 0))
    s = cvr.scaled[:, 0, :]
    np.testing.assert_array_equal(cvr.unstable[0], s.std(axis=0) > np.abs(s.mean(axis=0)))
    # same seed, same numbers, whatever the workers
    again = coefficients(
        model,
        X,
        y,
        cv=3,
        n_repeats=2,
        random_state=1,
        execution=Execution(n_jobs=2, backend="threading"),
    )
    np.testing.assert_array_equal(again.cv.coef, cvr.coef)


def test_correlated_features_are_flagged():
    """y depends on a; a_copy is a with a little noise: the refits share a's weight between them
    differently, so both coefficients change sign, while b's stays put."""
    rng = np.random.default_rng(1)
    n = 200
    a = rng.normal(size=n)
    X = pd.DataFrame({"a": a, "a_copy": a + rng.normal(0, 0.05, n), "b": rng.normal(size=n)})
    y = X["a"] + 2 * X["b"] + rng.normal(0, 0.5, n)
    model = Ridge(alpha=1e-6).fit(X, y)
    res = coefficients(model, X, y, cv=5, n_repeats=3)
    assert list(res.cv.sign_flips[0]) == [True, True, False]
    assert not res.cv.unstable[0, 2]
    assert any("do not read these coefficients one by one" in n for n in res.notes)


def make_bikes_like(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "season": rng.choice(["winter", "spring", "summer", "fall"], n),
            "temp": rng.normal(15, 8, n),
            "wind": rng.gamma(2.0, 6.0, n),
        }
    )
    y = np.exp(
        2 + 0.05 * X["temp"] - 0.02 * X["wind"] + 0.3 * (X["season"] == "summer") + rng.normal(0, 0.1, n)
    )
    return X, y


def test_one_hot_pipeline_with_transformed_target():
    X, y = make_bikes_like()
    pre = ColumnTransformer(
        [("oh", OneHotEncoder(), ["season"]), ("num", StandardScaler(), ["temp", "wind"])]
    )
    model = make_pipeline(
        pre, TransformedTargetRegressor(regressor=Ridge(alpha=1.0), func=np.log, inverse_func=np.exp)
    ).fit(X, y)
    res = coefficients(model, X)
    assert res.estimator == "Ridge" and res.target_transform == "numpy.log" and res.targets == (None,)
    assert res.features == list(model[:-1].get_feature_names_out())
    inner = model[-1].regressor_
    np.testing.assert_array_equal(res.coef[0], inner.coef_)
    Z = model[:-1].transform(X)
    np.testing.assert_allclose(res.feature_std, pd.DataFrame(Z).std(axis=0).to_numpy(), rtol=1e-12)
    assert [res.source(j) for j in range(len(res.features))] == ["season"] * 4 + ["temp", "wind"]
    assert res.one_hot == [True] * 4 + [False, False]
    assert any("transformed target" in n for n in res.notes)
    assert any("one-hot" in n for n in res.notes)
    # TransformedTargetRegressor around a pipeline works the same
    wrapped = TransformedTargetRegressor(
        regressor=make_pipeline(pre, Ridge(alpha=1.0)), func=np.log, inverse_func=np.exp
    ).fit(X, y)
    res2 = coefficients(wrapped, X, y, cv=2, n_repeats=1)
    np.testing.assert_allclose(res2.coef, res.coef, rtol=1e-10)
    assert res2.cv.n_fits == 2 and res2.target_transform == "numpy.log"


def test_sample_weight_std_and_refits():
    X, y = make_bikes_like(200)
    Xn = X[["temp", "wind"]]
    model = Ridge().fit(Xn, np.log(y))
    w = np.ones(len(X))
    res = coefficients(model, Xn, np.log(y), sample_weight=w, cv=2, n_repeats=1)
    plain = coefficients(model, Xn, np.log(y), cv=2, n_repeats=1)
    np.testing.assert_allclose(res.feature_std, plain.feature_std, rtol=1e-12)
    np.testing.assert_allclose(res.cv.coef, plain.cv.coef, rtol=1e-10)
    w2 = np.random.default_rng(1).uniform(0.5, 2, len(X))
    Z = Xn.to_numpy()
    m = (w2 @ Z) / w2.sum()
    var = (w2 @ (Z - m) ** 2) / (w2.sum() - (w2 @ w2) / w2.sum())
    np.testing.assert_allclose(column_std(Z, w2), np.sqrt(var), rtol=1e-12)
    pipe = make_pipeline(StandardScaler(), Ridge()).fit(Xn, np.log(y))
    wres = coefficients(pipe, Xn, np.log(y), sample_weight=w2, cv=2, n_repeats=1)
    assert np.isfinite(wres.cv.coef).all()


def test_multiclass_one_row_per_class_and_array_input():
    data = load_wine()
    X = data.data[:, :4]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, data.target)
    res = coefficients(model, X)
    assert res.targets == (0, 1, 2) and res.coef.shape == (3, 4)
    assert res.features == ["x0", "x1", "x2", "x3"]
    np.testing.assert_array_equal(res.coef, model[-1].coef_)
    only = coefficients(model, X, classes=["2"])
    np.testing.assert_array_equal(only.coef[0], model[-1].coef_[2])
    lasso = LassoCV(cv=3).fit(X, data.target.astype(float))
    res = coefficients(lasso, X, data.target.astype(float), cv=2, n_repeats=1)
    assert res.targets == (None,) and res.cv.coef.shape == (2, 1, 4)


def test_no_coefficients_is_a_usage_error(samples):
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    with pytest.raises(UsageError) as info:
        linear_parts(model)
    assert "no coefficients" in str(info.value) and "inspect importance" in str(info.value)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="classifiers"):
        coefficients(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), np.array([[0.0], [1.0]]), classes=["1"])


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_cancer_files_json_csv_table(cli, samples, tmp_path, cancer):
    out = tmp_path / "out"
    r = cli(
        "coefficients",
        samples / "cancer_logreg.joblib",
        samples / "cancer.csv",
        "--target",
        "target",
        "--cv",
        "3",
        "--n-repeats",
        "2",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "coefficients.csv",
        "coefficients.json",
        "coefficients.png",
    ]
    doc = json.loads((out / "coefficients.json").read_text())
    assert doc["kind"] == "coefficients" and doc["parameters"]["cv"] == 3 and doc["parameters"]["n_fits"] == 6
    [entry] = doc["results"]
    assert list(entry) == ["target", "coefficients", "intercept"] and entry["target"] == 1
    first = entry["coefficients"][0]
    assert list(first)[:7] == [
        "feature",
        "source",
        "sources",
        "one_hot",
        "coefficient",
        "feature_std",
        "scaled_coefficient",
    ]
    assert (
        len(first["cv"]) == 6
        and isinstance(first["sign_flips"], bool)
        and isinstance(first["unstable"], bool)
    )
    model, X, y = cancer
    np.testing.assert_array_equal([c["coefficient"] for c in entry["coefficients"]], model[-1].coef_[0])
    assert entry["intercept"] == model[-1].intercept_[0]
    ref = coefficients(model, X, y, cv=3, n_repeats=2, random_state=0)
    np.testing.assert_array_equal([c["cv"] for c in entry["coefficients"]], ref.cv.coef[:, 0, :].T)
    assert isinstance(doc["notes"], list) and doc["notes"]
    csv = pd.read_csv(out / "coefficients.csv")
    assert list(csv.columns) == [
        "target",
        "feature",
        "source",
        "one_hot",
        "fold",
        "coefficient",
        "feature_std",
        "scaled_coefficient",
    ]
    assert len(csv) == 30 * (1 + 6)
    assert "coefficients — LogisticRegression, class 1" in r.stdout and "texture" in r.stdout
    assert "note:" in r.stderr


def test_cli_json_stdout_and_top(cli, samples, tmp_path):
    r = cli(
        "coefficients",
        samples / "cancer_logreg.joblib",
        samples / "cancer.csv",
        "--json",
        "--top",
        "5",
        "--format",
        "none",
        "--no-plot",
        "--out",
        tmp_path / "out",
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["results"][0]["coefficients"]) == 30  # --top trims the table, not the JSON
    assert "cv" not in doc["results"][0]["coefficients"][0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("model", "data", "args", "message"),
    [
        ("diabetes_hgb.joblib", "diabetes.parquet", ["--target", "target"], "no coefficients"),
        ("cancer_logreg.joblib", "cancer.csv", ["--target", "target", "--cv", "1"], "--cv"),
        ("cancer_logreg.joblib", "cancer.csv", ["--target", "target", "--class", "7"], "not a class"),
    ],
)
def test_cli_usage_errors(cli, samples, tmp_path, model, data, args, message):
    out = tmp_path / "out"
    r = cli("coefficients", samples / model, samples / data, *args, "--out", out)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: ") and message in r.stderr
    assert not out.exists()
    if message == "no coefficients":
        assert "inspect pdp" in r.stderr and "inspect importance" in r.stderr


# ---------------------------------------------------------------------------------------------
# figure


def test_plot_structure():
    from inspectcli.plots.coefficients import FLAG_COLOR, plot_coefficients

    rng = np.random.default_rng(1)
    n = 200
    a = rng.normal(size=n)
    X = pd.DataFrame({"a": a, "a_copy": a + rng.normal(0, 0.05, n), "b": rng.normal(size=n) * 10})
    y = X["a"] + 0.2 * X["b"] + rng.normal(0, 0.5, n)
    res = coefficients(Ridge(alpha=1e-6).fit(X, y), X, y, cv=4, n_repeats=2)
    display = plot_coefficients(res, title="t")
    assert len(display.axes_) == 2
    bars = display.bars_[0]
    order = display.order_[0]  # top to bottom
    assert order[0] == "b"  # the largest |coef × std|, though its raw coefficient is small
    heights = {label: bar.get_width() for label, bar in zip(order[::-1], bars)}
    for j, f in enumerate(res.features):
        assert heights[f] == pytest.approx(res.scaled[0, j])
    bp = display.boxplots_[1]
    assert len(bp["boxes"]) == 3
    labels = {t.get_text(): t.get_color() for t in display.axes_[0].get_yticklabels()}
    assert set(labels) == {"a", "a_copy", "b"}
    assert labels["b"] != FLAG_COLOR and set(display.flagged_[0]) == {"a", "a_copy"}
    assert all(labels[f] == FLAG_COLOR for f in display.flagged_[0])
    assert "coefficient × feature std" in display.axes_[0].get_xlabel()
    no_cv = plot_coefficients(coefficients(Ridge().fit(X, y), X))
    assert len(no_cv.axes_) == 1 and not no_cv.boxplots_


def test_cv_refits_of_array_input_with_feature_names():
    """Named ndarray columns: the refits' coefficients land under the same names (not NaN)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=60)
    model = Ridge().fit(X, y)
    plain = coefficients(model, X, y, cv=3, n_repeats=1)
    named = coefficients(model, X, y, cv=3, n_repeats=1, feature_names=["a", "b", "c"])
    assert named.features == ["a", "b", "c"]
    assert not np.isnan(named.cv.coef).any()
    np.testing.assert_array_equal(named.cv.coef, plain.cv.coef)
