"""The Typer app: commands, --version, and the one place errors become messages and exit codes."""

from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from inspectcli import __version__
from inspectcli.cli.console import UI
from inspectcli.errors import EXIT_COMPUTE, EXIT_INTERRUPTED, InspectError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="inspect",
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


def _show_warnings(ui: UI, caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if not text or text in seen:
            continue
        seen.add(text)
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)) and not ui.verbose:
            continue
        ui.warn(f"{w.category.__name__}: {text}" if ui.verbose else text)


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


def main() -> None:
    """Console-script entry point (``inspect`` and ``inspectcli``)."""
    app(prog_name=os.path.basename(sys.argv[0]) or "inspect")
