"""The recipe Dask workers rebuild a workflow's model inputs with, from the data on disk.

:func:`offer_inputs` is called once the client has read and matched the data: it offers the
prepared ``X`` to engines/worker_data.py with a :class:`DataRecipe` holding everything that made
it (the absolute path, the files as the client saw them, the CSV options, ``--where``, the
columns, the row positions, the matching options and the client's decision on numbers stored as
text). A worker runs the same reading and matching code on the same rows, so its frame equals the
client's, value for value and dtype for dtype. The target and the weights (one number per row) are
still sent from the client.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inspectcli.engines.worker_data import Delivery, offer
from inspectcli.errors import InspectError

if TYPE_CHECKING:  # (workers unpickle recipes: this module stays light to import)
    from inspectcli.loading.match import Prepared
    from inspectcli.loading.sources import DataSource


@dataclass(frozen=True, eq=False)
class DataRecipe:
    """Everything a worker needs to read and match the rows the client read and matched."""

    path: str
    #: (name, bytes, mtime_ns) of each file, as the client saw them
    stats: tuple[tuple[str, int, int], ...]
    #: SHA-256 of each file (in ``stats`` order), as the client recorded them, or None
    hashes: tuple[str, ...] | None
    read: dict[str, Any]  # open_data's options: sep, encoding, decimal, where
    columns: tuple[str, ...] | None
    positions: np.ndarray | None
    match: dict[str, Any]  # prepare's options: target, sample_weight, infer_target, require_target
    #: columns of numbers stored as text that the client kept as text (see loading/probe.py)
    text_kept: tuple[str, ...] = ()
    key: str = ""
    #: for reading a window of rows alone (:meth:`window`): the model's columns, and their dtypes
    #: as read and as matched in the whole frame (None: windows are read whole)
    names: tuple[str, ...] | None = None
    raw_dtypes: dict[str, Any] | None = None
    dtypes: dict[str, Any] | None = None
    #: columns read as one float64 block, as the client read them (the same memory layout)
    block: tuple[str, ...] | None = None

    def check_here(self) -> str | None:
        """None when this machine sees the client's files at ``path``; else what differs."""
        from inspectcli.loading.paths import file_stats, sha256_of

        if not os.path.exists(self.path) and not any(c in self.path for c in "*?["):
            return f"'{self.path}' does not exist there"
        try:
            here = file_stats(self.path)
        except InspectError as exc:
            return exc.message
        there = {name: (size, mtime) for name, size, mtime in here}
        mine = {name: (size, mtime) for name, size, mtime in self.stats}
        missing = [n for n in mine if n not in there]
        if missing:
            return f"'{missing[0]}' is missing there"
        extra = [n for n in there if n not in mine]
        if extra:
            return f"'{extra[0]}' is there but not here"
        for i, (name, (size, mtime)) in enumerate(mine.items()):
            size_there, mtime_there = there[name]
            if size_there != size:
                return f"'{name}' has {size_there:,} bytes there, {size:,} here"
            if mtime_there != mtime:
                if self.hashes is None:
                    return f"'{name}' was modified at another time there"
                root = self.path if os.path.isdir(self.path) else None
                file = os.path.join(root, name) if root else _single_file(self.path, name)
                if sha256_of(file) != self.hashes[i]:
                    return f"'{name}' has other content there (SHA-256 differs)"
        return None

    def materialise(self, estimator: Any) -> Any:
        """The prepared ``X``, as the client built it."""
        from inspectcli.loading.data import open_data
        from inspectcli.loading.match import prepare

        opened = open_data(self.path, hash_files=False, **self.read)
        columns = list(self.columns) if self.columns is not None else None
        block = list(self.block) if self.block is not None else None
        data = opened.read(columns, rows=self.positions, block=block)
        prep = prepare(estimator, data, **self.match)
        for col in self.text_kept:
            prep.X[col] = prep.text_numbers[col]
        return prep.X

    def window(self, estimator: Any, start: int, stop: int) -> Any:
        """Rows ``[start, stop)`` of the prepared ``X`` alone, exactly as in the whole frame, or
        None when that cannot be guaranteed (then the whole frame is built).

        The window's columns are read, given the types they have in the whole read (an integer
        column with a missing value elsewhere is float there), matched, and given the whole
        frame's matched types (categories from every row); any other difference is a None.
        """
        if self.names is None or self.raw_dtypes is None or self.dtypes is None:
            return None
        import pandas as pd

        from inspectcli.loading.data import open_data
        from inspectcli.loading.match import prepare

        opened = open_data(self.path, hash_files=False, **self.read)
        rows = self.positions[start:stop] if self.positions is not None else np.arange(start, stop)
        data = opened.read(list(self.names), rows=rows)
        frame = data.frame
        try:
            cast = {c: t for c, t in self.raw_dtypes.items() if c in frame.columns and frame[c].dtype != t}
            data.frame = frame.astype(cast) if cast else frame
        except (TypeError, ValueError):
            return None
        keep = {"target": None, "sample_weight": None, "infer_target": False, "require_target": False}
        prep = prepare(estimator, data, **keep, min_rows=1)
        X = prep.X
        for col in self.text_kept:
            if col in prep.text_numbers:
                X[col] = prep.text_numbers[col]
        for col, dtype in self.dtypes.items():
            have = X[col].dtype
            if have == dtype:
                continue
            if isinstance(dtype, pd.CategoricalDtype) or (have.kind in "iub" and dtype.kind == "f"):
                X[col] = X[col].astype(dtype)
            else:
                return None
        X.index = pd.RangeIndex(start, stop)  # (as the whole frame's rows are numbered)
        return X


