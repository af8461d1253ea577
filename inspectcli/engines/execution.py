"""How a computation runs: memory budget, workers, backend, Dask scheduler and progress, in one object."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

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

    def check(self) -> None:
        """A usage error for an unknown backend, or a scheduler without the dask backend."""
        from inspectcli.engines.parallel import check_backend
        from inspectcli.engines.worker_data import check_mode

        check_backend(self.backend, self.scheduler)
        check_mode(self.data_on_workers)

    def replace(self, **changes: Any) -> Execution:
        """A copy with ``changes`` (e.g. ``scheduler=`` a shared cluster's address)."""
        return dataclasses.replace(self, **changes)

    @contextmanager
    def engine_kwargs(self, *, memory: bool = True) -> Iterator[dict[str, Any]]:
        """The keyword arguments engines take (``memory_budget`` … ``progress``), progress running."""
        from inspectcli.engines.worker_data import data_on_workers_mode

        factory = self.progress or (lambda: nullcontext(NullProgress()))
        with factory() as progress, data_on_workers_mode(self.data_on_workers):
            kwargs: dict[str, Any] = {
                "n_jobs": self.n_jobs,
                "backend": self.backend,
                "scheduler": self.scheduler,
                "progress": progress,
            }
            if memory:
                kwargs["memory_budget"] = self.memory_budget
            yield kwargs
