"""The console-script entry point: signals are handled from its first instruction.

Importing the app (typer, rich, numpy, …) and parsing the options take a while; a Ctrl-C or a
SIGTERM then must end the run like one during the computation: one ``error:`` line and exit 130
(interrupted) or 143 (terminated), never a traceback and never 1 (which CI reads as "a gate held").
This module imports nothing heavy before its handlers are in place.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, NoReturn

from inspectcli.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _end(word: str, code: int) -> NoReturn:
    """Say why the run ends and exit with ``code``; further signals no longer interrupt that."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    try:
        sys.stderr.write(f"error: {word}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.exit(code)


def main() -> None:
    """``inspect`` / ``inspectcli`` / ``python -m inspectcli``."""
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
        from inspectcli.cli.app import run

        run()
    except KeyboardInterrupt:
        _end("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        _end("terminated (SIGTERM)", EXIT_TERMINATED)


if __name__ == "__main__":  # pragma: no cover
    main()