def _single_file(path: str, name: str) -> str:
    # a glob's files are named relative to the glob's fixed directory
    from inspectcli.loading.paths import expand_data_path

    files, root = expand_data_path(path)
    for f in files:
        if (f.relative_to(root).as_posix() if root is not None else f.name) == name:
            return str(f)
    return path


def make_recipe(
    *,
    path: str,
    opened: DataSource,
    read: dict[str, Any],
    columns: list[str] | None,
    positions: np.ndarray | None,
    match: dict[str, Any],
    text_kept: tuple[str, ...] = (),
    dtypes: tuple[dict[str, Any], dict[str, Any]] | None = None,
    block: list[str] | None = None,
) -> DataRecipe:
    """The recipe of the rows read from ``path`` (not stdin) and matched with ``match``.

    ``dtypes``: the model's columns' dtypes as read and as matched, in the whole frame (so that a
    worker can read a window of rows alone: :meth:`DataRecipe.window`).
    """
    from inspectcli.loading.paths import file_stats

    absolute = os.path.abspath(path)
    stats = tuple(file_stats(absolute))
    if opened.files is not None:
        hashes: tuple[str, ...] | None = tuple(f.sha256 for f in opened.files)
    else:
        hashes = (opened.sha256,) if opened.sha256 is not None else None
    digest = hashlib.sha256()
    for part in (absolute, stats, sorted(read.items()), columns, sorted(match.items()), text_kept):
        digest.update(repr(part).encode() + b"\0")
    if positions is not None:
        digest.update(np.asarray(positions, dtype="<i8").tobytes())
    return DataRecipe(
        absolute,
        stats,
        hashes,
        dict(read),
        tuple(columns) if columns is not None else None,
        positions,
        dict(match),
        text_kept,
        key=digest.hexdigest(),
        names=tuple(dtypes[1]) if dtypes is not None else None,
        raw_dtypes=dtypes[0] if dtypes is not None else None,
        dtypes=dtypes[1] if dtypes is not None else None,
        block=tuple(block) if block is not None else None,
    )


def offer_inputs(
    path: str,
    opened: DataSource,
    read: dict[str, Any],
    columns: list[str] | None,
    positions: np.ndarray | None,
    match: dict[str, Any],
    prepared: Prepared,
    text_kept: tuple[str, ...],
    recipe: DataRecipe | None = None,
    raw_dtypes: dict[str, Any] | None = None,
    block: list[str] | None = None,
) -> Delivery:
    """Offer ``prepared.X`` to the Dask workers (they read it themselves where they can; stdin is
    always sent). ``recipe``: already made (a lean read's)."""
    if path == "-":
        delivery = Delivery("stdin")
        offer(prepared.X, None, delivery)
        return delivery
    if recipe is None:
        recipe = make_recipe(
            path=path,
            opened=opened,
            read=read,
            columns=columns,
            positions=positions,
            match=match,
            text_kept=text_kept,
            # (windows of rows only where a read of some rows reads only those: Parquet / Arrow)
            dtypes=_dtypes(raw_dtypes, prepared.X) if _by_row_groups(opened) else None,
            block=block,
        )
    delivery = Delivery(path)
    offer(prepared.X, recipe, delivery)
    return delivery


def _by_row_groups(opened: Any) -> bool:
    from inspectcli.loading.sources import ArrowSource

    return isinstance(opened, ArrowSource)


