"""The one place errors become messages and exit codes, for every command.

``handle_errors`` wraps a command: an InspectError prints ``error: <what> — <hint>`` (the
parameters it names spelled as this CLI's flags: ``max_samples`` -> ``--max-samples``) and exits with
its code; Ctrl-C exits 130 and SIGTERM 143 after clean-up; anything else is reported as an
unexpected error (exit 4) with the traceback only under --debug. Library warnings raised while the
command runs are shown as one-line warnings.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from inspectcli.cli.console import UI, results_only_on_stdout
from inspectcli.errors import (
    EXIT_COMPUTE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    InspectError,
    Terminated,
    UsageError,
    clip,
    first_line,
    model_exited,
    render_params,
)

F = TypeVar("F", bound=Callable[..., Any])


__all__ = ["Terminated", "handle_errors"]

EXIT_TERMINATED = 128 + 15

#: Library parameters whose flag is not ``--`` + the name with dashes (aliases: the first one is
#: used before a value, ``-f age``; all of them otherwise, ``-f/--features``).
FLAGS = {
    "classes": "--class",
    "features": "-f/--features",
    "pairs": "--pair",
    "groups": "--group",
    "custom_values": "--values",
    "categorical_features": "--categorical",
    "orders": "--order",
    "standard_error": "--band",
}


#: Per command, parameters whose flag there differs from :data:`FLAGS` (one library name, two
#: options: pdp's ``--pair A,B`` and interactions' ``--pairs top|all|A,B`` are both ``pairs``).
COMMAND_FLAGS = {"interactions": {"pairs": "--pairs"}}


def _command_name() -> str | None:
    """The subcommand running now (click's current context), or None outside one."""
    try:  # recent Typer versions vendor their own click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return ctx.info_name if ctx is not None else None


def flag_of(param: str) -> str:
    """The command-line flag of a library parameter: ``max_samples`` -> ``--max-samples``."""
    own = COMMAND_FLAGS.get(_command_name() or "", {})
    return own.get(param) or FLAGS.get(param) or "--" + param.replace("_", "-")


def _spell(name: str, value: str | None) -> str:
    flag = flag_of(name.rstrip("!"))
    if name.endswith("!"):  # the long flag alone
        return flag.split("/")[-1]
    return flag if value is None else f"{flag.split('/')[0]} {value}"


def cli_text(text: str) -> str:
    """A library message (error, note) with its parameters spelled as flags."""
    return render_params(text, _spell)


def cli_message(exc: InspectError) -> str:
    """The one-line ``<what> — <hint>`` of a library error, as the command line says it."""
    return exc.render(_spell)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


_GLYPH = re.compile(r"Glyph (\d+) .*missing from (?:current )?font\(?s?\)? (.*?)\.?$")


def _show_warnings(ui: UI, caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    glyphs: dict[str, None] = {}
    font = ""
    for w in caught:
        text = " ".join(str(w.message).split())
        m = _GLYPH.match(text)
        if m:  # matplotlib warns once per character; say it once
            glyphs[chr(int(m.group(1)))] = None
            font = m.group(2)
            continue
        if not text or text in seen:
            continue
        seen.add(text)
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)) and not ui.verbose:
            continue
        ui.warn(f"{w.category.__name__}: {text}" if ui.verbose else text)
    if glyphs:
        chars = "".join(list(glyphs)[:12]) + ("…" if len(glyphs) > 12 else "")
        ui.warn(
            f"the plot cannot draw {len(glyphs)} character(s) of the names with the font {font} "
            f"({chars}): they show as boxes; results files are not affected"
        )


def _check_finite_options(kwargs: dict[str, Any]) -> None:
    """Typed float options ('--cluster-threshold nan') must be finite numbers: a usage error."""
    for name, value in kwargs.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                option = "--" + name.replace("_", "-")
                raise UsageError(f"{option} '{v}' is not a finite number", f"give {option} a number")


#: OSErrors about a path the user gave (too long, no permission, no space, …): usage errors.
_PATH_ERRNOS = {
    errno.ENAMETOOLONG,
    errno.ELOOP,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
}


def _unexpected(ui: UI, exc: BaseException, debug: bool) -> NoReturn:
    """A bug of ours, or an unforeseen failure: say so plainly (exit 4)."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    first = first_line(exc, "")
    ui.error(
        f"unexpected {type(exc).__name__}: {first} — rerun with --debug for the traceback, "
        "and please report it"
    )
    raise typer.Exit(EXIT_COMPUTE) from None


def _worker_died(exc: BaseException) -> bool:
    """A joblib / loky / Dask worker process ended while running a task (the model's code, or a crash)."""
    return type(exc).__name__ in ("TerminatedWorkerError", "KilledWorker", "BrokenProcessPool")


def handle_errors(fn: F) -> F:
    """Run a command: InspectError -> 'error: …' + its exit code; Ctrl-C -> 130; others -> 4.

    Tracebacks are shown only with --debug (or INSPECT_DEBUG=1). Library warnings raised while the
    command runs are shown as one-line warnings.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug")) or os.environ.get("INSPECT_DEBUG", "") not in ("", "0")
        ui = UI(quiet=bool(kwargs.get("quiet")), verbose=bool(kwargs.get("verbose")))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="joblib")
            warnings.filterwarnings("ignore", message=".*resource_tracker.*")
            try:
                _check_finite_options(kwargs)
                with results_only_on_stdout():  # a model's print() goes to stderr
                    return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except InspectError as exc:
                if debug:
                    traceback.print_exc(file=sys.stderr)
                ui.error(cli_message(exc))
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                ui.error("interrupted")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except Terminated:
                ui.error("terminated (SIGTERM)")
                raise typer.Exit(EXIT_TERMINATED) from None
            except MemoryError:
                if debug:
                    traceback.print_exc(file=sys.stderr)
                ui.error(
                    "out of memory: this run needs more memory than the machine (or its limits) allows "
                    "— lower --memory-budget, --n-repeats or --grid-resolution, or use --subsample"
                )
                raise typer.Exit(EXIT_COMPUTE) from None
            except OSError as exc:
                if exc.errno not in _PATH_ERRNOS:
                    _unexpected(ui, exc, debug)
                if debug:
                    traceback.print_exc(file=sys.stderr)
                where = f" '{clip(exc.filename, 80)}'" if exc.filename else ""
                ui.error(
                    f"cannot use{where}: {exc.strerror or exc} — check the path, its length and permissions"
                )
                raise typer.Exit(EXIT_USAGE) from None
            except Exception as exc:  # a bug of ours, or an unforeseen failure: say so plainly
                if _worker_died(exc):
                    ui.error(
                        f"a worker process died while running the model ({type(exc).__name__}: "
                        f"{first_line(exc, '')}) — the model may exit or crash its process; rerun "
                        "with --n-jobs 1 to see its own error"
                    )
                    raise typer.Exit(EXIT_COMPUTE) from None
                _unexpected(ui, exc, debug)
            except BaseException as exc:  # SystemExit & co from the model's code: never the run's end
                if debug:
                    traceback.print_exc(file=sys.stderr)
                ui.error(str(model_exited(exc)))
                raise typer.Exit(EXIT_COMPUTE) from None
            finally:
                _show_warnings(ui, caught)

    return wrapper  # type: ignore[return-value]
