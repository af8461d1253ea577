"""Where chunks run: in-process, joblib's loky / threading workers, or a Dask cluster.

An engine opens one ``task_runner`` per API call and maps its chunks through it::

    with task_runner(n_jobs, backend, scheduler) as runner:
        plan = plan_chunks(..., n_workers=runner.n_workers)
        for result in runner.map(fn, tasks, shared=(estimator, X)):
            ...

``runner.map`` yields ``fn(*shared, *task)`` for each task, in task order. ``shared`` holds the
large objects every task needs (the model and the data): with Dask they are scattered to every
worker once per ``map`` (``client.scatter(..., broadcast=True, hash=False)``: keys of their own,
never shared with another run or client), and each task then carries only their futures plus its
own small arguments. The cluster (a ``LocalCluster`` started for the run, or the scheduler at
``scheduler``) lives as long as the runner, so an engine call that maps several times starts or
connects once.

Dask tasks are submitted with ``client.submit`` (keys ``inspect_<fn>-<uuid>-<i>``), not through
joblib's Dask backend: that backend runs every task under ``parallel_config(backend="dask")``, so
the model's own joblib calls (a ColumnTransformer's ``transform``) became tasks submitted from
inside tasks, which ``secede`` from and ``rejoin`` the worker's one thread; with a lock held across
such a call (the per-process tree-path cache) two tasks on one worker waited on each other
forever, and the stuck threads kept the cluster busy for every later command. Here a task runs
nested joblib calls sequentially in its own thread (``_on_worker``). While a result is awaited,
the scheduler is asked every ``DASK_POLL`` seconds whether it still answers and has workers: a
lost scheduler, a scheduler that stops answering, or a cluster without workers for
``INSPECT_DASK_TIMEOUT`` seconds ends the run with a ``ClusterError`` (exit 4) naming it. Futures
are released when ``map`` ends, however it ends (tasks not started are then dropped).

Every task is a pure function of its arguments, so results do not depend on the backend or the
number of workers (tests check identical results across them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from inspectcli.engines.progress import NullProgress, Progress
from inspectcli.errors import ClusterError, Terminated, UsageError, first_line, model_exited

BACKENDS = ("loky", "threading", "dask")
#: Tasks per worker that engines aim at when they group chunks into tasks: enough to balance the
#: load, few enough that per-task costs (pickling the model for loky, scheduling for Dask) stay
#: small. One chunk per task made n_jobs=2 runs 1.4-1.8x slower than scikit-learn's.
TASKS_PER_WORKER = 4
#: Seconds to wait for a Dask scheduler to answer, or for a cluster without workers to get some
#: back (env INSPECT_DASK_TIMEOUT overrides).
DASK_CONNECT_TIMEOUT = 10.0
#: Seconds between checks that the cluster still answers while a Dask result is awaited.
DASK_POLL = 1.0
#: Seconds to fetch a finished task's result from its worker (a result can be large).
RESULT_FETCH_TIMEOUT = 60.0
#: What a Dask call that ran out of time raises (asyncio's is another class before Python 3.11).
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


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
    with _quiet_client_logs(), _client(scheduler, n_workers) as client:
        yield client


@contextmanager
def _client(scheduler: str | None, n_workers: int) -> Iterator[Any]:
    from distributed import Client

    timeout = _connect_timeout()
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, *_TIMEOUTS, ValueError, TypeError) as exc:
            text = first_line(exc)
            raise UsageError(
                f"cannot reach the Dask scheduler at '{scheduler}' ({text})",
                "check the address (tcp://HOST:8786) and that the scheduler runs",
            ) from exc
        try:
            if not _ncores(client, scheduler, timeout):
                try:
                    client.wait_for_workers(1, timeout=timeout)
                except (OSError, *_TIMEOUTS) as exc:
                    raise UsageError(
                        f"the Dask scheduler at '{scheduler}' has no workers",
                        f"start some: dask worker {scheduler}",
                    ) from exc
            _check_workers(client, scheduler, timeout)
            yield client
        finally:
            _close(client, timeout)
        return
    with _local_cluster(n_workers) as cluster:
        client = Client(cluster, timeout=timeout, set_as_default=False)
        try:
            yield client
        finally:
            _close(client, timeout)


@contextmanager
def _quiet_client_logs() -> Iterator[None]:
    """Distributed's client logs tracebacks when its scheduler goes away (while it reconnects, and
    when it is closed then): the run reports that itself, in one line. Its loggers (``distributed``
    and its children, which dask's config gives levels of their own) are silenced meanwhile,
    unless the caller set ``distributed`` to DEBUG."""
    if logging.getLogger("distributed").level == logging.DEBUG:
        yield
        return
    names = ["distributed"] + [
        n for n in list(logging.root.manager.loggerDict) if n.startswith("distributed.")
    ]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _ncores(client: Any, address: str, timeout: float) -> dict[str, int]:
    """{worker: threads} from the scheduler, or a ClusterError when it does not answer in time."""
    from distributed import CancelledError

    try:
        return dict(client.ncores(callback_timeout=timeout))
    except (OSError, *_TIMEOUTS, CancelledError, RuntimeError) as exc:
        why = (
            f"no reply in {timeout:g} s"
            if isinstance(exc, _TIMEOUTS)
            else f"{type(exc).__name__}: {first_line(exc)}"
        )
        raise ClusterError(
            f"the Dask scheduler at '{address}' stopped answering ({why})",
            "check that the scheduler and its workers run, then run the command again",
        ) from exc


def _close(client: Any, timeout: float) -> None:
    """Close ``client`` within ``timeout``; a cluster already gone is not a second error."""
    try:
        client.close(timeout=timeout)
    except Exception:  # the scheduler may be gone: the run's own error, if any, stands
        pass


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


def _check_workers(client: Any, scheduler: str, timeout: float) -> None:
    """A usage error, before any work is sent, when workers cannot run the tasks the same way."""
    try:
        remote = client.sync(client._run, package_versions, callback_timeout=timeout)
    except _TIMEOUTS as exc:
        raise ClusterError(
            f"the Dask workers at '{scheduler}' did not answer in {timeout:g} s",
            "check that the workers run (dask worker logs), then run the command again",
        ) from exc
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

    def __init__(
        self,
        n_workers: int,
        backend: str,
        client: Any = None,
        parallel: Any = None,
        address: str | None = None,
    ) -> None:
        #: Chunks that may be in flight at once (memory plans divide the budget by it).
        self.n_workers = n_workers
        self.backend = backend
        self._client = client
        self._parallel = parallel
        #: The Dask scheduler's address, for messages.
        self.address = address
        #: Keys of the data the workers read themselves (engines/worker_data.py), dropped at the end.
        self.recipe_keys: set[str] = set()
        #: Whether Dask workers read offered data themselves: auto | yes | no.
        self.data_on_workers = "auto"

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
        if self._client is not None:
            yield from _dask_map(
                self._client,
                self.address or "?",
                fn,
                tasks,
                shared,
                weights,
                progress,
                self.recipe_keys,
                self.data_on_workers,
            )
            return
        from joblib import delayed

        gen = self._parallel(delayed(fn)(*shared, *task) for task in tasks)
        yield from _advance(gen, weights, progress)


def _on_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """One task on a Dask worker: joblib calls inside it (a model's own ``n_jobs``) run in this
    thread, one after another, instead of going back to the cluster (see the module docstring)."""
    from joblib import parallel_config

    from inspectcli.engines.worker_data import resolve

    with parallel_config(backend="sequential"):
        return fn(*resolve(args))


def _dask_map(
    client: Any,
    address: str,
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    shared: tuple[Any, ...],
    weights: Sequence[int],
    progress: Progress,
    recipe_keys: set[str],
    data_on_workers: str = "auto",
) -> Iterator[Any]:
    """``TaskRunner.map`` on a Dask client: scatter ``shared`` once (offered data as the recipe the
    workers read it with, engines/worker_data.py), submit every task, yield the results in task
    order, release every future at the end."""
    from inspectcli.engines.worker_data import recipe_keys as keys_of
    from inspectcli.engines.worker_data import stand_ins

    timeout = _connect_timeout()
    ask = lambda recipe: _ask_workers(client, address, timeout, recipe)  # noqa: E731
    shared = stand_ins(shared, ask, address, data_on_workers)
    recipe_keys.update(keys_of(shared))
    name = getattr(getattr(fn, "fn", fn), "__name__", "task")  # (fn: a _Guarded function)
    run = f"inspect_{name.lstrip('_')}-{uuid.uuid4().hex}"  # Dask's task prefix: inspect_<name>
    scattered: list[Any] = []
    futures: list[Any] = []
    try:
        objects = [obj for obj in shared if obj is not None]  # None (no weights) is not worth a future
        if objects:
            scattered = _on_cluster(
                client, address, timeout, lambda: client.scatter(objects, broadcast=True, hash=False)
            )
        refs = iter(scattered)
        args = [next(refs) if obj is not None else None for obj in shared]
        futures = [
            client.submit(_on_worker, fn, *args, *task, key=f"{run}-{i}", pure=False)
            for i, task in enumerate(tasks)
        ]
        for future, w in zip(futures, weights):
            result = _result(client, address, future, timeout)
            progress.advance(w)
            yield result
    finally:
        for future in [*futures, *scattered]:
            future.release()


def _ask_workers(client: Any, address: str, timeout: float, recipe: Any) -> dict[str, str | None]:
    """{worker: None when it sees ``recipe``'s files as this machine does, else what differs}.

    (A worker may first import inspectcli's loaders, and stat or hash the files: this waits as
    long as a result fetch may.)
    """
    from inspectcli.engines.worker_data import check_on_worker

    wait = max(RESULT_FETCH_TIMEOUT, timeout)
    return _on_cluster(
        client,
        address,
        wait,
        lambda: client.sync(client._run, check_on_worker, recipe, callback_timeout=wait),
    )


def _forget_data(client: Any, keys: set[str]) -> None:
    """Best effort: the workers drop the data they read for this runner."""
    from inspectcli.engines.worker_data import forget

    try:
        client.sync(client._run, forget, sorted(keys), callback_timeout=_connect_timeout())
    except Exception:  # a cluster gone or busy keeps at most CACHE_ENTRIES frames per worker
        pass


def _result(client: Any, address: str, future: Any, timeout: float) -> Any:
    """The result of ``future``; a ClusterError, within a bounded time, when the cluster cannot give it.

    The task's own exception (the model's) is raised as it is.
    """
    idle_since: float | None = None  # since when the scheduler has had no workers
    while True:
        try:
            # (the task's own exception is returned here, not raised: a TimeoutError is the wait's)
            _on_cluster(client, address, timeout, lambda: future.exception(timeout=DASK_POLL), poll=True)
            break
        except _TIMEOUTS:
            pass
        workers = _ncores(client, address, timeout)
        if workers:
            idle_since = None
            continue
        now = time.monotonic()
        idle_since = idle_since if idle_since is not None else now
        if now - idle_since > timeout:
            raise ClusterError(
                f"the Dask scheduler at '{address}' has had no workers for {timeout:g} s "
                "while tasks were waiting",
                f"start workers (dask worker {address}), then run the command again",
            )
    if future.status == "error":  # the task raised: the model's exception as it is, unless the cluster's
        from distributed.scheduler import KilledWorker

        if not isinstance(future.exception(), KilledWorker):
            return future.result()
    fetch = max(RESULT_FETCH_TIMEOUT, timeout)
    return _on_cluster(client, address, fetch, lambda: future.result(timeout=fetch))


def _on_cluster(
    client: Any, address: str, timeout: float, call: Callable[[], Any], poll: bool = False
) -> Any:
    """``call()``, with the cluster's own failures (scheduler lost, workers killed) as ClusterError.

    ``poll``: a TimeoutError is the poll's and propagates unchanged.
    """
    from distributed import CancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        return call()
    except _TIMEOUTS:
        if poll:
            raise
        raise ClusterError(
            f"the Dask scheduler at '{address}' stopped answering (waited {timeout:g} s)",
            "check that the scheduler and its workers run, then run the command again",
        ) from None
    except (CancelledError, CommClosedError) as exc:
        what = f"{type(exc).__name__}: {first_line(exc, 'no detail')}"[:160]
        if client.status == "running" and _answers(client, timeout):
            raise ClusterError(
                f"the Dask workers of the scheduler at '{address}' went away during the run ({what})",
                "check the workers (dask worker logs), then run the command again",
            ) from exc
        raise ClusterError(
            f"lost the connection to the Dask scheduler at '{address}' during the run ({what})",
            "check that the scheduler runs (its log says why it stopped), then run the command again",
        ) from exc
    except KilledWorker as exc:
        raise ClusterError(
            f"the Dask workers at '{address}' died while running a task ({first_line(exc)})",
            "the worker logs say why (memory limit? a crash in the model?); fix that and run again",
        ) from exc


def _answers(client: Any, timeout: float) -> bool:
    """Whether the scheduler still answers ``client`` within ``timeout``."""
    try:
        client.ncores(callback_timeout=timeout)
    except Exception:  # any failure to answer is a no
        return False
    return True


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
def task_runner(
    n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None, *, data_on_workers: str = "auto"
) -> Iterator[TaskRunner]:
    """A runner for one engine call: in-process, a joblib pool, or a Dask client (see above).

    ``data_on_workers`` (auto | yes | no): whether Dask workers read offered data themselves
    (engines/worker_data.py).

    With ``backend="dask"``: ``scheduler`` connects to a running cluster (its workers set the
    parallelism); without it a LocalCluster of ``n_jobs`` worker processes (one thread each)
    runs for the duration of the block.
    """
    check_backend(backend, scheduler)
    n = effective_n_jobs(n_jobs)
    if backend == "dask":
        with dask_client(scheduler, n) as client:
            address = scheduler or client.scheduler.address
            workers = sum(_ncores(client, address, _connect_timeout()).values()) or n
            runner = TaskRunner(workers, backend, client=client, address=address)
            runner.data_on_workers = data_on_workers
            try:
                yield runner
            finally:
                if runner.recipe_keys:
                    _forget_data(client, runner.recipe_keys)
        return
    if n == 1:
        yield TaskRunner(1, backend)
        return
    from joblib import Parallel

    with Parallel(n_jobs=n, backend=backend, return_as="generator") as parallel:
        yield TaskRunner(n, backend, parallel=parallel)
