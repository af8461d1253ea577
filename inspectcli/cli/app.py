"""The Typer app: its commands, --version, one-line usage errors, and the entry point."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import click
import typer
import typer.core
from typer.core import TyperGroup

from inspectcli import __version__
from inspectcli.cli.console import UI
from inspectcli.cli.helptypes import install as _plain_help_types

_plain_help_types()

#: The click Typer runs on (recent Typer versions vendor their own copy).
_click: Any = getattr(typer.core, "_click", click)


def _refuse_empty_out(argv: Any) -> None:
    """``--out ""`` (an unset variable in a CI script: ``--out "$DIR"``) is an error, not ``.``.

    Click turns the empty string into ``Path('.')`` before any callback sees it, and the results
    would then replace files of the same names in the current directory.
    """
    argv = [str(a) for a in (argv or ())]
    for i, token in enumerate(argv):
        if token == "--":
            return
        empty = token in ("--out=", "-o=") or (
            token in ("--out", "-o") and i + 1 < len(argv) and not argv[i + 1]
        )
        if empty:
            raise _click.exceptions.UsageError(
                "--out is empty (an unset variable?): give a directory, e.g. --out results"
            )


class _OneLineErrors(TyperGroup):
    """Typer's group, but a bad option or argument is one `error: … — …` line, like our own errors.

    (Typer draws click's usage errors as a boxed panel with the usage text; CI logs and users
    reading stderr get the same shape for every failure instead.)
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            _refuse_empty_out(args[0] if args and args[0] is not None else kwargs.get("args", sys.argv[1:]))
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _click.exceptions.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # help was shown
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "inspect"
            message = " ".join(exc.format_message().split())
            UI().error(f"{message} — see '{where} --help'")
            sys.exit(exc.exit_code)
        except typer.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
                raise KeyboardInterrupt from None
            UI().error("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="inspect",
    cls=_OneLineErrors,
    help=(
        "Inspect a fitted model (scikit-learn, LightGBM, XGBoost, CatBoost): what drives its "
        "predictions.\n\n"
        "Partial dependence and ICE (pdp), accumulated local effects (ale), permutation importance "
        "(importance), interactions (interactions), linear-model coefficients (coefficients), "
        "model/data checks (info), comparisons of two runs (diff) and one HTML page of it all "
        "(report): JSON/CSV results with a published schema (schema), PNG plots, and exit codes CI "
        "can gate on."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:  # the installed distribution's version: importing scikit-learn takes seconds
            sklearn_version = version("scikit-learn")
        except PackageNotFoundError:
            sklearn_version = "not installed"
        typer.echo(f"inspectcli {__version__} (scikit-learn {sklearn_version})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Inspect a fitted model: what drives its predictions."""


def _register() -> None:
    from inspectcli.cli import ale, coefficients, diff, importance, info, interactions, pdp, report, schema

    for module in (info, pdp, importance, interactions, ale, coefficients, diff, report, schema):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point (``inspect`` and ``inspectcli``): see ``inspectcli.cli.entry``."""
    from inspectcli.cli.entry import main as entry_main

    entry_main()


def run() -> None:
    """Run the app on ``sys.argv`` (signal handlers are installed by ``inspectcli.cli.entry``)."""
    name = os.path.basename(sys.argv[0])
    app(prog_name="inspect" if name in ("", "__main__.py", "-c") else name)
