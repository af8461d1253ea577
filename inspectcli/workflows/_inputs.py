"""Steps every MODEL DATA workflow shares: load both, match them, check names, pick rows."""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from inspectcli.engines.frames import take_rows
from inspectcli.engines.worker_data import derive
from inspectcli.errors import UsageError, did_you_mean
from inspectcli.loading.match import Prepared
from inspectcli.loading.model import LoadedModel
from inspectcli.loading.sources import Dataset
from inspectcli.numbers import parse_finite


class Reporter(Protocol):
    """Where a workflow's notes go (the CLI's terminal; :class:`Collected` in a notebook)."""

    def note(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def info(self, message: str) -> None: ...

    def status(self, message: str) -> AbstractContextManager[Any]:
        """Shown while a step runs (the CLI's spinner)."""
        ...


class Collected:
    """A :class:`Reporter` that keeps every message in ``messages``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def note(self, message: str) -> None:
        self.messages.append(message)

    warn = info = note

    def status(self, message: str) -> AbstractContextManager[Any]:
        return nullcontext()


@dataclass(frozen=True)
class Source:
    """A model file and a data file, and how to read them.

    Parameters
    ----------
    model : str or Path
        Fitted model: .joblib, .pkl or .skops.
    data : str or None, default=None
        Data: a Parquet, CSV/TSV (.gz), Feather/Arrow or JSON Lines file, a Parquet dataset folder,
        a glob, or ``-`` for CSV on stdin (optional for `info` only).
    target, sample_weight : str or None, default=None
        Column of the target (dropped from the inputs) and of sample weights.
    trust : tuple of str, default=()
        Types to accept when loading a .skops file.
    sha256 : str or None, default=None
        Refuse the model file unless its SHA-256 is this hex digest.
    no_pickle : bool, default=False
        Refuse pickle/joblib files.
    strict : bool, default=False
        A scikit-learn version mismatch is an error.
    sep, encoding, decimal : str or None, default=None
        CSV delimiter, text encoding and decimal mark (default: sniffed / utf-8 / '.').
    where : str or None, default=None
        Use only the rows where this expression holds (``"year >= 2024 and region in ('eu')"``).
    """

    model: str | Path
    data: str | None = None
    target: str | None = None
    sample_weight: str | None = None
    trust: tuple[str, ...] = ()
    sha256: str | None = None
    no_pickle: bool = False
    strict: bool = False
    sep: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class RowPlan:
    """Rows a workflow needs, drawn from the data's row count before anything is read.

    ``draw(n_rows)`` gives positions (in the order the workflow uses them) or None for every row;
    ``option`` names the option in the result's ``data.sample`` block (``--subsample``).
    """

    option: str
    seed: int | None
    draw: Callable[[int], np.ndarray | None]


@dataclass
class Inputs:
    """A loaded model, the data read for it, and the two matched."""

    model: LoadedModel
    data: Dataset
    prepared: Prepared


def load_inputs(
    source: Source,
    report: Reporter,
    *,
    require_target: bool = False,
    infer_target: bool = False,
    probe: bool = True,
    rows: RowPlan | None = None,
    also: tuple[tuple[str, str], ...] = (),
    lean: bool = False,
) -> Inputs:
    """Load the model, read only the columns it needs, match them and try a first prediction.

    ``also``: (parameter, column) pairs of other columns to read (``by``), kept in ``data.frame``.
    ``lean``: Dask workers may read the data themselves, so this process need not hold all of it
    (:func:`_lean`).
    """
    if source.data is None:
        raise UsageError("no data file given", "give the data to inspect the model on")
    with report.status(f"loading {Path(source.model).name}"):
        model = load_source_model(source)
    for note in model.notes:
        report.warn(note) if "scikit-learn" in note else report.note(note)
    data, prepared = load_matched_data(
        source, model.estimator, source.data, report, require_target, infer_target, probe, rows, also, lean
    )
    return Inputs(model, data, prepared)


def load_source_model(source: Source) -> LoadedModel:
    """The model file of ``source``, loaded with its safety options."""
    from inspectcli.loading.model import load_model

    return load_model(
        source.model,
        trust=source.trust,
        sha256=source.sha256,
        allow_pickle=False if source.no_pickle else None,
        strict=source.strict,
    )


def load_matched_data(
    source: Source,
    estimator: Any,
    data_path: str,
    report: Reporter,
    require_target: bool = False,
    infer_target: bool = False,
    probe: bool = True,
    rows: RowPlan | None = None,
    also: tuple[tuple[str, str], ...] = (),
    lean: bool = False,
) -> tuple[Dataset, Prepared]:
    """Read what ``estimator`` needs from ``data_path``, match it and try a first prediction.

    Only the model's columns (plus target and weights) are read, of the rows ``source.where``
    keeps; with ``rows``, only the positions it draws from their count (Parquet / Arrow: only the
    row groups holding them).
    """
    from inspectcli.introspect import expected_features
    from inspectcli.loading.data import open_data
    from inspectcli.loading.match import prepare
    from inspectcli.loading.probe import check_predicts
    from inspectcli.loading.sources import RowSample
    from inspectcli.workflows._on_workers import offer_inputs

    target, sample_weight = source.target, source.sample_weight
    names = expected_features(estimator)
    read = {"sep": source.sep, "encoding": source.encoding, "decimal": source.decimal, "where": source.where}
    with report.status(f"reading {Path(data_path).name if data_path != '-' else 'stdin'}"):
        opened = open_data(data_path, **read)
        columns = None
        for param, col in also:
            if col not in opened.columns:
                raise UsageError(
                    f"`{param}!`: no column '{col}' in '{opened.name}'{did_you_mean(col, opened.columns)}",
                    f"columns are: {', '.join(list(opened.columns)[:15])}"
                    f"{', …' if len(opened.columns) > 15 else ''}",
                    param=param,
                )
        if names is not None:
            columns = [*names, *(c for c in (target, sample_weight) if c), *(c for _, c in also)]
            if infer_target and target is None:
                others = [c for c in opened.columns if c not in names and c != sample_weight]
                columns += others if len(others) == 1 else []
        # (with fewer than 2 rows, prepare() says so: an input error before any option about rows)
        positions = rows.draw(opened.n_rows) if rows is not None and opened.n_rows >= 2 else None
        # The model's columns in its order as one float64 block when they all are float64: the
        # engines and scikit-learn's validation read it without copying (loading/sources.FloatBlock).
        block = names
        if names is None:
            reserved = {c for c in (target, sample_weight) if c} | {c for _, c in also}
            block = [c for c in opened.columns if c not in reserved]
        match = {
            "target": target,
            "sample_weight": sample_weight,
            "infer_target": infer_target,
            "require_target": require_target,
            "keep": tuple(c for _, c in also),
        }
        # Dask workers that read the data themselves: this process reads a column at a time.
        leaned = _lean(lean, estimator, data_path, opened, read, names, columns, positions, match)
        data = leaned[0] if leaned else opened.read(columns, rows=positions, block=block)
    if rows is not None and positions is not None:
        data.sample = RowSample(rows.option, rows.seed, positions)
    for note in data.notes:
        report.note(note)
    raw = None if leaned else {str(c): t for c, t in data.frame.dtypes.items()}  # (for windows of rows)
    prepared = leaned[1] if leaned else prepare(estimator, data, **match)
    texts = list(prepared.text_numbers)
    if probe:
        with report.status(f"checking that the model predicts on {data.name}"):
            # (may add a note on numbers stored as text)
            check_predicts(estimator, prepared, data.name, leaned[3] if leaned else None)
    # The same rows, read and matched the same way, on Dask workers that see the same files.
    kept = tuple(c for c in texts if not pd.api.types.is_numeric_dtype(prepared.X[c])) if texts else ()
    recipe = leaned[2].recipe if leaned else None
    data.delivery = offer_inputs(
        data_path,
        opened,
        read,
        columns,
        positions,
        match,
        prepared,
        kept,
        recipe,
        raw_dtypes=raw,
        block=block,
    )
    for note in prepared.notes:
        report.note(note)
    return data, prepared


def _lean(
    lean: bool,
    estimator: Any,
    data_path: str,
    opened: Any,
    read: dict[str, Any],
    names: list[str] | None,
    columns: list[str] | None,
    positions: np.ndarray | None,
    match: dict[str, Any],
) -> tuple[Dataset, Prepared, Any, np.ndarray] | None:
    """The lean read (workflows/_on_workers.py) where it applies, else None (read whole):
    (the other columns, the prepared inputs, their reader, the trial prediction's rows).

    It applies when ``lean`` (the workflow's Dask workers may read the data), to Parquet / Arrow
    data on disk (read by column; CSV and JSON Lines are parsed whole anyway) of a model with
    column names, when the model's columns would take at least ``LEAN_MIN_BYTES``, and not to
    columns of numbers stored as text.
    """
    from inspectcli.loading.sources import ArrowSource
    from inspectcli.workflows import _on_workers
    from inspectcli.workflows._on_workers import NotLean, lean_inputs

    n = len(positions) if positions is not None else opened.n_rows
    if not lean or data_path == "-" or names is None or columns is None or n < 2:
        return None
    if n * len(names) * 8 < _on_workers.LEAN_MIN_BYTES:  # (a small sample: reading it whole is quicker)
        return None
    if not isinstance(opened, ArrowSource):
        return None
    args = {"path": data_path, "opened": opened, "read": read}
    try:
        return lean_inputs(estimator, opened, list(names), columns, positions, match, args)
    except NotLean:
        return None


def check_feature(name: str, param: str, prep: Prepared, sample_weight: str | None) -> str:
    """``name`` when it is one of the model's features, else a usage error about ``param``."""
    names = prep.feature_names
    if name in names:
        return name
    if name.strip() in names:  # '-f "a, b"': names are exact, the spaces after commas are not
        return name.strip()
    if name in (prep.target, sample_weight):
        raise UsageError(
            f"`{param}!` '{name}' is the `{'target' if name == prep.target else 'sample_weight'}` "
            "column, not a model input",
            "choose one of the model's features",
            param=param,
        )
    raise UsageError(
        f"`{param}!`: unknown feature '{name}'{did_you_mean(name, names)}",
        f"features are: {', '.join(names[:15])}{', …' if len(names) > 15 else ''}",
        param=param,
    )


def feature_column(X: Any, names: list[str], name: str) -> Any:
    """Column ``name`` of a DataFrame, or of an ndarray whose columns are ``names``."""
    return X[name] if hasattr(X, "columns") else X[:, names.index(name)]


def count_or_fraction(value: str | int | float | None, param: str, n: int) -> int | None:
    """Rows out of ``n``: 1000 or '1000' -> 1000 rows, 0.25 or '0.25' -> a quarter; None -> None."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    number = parse_finite(text, f"`{param}`", "give a row count or a fraction")
    if number <= 0:
        raise UsageError(f"`{param}={text}` must be positive", "give a row count or a fraction")
    if "." in text or "e" in text.lower():
        if number > 1:
            raise UsageError(f"`{param}={text}`: a fraction must be at most 1", "e.g. 0.5, or a row count")
        return max(1, int(number * n))
    return min(int(number), n)


@dataclass
class Rows:
    """The rows a workflow works on (``subsample``)."""

    X: Any
    sample_weight: np.ndarray | None
    ids: np.ndarray  # positions in the data
    subsample: int | None  # rows drawn, None when all are used


def subsample_positions(
    subsample: str | int | float | None, n_rows: int, seed: int | None
) -> np.ndarray | None:
    """Sorted positions of ``subsample`` (N | FRACTION) rows of ``n_rows`` drawn with ``seed``, or None."""
    n_sub = count_or_fraction(subsample, "subsample", n_rows)
    if n_sub is None or n_sub >= n_rows:
        return None
    if n_sub < 2:
        raise UsageError(f"`subsample={subsample}` leaves fewer than 2 rows", "ask for more rows")
    from sklearn.utils.random import sample_without_replacement

    # O(n_sub) time and memory for small fractions (a permutation of all n_rows is not).
    return np.sort(sample_without_replacement(n_rows, n_sub, random_state=np.random.RandomState(seed)))


def subsample_plan(subsample: str | int | float | None, seed: int | None) -> RowPlan | None:
    """Read only the ``subsample`` rows (the same rows :func:`subsample_rows` would draw)."""
    if subsample is None:
        return None
    return RowPlan("--subsample", seed, lambda n: subsample_positions(subsample, n, seed))


def subsample_rows(
    prep: Prepared, subsample: str | int | float | None, seed: int | None, report: Reporter, drawn: Any = None
) -> Rows:
    """All rows, or ``subsample`` (N | FRACTION) of them drawn with ``seed``, in data order.

    ``drawn``: the rows were drawn before reading (:func:`subsample_plan`), ``prep`` holds just them.
    """
    if drawn is not None:
        ids = np.asarray(drawn.positions)
        report.note(
            f"using {len(ids):,} rows drawn from the data (`subsample`, seed {seed}); only those were read"
        )
        return Rows(prep.X, prep.sample_weight, ids, len(ids))
    ids = subsample_positions(subsample, prep.n_rows, seed)
    if ids is None:
        return Rows(prep.X, prep.sample_weight, np.arange(prep.n_rows), None)
    X = derive(take_rows, prep.X, ids)  # (Dask workers reading the data take the same rows)
    sw = prep.sample_weight[ids] if prep.sample_weight is not None else None
    report.note(f"using {len(ids):,} of {prep.n_rows:,} rows (`subsample`, seed {seed})")
    return Rows(X, sw, ids, len(ids))


def decile_marks(X: Any, names: list[str], features: Any) -> dict[str, np.ndarray]:
    """Deciles of each numeric feature, for the rug marks of PD / ALE plots."""
    import pandas as pd

    marks = {}
    for f in features:
        col = feature_column(X, names, f)
        arr = pd.to_numeric(pd.Series(np.asarray(col)), errors="coerce").to_numpy(dtype=float)
        if np.isfinite(arr).any():
            marks[f] = np.nanpercentile(arr, np.arange(10, 100, 10))
    return marks


def resolve_seed(random_state: int | None) -> int:
    """The seed to use: ``random_state``, or one drawn now when None (recorded in the results)."""
    if random_state is None:
        return random.SystemRandom().randrange(2**31 - 1)
    if not 0 <= random_state < 2**32:
        raise UsageError(f"`random_state={random_state}` is out of range", "use 0 … 4294967295")
    return random_state


def check_at_least(value: int | None, param: str, minimum: int, example: str | None = None) -> None:
    """A usage error when ``value`` (unless None) is below ``minimum``."""
    if value is not None and value < minimum:
        hint = f"e.g. `{param}={example}`" if example else None
        raise UsageError(f"`{param}={value}` must be at least {minimum}", hint)
