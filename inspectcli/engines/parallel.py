"""Where chunks run: in-process, joblib's loky / threading workers, or a Dask cluster.

Every task is a pure function of its arguments, so results do not depend on the backend or the
number of workers (tests check byte-identical results across them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from inspectcli.engines.progress import NullProgress, Progress
from inspectcli.errors import UsageError

BACKENDS = ("loky", "threading", "dask")


def effective_n_jobs(n_jobs: int | None) -> int:
    """-1 -> all cores, -2 -> all but one, None/0 -> 1."""
    if not n_jobs:
        return 1
    cores = os.cpu_count() or 1
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


def check_backend(backend: str, scheduler: str | None) -> None:
    if backend not in BACKENDS:
        raise UsageError(f"--backend '{backend}' is not one of {', '.join(BACKENDS)}", "choose one of them")
    if scheduler and backend != "dask":
        raise UsageError("--scheduler only applies with --backend dask", "add --backend dask")
    if backend == "dask":
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401
        except ImportError as exc:
            raise UsageError(
                "--backend dask needs the dask extra, which is not installed",
                "pip install 'inspectcli[dask]'",
            ) from exc


@contextmanager
def dask_client(scheduler: str | None, n_workers: int) -> Iterator[Any]:
    """A client for ``scheduler``, or a LocalCluster of ``n_workers`` processes for this run."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at '{scheduler}': {exc}",
                "check the address (tcp://HOST:8786) and that the scheduler runs",
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=max(1, n_workers), threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    shared: tuple[Any, ...] = (),
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: Progress | None = None,
    weights: Sequence[int] | None = None,
) -> Iterator[Any]:
    """Yield ``fn(*shared, *task)`` for each task, in task order.

    ``shared`` (model, data) is sent to each worker with the task; with Dask it is scattered to
    the cluster once. ``weights`` are the progress units each task is worth.
    """
    progress = progress or NullProgress()
    weights = list(weights) if weights is not None else [1] * len(tasks)
    n = effective_n_jobs(n_jobs)
    if backend != "dask" and (n == 1 or len(tasks) <= 1):
        for task, w in zip(tasks, weights):
            result = fn(*shared, *task)
            progress.advance(w)
            yield result
        return

    from joblib import Parallel, delayed, parallel_config

    if backend == "dask":
        with dask_client(scheduler, n) as client:
            workers = max(1, len(client.scheduler_info().get("workers", {})) or n)
            scattered = list(shared)
            with parallel_config(backend="dask", scatter=scattered or None):
                gen = Parallel(n_jobs=workers, return_as="generator")(
                    delayed(fn)(*shared, *task) for task in tasks
                )
                for result, w in zip(gen, weights):
                    progress.advance(w)
                    yield result
        return
    gen = Parallel(n_jobs=n, backend=backend, return_as="generator")(
        delayed(fn)(*shared, *task) for task in tasks
    )
    for result, w in zip(gen, weights):
        progress.advance(w)
        yield result
