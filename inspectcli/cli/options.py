"""Options shared by commands: one ``Annotated`` alias each, and groups of them added to a command
at once (:func:`shared`), the way sqlite-utils' ``@output_options`` does.

Only Typer is imported here: ``inspect --help`` and completion load nothing heavy.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

LOAD = "Loading"
OUTPUT = "Output"
RUN = "Execution"
MESSAGES = "Messages"
FEATURES = "Features and targets"

ModelArg = Annotated[
    Path,
    typer.Argument(
        help="Fitted model: joblib, pickle or skops; a LightGBM .txt, XGBoost .json/.ubj or CatBoost .cbm "
        "file; or an MLflow model folder (format read from the bytes).",
        show_default=False,
        dir_okay=True,
        exists=False,
        readable=False,  # the loader checks, and says what to do
    ),
]
DataArg = Annotated[
    str,
    typer.Argument(
        help="Data: a Parquet, CSV/TSV (.gz), Feather/Arrow or JSON Lines file, a Parquet dataset "
        "folder, a quoted glob ('parts/*.parquet'), or - for CSV on stdin.",
        show_default=False,
    ),
]
OptionalDataArg = Annotated[
    str | None,
    typer.Argument(help="Data to check against the model (optional).", show_default=False),
]

Trust = Annotated[
    list[str] | None,
    typer.Option(
        "--trust",
        metavar="TYPE",
        help="Accept this type when loading a .skops file (repeatable), e.g. sklearn.tree._tree.Tree.",
        rich_help_panel=LOAD,
        show_default=False,
    ),
]
Sha256 = Annotated[
    str | None,
    typer.Option(
        "--sha256",
        metavar="HEX",
        help="Refuse the model file unless its SHA-256 is this hex digest.",
        rich_help_panel=LOAD,
    ),
]
NoPickle = Annotated[
    bool,
    typer.Option(
        "--no-pickle",
        help="Refuse pickle/joblib model files (they run code when loaded); also INSPECT_NO_PICKLE=1.",
        rich_help_panel=LOAD,
    ),
]
Strict = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Treat a scikit-learn version mismatch between the model file and this install as an error.",
        rich_help_panel=LOAD,
    ),
]
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        metavar="COLUMN",
        help="Target column: dropped from the model inputs.",
        rich_help_panel=LOAD,
    ),
]
SampleWeight = Annotated[
    str | None,
    typer.Option("--sample-weight", metavar="COLUMN", help="Column of sample weights.", rich_help_panel=LOAD),
]
Sep = Annotated[
    str | None,
    typer.Option(
        "--sep",
        metavar="CHAR",
        help="CSV delimiter (default: sniffed among , ; TAB |).",
        rich_help_panel=LOAD,
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(
        "--encoding", metavar="NAME", help="CSV text encoding (default utf-8).", rich_help_panel=LOAD
    ),
]
Decimal = Annotated[
    str | None,
    typer.Option(
        "--decimal",
        metavar="CHAR",
        help="CSV decimal mark (default '.'; ',' is detected in ;-separated files).",
        rich_help_panel=LOAD,
    ),
]
Where = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="EXPR",
        help="Use only the rows where EXPR holds: comparisons (== != < <= > >=), in (…), and, or, "
        "not; e.g. \"year >= 2024 and region in ('eu', 'us')\".",
        rich_help_panel=LOAD,
    ),
]

Out = Annotated[
    Path,
    typer.Option("--out", "-o", metavar="DIR", help="Directory for result files.", rich_help_panel=OUTPUT),
]
Format = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="LIST",
        help="Result files to write: json, csv, both (json,csv) or none.",
        rich_help_panel=OUTPUT,
    ),
]
Plot = Annotated[
    bool,
    typer.Option("--plot/--no-plot", help="Write the PNG plot.", rich_help_panel=OUTPUT),
]
JsonOut = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the result JSON to stdout (and nothing else there).", rich_help_panel=OUTPUT
    ),
]
FailIf = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-if",
        metavar="CONDITION",
        help="Exit 1 when this condition holds (repeatable); see the README's grammar.",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]

NJobs = Annotated[
    int,
    typer.Option(
        "--n-jobs", "-j", metavar="N", help="Parallel workers (-1: all cores).", rich_help_panel=RUN
    ),
]
Backend = Annotated[
    str,
    typer.Option("--backend", metavar="NAME", help="loky | threading | dask.", rich_help_panel=RUN),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://HOST:8786) for --backend dask; default: a local cluster.",
        rich_help_panel=RUN,
    ),
]
DataOnWorkers = Annotated[
    str,
    typer.Option(
        "--data-on-workers",
        metavar="auto|yes|no",
        help="With --backend dask: the workers read DATA themselves when they see the same files "
        "(auto), must (yes), or receive it from here (no).",
        rich_help_panel=RUN,
    ),
]
MemoryBudget = Annotated[
    str,
    typer.Option(
        "--memory-budget",
        metavar="SIZE",
        help="Memory for batched predictions, e.g. 512MB, 2GB.",
        rich_help_panel=RUN,
    ),
]
RandomState = Annotated[
    str,
    typer.Option(
        "--random-state",
        metavar="SEED",
        help="Seed (integer), or 'none' for fresh randomness.",
        rich_help_panel=RUN,
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Only errors on stderr (notes, warnings and progress hidden); results still print.",
        rich_help_panel=MESSAGES,
    ),
]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="More detail on stderr.", rich_help_panel=MESSAGES)
]
Debug = Annotated[
    bool, typer.Option("--debug", help="Show the traceback of errors.", rich_help_panel=MESSAGES)
]

# Features and targets (pdp, ale, coefficients)
Features = Annotated[
    list[str] | None,
    typer.Option(
        "--features",
        "-f",
        metavar="NAME",
        help="Feature (repeatable, or comma-separated). Default: all.",
        rich_help_panel=FEATURES,
        show_default=False,
    ),
]
Categorical = Annotated[
    list[str] | None,
    typer.Option(
        "--categorical",
        metavar="NAME",
        help="Treat as categorical (repeatable). Text/bool columns always are.",
        rich_help_panel=FEATURES,
        show_default=False,
    ),
]
ResponseMethod = Annotated[
    str,
    typer.Option(
        "--response-method",
        metavar="NAME",
        help="auto | predict_proba | decision_function.",
        rich_help_panel=FEATURES,
    ),
]
Classes = Annotated[
    list[str] | None,
    typer.Option(
        "--class",
        metavar="LABEL",
        help="Keep only this class (repeatable). Default: every class (binary: the positive one).",
        rich_help_panel=FEATURES,
        show_default=False,
    ),
]
Subsample = Annotated[
    str | None,
    typer.Option(
        "--subsample",
        metavar="N|FRACTION",
        help="Use N rows, or a FRACTION of them (seeded).",
        rich_help_panel=FEATURES,
    ),
]
By = Annotated[
    str | None,
    typer.Option(
        "--by",
        metavar="COLUMN",
        help="One curve per group of rows by COLUMN (a feature or any column of the data): its "
        "levels, or quantile bins of a numeric column; drawn on one axis with the curve of all rows.",
        rich_help_panel=FEATURES,
        show_default=False,
    ),
]
ByBins = Annotated[
    int,
    typer.Option(
        "--by-bins", metavar="Q", help="Quantile bins of a numeric --by column.", rich_help_panel=FEATURES
    ),
]
ByMaxLevels = Annotated[
    int,
    typer.Option(
        "--by-max-levels",
        metavar="N",
        help="Most groups of a --by column's levels (the less frequent pooled into 'other'); "
        "integer columns with more values are binned.",
        rich_help_panel=FEATURES,
    ),
]
Summary = Annotated[
    Path | None,
    typer.Option(
        "--summary",
        metavar="FILE.md",
        help="Also write a short markdown summary (top rows, failed gates) for a CI job summary.",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
]

BANDS = "Uncertainty bands"
Band = Annotated[
    bool | None,
    typer.Option(
        "--band/--no-band",
        help="Standard error of each curve value over the rows (JSON se, CSV, shaded ± z·SE in the plot). "
        "Default: on for ale; for pdp where it costs little (a note says when it was left out).",
        rich_help_panel=BANDS,
        show_default=False,
    ),
]
Bootstrap = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        metavar="N",
        help="Percentile interval from N resamples of the rows (seeded by --random-state; no new "
        "predictions). 0: none.",
        rich_help_panel=BANDS,
    ),
]
BandLevel = Annotated[
    float,
    typer.Option(
        "--band-level",
        metavar="P",
        help="Coverage of the bootstrap interval and of the shaded ± z·SE band.",
        rich_help_panel=BANDS,
    ),
]


# -- groups of options, added to a command's signature once ------------------------------------------


@dataclass(frozen=True)
class Group:
    """Options a command receives together, as one argument named ``name`` built by ``build``."""

    name: str
    params: tuple[tuple[str, Any, Any], ...]  # (parameter name, Annotated type, default)
    build: Callable[..., Any]


def shared(*groups: Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of ``groups``; it receives one built object per group.

    The wrapped function's signature (what Typer reads) lists the command's own parameters, then
    each group's; the call collects a group's values and passes ``build(**values)`` as ``name``.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in sig.parameters.values()
            if p.name not in {g.name for g in groups}
        ]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for g in groups
            for name, annotation, default in g.params
        ]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            for g in groups:
                kwargs[g.name] = g.build(**{name: kwargs.pop(name) for name, _, _ in g.params})
            return fn(*args, **kwargs)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        command.__signature__ = sig.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


class LoadFlags:
    """--trust, --sha256, --no-pickle, --strict, the CSV options (and --where, --sample-weight), as given."""

    def __init__(self, **flags: Any) -> None:
        self.flags = flags

    def source(self, model: Path | str, data: str | None, target: str | None) -> Any:
        """The workflows' Source (:class:`inspectcli.workflows.Source`) for these flags."""
        from inspectcli.workflows._inputs import Source

        flags = {**self.flags, "trust": tuple(self.flags.get("trust") or ())}
        return Source(model=model, data=data, target=target, **flags)


