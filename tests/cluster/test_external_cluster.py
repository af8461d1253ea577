"""--backend dask against an external cluster: real ``dask scheduler`` and ``dask worker`` processes.

The cluster is started as users start theirs (loopback only, free ports, two one-thread worker
processes under a nanny) and always stopped (process groups killed). Commands go through the real
CLI in subprocesses, one after another and two at once on the same cluster, and their JSON results
must equal ``--n-jobs 1`` (run in-process). A scheduler killed mid-run must give a one-line error
naming it, with exit 4, within a bounded time; so must its workers killed mid-run.

Before the fix, importance on bikes_hgb (a ColumnTransformer pipeline, tree-path engine) hung here:
joblib's Dask backend made the model's own joblib calls tasks submitted from inside tasks, and two
tasks of one one-thread worker waited on each other forever (engines/parallel.py explains).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: Seconds any one CLI run may take on the cluster before the test calls it a hang.
RUN_LIMIT = 120
#: INSPECT_DASK_TIMEOUT for the runs that kill the cluster: how long a silent cluster is waited for.
DASK_TIMEOUT = 4
#: INSPECT_DASK_TIMEOUT for the other runs: a busy machine must not pass for a silent cluster.
BUSY_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``dask scheduler`` + ``dask worker --nworkers 2 --nthreads 1`` on 127.0.0.1."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(BIN / "dask"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=_env(),
                start_new_session=True,  # its own process group: killed as a whole
            )
        self.procs.append(proc)
        return proc

    def start(self) -> Cluster:
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._spawn(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"
        )
        self.workers = self._spawn(
            "workers",
            "worker",
            self.address,
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            str(self.workdir),
        )
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:  # the scheduler may not listen yet
            try:
                client = Client(self.address, timeout=5, set_as_default=False)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            client.wait_for_workers(2, timeout=60)
        finally:
            client.close()
        return self

    def kill_scheduler(self) -> None:
        _kill_group(self.scheduler)

    def kill_workers(self) -> None:
        _kill_group(self.workers)

    def stop(self) -> None:
        for proc in self.procs:
            _kill_group(proc)

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in self.logs)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _env(timeout: float = BUSY_TIMEOUT) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        INSPECT_NO_PROGRESS="1",
        INSPECT_DASK_TIMEOUT=str(timeout),
        MPLBACKEND="Agg",
        COLUMNS="120",
    )
    return env


def _cluster_fixture(request, tmp_path_factory) -> Cluster:
    cluster = Cluster(tmp_path_factory.mktemp("dask-cluster"))
    request.addfinalizer(cluster.stop)  # stopped even when start() fails half-way
    return cluster.start()


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    return _cluster_fixture(request, tmp_path_factory)


def _commands(samples: Path) -> dict[str, list[str]]:
    """Small but real runs: importance and pdp on bikes_hgb and friedman_hgb, ale."""
    bikes = [str(samples / "bikes_hgb.joblib"), str(samples / "bikes.parquet"), "--target", "count"]
    friedman = [str(samples / "friedman_hgb.joblib"), str(samples / "friedman.parquet"), "--target", "y"]
    return {
        "importance-bikes": ["importance", *bikes, "--n-repeats", "2", "--max-samples", "3000"],
        "pdp-bikes": [
            "pdp",
            *bikes,
            "-f",
            "temp",
            "-f",
            "hour",
            "--grid-resolution",
            "8",
            "--subsample",
            "1500",
        ],
        "importance-friedman": ["importance", *friedman, "--n-repeats", "2", "--max-samples", "2000"],
        "pdp-friedman": [
            "pdp",
            *friedman,
            "-f",
            "x0",
            "-f",
            "x3",
            "--grid-resolution",
            "6",
            "--subsample",
            "1500",
        ],
        "ale-bikes": ["ale", *bikes, "-f", "temp", "--bins", "8", "--subsample", "1500"],
    }


QUIET = ["--json", "--format", "none", "--no-plot", "--quiet"]


@pytest.fixture(scope="module")
def references(samples):
    """Each command's JSON results with --n-jobs 1, run in-process."""
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    out = {}
    for name, args in _commands(samples).items():
        run = CliRunner().invoke(app, [*args, *QUIET, "--n-jobs", "1"], env=_env())
        assert run.exit_code == 0, (name, run.output)
        out[name] = json.loads(run.stdout)["results"]
    return out


def _start(args: list[str], cluster: Cluster, timeout: float = BUSY_TIMEOUT) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "inspect"), *args, *QUIET, "--backend", "dask", "--scheduler", cluster.address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=_env(timeout),
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, cluster: Cluster, limit: float = RUN_LIMIT) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        pytest.fail(f"a run on the cluster hung (> {limit} s): {proc.args}\n{cluster.log_tail()}")
    return proc.returncode, out, err


def _results(name: str, code: int, out: str, err: str) -> list:
    assert code == 0, (name, err)
    return json.loads(out)["results"]


