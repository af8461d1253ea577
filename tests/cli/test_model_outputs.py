"""Whatever a model's predict returns is checked where every prediction passes (engines/response.py).

A wrong row count was averaged silently (exit 0, wrong numbers); text and None failed inside our
code ("unexpected …, please report it"); complex numbers were a scorer usage error (exit 2).
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.cli.hostile_models import OddOutputRegressor


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.uniform(size=200)})
    y = 2 * X["a"] + X["b"]
    X.assign(y=y).to_csv(root / "data.csv", index=False)
    for mode in ("short", "long", "text", "complex", "none"):
        joblib.dump(OddOutputRegressor(mode).fit(X, y), root / f"{mode}.joblib")
    return root


@pytest.mark.parametrize(
    "mode, command, words",
    [
        ("short", ("pdp", "-f", "a", "--fail-if", "range(a) > 1000"), "returned 63 rows for 64 rows"),
        ("long", ("ale", "-f", "a"), "returned 128 rows for 64 rows"),
        ("text", ("pdp", "-f", "a"), "returned text, not real numbers"),
        ("text", ("interactions",), "returned text, not real numbers"),
        ("none", ("importance", "--n-repeats", "2"), "returned a single value for 200 rows"),
        ("complex", ("importance", "--n-repeats", "2"), "returned complex numbers, not real numbers"),
    ],
)
def test_odd_model_outputs_are_model_failures(ws, cli, tmp_path, mode, command, words):
    OddOutputRegressor._calls = 0
    run = cli(command[0], ws / f"{mode}.joblib", ws / "data.csv", "--target", "y", *command[1:],
              "--out", tmp_path / "o")  # fmt: skip
    assert run.exit_code == 4, run.stderr
    assert run.err_lines[-1].startswith(f"error: the model's predict {words}"), run.err_lines
    assert not (tmp_path / "o").exists()


def test_what_a_model_prints_stays_out_of_stdout(ws, tmp_path):
    # its prints went into the JSON on stdout, which a CI step then could not parse
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.cli.hostile_models import PrintingRegressor

    root = Path(__file__).resolve().parents[2]
    data = pd.read_csv(ws / "data.csv")
    joblib.dump(PrintingRegressor().fit(data[["a", "b"]], data["y"]), tmp_path / "m.joblib")
    run = subprocess.run(
        [sys.executable, "-m", "inspectcli", "importance", tmp_path / "m.joblib", ws / "data.csv",
         "--target", "y", "--n-repeats", "2", "--json", "--out", tmp_path / "o"],
        capture_output=True, text=True, timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["kind"] == "importance"
    assert "by the model" in run.stderr and "written to fd 1 by the model" in run.stderr