_LOAD = (
    ("trust", Trust, None),
    ("sha256", Sha256, None),
    ("no_pickle", NoPickle, False),
    ("strict", Strict, False),
    ("sep", Sep, None),
    ("encoding", Encoding, None),
    ("decimal", Decimal, None),
)
#: Loading options of commands that read a model and data (``load: LoadFlags``).
LOADING = Group("load", (*_LOAD, ("where", Where, None), ("sample_weight", SampleWeight, None)), LoadFlags)
#: The same without --sample-weight (`info`).
LOADING_MODEL = Group("load", _LOAD, LoadFlags)


@dataclass(frozen=True)
class Messages:
    """--quiet, --verbose, --debug (the error handler reads them too)."""

    quiet: bool = False
    verbose: bool = False
    debug: bool = False

    def ui(self, json_mode: bool = False) -> Any:
        """The command's UI; it also says when the run compiles the tree kernels (engines/_jit)."""
        from inspectcli.cli.console import UI
        from inspectcli.engines import _jit  # (numba itself is imported by a kernel's first call)

        ui = UI(quiet=self.quiet, verbose=self.verbose, json_mode=json_mode)
        _jit.on_first_compile = ui.note
        return ui


MESSAGE_FLAGS = Group(
    "messages", (("quiet", Quiet, False), ("verbose", Verbose, False), ("debug", Debug, False)), Messages
)


