"""The Typer app: commands, --version, and the one place errors become messages and exit codes."""

from __future__ import annotations

import functools
import os
import re
import signal
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import click
import typer
import typer.core
from typer.core import TyperGroup

from inspectcli import __version__
from inspectcli.cli.console import UI
from inspectcli.errors import EXIT_COMPUTE, EXIT_INTERRUPTED, InspectError

F = TypeVar("F", bound=Callable[..., Any])
#: The click Typer runs on (recent Typer versions vendor their own copy).
_click: Any = getattr(typer.core, "_click", click)


class _OneLineErrors(TyperGroup):
    """Typer's group, but a bad option or argument is one `error: … — …` line, like our own errors.

    (Typer draws click's usage errors as a boxed panel with the usage text; CI logs and users
    reading stderr get the same shape for every failure instead.)
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _click.exceptions.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # help was shown
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "inspect"
            message = " ".join(exc.format_message().split())
            UI().error(f"{message} — see '{where} --help'")
            sys.exit(exc.exit_code)
        except typer.Abort:
            UI().error("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="inspect",
    cls=_OneLineErrors,
    help=(
        "Inspect a fitted scikit-learn model: what drives its predictions.\n\n"
        "Partial dependence and ICE (pdp), accumulated local effects (ale), permutation importance "
        "(importance), linear-model coefficients (coefficients), model/data checks (info), and "
        "comparisons of two runs (diff): JSON/CSV results with a published schema (schema), PNG plots, "
        "and exit codes CI can gate on."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        import sklearn

        typer.echo(f"inspectcli {__version__} (scikit-learn {sklearn.__version__})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Inspect a fitted scikit-learn model: what drives its predictions."""


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
                return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except InspectError as exc:
                if debug:
                    traceback.print_exc(file=sys.stderr)
                ui.error(str(exc))
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt:
                ui.error("interrupted")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except Terminated:
                ui.error("terminated (SIGTERM)")
                raise typer.Exit(EXIT_TERMINATED) from None
            except Exception as exc:  # a bug of ours, or an unforeseen failure: say so plainly
                if debug:
                    traceback.print_exc(file=sys.stderr)
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                ui.error(
                    f"unexpected {type(exc).__name__}: {first} — rerun with --debug for the "
                    "traceback, and please report it"
                )
                raise typer.Exit(EXIT_COMPUTE) from None
            finally:
                _show_warnings(ui, caught)

    return wrapper  # type: ignore[return-value]


def _register() -> None:
    from inspectcli.cli import info

    info.register(app)
    for module in ("pdp", "importance", "diff", "schema", "coefficients", "ale"):
        try:
            mod = __import__(f"inspectcli.cli.{module}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"inspectcli.cli.{module}":
                raise
            continue
        mod.register(app)


_register()


class Terminated(BaseException):
    """SIGTERM (a CI job cancelled), raised like Ctrl-C's KeyboardInterrupt so clean-up runs."""


EXIT_TERMINATED = 128 + 15


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main() -> None:
    """Console-script entry point (``inspect`` and ``inspectcli``)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    name = os.path.basename(sys.argv[0])
    app(prog_name="inspect" if name in ("", "__main__.py", "-c") else name)
