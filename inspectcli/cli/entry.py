"""The console-script entry point: signals are handled from its first instruction.

Importing the app (typer, rich, numpy, …) and parsing the options take a while; a Ctrl-C or a
SIGTERM then must end the run like one during the computation: one ``error:`` line and exit 130
(interrupted) or 143 (terminated), never a traceback and never 1 (which CI reads as "a gate held").
This module imports nothing heavy before its handlers are in place.

The command runs in a child process that this one supervises: a model's code may end the process
in ways no ``except`` sees (``os._exit(0)``, a segfault in a C extension, the out-of-memory killer),
and the exit status of such a run (0 from ``os._exit(0)``) must never read as a passed gate. The
child reports the exit code it chose through a pipe just before it exits; a child that ends
without a report ended inside code that is not ours: exit 4 with a message. SIGTERM sent to this
process is passed on to the child; SIGINT (Ctrl-C reaches the whole process group) is left to it.
``INSPECT_NO_SUPERVISOR=1`` (or a platform without ``fork``) runs the command in this process.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from inspectcli.errors import EXIT_COMPUTE, EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _say(text: str) -> None:
    try:
        sys.stderr.write(f"error: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _end(word: str, code: int) -> int:
    """Say why the run ends and return ``code``; further signals no longer interrupt that."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    _say(word)
    return code


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    _say(str(exc.code))
    return 1


def _run() -> int:
    try:
        from inspectcli.cli.app import run

        run()
        return 0
    except SystemExit as exc:
        return _exit_code(exc)
    except KeyboardInterrupt:
        return _end("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        return _end("terminated (SIGTERM)", EXIT_TERMINATED)


def _child_ended(status: int) -> tuple[int, str]:
    """(exit code, message) for a child that ended without reporting its code."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGINT:
            return EXIT_INTERRUPTED, "interrupted"
        if sig == signal.SIGTERM:
            return EXIT_TERMINATED, "terminated (SIGTERM)"
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        if sig == signal.SIGKILL:
            return EXIT_COMPUTE, (
                "the run was killed (SIGKILL), e.g. by the out-of-memory killer — lower --memory-budget "
                "or use --subsample / --max-samples"
            )
        return EXIT_COMPUTE, (
            f"the run crashed ({name}), in the model's code or a library it uses — nothing was written; "
            "check the model (rerun with --n-jobs 1 to see where)"
        )
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return EXIT_COMPUTE, (
        f"the run ended with status {code} before the command finished: code that is not inspect's "
        "(the model's, e.g. os._exit) ended the process — its results are not trustworthy; check the model"
    )


def _supervise() -> int | None:
    """Fork: in the child, the write end of the report pipe; the parent waits and never returns."""
    if not hasattr(os, "fork") or os.environ.get("INSPECT_NO_SUPERVISOR", "") not in ("", "0"):
        return None
    read, write = os.pipe()
    blocked = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:  # Linux: the child goes too when its supervisor is killed
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
        return write
    os.close(write)

    def forward(signum: int, frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, before)
    _, status = os.waitpid(pid, 0)
    os.set_blocking(read, False)
    try:
        report = os.read(read, 64)
    except (BlockingIOError, OSError):  # a process the child forked still holds the pipe
        report = b""
    os.close(read)
    if report.strip().lstrip(b"-").isdigit():
        os._exit(int(report))
    code, text = _child_ended(status)
    _say(text)
    os._exit(code)


def main() -> None:
    """``inspect`` / ``inspectcli`` / ``python -m inspectcli``."""
    report = None
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
        report = _supervise()
        code = _run()
    except KeyboardInterrupt:
        code = _end("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        code = _end("terminated (SIGTERM)", EXIT_TERMINATED)
    if report is not None:
        try:
            os.write(report, f"{code}\n".encode())
        except OSError:
            pass
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
