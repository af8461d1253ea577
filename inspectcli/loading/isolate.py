"""Parse a file with a library's C++ code first in a child process, so that a crash there is an error.

LightGBM, XGBoost and CatBoost parse their own model files in C++. A damaged file (one digit
changed in a LightGBM model text, an XGBoost JSON nested 200,000 levels deep) makes that code
abort or segfault, which ends the whole run with SIGABRT / SIGSEGV (exit 134 / 139): no message, no
documented exit code. :func:`survives_in_child` runs the parse in a forked child first: when the
child dies by a signal, the file is reported as damaged (exit 3) and never parsed in this process.
The child sees the bytes already read (copy-on-write), writes nothing anywhere, and is bounded in
time; a parse that fails normally (a Python exception) is left to the real parse for its message.
``parse`` must run the same way in both (e.g. on one OpenMP thread: a forked child has none of the
parent's OpenMP threads, and a library may crash on a file with some thread counts only).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

#: Seconds a child parse may take before it is stopped (then the file is parsed here, unprotected).
CHILD_TIMEOUT_S = 60.0


def _run_child(parse: Callable[[], Any]) -> None:  # pragma: no cover (runs in the child)
    code = 0
    try:
        import faulthandler

        faulthandler.disable()  # a crash here is expected, and the parent reports it (no dump)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the libraries print to stdout / stderr: not into our results
        os.dup2(devnull, 2)
        parse()
    except BaseException:
        code = 1
    os._exit(code)


def survives_in_child(parse: Callable[[], Any], *, timeout: float = CHILD_TIMEOUT_S) -> str | None:
    """Run ``parse()`` in a forked child: the name of the signal that killed it, else None.

    None also when the child raised, ran out of time, when this platform has no ``fork`` or when
    INSPECT_NO_FORK_PROBE is set: the caller then parses in this process as it would have anyway.
    """
    if not hasattr(os, "fork") or os.environ.get("INSPECT_NO_FORK_PROBE"):
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded, fork() may deadlock"
        pid = os.fork()
    if pid == 0:  # pragma: no cover
        _run_child(parse)
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            time.sleep(0.005)
    except BaseException:  # Ctrl-C / SIGTERM while waiting: the child goes too
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        raise
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"
    return None