def _dtypes(raw: dict[str, Any] | None, X: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(as read, as matched) dtypes of a prepared DataFrame's columns; None for an ndarray."""
    if raw is None or not hasattr(X, "dtypes") or not all(c in raw for c in X.columns):
        return None
    return {c: raw[c] for c in X.columns}, {c: X[c].dtype for c in X.columns}


def delivery_notes(*datasets: Any) -> list[str]:
    """Notes on data the Dask workers could not read themselves (sent from here instead)."""
    return [n for d in datasets if d is not None and d.delivery is not None for n in d.delivery.notes]


# ------------------------------------------------------------------------------------------------
# the client's lean read: when the workers read the data, this process reads a column at a time

#: Rows of the first read, on which the model's columns are matched (names, target, notes).
HEAD_ROWS = 1_000
#: The lean read applies when the model's columns take at least this much (rows x columns x 8
#: bytes): for a smaller sample, one read of every column is quicker than a read per column.
LEAN_MIN_BYTES = 16 * 2**20


class NotLean(Exception):
    """The data cannot be read a column at a time (numbers stored as text): read it whole."""


class _ColumnsFromDisk:
    """A :class:`~inspectcli.engines.worker_data.ColumnReader` of the prepared ``X``: each column
    read from ``opened`` (the same rows) and matched as :func:`~inspectcli.loading.match.prepare`
    matches it in the whole frame (its steps go column by column)."""

    def __init__(self, opened: Any, positions: np.ndarray | None, estimator: Any, recipe: DataRecipe) -> None:
        self.opened, self.positions, self.estimator, self.recipe = opened, positions, estimator, recipe
        #: (columns, rows) of every read (rows -1: the whole frame), for tests
        self.reads: list[tuple[tuple[str, ...], int]] = []
        #: each column's dtype, as read and as matched
        self.raw_dtypes: dict[str, Any] = {}
        self.dtypes: dict[str, Any] = {}

    def column(self, name: str) -> Any:
        from inspectcli.loading.match import _coerce_dtypes, _text_numbers

        data = self.opened.read([name], rows=self.positions)
        self.reads.append(((name,), len(data.frame)))
        self.raw_dtypes[name] = data.frame[name].dtype
        X = _coerce_dtypes(self.estimator, data.frame, [])
        X, texts = _text_numbers(self.estimator, X)
        if texts:
            raise NotLean(name)
        self.dtypes[name] = X[name].dtype
        return X[name]

    def whole(self) -> Any:
        self.reads.append((tuple(self.recipe.columns or ()), -1))
        return self.recipe.materialise(self.estimator)


def lean_inputs(
    estimator: Any,
    opened: Any,
    names: list[str],
    columns: list[str],
    positions: np.ndarray | None,
    match: dict[str, Any],
    recipe_args: dict[str, Any],
) -> tuple[Any, Any, Any, np.ndarray]:
    """(Dataset of the other columns, Prepared with a lean ``X``, its reader, the rows of the trial
    prediction: :func:`~inspectcli.loading.probe.probe_rows`), reading the model's columns one at a
    time; :class:`NotLean` when a column holds numbers stored as text.

    The checks of :func:`~inspectcli.loading.match.prepare` run on the first rows (columns, target,
    notes) and on every row of the target and weights, read here as in the whole frame.
    """
    from inspectcli.engines.worker_data import LeanFrame
    from inspectcli.errors import ValidationError
    from inspectcli.loading.match import Prepared, _weights, prepare

    n = len(positions) if positions is not None else opened.n_rows
    head_rows = positions[:HEAD_ROWS] if positions is not None else np.arange(min(n, HEAD_ROWS))
    head = prepare(estimator, opened.read(columns, rows=head_rows), **match)
    if head.text_numbers:
        raise NotLean(next(iter(head.text_numbers)))
    side = [c for c in columns if c not in names]
    data = opened.read(side, rows=positions)  # target, weights, `by`: one value per row
    frame, target, weights = data.frame, head.target, match["sample_weight"]
    y = None
    if target is not None:
        y = frame[target].to_numpy()
        n_nan = int(frame[target].isna().sum())
        if n_nan:
            raise ValidationError(
                f"target column '{target}' has {n_nan} missing value(s) in '{data.name}'",
                "drop those rows",
            )
    sw = _weights(frame[weights], weights, data) if weights is not None else None
    recipe = make_recipe(positions=positions, columns=columns, match=match, **recipe_args)
    reader = _ColumnsFromDisk(opened, positions, estimator, recipe)
    # One pass over the columns finds the trial prediction's rows and each column's dtype.
    from inspectcli.loading.probe import probe_rows

    probe = probe_rows(LeanFrame(reader, names, [None] * len(names), n))
    X = LeanFrame(reader, names, [reader.dtypes[name] for name in names], n)
    reader.recipe = dataclasses.replace(
        recipe,
        names=tuple(names),
        raw_dtypes={c: reader.raw_dtypes[c] for c in names},
        dtypes={c: reader.dtypes[c] for c in names},
    )
    return data, Prepared(X, head.feature_names, y, sw, target, head.notes, {}), reader, probe
