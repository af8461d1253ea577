"""Issue #13: hostile inputs and situations, through the real CLI.

Each test names the defect of the issue it covers. Subprocess runs where the exit status itself,
signals or other processes are involved; the in-process ``cli`` fixture elsewhere.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.cli.hostile_models import ExitingRegressor, ExitOnLoad

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = b'{"previous": "run"}\n'


def inspect_(
    *args: object, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m inspectcli ARGS` in a subprocess (tests.cli.hostile_models importable there)."""
    return subprocess.run(
        [sys.executable, "-m", "inspectcli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A 400-row table (a, b -> y) and the hostile models fitted on it."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.uniform(size=400)})
    y = 2 * X["a"] + X["b"]
    X.assign(y=y).to_csv(root / "data.csv", index=False)
    # exits on its 2nd predict call in a process: the probe passes, the work (or a worker's 2nd) exits
    joblib.dump(ExitingRegressor(0, after=1).fit(X, y), root / "exit.joblib")
    joblib.dump(ExitingRegressor(0, after=1, exc="BaseException").fit(X, y), root / "base.joblib")
    (root / "exitload.pkl").write_bytes(pickle.dumps(ExitOnLoad(0)))
    return root


def _previous(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pdp.json").write_bytes(PREVIOUS)
    return out


# --- defect 2: model code that ends the run --------------------------------------------------------


def test_sys_exit_while_unpickling_is_an_input_error(ws):
    r = inspect_("info", ws / "exitload.pkl")
    assert r.returncode == 3, r.stderr
    assert "raised SystemExit(0) while being loaded" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("exit.joblib", ()),
        ("exit.joblib", ("--n-jobs", "2", "--method", "brute", "-f", "b")),  # loky workers
        ("base.joblib", ("--n-jobs", "2", "--backend", "threading", "--method", "brute", "-f", "b")),
    ],
    ids=["in-process", "loky", "threading-BaseException"],
)
def test_model_ending_the_run_is_exit_4_and_fails_the_gate(ws, tmp_path, model, extra):
    out = _previous(tmp_path / "out")
    r = inspect_(
        "pdp", ws / model, ws / "data.csv", "--target", "y", "-f", "a", *extra,
        "--fail-if", "range(a) > 100", "--out", out,
    )  # fmt: skip
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "the model's code raised" in r.stderr and "tried to end the run" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pdp.json"]
    assert (out / "pdp.json").read_bytes() == PREVIOUS


def test_model_ending_importance_is_exit_4(ws, cli, tmp_path):
    r = cli("importance", ws / "exit.joblib", ws / "data.csv", "--target", "y", "--n-repeats", "2",
            "--out", tmp_path / "o", "--fail-if", "mean(a) < -1000")  # fmt: skip
    assert r.exit_code == 4, r.stderr
    assert "SystemExit(0)" in r.stderr
