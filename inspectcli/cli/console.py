"""The terminal side: stdout / stderr rich consoles, notes, warnings, progress bars.

Consoles are built lazily so tests (and NO_COLOR, non-terminal CI logs) get plain text. stdout
carries results only (a table, or the JSON asked for with --json); every message, warning and
progress bar goes to stderr.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from inspectcli.errors import safe_text

#: Where results go while a command runs (see :func:`results_only_on_stdout`); stdout otherwise.
_RESULTS: list[Any] = []


def results_stream() -> Any:
    """The stream a command's results (table, JSON) are written to."""
    return _RESULTS[-1] if _RESULTS else sys.stdout


@contextmanager
def results_only_on_stdout() -> Iterator[None]:
    """While a command runs, stdout carries its results and nothing else.

    A model's code may print (``print()``, or C code writing to file descriptor 1): that went into
    the JSON of ``--json`` on stdout, which CI then could not parse. Here results go to a private
    copy of stdout; ``sys.stdout`` and descriptor 1 point to stderr (as do workers started now),
    and both are restored afterwards.
    """
    original = sys.stdout
    stream, saved = original, None
    try:
        fd = original.fileno()
    except (AttributeError, OSError, ValueError):  # captured (tests, notebooks): no descriptor
        fd = None
    if fd == 1:
        original.flush()
        saved = os.dup(1)
        stream = io.TextIOWrapper(
            io.FileIO(saved, "w", closefd=False),
            encoding=original.encoding,
            errors=original.errors,
            write_through=True,
        )
        os.dup2(2, 1)
    _RESULTS.append(stream)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = original
        _RESULTS.pop()
        if saved is not None:
            try:
                stream.flush()
                sys.stderr.flush()
            finally:
                os.dup2(saved, 1)
                os.close(saved)


def _console(stderr: bool) -> Console:
    """A rich console; when not on a terminal (CI logs, pipes) 120 columns unless COLUMNS says.

    NO_COLOR (non-empty) means plain text even on a terminal: no colour and no bold/dim either.
    """
    stream = sys.stderr if stderr else results_stream()
    width = os.environ.get("INSPECT_WIDTH") or os.environ.get("COLUMNS")
    console = Console(
        file=stream,
        stderr=stderr,
        color_system=None if os.environ.get("NO_COLOR") else "auto",
        width=int(width) if width and width.isdigit() else None,
        soft_wrap=False,
        highlight=False,
        emoji=False,
    )
    if not console.is_terminal and not width:
        console.width = 120
    return console


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@dataclass
class UI:
    """What a command says, and where; built once per command from its flags."""

    quiet: bool = False
    verbose: bool = False
    json_mode: bool = False
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    @property
    def out(self) -> Console:
        """Where results go: stdout, or stderr when stdout carries JSON."""
        if self.json_mode:
            return self.err
        if self._out is None or self._out.file is not results_stream():
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None or self._err.file is not sys.stderr:
            self._err = _console(stderr=True)
        return self._err

    def note(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[dim]note:[/dim] {_plain(_flags(message))}", soft_wrap=True)

    def info(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self.err.print(f"[dim]{_plain(message)}[/dim]")

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[yellow]warning:[/yellow] {_plain(_flags(message))}", soft_wrap=True)

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/bold red] {_plain(message)}", soft_wrap=True)

    def show(self, renderable: Any) -> None:
        """A result table: on stdout, or on stderr when --json owns stdout (then not when quiet).

        ``--quiet`` silences messages, not results: the table on stdout still prints.
        Text in tables is shown literally: a column named ``a[1]`` or ``[red]`` is not markup.
        Cells that should be styled are passed as rich ``Text`` objects. Tables are fitted to
        the terminal's width (formatting.fit_table: numbers whole, the sparkline column gives way).
        """
        if self.quiet and self.json_mode:
            return
        from rich.table import Table

        from inspectcli.formatting import fit_table

        shown = literal(renderable)
        if isinstance(shown, Table):
            shown = fit_table(shown, self.out.width)
        self.out.print(shown)

    def json(self, data: bytes) -> None:
        out = results_stream()
        out.write(data.decode("utf-8"))
        out.flush()

    def _live(self) -> bool:
        """Whether live displays (progress bars, spinners) may be drawn on stderr."""
        return (
            not self.quiet
            and self.err.is_terminal
            and _isatty(sys.stderr)  # not when FORCE_COLOR makes a CI log look like a terminal
            and not os.environ.get("INSPECT_NO_PROGRESS")
        )

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A spinner with ``text`` on stderr while a step without a count runs (loading files)."""
        if not self._live():
            yield
            return
        with self.err.status(_plain(text), spinner="dots"):
            yield

    @contextmanager
    def progress(self) -> Iterator[ProgressReporter]:
        """A progress bar on stderr, only when stderr is a terminal and not quiet."""
        if not self._live():
            yield ProgressReporter(None)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            _eta_column(),
            console=self.err,
            transient=True,
        ) as bar:
            reporter = ProgressReporter(bar)
            reporter.start(None, "preparing")  # drawn at once; the engine's own task replaces it
            yield reporter


def literal(renderable: Any) -> Any:
    """A rich Table whose string title, caption, headers and cells are plain text, not markup."""
    from rich.table import Table
    from rich.text import Text

    if isinstance(renderable, (str, Text)):
        return _safe(renderable)
    if not isinstance(renderable, Table):
        return renderable
    for attr in ("title", "caption"):
        value = getattr(renderable, attr)
        if isinstance(value, str):
            setattr(renderable, attr, Text(safe_text(value, keep_newlines=True), style=f"table.{attr}"))
        elif isinstance(value, Text):
            setattr(renderable, attr, _safe(value))
    for column in renderable.columns:
        if isinstance(column.header, str):
            column.header = Text(safe_text(column.header, keep_newlines=True), style="table.header")
        column._cells = [_safe(c) for c in column._cells]
    return renderable


def _plain(message: str) -> str:
    """A message for rich markup: control characters escaped (safe_text), brackets literal."""
    return escape(safe_text(message, keep_newlines=True))


def _safe(cell: Any) -> Any:
    """A table cell as literal text with control characters escaped; other renderables as they are."""
    from rich.text import Text

    if isinstance(cell, str):
        return Text(safe_text(cell, keep_newlines=True))
    if isinstance(cell, Text) and not cell.plain.replace("\n", "").isprintable():
        return Text(safe_text(cell.plain, keep_newlines=True), style=cell.style, justify=cell.justify)
    return cell


def remaining_text(elapsed: float | None, completed: float, total: float | None) -> str:
    """'eta 0:01:23' from the average pace so far (elapsed / completed), 'eta …' before any step.

    rich's own estimate waits for a steady speed over many steps; engines report few large steps
    (one per feature), so it shows '-:--:--' for most of a run. The average pace is known after
    the first step.
    """
    if total is None or not elapsed or completed <= 0:
        return "eta …"
    if completed >= total:
        return "eta 0:00:00"
    left = round(elapsed / completed * (total - completed))
    return f"eta {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"


def _eta_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(remaining_text(task.elapsed, task.completed, task.total), style="progress.remaining")

    return EtaColumn()


class ProgressReporter:
    """The engines' progress protocol (start / advance) drawn as a rich bar, or nothing."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._task: Any = None

    def start(self, total: int | None, description: str) -> None:
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)


def _flags(message: str) -> str:
    """Library notes name parameters (`strict`); the terminal names their flags (--strict)."""
    from inspectcli.cli.handling import cli_text

    return cli_text(message)