@dataclass(frozen=True)
class OutputFlags:
    """--out, --format, --plot/--no-plot, --json."""

    out: Path = Path("inspect-out")
    format: str = "json,csv"
    plot: bool = True
    json_out: bool = False

    def formats(self) -> tuple[str, ...]:
        """The result files asked for; checks --format and that --out can be written."""
        from inspectcli.results import check_out_dir, parse_formats

        formats = parse_formats(self.format)
        if formats or self.plot:
            check_out_dir(self.out)
        return formats


OUTPUT_FILES = Group(
    "output",
    (
        ("out", Out, Path("inspect-out")),
        ("format", Format, "json,csv"),
        ("plot", Plot, True),
        ("json_out", JsonOut, False),
    ),
    OutputFlags,
)


@dataclass(frozen=True)
class RunFlags:
    """--n-jobs, --backend, --scheduler, --memory-budget, --random-state, --data-on-workers."""

    n_jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    memory_budget: str = "512MB"
    random_state: str = "0"
    data_on_workers: str = "auto"

    def execution(self, ui: Any) -> Any:
        """The engines' Execution (progress drawn by ``ui``); checks the backend and the budget."""
        from inspectcli.engines.batching import parse_memory
        from inspectcli.engines.execution import Execution

        ex = Execution(  # (checked as it is made)
            n_jobs=self.n_jobs,
            backend=self.backend,
            scheduler=self.scheduler,
            progress=ui.progress,
            data_on_workers=self.data_on_workers,
        )
        return ex.replace(memory_budget=parse_memory(self.memory_budget))

    def seed(self) -> int:
        """--random-state as an integer ('none': a fresh seed, drawn now and recorded)."""
        from inspectcli.cli.common import parse_random_state

        return parse_random_state(self.random_state)


_RUN = (
    ("n_jobs", NJobs, 1),
    ("backend", Backend, "loky"),
    ("scheduler", Scheduler, None),
    ("memory_budget", MemoryBudget, "512MB"),
    ("random_state", RandomState, "0"),
    ("data_on_workers", DataOnWorkers, "auto"),
)
EXECUTION = Group("run", _RUN, RunFlags)
#: Without --memory-budget (`coefficients` refits; it predicts nothing in batches).
EXECUTION_NO_BUDGET = Group("run", tuple(p for p in _RUN if p[0] != "memory_budget"), RunFlags)
