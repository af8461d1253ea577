"""Shared fixtures: the sample models (built once per session if `make models` has not) and a
CLI runner that returns exit code, stdout and stderr separately."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
SAMPLE_FILES = [
    "diabetes_hgb.joblib",
    "diabetes.parquet",
    "cancer_logreg.joblib",
    "cancer.csv",
    "wine_rf.skops",
    "wine.parquet",
    "bikes_hgb.joblib",
    "bikes.parquet",
    "friedman_hgb.joblib",
    "friedman.parquet",
]
WINE_TRUST = ["--trust", "sklearn.tree._tree.Tree"]

os.environ.setdefault("INSPECT_NO_PROGRESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Two xdist workers on two cores: one OpenMP/BLAS thread each, or HistGradientBoosting's
# spin-waiting threads oversubscribe the machine (measured: 7.8 s instead of 0.07 s for one PD).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# pytest-xdist workers export COLUMNS=80, which would wrap the tables and messages tests read
os.environ.setdefault("INSPECT_WIDTH", "120")


def _load_builder():
    spec = importlib.util.spec_from_file_location("sample_models_build", SAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault("sample_models_build", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding the five sample models and their data."""
    if all((SAMPLES / f).exists() for f in SAMPLE_FILES):
        return SAMPLES
    out = tmp_path_factory.mktemp("sample_models")
    _load_builder().build_all(out, verbose=False)
    return out


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


@pytest.fixture
def cli():
    """Run the real Typer app in-process: cli("pdp", model, data, "-f", "x") -> Run."""
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    runner = CliRunner()

    def run(*args: object, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
        result = runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=True)
        exc = result.exception
        if isinstance(exc, SystemExit):
            exc = None
        return Run(result.exit_code, result.stdout, result.stderr, exc)

    return run


@pytest.fixture
def keep_tree_paths(monkeypatch):
    """engine="auto" keeps tree paths for permutation importance whatever the first task costs.

    (It measures the first task against the model's own predictions and switches to predicting
    when tree paths are slower: on the small data of tests, that choice depends on timing.)
    """
    from inspectcli.engines import permutation

    monkeypatch.setattr(permutation, "_TREE_PATHS_MARGIN", float("inf"))
