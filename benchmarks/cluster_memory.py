"""Peak memory of the client and of the Dask workers, data read on the workers vs sent from the client.

    python benchmarks/cluster_memory.py DATA [--cases pdp-all,pdp-sub,importance,ale-all] [--modes yes,no]

For each case and ``--data-on-workers`` mode, a fresh external cluster is started on loopback
(``dask scheduler`` + ``dask worker --nworkers 2 --nthreads 1``, as users start theirs), the real
CLI runs once against it, and the script prints one Markdown row: the client's peak RSS
(``ru_maxrss`` from ``wait4``), the largest peak RSS of a worker process (``VmHWM`` from
/proc, read before the cluster is stopped) and the wall time. DATA is a dataset of the friedman
features, e.g. ``benchmarks/data/friedman_3000000`` from ``benchmarks/datasets.py --rows 3000000``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = ROOT / "sample_models" / "friedman_hgb.joblib"
CASES = {
    "pdp-all": ["pdp", "-f", "x0", "--grid-resolution", "5"],
    "pdp-sub": ["pdp", "-f", "x0", "--grid-resolution", "5", "--subsample", "10000"],
    "importance": ["importance", "--max-samples", "100000", "--n-repeats", "3"],
    "ale-all": ["ale", "-f", "x0", "--bins", "10"],
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def measure(case: str, mode: str, data: str) -> tuple[float, float, float, int]:
    """(client MB, largest worker MB, seconds, exit code) of one run on a fresh cluster."""
    address = f"tcp://127.0.0.1:{_port()}"
    port = address.rsplit(":", 1)[1]
    commands = [
        ["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        ["worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
    ]
    procs = []
    try:
        for command in commands:
            procs.append(
                subprocess.Popen(
                    [str(BIN / "dask"), *command],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=ENV,
                    start_new_session=True,
                )
            )
        _wait_for_workers(address, 2)
        args = [str(BIN / "inspect"), CASES[case][0], str(MODEL), data, "--target", "y", *CASES[case][1:]]
        args += ["--backend", "dask", "--scheduler", address, "--data-on-workers", mode, "--quiet", "--json"]
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        workers = max((_hwm_kb(p) for p in _descendants(procs[1].pid)), default=0)
        return usage.ru_maxrss / 1024, workers / 1024, seconds, os.waitstatus_to_exitcode(status)
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout=5) as client:
                client.wait_for_workers(n, timeout=60)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--modes", default="yes,no")
    opts = parser.parse_args()
    print("| case | --data-on-workers | client peak RSS | worker peak RSS | wall time | exit |")
    print("|---|---|---:|---:|---:|---:|")
    for case in opts.cases.split(","):
        for mode in opts.modes.split(","):
            client, worker, seconds, code = measure(case, mode, opts.data)
            row = f"| {case} | {mode} | {client:,.0f} MB | {worker:,.0f} MB | {seconds:.1f} s | {code} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
