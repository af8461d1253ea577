"""--backend dask: the same numbers as n_jobs=1 and loky, model and data scattered once, clear errors.

One LocalCluster of 2 worker processes serves the module (the API runs connect to it with
``scheduler=``); one CLI run starts its own LocalCluster, as ``--backend dask`` without
``--scheduler`` does.
"""

from __future__ import annotations

import json
import logging
import socket
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from inspectcli import partial_dependence, permutation_importance
from inspectcli.engines.execution import Execution
from inspectcli.errors import UsageError
from inspectcli.loading.model import load_model

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` skips this module


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: no clash with other clusters on 8787
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def diabetes(samples):
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    frame = pd.read_parquet(samples / "diabetes.parquet")
    return model, frame.drop(columns="target"), frame["target"].to_numpy()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pdp_identical_to_n_jobs_1_and_loky(diabetes, scheduler):
    model, X, _ = diabetes
    # A small budget splits every feature set into several chunks (tasks); some split a grid point.
    kw = dict(grid_resolution=6, kind="both", method="brute", engine="batched")
    small = Execution(memory_budget=2**20)
    features = ["bmi", ("bmi", "s5")]
    ref = partial_dependence(model, X, features, **kw, execution=small)
    for run in (
        small.replace(n_jobs=2, backend="loky"),
        small.replace(backend="dask", scheduler=scheduler),
    ):
        got = partial_dependence(model, X, features, **kw, execution=run)
        for a, b in zip(ref, got):
            assert b.engine == "batched"
            assert np.array_equal(a.average, b.average), run
            assert np.array_equal(a.individual, b.individual), run
    # averages only: workers reduce whole grid points to their mean
    avg = partial_dependence(
        model,
        X,
        features,
        **{**kw, "kind": "average"},
        execution=small.replace(backend="dask", scheduler=scheduler),
    )
    for a, b in zip(ref, avg):
        assert np.array_equal(a.average, b.average)


def test_pdp_tree_paths_on_workers(diabetes, scheduler):
    """The tree-path engine sends its feature sets to the workers too: same bits as in-process."""
    model, X, _ = diabetes
    kw = dict(grid_resolution=5, kind="both", method="brute", engine="tree-paths")
    features = ["bmi", "s5", ("bmi", "s5")]
    ref = partial_dependence(model, X, features, **kw)
    for run in (Execution(n_jobs=2, backend="loky"), Execution(backend="dask", scheduler=scheduler)):
        got = partial_dependence(model, X, features, **kw, execution=run)
        for a, b in zip(ref, got):
            assert b.engine == "tree-paths"
            assert np.array_equal(a.average, b.average), run
            assert np.array_equal(a.individual, b.individual), run


def test_model_and_data_scattered_once(diabetes, scheduler, monkeypatch):
    from distributed import Client

    model, X, _ = diabetes
    calls = []
    original = Client.scatter

    def scatter(self, data, *args, **kwargs):
        items = data if isinstance(data, (list, tuple)) else [data]
        calls.append(([type(d).__name__ for d in items], kwargs.get("broadcast", False), items))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(Client, "scatter", scatter)
    partial_dependence(
        model,
        X,
        ["bmi", "bp", "s5"],
        grid_resolution=6,
        method="brute",
        engine="batched",
        execution=Execution(memory_budget=2**20, backend="dask", scheduler=scheduler),
    )
    with_model = [c for c in calls if any(item is model for item in c[2])]
    assert len(with_model) == 1, [c[:2] for c in calls]
    _, broadcast, items = with_model[0]
    assert broadcast is True
    assert any(item is X for item in items)  # the data goes with the model, once
    assert not any(isinstance(item, pd.DataFrame) for c in calls if c is not with_model[0] for item in c[2])


def test_importance_identical_batched_and_sequential(diabetes, samples, scheduler):
    model, X, y = diabetes
    kw = dict(n_repeats=3, random_state=0, scoring=["r2", "neg_mean_absolute_error"], engine="tree-paths")
    ref = permutation_importance(model, X, y, **kw)
    got = permutation_importance(
        model,
        X,
        y,
        **kw,
        execution=Execution(backend="dask", scheduler=scheduler),
    )
    loky = permutation_importance(
        model,
        X,
        y,
        **kw,
        execution=Execution(n_jobs=2, backend="loky"),
    )
    assert ref.engine == got.engine == loky.engine == "tree-paths"
    for a, b, c in zip(ref.scorers, got.scorers, loky.scorers):
        assert np.array_equal(a.importances, b.importances)
        assert np.array_equal(a.importances, c.importances)
    # a BLAS-based pipeline keeps scikit-learn's one call per repeat, on the workers too
    cancer = load_model(samples / "cancer_logreg.joblib").estimator
    frame = pd.read_csv(samples / "cancer.csv").iloc[:200]
    Xc, yc = frame.drop(columns="target"), frame["target"].to_numpy()
    # (engine="auto" derives its labels in-process: the linear engine)
    kw = dict(n_repeats=2, random_state=0, max_samples=100, engine="sequential")
    ref = permutation_importance(cancer, Xc, yc, **kw)
    got = permutation_importance(
        cancer,
        Xc,
        yc,
        **kw,
        execution=Execution(backend="dask", scheduler=scheduler),
    )
    assert ref.engine == got.engine == "sequential"
    assert np.array_equal(ref.scorers[0].importances, got.scorers[0].importances)


def test_cli_dask_local_cluster_matches_n_jobs_1(cli, samples, tmp_path):
    common = [
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi",
        "--pair",
        "bmi,s5",
        "--grid-resolution",
        "5",
        "--method",
        "brute",
        "--format",
        "json",
        "--no-plot",
    ]
    one = cli(*common, "--out", tmp_path / "one")
    dask = cli(*common, "--backend", "dask", "--n-jobs", "2", "--out", tmp_path / "dask")
    assert one.exit_code == 0, one.stderr
    assert dask.exit_code == 0, dask.stderr
    a, b = (json.loads((tmp_path / d / "pdp.json").read_text()) for d in ("one", "dask"))
    assert a["results"] == b["results"]
    assert "Traceback" not in dask.stderr


def test_ale_with_pdp_shares_one_local_cluster(diabetes, monkeypatch):
    """ALE then PD (--with-pdp) with backend dask and no scheduler: one LocalCluster, same numbers."""
    from inspectcli.engines import parallel
    from inspectcli.engines.ale import accumulated_local_effects

    model, X, _ = diabetes
    started = []
    real = parallel._local_cluster
    monkeypatch.setattr(parallel, "_local_cluster", lambda n: started.append(n) or real(n))
    kw = dict(bins=5, with_pdp=True)
    ref = accumulated_local_effects(model, X, ["bmi", "s5"], **kw)
    got = accumulated_local_effects(
        model,
        X,
        ["bmi", "s5"],
        **kw,
        execution=Execution(backend="dask", n_jobs=2),
    )
    assert started == [2]
    for a, b in zip(ref, got):
        assert np.array_equal(a.ale, b.ale) and np.array_equal(a.pdp, b.pdp)


def test_cli_compare_shares_one_local_cluster(cli, samples, tmp_path, monkeypatch):
    """--compare computes twice; with --backend dask and no --scheduler, on one LocalCluster."""
    from inspectcli.engines import parallel

    started = []
    real = parallel._local_cluster
    monkeypatch.setattr(parallel, "_local_cluster", lambda n: started.append(n) or real(n))
    frame = pd.read_parquet(samples / "diabetes.parquet")
    frame.iloc[:200].to_parquet(tmp_path / "test.parquet")
    common = [
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--n-repeats",
        "3",
        "--compare",
        tmp_path / "test.parquet",
        "--format",
        "json",
        "--no-plot",
    ]
    one = cli(*common, "--out", tmp_path / "one")
    dask = cli(*common, "--backend", "dask", "--n-jobs", "2", "--out", tmp_path / "dask")
    assert one.exit_code == 0, one.stderr
    assert dask.exit_code == 0, dask.stderr
    assert started == [2]
    a, b = (json.loads((tmp_path / d / "importance.json").read_text()) for d in ("one", "dask"))
    # (the dask run's data blocks say how the rows reached the workers: they read them)
    assert b["data"].pop("dask_data") == b["compare"]["data"].pop("dask_data") == "workers-read"
    assert a["results"] == b["results"] and a["compare"] == b["compare"] and a["compare"]


def test_missing_dask_extra_is_a_usage_error(cli, samples, diabetes, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    r = cli(
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--backend",
        "dask",
    )
    assert r.exit_code == 2
    assert "needs the dask extra" in r.stderr and "pip install 'inspectcli[dask]'" in r.stderr
    model, X, _ = diabetes
    with pytest.raises(UsageError, match="inspectcli\\[dask\\]"):
        partial_dependence(
            model, X, ["bmi"], method="brute", engine="batched", execution=Execution(backend="dask")
        )


def test_scheduler_without_dask_backend(cli, samples):
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "-f",
        "bmi",
        "--scheduler",
        "tcp://127.0.0.1:8786",
    )
    assert r.exit_code == 2
    assert "--scheduler only applies with --backend dask" in r.stderr


def test_unreachable_scheduler(cli, samples, tmp_path):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    r = cli(  # a linear model: brute force by predictions, so the workers are needed
        "pdp",
        samples / "cancer_logreg.joblib",
        samples / "cancer.csv",
        "--target",
        "target",
        "-f",
        "mean radius",
        "--backend",
        "dask",
        "--scheduler",
        address,
        "--out",
        tmp_path / "o",
        env={"INSPECT_DASK_TIMEOUT": "1"},
    )
    assert r.exit_code == 2, r.stderr
    assert f"cannot reach the Dask scheduler at '{address}'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "pdp.json").exists()


def test_workers_with_other_versions_are_refused(diabetes, scheduler, monkeypatch):
    from distributed import Client

    from inspectcli.engines.parallel import package_versions, version_mismatches

    here = package_versions()
    other = {"inspectcli": here["inspectcli"], "scikit-learn": "1.0.2"}
    assert version_mismatches(here, {"tcp://w:1": here, "tcp://w:2": other}) == [
        f"scikit-learn 1.0.2 on tcp://w:2 (here {here['scikit-learn']})"
    ]

    async def run(self, fn, *a, **k):  # what Client.run's coroutine answers (called with a time bound)
        return {"tcp://w:2": other}

    monkeypatch.setattr(Client, "_run", run)
    model, X, _ = diabetes
    with pytest.raises(UsageError, match=r"other package versions than this client: scikit-learn 1\.0\.2"):
        partial_dependence(
            model,
            X,
            ["bmi"],
            method="brute",
            engine="batched",
            execution=Execution(backend="dask", scheduler=scheduler),
        )
