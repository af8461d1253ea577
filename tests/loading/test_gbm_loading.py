"""Loading LightGBM / XGBoost / CatBoost models: joblib, native files, MLflow folders, bad input."""

from __future__ import annotations

import json
import re
import sys
import warnings

import joblib
import numpy as np
import pytest

from inspectcli.errors import ModelLoadError
from inspectcli.introspect import categorical_inputs, expected_features, n_features_in, task_of
from inspectcli.loading.model import load_model
from tests.gbm_models import LEVELS, LIBS, TASKS, fit, make_data, make_model, save_native

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")
pytest.importorskip("catboost")

NATIVE = {"lightgbm": ["model.txt"], "xgboost": ["model.json", "model.ubj"], "catboost": ["model.cbm"]}


@pytest.fixture(scope="module")
def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(lib, task): fit(lib, task) for lib in LIBS for task in TASKS}


def _outputs(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("task", TASKS)
def test_joblib_and_native_files(models, tmp_path, lib, task):
    model, X, _ = models[lib, task]
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = load_model(tmp_path / "m.joblib")
    assert loaded.library == lib
    est = loaded.estimator
    assert expected_features(est) == ["x0", "x1", "x2", "c"]
    assert n_features_in(est) == 4  # CatBoost says 0 once unpickled
    assert categorical_inputs(est) == {"c"}
    assert task_of(est).kind == task
    for name in NATIVE[lib]:
        save_native(model, lib, str(tmp_path / name))
        native = load_model(tmp_path / name)
        assert native.library == lib and native.sklearn_version_saved is None
        assert native.format.startswith(lib)
        assert type(native.estimator).__name__ == type(model).__name__
        assert expected_features(native.estimator) == ["x0", "x1", "x2", "c"]
        assert categorical_inputs(native.estimator) == {"c"}
        assert task_of(native.estimator).kind == task
        np.testing.assert_array_equal(_outputs(native.estimator, X), _outputs(model, X))
        if task != "regression":
            # CatBoost and the scikit-learn attribute of XGBoost keep the labels; LightGBM its indices
            assert list(native.estimator.classes_) == list(model.classes_)
        if lib != "lightgbm":
            assert native.library_version_saved == __import__(lib).__version__


def test_native_files_need_no_pickle_trust(models, tmp_path):
    model, X, _ = models["lightgbm", "binary"]
    save_native(model, "lightgbm", str(tmp_path / "m.txt"))
    loaded = load_model(tmp_path / "m.txt", allow_pickle=False)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), model.predict_proba(X))


def test_unnamed_columns(tmp_path):
    import catboost as cb
    import lightgbm as lgb

    X, y = make_data("catboost", "regression")
    Xn = X[["x0", "x1", "x2"]].to_numpy()
    for model, name in (
        (cb.CatBoostRegressor(iterations=3, verbose=0, allow_writing_files=False).fit(Xn, y), "cb.cbm"),
        (lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(Xn, y), "lgb.txt"),
    ):
        save_native(model, type(model).__module__.split(".")[0], str(tmp_path / name))
        for path in (tmp_path / name, tmp_path / "m.joblib"):
            joblib.dump(model, tmp_path / "m.joblib")
            est = load_model(path).estimator
            assert expected_features(est) is None
            assert n_features_in(est) == 3


def test_info_through_the_cli(models, tmp_path, cli):
    model, X, y = models["catboost", "multiclass"]
    joblib.dump(model, tmp_path / "cb.joblib")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    run = cli("info", tmp_path / "cb.joblib", tmp_path / "d.parquet", "--target", "y", "--json")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    m = doc["model"]
    assert m["library"] == {
        "name": "catboost",
        "version": __import__("catboost").__version__,
        "saved_version": __import__("catboost").__version__,
    }
    assert [f["kind"] for f in m["features"]] == ["numeric"] * 3 + ["categorical"]
    assert m["builtin_importance"] == "CatBoost PredictionValuesChange (training data)"
    assert doc["data"]["prediction"]["ok"]
    # the example: CatBoost PD through the CLI
    run = cli(
        "pdp",
        tmp_path / "cb.joblib",
        tmp_path / "d.parquet",
        "--target",
        "y",
        "-f",
        "x0",
        "--no-plot",
        "--out",
        tmp_path / "out",
    )
    assert run.exit_code == 0, run.stderr


