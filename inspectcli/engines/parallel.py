"""Where chunks run: in-process, joblib's loky / threading workers, or a Dask cluster.

An engine opens one ``task_runner`` per API call and maps its chunks through it::

    with task_runner(n_jobs, backend, scheduler) as runner:
        plan = plan_chunks(..., n_workers=runner.n_workers)
        for result in runner.map(fn, tasks, shared=(estimator, X)):
            ...

``runner.map`` yields ``fn(*shared, *task)`` for each task, in task order. ``shared`` holds the
large objects every task needs (the model and the data): with Dask they are scattered to every
worker once per ``map`` (``client.scatter(..., broadcast=True)`` through joblib's
``parallel_config(backend="dask", scatter=[...])``), and each task then carries only references to
them plus its own small arguments. The cluster (a ``LocalCluster`` started for the run, or the
scheduler at ``scheduler``) lives as long as the runner, so an engine call that maps several
times starts or connects once.

Every task is a pure function of its arguments, so results do not depend on the backend or the
number of workers (tests check identical results across them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from inspectcli.engines.progress import NullProgress, Progress
from inspectcli.errors import Terminated, UsageError, first_line, model_exited

BACKENDS = ("loky", "threading", "dask")
#: Tasks per worker that engines aim at when they group chunks into tasks: enough to balance the
#: load, few enough that per-task costs (pickling the model for loky, scheduling for Dask) stay
#: small. One chunk per task made n_jobs=2 runs 1.4-1.8x slower than scikit-learn's.
TASKS_PER_WORKER = 4
#: Seconds to wait for a Dask scheduler to answer (env INSPECT_DASK_TIMEOUT overrides).
DASK_CONNECT_TIMEOUT = 10.0


def effective_n_jobs(n_jobs: int | None) -> int:
    """-1 -> all cores, -2 -> all but one, None/0 -> 1."""
    if not n_jobs:
        return 1
    cores = os.cpu_count() or 1
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


def check_backend(backend: str, scheduler: str | None) -> None:
    """Usage errors for a backend that does not exist, or that is not installed."""
    if backend not in BACKENDS:
        raise UsageError(f"`backend='{backend}'` is not one of {', '.join(BACKENDS)}", "choose one of them")
    if scheduler and backend != "dask":
        raise UsageError("`scheduler` only applies with `backend=dask`", "add `backend=dask`")
    if backend == "dask":
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401
        except ImportError as exc:
            raise UsageError(
                "`backend=dask` needs the dask extra, which is not installed",
                "pip install 'inspectcli[dask]'",
            ) from exc


def _connect_timeout() -> float:
    text = os.environ.get("INSPECT_DASK_TIMEOUT")
    try:
        return float(text) if text else DASK_CONNECT_TIMEOUT
    except ValueError:
        return DASK_CONNECT_TIMEOUT


@contextmanager
def dask_client(scheduler: str | None, n_workers: int) -> Iterator[Any]:
    """A client for ``scheduler``, or a LocalCluster of ``n_workers`` processes for this run."""
    from distributed import Client

    if scheduler:
        timeout = _connect_timeout()
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            text = first_line(exc)
            raise UsageError(
                f"cannot reach the Dask scheduler at '{scheduler}' ({text})",
                "check the address (tcp://HOST:8786) and that the scheduler runs",
            ) from exc
        try:
            if not client.ncores():
                try:
                    client.wait_for_workers(1, timeout=timeout)
                except (OSError, TimeoutError) as exc:
                    raise UsageError(
                        f"the Dask scheduler at '{scheduler}' has no workers",
                        f"start some: dask worker {scheduler}",
                    ) from exc
            _check_workers(client, scheduler)
            yield client
        finally:
            client.close()
        return
    with _local_cluster(n_workers) as cluster, Client(cluster, set_as_default=False) as client:
        yield client


def _local_cluster(n_workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=max(1, n_workers),
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: no clash with other clusters on 8787
        silence_logs=logging.ERROR,
    )


@contextmanager
def shared_scheduler(backend: str, scheduler: str | None, n_jobs: int) -> Iterator[str | None]:
    """The ``scheduler`` for several computations of one command.

    With ``backend="dask"`` and no scheduler, one LocalCluster serves all of them (its address is
    yielded) instead of one cluster per computation; otherwise ``scheduler`` as given.
    """
    if backend != "dask" or scheduler:
        yield scheduler
        return
    check_backend(backend, scheduler)
    with _local_cluster(effective_n_jobs(n_jobs)) as cluster:
        yield cluster.scheduler_address


#: Packages whose versions must match between this process and the workers: the model is
#: unpickled there and the tasks are inspectcli functions.
MATCHING_PACKAGES = ("inspectcli", "scikit-learn")


def package_versions() -> dict[str, str | None]:
    """Installed versions of MATCHING_PACKAGES (None: not installed); also run on the workers."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in MATCHING_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def version_mismatches(local: dict[str, str | None], workers: dict[str, dict[str, str | None]]) -> list[str]:
    """'scikit-learn 1.8.0 on tcp://10.0.0.5:40123 (here 1.9.1)' for each worker that differs."""
    problems = []
    for address, versions in sorted(workers.items()):
        for name, here in local.items():
            there = versions.get(name)
            if there != here:
                problems.append(f"{name} {there or 'missing'} on {address} (here {here or 'missing'})")
    return problems


