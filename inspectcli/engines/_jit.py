"""Compiled kernels: the one place where numba is imported and configured.

Some of the engines' inner loops (walking every row through every tree, adding per-tree
outputs in the estimator's own order) do a few nanoseconds of work per step; as numpy
array operations they cost ~100 ns per step in temporaries and dispatch.  Those loops are
written as plain Python functions over arrays and compiled with :func:`kernel`.

Rules for a kernel:

* exact IEEE arithmetic: no ``fastmath`` (no reassociation, no fused multiply-add
  contraction), so a kernel adds in the order its loop is written and float32 sums stay
  float32 — the results are the ones the numpy code they replace gives, bit for bit;
* ``cache=True``: compiled once per machine (next to this package, or in numba's user-wide
  cache when the package directory is read-only) and loaded from the cache afterwards;
* ``nogil=True``: thread backends can run kernels side by side;
* numba is imported here only, on the first kernel a run uses, never at CLI start-up
  (``tests/cli/test_start_fast.py`` keeps it out of ``inspect --version``).

Timing decisions (``engine="auto"`` trials) must call :func:`warm` on the kernels they are
about to time first, so that a first compilation is not mistaken for the engine's speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

#: Called (once per process) with a message when a kernel's first call takes longer than
#: :data:`COMPILE_NOTICE_S`: numba compiling it, on a machine's first run (loading it from the
#: cache takes milliseconds). The CLI prints it as a note on stderr; it is never part of a result.
on_first_compile: Callable[[str], None] | None = None
COMPILE_NOTICE_S = 1.0
_told: list[bool] = []


def _tell(seconds: float) -> None:
    if seconds > COMPILE_NOTICE_S and not _told and on_first_compile is not None:
        _told.append(True)
        on_first_compile(
            "compiling the tree engine's kernels for this machine (once, ~20 s of CPU; later runs "
            "load them from numba's cache)"
        )


def kernel(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Compile ``fn`` lazily with the project's numba options.

    Parameters
    ----------
    fn : callable
        A function over numpy arrays and scalars in numba's nopython subset.

    Returns
    -------
    callable
        A dispatcher with the same signature; numba is imported on its first call, and the
        machine code is compiled (or loaded from the cache) per argument type signature.
    """
    compiled: list[Callable[..., Any]] = []

    def call(*args: Any) -> Any:
        if not compiled:
            import numba

            compiled.append(numba.njit(**_OPTIONS)(fn))
            started = time.perf_counter()
            out = compiled[0](*args)
            _tell(time.perf_counter() - started)
            return out
        return compiled[0](*args)

    call.__name__ = fn.__name__
    call.__qualname__ = fn.__qualname__
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def warm(*calls: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
    """Compile (or load) kernels before a timed trial by calling each on tiny arguments.

    Parameters
    ----------
    *calls : tuple of (kernel, args)
        Each kernel with arguments of the same types as the timed call will pass, sized
        to do almost no work.
    """
    for fn, args in calls:
        fn(*args)