def test_pipeline_ending_in_a_gbm(tmp_path, cli):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from tests.gbm_models import make_model

    X, y = make_data("lightgbm", "regression")
    pipe = Pipeline([("keep", FunctionTransformer()), ("lgbm", make_model("lightgbm", "regression"))])
    joblib.dump(pipe.fit(X, y), tmp_path / "p.joblib")
    loaded = load_model(tmp_path / "p.joblib")
    assert loaded.library == "lightgbm"
    run = cli("info", tmp_path / "p.joblib", "--json")
    assert json.loads(run.stdout)["model"]["library"]["name"] == "lightgbm"


# --------------------------------------------------------------------------------------------
# MLflow model folders, made with mlflow's own save_model


@pytest.fixture(scope="module")
def mlflow_folders(models, tmp_path_factory):
    pytest.importorskip("mlflow")
    import mlflow.catboost
    import mlflow.lightgbm
    import mlflow.sklearn
    import mlflow.xgboost

    root = tmp_path_factory.mktemp("mlflow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pip_requirements given: mlflow would otherwise infer them in a subprocess (~15 s each)
        reqs = {"pip_requirements": []}
        mlflow.lightgbm.save_model(models["lightgbm", "binary"][0], root / "lightgbm", **reqs)
        mlflow.xgboost.save_model(models["xgboost", "multiclass"][0], root / "xgboost", **reqs)
        mlflow.catboost.save_model(models["catboost", "regression"][0], root / "catboost", **reqs)
        mlflow.sklearn.save_model(
            models["lightgbm", "regression"][0], root / "sklearn", serialization_format="cloudpickle", **reqs
        )
    return root


@pytest.mark.slow
def test_mlflow_folders(models, mlflow_folders):
    for name, key in (("xgboost", "multiclass"), ("catboost", "regression"), ("sklearn", "regression")):
        lib = "lightgbm" if name == "sklearn" else name
        model, X, _ = models[lib, key]
        loaded = load_model(mlflow_folders / name)
        assert loaded.path == str(mlflow_folders / name)
        assert loaded.format.startswith(f"mlflow {name} flavour")
        assert loaded.library == lib
        np.testing.assert_array_equal(_outputs(loaded.estimator, X), _outputs(model, X))


@pytest.mark.slow
def test_mlflow_skops_and_pickle_rules(models, mlflow_folders):
    # mlflow.lightgbm saves the scikit-learn API model with skops: its types must be trusted
    with pytest.raises(
        ModelLoadError, match=r"does not trust by default: .*lightgbm\.sklearn\.LGBMClassifier"
    ):
        load_model(mlflow_folders / "lightgbm")
    trust = ["collections.OrderedDict", "lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier"]
    model, X, _ = models["lightgbm", "binary"]
    loaded = load_model(mlflow_folders / "lightgbm", trust=trust)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ModelLoadError, match="pickle-based files are refused"):
        load_model(mlflow_folders / "sklearn", allow_pickle=False)
    with pytest.raises(ModelLoadError, match=r"does not match .*sha256"):
        load_model(mlflow_folders / "sklearn", sha256="0" * 64)


# --------------------------------------------------------------------------------------------
# bad input: one line, exit 3, nothing written


