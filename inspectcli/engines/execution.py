"""How a computation runs: memory budget, workers, backend, Dask scheduler and progress, in one object."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspectcli.engines.progress import NullProgress, Progress

#: Memory for batched predictions when none is given (512 MB).
DEFAULT_MEMORY_BUDGET = 512 * 2**20


@dataclass(frozen=True)
class Execution:
    """Where and how the engines run.

    Parameters
    ----------
    memory_budget : int, default=512 MiB
        Bytes the batched predictions may hold at once.
    n_jobs : int, default=1
        Parallel workers (-1: all cores).
    backend : {"loky", "threading", "dask"}, default="loky"
        How workers run.
    scheduler : str or None, default=None
        Dask scheduler address (``tcp://HOST:8786``) with ``backend="dask"``; None: a local cluster.
    progress : callable or None, default=None
        A factory of context managers that yield a :class:`~inspectcli.engines.progress.Progress`
        (the CLI's progress bar); None reports nowhere.
    data_on_workers : {"auto", "yes", "no"}, default="auto"
        With ``backend="dask"``: whether the workers read data that came from a path on disk
        themselves (``"auto"``: when they see the same files; ``"yes"``: they must) instead of
        receiving it from this process (engines/worker_data.py).
    """

    memory_budget: int = DEFAULT_MEMORY_BUDGET
    n_jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    progress: Callable[[], AbstractContextManager[Progress]] | None = None
    data_on_workers: str = "auto"

    def __post_init__(self) -> None:
        """Usage errors (ValueError) naming the parameter of a value of the wrong type or range.

        ``memory_budget`` also takes a size such as ``"512MB"`` (stored as bytes); ``n_jobs=None``
        means 1, as in joblib.
        """
        from inspectcli.errors import UsageError
        from inspectcli.numbers import parse_size

        budget = self.memory_budget
        if isinstance(budget, str):
            object.__setattr__(self, "memory_budget", parse_size(budget, param="memory_budget"))
        elif (
            isinstance(budget, bool)
            or not isinstance(budget, (int, float, np.integer, np.floating))
            or not math.isfinite(budget)
            or budget < 1
            or budget != int(budget)
        ):
            raise UsageError(
                f"`memory_budget={budget!r}` must be a whole number of bytes >= 1 or a size",
                "e.g. memory_budget=512 * 2**20 or memory_budget='512MB'",
            )
        else:
            object.__setattr__(self, "memory_budget", int(budget))
        if self.n_jobs is None:
            object.__setattr__(self, "n_jobs", 1)
        elif isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer)):
            raise UsageError(
                f"`n_jobs={self.n_jobs!r}` must be a whole number of workers", "e.g. n_jobs=2 (-1: all cores)"
            )
        else:
            object.__setattr__(self, "n_jobs", int(self.n_jobs))
        if not isinstance(self.backend, str):
            raise UsageError(f"`backend={self.backend!r}` must be a string", "loky, threading or dask")
        if self.scheduler is not None and not (isinstance(self.scheduler, str) and self.scheduler.strip()):
            raise UsageError(
                f"`scheduler={self.scheduler!r}` must be a Dask scheduler's address",
                "e.g. scheduler='tcp://HOST:8786' with backend='dask'",
            )
        if self.progress is not None and not callable(self.progress):
            raise UsageError(
                f"`progress={self.progress!r}` must be a callable returning a context manager, or None",
                "leave it out",
            )
        self.check()

    @staticmethod
    def of(execution: Any) -> Execution:
        """``execution`` itself (checked when it was made), or the default Execution for None; a usage
        error otherwise."""
        if execution is None:
            return Execution()
        if not isinstance(execution, Execution):
            from inspectcli.errors import UsageError

            raise UsageError(
                f"`execution={execution!r}` must be an inspectcli.Execution",
                "e.g. execution=Execution(n_jobs=2, backend='loky')",
            )
        return execution

    def check(self) -> None:
        """A usage error for an unknown backend, or a scheduler without the dask backend."""
        from inspectcli.engines.parallel import check_backend
        from inspectcli.engines.worker_data import check_mode

        check_backend(self.backend, self.scheduler)
        check_mode(self.data_on_workers)

    @property
    def reads_on_workers(self) -> bool:
        """Whether Dask workers may read data on disk themselves (then a workflow's own process
        need not hold all of it: workflows/_on_workers.py)."""
        return self.backend == "dask" and self.data_on_workers != "no"

    def replace(self, **changes: Any) -> Execution:
        """A copy with ``changes`` (e.g. ``scheduler=`` a shared cluster's address)."""
        return dataclasses.replace(self, **changes)

    @contextmanager
    def reporting(self) -> Iterator[Progress]:
        """The open progress reporter of one engine call (nothing is drawn without ``progress``)."""
        factory = self.progress or (lambda: nullcontext(NullProgress()))
        with factory() as progress:
            yield progress

    def within(self, progress: Progress) -> Execution:
        """A copy whose ``reporting()`` yields the already open ``progress`` (an engine calling another)."""
        return self.replace(progress=lambda: nullcontext(progress))

    def runner(self) -> AbstractContextManager[Any]:
        """The task runner of one engine call (engines/parallel.py: in-process, joblib or Dask)."""
        from inspectcli.engines.parallel import task_runner

        return task_runner(self.n_jobs, self.backend, self.scheduler, data_on_workers=self.data_on_workers)

    @contextmanager
    def sharing(self, share: bool = True) -> Iterator[Execution]:
        """This execution, with one Dask LocalCluster kept up for several runners when ``share``.

        With ``backend="dask"`` and no scheduler, the yielded copy names the address of a cluster
        that lives for the block, so that consecutive runners (tree paths, then predicting) use one
        cluster instead of starting one each; otherwise the execution itself.
        """
        if not share:
            yield self
            return
        from inspectcli.engines.parallel import shared_scheduler

        with shared_scheduler(self.backend, self.scheduler, self.n_jobs) as scheduler:
            yield self if scheduler == self.scheduler else self.replace(scheduler=scheduler)
