"""LightGBM / XGBoost / CatBoost models through the real CLI: numbers, categoricals and labels."""

from __future__ import annotations

import json
import warnings

import joblib
import numpy as np
import pytest

from tests.gbm_models import LEVELS, LIBS, fit, make_data, make_model

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytest.importorskip("catboost")

LABELS = {
    "lightgbm": ("split count", "LightGBM split count (training data)"),
    "xgboost": ("gain", "XGBoost gain (training data, normalised to sum 1)"),
    "catboost": ("PredictionValuesChange", "CatBoost PredictionValuesChange (training data)"),
}


@pytest.fixture(scope="module", params=LIBS)
def files(request, tmp_path_factory):
    lib = request.param
    root = tmp_path_factory.mktemp(lib)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, X, y = fit(lib, "multiclass" if lib == "catboost" else "regression")
    joblib.dump(model, root / "m.joblib")
    X.assign(y=y).to_parquet(root / "d.parquet")
    return lib, root, model, X, y


def test_pdp_equals_sklearn(files, cli, tmp_path):
    from sklearn.inspection import partial_dependence as sk_pd

    lib, root, model, X, _ = files
    run = cli(
        "pdp",
        root / "m.joblib",
        root / "d.parquet",
        "--target",
        "y",
        "-f",
        "x0",
        "-f",
        "c",
        "--grid-resolution",
        "7",
        "--no-plot",
        "--json",
        "--out",
        tmp_path / "o",
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert ("average_note" in doc["parameters"]) == (lib == "xgboost")
    for entry in doc["results"]:
        [feature] = entry["features"]
        grid = entry["grid"][0]
        theirs = sk_pd(
            model,
            X,
            [feature],
            kind="average",
            method="brute",
            custom_values={feature: grid},
            categorical_features=["c"] if feature == "c" else None,
        )["average"]
        k = 0 if entry["target"] is None else list(model.classes_).index(entry["target"])
        tol = 1e-5 if lib == "xgboost" else 1e-10  # float32 rule, see tests/engines/test_gbm_oracle.py
        np.testing.assert_allclose(entry["average"], theirs[k], rtol=tol, atol=0)
        assert entry["categorical"] == [feature == "c"]


def test_importance_and_labels(files, cli, tmp_path):
    from sklearn.inspection import permutation_importance as sk_pi

    lib, root, model, X, y = files
    run = cli(
        "importance",
        root / "m.joblib",
        root / "d.parquet",
        "--target",
        "y",
        "--n-repeats",
        "3",
        "--random-state",
        "0",
        "--out",
        tmp_path / "o",
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads((tmp_path / "o" / "importance.json").read_text())
    theirs = sk_pi(model, X, y, n_repeats=3, random_state=0)
    for row in doc["results"][0]["features"]:
        i = list(X.columns).index(row["feature"])
        assert row["importances"] == theirs.importances[i].tolist()
    label, title = LABELS[lib]
    assert doc["impurity"]["kind"] == label
    assert label in run.stdout and "MDI" not in run.stdout
    assert (tmp_path / "o" / "importance.png").exists()

    from inspectcli import permutation_importance
    from inspectcli.engines.impurity import impurity_importance
    from inspectcli.plots.importance import plot_importance

    impurity = impurity_importance(model, X, list(X.columns))
    assert impurity.title == title
    display = plot_importance(permutation_importance(model, X, y, n_repeats=2), impurity=impurity)
    assert display.axes_[-1].get_title() == title
    assert display.axes_[-1].get_xlabel() == label


def test_ale_with_a_categorical_feature(files, cli, tmp_path):
    from tests.gbm_models import ale_by_definition

    _, root, model, X, _ = files
    run = cli(
        "ale",
        root / "m.joblib",
        root / "d.parquet",
        "--target",
        "y",
        "-f",
        "x1",
        "-f",
        "c",
        "--no-plot",
        "--json",
        "--out",
        tmp_path / "o",
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    first = doc["results"][0]["target"]  # one entry per class of a classifier
    [cat] = [r for r in doc["results"] if r["features"] == ["c"] and r["target"] == first]
    assert cat["categorical"] == [True]
    assert sorted(cat["grid"][0]) == sorted(LEVELS)
    assert sum(cat["counts"]) == 240 and all(np.isfinite(cat["ale"]))
    [num] = [r for r in doc["results"] if r["features"] == ["x1"] and r["target"] == first]
    assert num["n_missing"] == 22  # NaN rows of x1 are left out of ALE, and counted
    # every numeric curve equals ALE's definition computed from the model's own predictions
    expected, counts = ale_by_definition(model, X, "x1", np.asarray(num["grid"][0]))
    classes = list(getattr(model, "classes_", []))
    for r in doc["results"]:
        if r["features"] == ["x1"]:
            k = 0 if r["target"] is None or expected.shape[0] == 1 else classes.index(r["target"])
            assert r["counts"] == counts.tolist()
            np.testing.assert_allclose(r["ale"], expected[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pipeline", [False, True], ids=["bare", "pipeline"])
@pytest.mark.parametrize("lib", ["lightgbm", "xgboost"])
def test_text_columns_read_as_the_model_categories(lib, pipeline, cli, tmp_path):
    """CSV has no category dtype: text columns become the categories the model splits on, also
    when a pipeline passes them through to it by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, X, y = fit(lib, "regression")
        if pipeline:
            from tests.gbm_models import make_pipeline

            model = make_pipeline(lib, "regression").fit(X, y)
    joblib.dump(model, tmp_path / "m.joblib")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    X.assign(c=X["c"].astype(str), y=y).to_csv(tmp_path / "d.csv", index=False)
    docs = []
    for data in ("d.parquet", "d.csv"):
        run = cli(
            "pdp",
            tmp_path / "m.joblib",
            tmp_path / data,
            "--target",
            "y",
            "-f",
            "c",
            "-f",
            "x0",
            "--no-plot",
            "--json",
            "--out",
            tmp_path / data.replace(".", "-"),
        )
        assert run.exit_code == 0, run.stderr
        docs.append(json.loads(run.stdout)["results"])
    assert "as categories" in run.stderr
    assert [r["average"] for r in docs[0]] == [r["average"] for r in docs[1]]


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_xgboost_classifier_pdp_and_importance(task, cli, tmp_path):
    """XGBoost classifiers through the CLI (tree paths under auto): each PD is the float64 mean of
    the model's own float32 probabilities, exactly; importances equal scikit-learn's bit for bit."""
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, X, y = fit("xgboost", task)
    joblib.dump(model, tmp_path / "m.joblib")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    common = (tmp_path / "m.joblib", tmp_path / "d.parquet", "--target", "y")
    run = cli(
        "pdp", *common, "-f", "x1", "--grid-resolution", "6", "--no-plot", "--json", "--out", tmp_path / "p"
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert "average_note" in doc["parameters"]
    for entry in doc["results"]:
        assert entry["engine"] == "tree-paths"
        grid = entry["grid"][0]
        k = 1 if entry["target"] is None else list(model.classes_).index(entry["target"])
        exact = [np.mean(model.predict_proba(X.assign(x1=v))[:, k].astype(np.float64)) for v in grid]
        assert entry["average"] == exact
        theirs = sk_pd(model, X, ["x1"], method="brute", custom_values={"x1": grid})["average"]
        np.testing.assert_allclose(entry["average"], theirs[0 if theirs.shape[0] == 1 else k], rtol=1e-5)
    run = cli(
        "importance", *common, "-s", "neg_log_loss", "-r", "3", "--random-state", "0", "--out", tmp_path / "i"
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads((tmp_path / "i" / "importance.json").read_text())
    theirs = sk_pi(model, X, y, scoring="neg_log_loss", n_repeats=3, random_state=0)
    for row in doc["results"][0]["features"]:
        assert row["importances"] == theirs.importances[list(X.columns).index(row["feature"])].tolist()


@pytest.mark.parametrize(
    ("lib", "params", "label"),
    [
        ("lightgbm", {"importance_type": "gain"}, "total gain"),
        ("xgboost", {"importance_type": "weight"}, "weight (split count)"),
        ("xgboost", {"importance_type": "cover"}, "cover"),
        ("xgboost", {"importance_type": "total_gain"}, "total_gain"),
        ("xgboost", {"booster": "gblinear"}, "coefficient"),
    ],
)
def test_builtin_importance_named_for_its_type(lib, params, label, tmp_path):
    """Each importance_type is named for what it is (a linear booster's are its coefficients), also
    when the model comes back from the library's own file."""
    from inspectcli.engines.impurity import impurity_importance
    from inspectcli.loading.model import load_model
    from tests.gbm_models import save_native

    X, y = make_data(lib, "regression")
    if params.get("booster") == "gblinear":
        X, params = X.drop(columns="c"), {**params, "enable_categorical": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model(lib, "regression", **params).fit(X, y)
    name = "m.txt" if lib == "lightgbm" else "m.json"
    save_native(model, lib, str(tmp_path / name))
    found = impurity_importance(model, X, list(X.columns))
    assert found.kind == label
    assert list(found.values.values()) == np.asarray(model.feature_importances_, dtype=float).tolist()
    # the library's own file keeps the trees, not importance_type: the label follows the values
    types = {"split count": "split", "total gain": "gain", "weight (split count)": "weight"}
    loaded = impurity_importance(load_model(tmp_path / name).estimator, X, list(X.columns))
    if label == "coefficient":  # gblinear, read from the model's configuration
        assert loaded.kind == "coefficient"
    else:
        model.set_params(importance_type=types.get(loaded.kind, loaded.kind))
    assert list(loaded.values.values()) == np.asarray(model.feature_importances_, dtype=float).tolist()


def test_lightgbm_categorical_codes(cli, tmp_path):
    """LightGBM fitted on integer codes with categorical_feature: the codes are given as they are
    (made categories, LightGBM refused them: 'categorical_feature do not match')."""
    X, y = make_data("lightgbm", "regression")
    X["c"] = X["c"].cat.codes.astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("lightgbm", "regression").fit(X, y, categorical_feature=["c"])
    joblib.dump(model, tmp_path / "m.joblib")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    common = (tmp_path / "m.joblib", tmp_path / "d.parquet", "--target", "y")
    run = cli("info", *common, "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["model"]["features"][3] == {"name": "c", "kind": "categorical"}
    run = cli("pdp", *common, "-f", "c", "--no-plot", "--json", "--out", tmp_path / "o")
    assert run.exit_code == 0, run.stderr
    [entry] = json.loads(run.stdout)["results"]
    assert entry["grid"][0] == [0, 1, 2, 3]
    expected = [float(np.mean(model.predict(X.assign(c=v)))) for v in entry["grid"][0]]
    np.testing.assert_allclose(entry["average"], expected, rtol=1e-12, atol=0)
