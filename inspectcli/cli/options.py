"""Options shared by commands, one ``Annotated`` alias each, so every command spells them alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

LOAD = "Loading"
OUTPUT = "Output"
RUN = "Execution"
MESSAGES = "Messages"
FEATURES = "Features and targets"

ModelArg = Annotated[
    Path,
    typer.Argument(
        help="Fitted model: .joblib, .pkl or .skops (format read from the bytes).",
        show_default=False,
        dir_okay=True,
        exists=False,
        readable=False,  # the loader checks, and says what to do
    ),
]
DataArg = Annotated[
    str,
    typer.Argument(help="Data: .parquet, .csv, .csv.gz, .tsv, or - for CSV on stdin.", show_default=False),
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