def _check_workers(client: Any, scheduler: str) -> None:
    """A usage error, before any work is sent, when workers cannot run the tasks the same way."""
    try:
        remote = client.run(package_versions)
    except Exception as exc:  # e.g. ModuleNotFoundError: inspectcli is not installed there
        text = first_line(exc)
        raise UsageError(
            f"the Dask workers at '{scheduler}' cannot run inspectcli's tasks ({type(exc).__name__}: {text})",
            "install the same inspectcli[dask] and scikit-learn versions on every worker",
        ) from exc
    problems = version_mismatches(package_versions(), remote)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UsageError(
            "the Dask workers run other package versions than this client: " + "; ".join(problems[:3]) + more,
            "install the same inspectcli and scikit-learn versions on every worker",
        )


class TaskRunner:
    """Maps tasks over the chosen workers; see the module docstring."""

    def __init__(self, n_workers: int, backend: str, client: Any = None, parallel: Any = None) -> None:
        #: Chunks that may be in flight at once (memory plans divide the budget by it).
        self.n_workers = n_workers
        self.backend = backend
        self._client = client
        self._parallel = parallel

    @property
    def parallel(self) -> bool:
        """True when tasks leave this process (a joblib pool or a Dask cluster)."""
        return self._client is not None or self._parallel is not None

    def units_per_task(self, n_units: int) -> int:
        """How many chunks (units of work) one task should run, in order, on its worker.

        1 in-process; otherwise enough for about TASKS_PER_WORKER tasks per worker.
        """
        if not self.parallel:
            return 1
        return max(1, -(-n_units // (TASKS_PER_WORKER * self.n_workers)))

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: tuple[Any, ...] = (),
        progress: Progress | None = None,
        weights: Sequence[int] | None = None,
    ) -> Iterator[Any]:
        """Yield ``fn(*shared, *task)`` for each task, in task order.

        ``weights`` are the progress units each task is worth.
        """
        progress = progress or NullProgress()
        fn = _Guarded(fn)
        weights = list(weights) if weights is not None else [1] * len(tasks)
        if self._client is None and (self._parallel is None or len(tasks) <= 1):
            for task, w in zip(tasks, weights):
                result = fn(*shared, *task)
                progress.advance(w)
                yield result
            return
        from joblib import Parallel, delayed, parallel_config

        if self._client is not None:
            # The backend scatters ``shared`` to every worker when it is built (once), and swaps
            # each task argument that *is* one of those objects for its future (None, e.g. no
            # sample weights, is not worth a future).
            scatter = [obj for obj in shared if obj is not None]
            with parallel_config(backend="dask", client=self._client, scatter=scatter or None):
                gen = Parallel(n_jobs=self.n_workers, return_as="generator")(
                    delayed(fn)(*shared, *task) for task in tasks
                )
                yield from _advance(gen, weights, progress)
            return
        gen = self._parallel(delayed(fn)(*shared, *task) for task in tasks)
        yield from _advance(gen, weights, progress)


class _Guarded:
    """``fn``, but SystemExit & co raised inside (by the model's code) become ModelExited.

    An exception, unlike a SystemExit, comes back from any worker (a Dask worker would stop, a
    thread of joblib's pool would end silently) and is reported as the model's failure (exit 4).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except (Exception, KeyboardInterrupt, Terminated):
            raise
        except BaseException as exc:
            raise model_exited(exc) from None


def _advance(gen: Iterator[Any], weights: Sequence[int], progress: Progress) -> Iterator[Any]:
    for result, w in zip(gen, weights):
        progress.advance(w)
        yield result


@contextmanager
def task_runner(n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None) -> Iterator[TaskRunner]:
    """A runner for one engine call: in-process, a joblib pool, or a Dask client (see above).

    With ``backend="dask"``: ``scheduler`` connects to a running cluster (its workers set the
    parallelism); without it a LocalCluster of ``n_jobs`` worker processes (one thread each)
    runs for the duration of the block.
    """
    check_backend(backend, scheduler)
    n = effective_n_jobs(n_jobs)
    if backend == "dask":
        with dask_client(scheduler, n) as client:
            workers = sum(client.ncores().values()) or n
            yield TaskRunner(workers, backend, client=client)
        return
    if n == 1:
        yield TaskRunner(1, backend)
        return
    from joblib import Parallel

    with Parallel(n_jobs=n, backend=backend, return_as="generator") as parallel:
        yield TaskRunner(n, backend, parallel=parallel)
