"""Interrupted and failed runs: exit 130 (Ctrl-C) / 143 (SIGTERM), workers stopped, --out untouched.

The interrupt tests start the real command in a subprocess on a job that takes minutes (partial
dependence of all ten features of a k-nearest-neighbours model on the 50,000-row Friedman data, two
loky workers), wait until both workers compute, send the signal and check what is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsRegressor

from inspectcli.errors import UsageError
from inspectcli.results import write_files

PREVIOUS = b'{"previous": "run"}\n'


def _signals_as_in_a_terminal() -> None:
    """(In the child, before exec.) SIGINT and SIGQUIT handled as in a shell's foreground job.

    A test run started in the background by a non-interactive shell (``make test &``, a CI
    wrapper) ignores both, and an ignored SIGINT is inherited through exec: Python then installs
    no KeyboardInterrupt handler and the Ctrl-C below would never arrive.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _children(pid: int) -> list:
    psutil = pytest.importorskip("psutil")
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize(
    ("how", "code", "word"),
    [
        ("ctrl-c", 130, "interrupted"),  # Ctrl-C in a terminal: SIGINT to the whole process group
        ("sigterm", 143, "terminated"),  # a cancelled CI job
    ],
)
def test_interrupt_stops_workers_and_leaves_out_untouched(samples, tmp_path, how, code, word):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "out"
    out.mkdir()
    (out / "pdp.json").write_bytes(PREVIOUS)
    # A model with a slow predict and no fast path (tree models' PDP no longer predicts at all).
    frame = pd.read_parquet(samples / "friedman.parquet").iloc[:2000]
    knn = KNeighborsRegressor(n_neighbors=5).fit(frame.drop(columns="y"), frame["y"])
    joblib.dump(knn, tmp_path / "knn.joblib")
    cmd = [
        sys.executable,
        "-m",
        "inspectcli",
        "pdp",
        tmp_path / "knn.joblib",
        samples / "friedman.parquet",
        "--target",
        "y",
        "--method",
        "brute",
        "--n-jobs",
        "2",
        "--out",
        out,
    ]
    env = {**os.environ, "INSPECT_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        preexec_fn=_signals_as_in_a_terminal,
    )
    try:
        seen = []
        for line in proc.stderr:  # the note printed just before the computation starts
            seen.append(line)
            if "computing all" in line:
                break
        assert proc.poll() is None, "".join(seen)
        # Until both loky workers are busy predicting (past their start-up imports, during which
        # a Ctrl-C to the process group makes Python print the worker's KeyboardInterrupt).
        workers: list = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [p for p in _children(proc.pid) if "python" in p.name().lower()]
            try:
                busy = [p for p in workers if p.cpu_times().user > 1.0]
            except psutil.NoSuchProcess:
                busy = []
            if len(busy) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the job ended before it could be interrupted"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        # (bounded: a run that ignores the signal fails here instead of hanging the suite)
        _, rest = proc.communicate(timeout=120)
        rc = proc.returncode
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert rc == code, rest
    assert f"error: {word}" in rest
    assert "Traceback" not in rest
    # workers stop with the run (loky's may take a moment to notice)
    deadline = time.monotonic() + 30
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    assert not alive, f"workers still running: {[p.pid for p in alive]}"
    assert sorted(p.name for p in out.iterdir()) == ["pdp.json"]
    assert (out / "pdp.json").read_bytes() == PREVIOUS
    assert not list(tmp_path.rglob("*.tmp"))


def test_write_files_all_or_nothing(tmp_path, monkeypatch):
    """A failure while writing the second file leaves the first file as it was, and no temp files."""
    import inspectcli.results as results

    (tmp_path / "a.json").write_bytes(PREVIOUS)
    real_stage = results._stage
    calls = []

    def failing_stage(path: Path, data: bytes) -> str:
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_stage(path, data)

    monkeypatch.setattr(results, "_stage", failing_stage)
    with pytest.raises(UsageError, match="No space left"):
        write_files(tmp_path, {"a.json": b"new a\n", "b.csv": b"new b\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert (tmp_path / "a.json").read_bytes() == PREVIOUS

    monkeypatch.setattr(results, "_stage", real_stage)
    written = write_files(tmp_path, {"a.json": b"new a\n", "b.csv": b"new b\n"})
    assert [p.name for p in written] == ["a.json", "b.csv"]
    assert (tmp_path / "a.json").read_bytes() == b"new a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv"]


def test_interrupt_while_writing_removes_temp_files(tmp_path, monkeypatch):
    import inspectcli.results as results

    (tmp_path / "a.json").write_bytes(PREVIOUS)
    real_replace = os.replace

    def interrupted_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        write_files(tmp_path, {"a.json": b"new\n", "b.json": b"new\n"})
    monkeypatch.setattr(results.os, "replace", real_replace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    assert (tmp_path / "a.json").read_bytes() == PREVIOUS