def test_commands_one_after_another_equal_n_jobs_1(cluster, samples, references):
    for name, args in _commands(samples).items():
        code, out, err = _finish(_start(args, cluster), cluster)
        assert _results(name, code, out, err) == references[name], name
    # the cluster is left with nothing of these runs: no tasks, no data, no client of theirs
    from distributed import Client

    with Client(cluster.address, timeout=10, set_as_default=False) as client:
        deadline = time.monotonic() + 10  # (the scheduler handles a client's last releases at its pace)
        while any(client.processing().values()) or any(client.has_what().values()):
            assert time.monotonic() < deadline, (client.processing(), client.has_what())
            time.sleep(0.1)
        assert _nested_submissions(client) == ([], [])


def _nested_submissions(client) -> tuple[list[str], list[str]]:
    """(task prefixes that are not inspectcli's, clients opened by tasks) the scheduler has seen.

    Before the fix the model's own joblib calls (bikes_hgb's ColumnTransformer) became tasks
    (``batch_of__transform_one_…``) submitted from inside tasks through worker clients
    (``Client-worker-…``, which stay connected): what deadlocked one-thread workers.
    """

    def seen(dask_scheduler=None):  # task prefixes that ran (scattered data never does), clients
        ran = [name for name, tp in dask_scheduler.task_prefixes.items() if tp.max_exec_time >= 0]
        return sorted(ran), sorted(dask_scheduler.clients)

    prefixes, clients = client.run_on_scheduler(seen)
    foreign = [p for p in prefixes if not p.startswith("inspect_")]
    return foreign, [c for c in clients if c.startswith("Client-worker")]


def test_two_commands_at_once_on_one_cluster(cluster, samples, references):
    commands = _commands(samples)
    names = ["importance-bikes", "pdp-friedman"]
    procs = [_start(commands[name], cluster) for name in names]
    for name, proc in zip(names, procs):
        assert _results(name, *_finish(proc, cluster)) == references[name], name


def test_library_api_with_scheduler(cluster, samples):
    import threading

    import numpy as np
    import pandas as pd

    from inspectcli import Execution, partial_dependence, permutation_importance
    from inspectcli.loading.model import load_model

    model = load_model(samples / "bikes_hgb.joblib").estimator
    frame = pd.read_parquet(samples / "bikes.parquet").iloc[:1500]
    X, y = frame.drop(columns="count"), frame["count"].to_numpy()
    # the tree-path engine, whose per-worker cache the old nested tasks deadlocked on
    kw = dict(n_repeats=2, random_state=0, engine="tree-paths")
    pkw = dict(grid_resolution=6, kind="both")
    features = ["temp", ("temp", "hour")]
    ref = permutation_importance(model, X, y, **kw)
    ref_pd = partial_dependence(model, X, features, **pkw)
    got = {}

    def on_cluster():  # in a thread: a hang fails the test instead of stalling the suite
        on = Execution(backend="dask", scheduler=cluster.address)
        got["importance"] = permutation_importance(model, X, y, **kw, execution=on)
        got["pdp"] = partial_dependence(model, X, features, **pkw, execution=on)

    thread = threading.Thread(target=on_cluster, daemon=True)
    thread.start()
    thread.join(RUN_LIMIT)
    assert not thread.is_alive(), f"the library calls hung on the cluster\n{cluster.log_tail()}"
    assert got["importance"].engine == ref.engine == "tree-paths"
    assert np.array_equal(ref.scorers[0].importances, got["importance"].scorers[0].importances)
    for a, b in zip(ref_pd, got["pdp"]):
        assert np.array_equal(a.average, b.average)
        assert np.array_equal(a.individual, b.individual)
    from distributed import Client

    with Client(cluster.address, timeout=10, set_as_default=False) as client:
        assert _nested_submissions(client) == ([], [])


@pytest.mark.parametrize("killed", ["scheduler", "workers"])
def test_cluster_killed_mid_run_is_a_bounded_one_line_error(killed, request, tmp_path_factory, samples):
    cluster = _cluster_fixture(request, tmp_path_factory)  # its own: this test kills it
    friedman = [str(samples / "friedman_hgb.joblib"), str(samples / "friedman.parquet"), "--target", "y"]
    proc = _start(
        ["importance", *friedman, "--n-repeats", "10", "--max-samples", "5000"], cluster, DASK_TIMEOUT
    )
    from distributed import Client

    with Client(cluster.address, timeout=10, set_as_default=False) as watcher:
        deadline = time.monotonic() + RUN_LIMIT
        while not any(watcher.processing().values()):  # a task of the run is on a worker
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run sent no task"
            time.sleep(0.05)
        if killed == "scheduler":
            cluster.kill_scheduler()
        else:  # the nanny and its two worker processes
            cluster.kill_workers()
        t_kill = time.monotonic()
    code, out, err = _finish(proc, cluster, limit=60)
    waited = time.monotonic() - t_kill
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 4, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and cluster.address in lines[0], lines
    assert "Traceback" not in err
    assert out == ""
    assert waited < 4 * DASK_TIMEOUT + 10, waited