def _cut(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("name", ["model.txt", "model.json", "model.ubj", "model.cbm"])
def test_damaged_native_file(models, tmp_path, cli, name):
    lib = {"txt": "lightgbm", "json": "xgboost", "ubj": "xgboost", "cbm": "catboost"}[name.split(".")[1]]
    model, X, y = models[lib, "regression"]
    save_native(model, lib, str(tmp_path / name))
    _cut(tmp_path / name)
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    run = cli(
        "pdp", tmp_path / name, tmp_path / "d.parquet", "--target", "y", "-f", "x0", "--out", tmp_path / "out"
    )
    assert run.exit_code == 3, run.stderr
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error: ")
    assert "damaged" in run.stderr or "not a model" in run.stderr
    assert not (tmp_path / "out").exists()


def test_json_of_another_kind(tmp_path, cli):
    (tmp_path / "model.json").write_text('{"trees": [1, 2, 3]}')
    run = cli("info", tmp_path / "model.json")
    assert run.exit_code == 3 and "holds JSON text, not a model" in run.stderr


def test_mlflow_folder_without_a_supported_flavour(tmp_path, cli):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: my_module\n    data: model\n"
        "  tensorflow:\n    saved_model_dir: tfmodel\n"
    )
    X, y = make_data("lightgbm", "regression")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    for args in (("info",), ("pdp", "--target", "y", "-f", "x0", "--out", tmp_path / "out")):
        run = cli(args[0], folder, *([tmp_path / "d.parquet"] if len(args) > 1 else []), *args[1:])
        assert run.exit_code == 3
        assert run.err_lines == [
            f"error: MLflow model folder '{folder}' has no flavour inspect can load (it has: python_function,"
            " tensorflow) — save the model with mlflow.sklearn, mlflow.lightgbm, mlflow.xgboost"
            " or mlflow.catboost"
        ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lib", LIBS)
def test_missing_library(models, tmp_path, cli, monkeypatch, lib):
    model, _, _ = models[lib, "regression"]
    native = tmp_path / NATIVE[lib][0]
    save_native(model, lib, str(native))
    joblib.dump(model, tmp_path / "m.joblib")
    for mod in [m for m in sys.modules if m == lib or m.startswith(lib + ".")]:
        monkeypatch.setitem(sys.modules, mod, None)
    X, y = make_data(lib, "regression")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    for path in (native, tmp_path / "m.joblib"):
        for args in (("info", path), ("importance", path, tmp_path / "d.parquet", "--target", "y")):
            run = cli(*args, "--out", tmp_path / "out") if args[0] != "info" else cli(*args)
            assert run.exit_code == 3, run.stderr
            assert len(run.err_lines) == 1
            assert f"and {lib} is not installed — pip install 'inspectcli[{lib}]'" in run.stderr
    assert not (tmp_path / "out").exists()


def test_lightgbm_categories_kept(models, tmp_path):
    model = models["lightgbm", "regression"][0]
    save_native(model, "lightgbm", str(tmp_path / "m.txt"))
    est = load_model(tmp_path / "m.txt").estimator
    assert est.booster_.pandas_categorical == [LEVELS]


def _exports(tmp_path, models) -> dict[str, str]:
    """Files the libraries write that are not model files they (or we) load: name -> message."""
    lgbm = models["lightgbm", "binary"][0]
    xgbm = models["xgboost", "binary"][0]
    cbm = models["catboost", "binary"][0]
    (tmp_path / "lgbm_dump.json").write_text(json.dumps(lgbm.booster_.dump_model()))
    (tmp_path / "xgb_config.json").write_text(xgbm.get_booster().save_config())
    xgbm.get_booster().dump_model(str(tmp_path / "xgb_dump.txt"))
    xgbm.get_booster().dump_model(str(tmp_path / "xgb_dump.json"), dump_format="json")
    cbm.save_model(str(tmp_path / "cb.json"), format="json")
    cbm.save_model(str(tmp_path / "cb.py"), format="python")
    cbm.save_model(str(tmp_path / "cb.cpp"), format="cpp")
    return {
        "lgbm_dump.json": "holds a LightGBM JSON dump (dump_model), which LightGBM cannot load back"
        " — save it with booster.save_model('model.txt')",
        "xgb_config.json": "holds an XGBoost configuration (save_config), no trees, which XGBoost cannot"
        " load back — save it with model.save_model('model.json')",
        "xgb_dump.txt": "holds an XGBoost tree dump (dump_model / get_dump), which XGBoost cannot load back",
        "xgb_dump.json": "holds an XGBoost tree dump (dump_model / get_dump), which XGBoost cannot load back",
        "cb.json": "holds a CatBoost JSON export, which inspect does not load — save it with"
        " model.save_model('model.cbm')",
        "cb.py": "holds a CatBoost model exported as code, which CatBoost cannot load back",
        "cb.cpp": "holds a CatBoost model exported as code, which CatBoost cannot load back",
    }


def test_exports_that_are_not_model_files(models, tmp_path, cli):
    """Tree dumps, configurations and code exports: named for what they are, exit 3, nothing written."""
    X, y = make_data("xgboost", "binary")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    for name, message in _exports(tmp_path, models).items():
        run = cli(
            "pdp",
            tmp_path / name,
            tmp_path / "d.parquet",
            "--target",
            "y",
            "-f",
            "x0",
            "--out",
            tmp_path / "o",
        )
        assert run.exit_code == 3, (name, run.stderr)
        assert len(run.err_lines) == 1 and run.err_lines[0].startswith(
            f"error: model file '{tmp_path / name}' "
        )
        assert message in run.stderr, run.stderr
        assert not (tmp_path / "o").exists()


def test_a_file_named_like_another_library(models, tmp_path, cli):
    """Content decides; a suffix of another library is a note."""
    model = models["lightgbm", "regression"][0]
    save_native(model, "lightgbm", str(tmp_path / "m.cbm"))
    run = cli("info", tmp_path / "m.cbm", "--json")
    assert run.exit_code == 0, run.stderr
    assert "'m.cbm' is named like a CatBoost file but its content is lightgbm-text" in run.stderr
    assert json.loads(run.stdout)["model"]["library"]["name"] == "lightgbm"


def test_saved_with_another_version(models, tmp_path, cli):
    """info: the version that saved the file, and that it differs from the installed one."""
    model = models["xgboost", "regression"][0]
    save_native(model, "xgboost", str(tmp_path / "m.json"))
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["version"] = [1, 7, 6]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    run = cli("info", tmp_path / "old.json", "--json")
    assert run.exit_code == 0, run.stderr
    lib = json.loads(run.stdout)["model"]["library"]
    assert lib == {"name": "xgboost", "version": __import__("xgboost").__version__, "saved_version": "1.7.6"}
    run = cli("info", tmp_path / "old.json")
    assert "saved with 1.7.6: results may differ from the original" in " ".join(run.stdout.split())
    run = cli("info", tmp_path / "m.json")
    assert "saved with the same version" in " ".join(run.stdout.split())


@pytest.mark.slow
def test_mlflow_folder_saved_with_another_version_or_damaged(models, mlflow_folders, tmp_path, cli):
    import shutil

    folder = tmp_path / "xgb"
    shutil.copytree(mlflow_folders / "xgboost", folder)
    meta = (folder / "MLmodel").read_text()
    (folder / "MLmodel").write_text(re.sub(r"xgb_version: \S+", "xgb_version: 1.7.6", meta))
    run = cli("info", folder, "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["model"]["library"]["saved_version"] == "1.7.6"
    # the flavour's model file cut short: the native file's one-line error, exit 3
    [model_file] = [f for f in folder.iterdir() if f.name.startswith("model.")]
    _cut(model_file)
    run = cli("info", folder)
    assert run.exit_code == 3 and len(run.err_lines) == 1 and "damaged" in run.stderr, run.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the crash check forks (Linux)")
def test_a_library_crashing_on_a_damaged_file(models, tmp_path, cli, monkeypatch):
    """XGBoost's UBJSON reader and CatBoost's .cbm reader can die of a segmentation fault on a file
    with changed bytes: the file is read in a forked child first, so the crash is a one-line error
    (exit 3), not a dead process; nothing is written."""
    import os
    import signal
    import time

    from inspectcli.loading import native

    def crash(*args):
        os.kill(os.getpid(), signal.SIGSEGV)

    model, X, y = models["xgboost", "regression"]
    save_native(model, "xgboost", str(tmp_path / "m.ubj"))
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    monkeypatch.setattr(native, "_load_xgboost", crash)
    run = cli(
        "pdp",
        tmp_path / "m.ubj",
        tmp_path / "d.parquet",
        "--target",
        "y",
        "-f",
        "x0",
        "--out",
        tmp_path / "o",
    )
    assert run.exit_code == 3, run.stderr
    assert run.err_lines == [
        f"error: model file '{tmp_path / 'm.ubj'}' is a damaged xgboost-ubj file (XGBoost crashed reading it:"
        " SIGSEGV) — save the model again with the library's save_model"
    ]
    assert not (tmp_path / "o").exists()
    # a child that hangs (a library deadlocked after fork) is abandoned, not judged
    from inspectcli.loading.isolate import survives_in_child

    started = time.monotonic()
    assert survives_in_child(lambda: time.sleep(30), timeout=0.2) is None
    assert time.monotonic() - started < 5
    assert survives_in_child(lambda: None) is None


@pytest.mark.parametrize(
    ("mlmodel", "message"),
    [
        (
            "flavors:\n  lightgbm:\n    data: ../other/model.lgb\n",
            "its lightgbm flavour points outside the folder",
        ),
        (
            "flavors:\n  xgboost:\n    data: model.xgb\n",
            "its xgboost flavour names 'model.xgb', which is missing",
        ),
        ("artifact_path: m\n", "its MLmodel file has no 'flavors' section"),
        ("- a\n- b\n", "its MLmodel file has no 'flavors' section"),
        (
            "flavors:\n  lightgbm:\n    data: model\n",
            "its lightgbm flavour names the directory 'model', which holds 2 files, not one model file",
        ),
    ],
)
def test_mlflow_folder_that_does_not_hold_its_model(models, tmp_path, cli, mlmodel, message):
    folder = tmp_path / "m"
    (folder / "model").mkdir(parents=True)
    for name in ("model.lgb", "model/a.lgb", "model/b.lgb"):
        save_native(models["lightgbm", "regression"][0], "lightgbm", str(folder / name))
    (folder / "MLmodel").write_text(mlmodel)
    X, y = make_data("lightgbm", "regression")
    X.assign(y=y).to_parquet(tmp_path / "d.parquet")
    run = cli("pdp", folder, tmp_path / "d.parquet", "--target", "y", "-f", "x0", "--out", tmp_path / "o")
    assert run.exit_code == 3, run.stderr
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith(f"error: MLflow model folder '{folder}': ")
    assert message in run.stderr
    assert not (tmp_path / "o").exists()


def test_text_labels_against_a_model_text_of_class_indices(tmp_path, cli):
    """LightGBM model text keeps class indices, not the labels it was fitted on: a target of those
    labels is refused with that explanation (exit 3)."""
    X, y = make_data("lightgbm", "binary")
    labels = np.where(y == 1, "yes", "no")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("lightgbm", "binary").fit(X, labels)
    save_native(model, "lightgbm", str(tmp_path / "m.txt"))
    X.assign(y=labels).to_parquet(tmp_path / "d.parquet")
    run = cli(
        "importance", tmp_path / "m.txt", tmp_path / "d.parquet", "--target", "y", "--out", tmp_path / "o"
    )
    assert run.exit_code == 3, run.stderr
    assert len(run.err_lines) == 1
    assert "the model knows class indices '0', '1' only (a LightGBM model text" in run.stderr
    assert not (tmp_path / "o").exists()
