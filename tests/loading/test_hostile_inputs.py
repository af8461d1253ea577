"""Variants of earlier hostile inputs (#13) on the newer surfaces (#12 MLflow folders, #19 data).

Subprocess runs where a hang or the exit status itself is what goes wrong; the in-process ``cli``
fixture elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def inspect_(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m inspectcli ARGS` in a subprocess, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "inspectcli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "INSPECT_NO_PROGRESS": "1"},
    )


def _mlflow_folder(tmp_path: Path, samples: Path, mlmodel: str) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(samples / "bikes_lgbm.txt", folder / "model.lgb")
    (folder / "MLmodel").write_text(mlmodel)
    return folder


_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "mlmodel, words",
    [
        # nested aliases: 10^9 values in 400 bytes (str() of them hung the run)
        (_LAUGHS + "flavors:\n  lightgbm:\n    data: model.lgb\n    lgb_version: *i\n", "aliases expand"),
        (_LAUGHS + "flavors:\n  lightgbm:\n    data: *i\n", "aliases expand"),
        ("x: &x [1, *x]\nflavors:\n  lightgbm:\n    data: model.lgb\n", "aliases expand"),
        # a NUL in the model file's name was "unexpected ValueError" (exit 4)
        ('flavors:\n  lightgbm:\n    data: "model\\0.lgb"\n', "is not a file name"),
        ("flavors:\n  lightgbm:\n    data: " + "[" * 50_000 + "\n", "unreadable MLmodel"),
        ("a: " + "x" * (1 << 20) + "\nflavors:\n  lightgbm:\n    data: model.lgb\n", "larger than 1 MB"),
    ],
)
def test_hostile_mlmodel_files_are_input_errors(samples, tmp_path, cli, mlmodel, words):
    folder = _mlflow_folder(tmp_path, samples, mlmodel)
    if "lgb_version: *i" in mlmodel:  # the one that hung: in a subprocess, bounded in time
        run = inspect_("info", folder)
        code, lines = run.returncode, run.stderr.strip().splitlines()
    else:
        run = cli("info", folder)
        code, lines = run.exit_code, run.err_lines
    assert code == 3, lines
    assert len(lines) == 1 and lines[0].startswith("error: MLflow model folder") and words in lines[0]


def test_a_few_shared_values_in_mlmodel_still_load(samples, tmp_path, cli):
    folder = _mlflow_folder(
        tmp_path,
        samples,
        "x: &x [1, 2]\ny: *x\nflavors:\n  lightgbm:\n    data: model.lgb\n    lgb_version: 4.5.0\n",
    )
    run = cli("info", folder, "--json")
    assert run.exit_code == 0, run.stderr
    assert '"4.5.0"' in run.stdout
