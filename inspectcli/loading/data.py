"""Read a data table: Parquet / Arrow files and datasets, CSV (plain, gzipped, TSV), JSON Lines, stdin.

DATA is a file, a directory of part files (a Parquet or Arrow dataset as Spark, Dask or pyarrow write
it; hive partitions such as ``year=2024/`` become columns), or a quoted glob (expanded here, sorted).
Each file's format comes from its bytes (``PAR1`` Parquet, ``ARROW1`` Arrow IPC / Feather v2,
``FEA1`` Feather v1, an Arrow IPC stream, gzip magic, ``{`` JSON Lines, else CSV text); the name is a
second opinion: a mismatch is a note, not a failure. CSV delimiters are sniffed among ``, ; TAB |``;
decimal commas are recognised when the delimiter is ``;``; text that is not valid in the chosen
encoding is an error that names ``--encoding``, never silently replaced bytes. Column names are kept
exactly as written (``' a'`` and ``'a'`` are two columns), whatever the format.

Reading happens in two steps, so that only what a command needs is materialised:
:func:`open_data` learns the columns and the row count (Parquet / Arrow from their footers, and the
``--where`` filter evaluated on the columns it names), then :meth:`DataSource.read` reads the
columns asked for and, when given, only the rows at some positions (only the row groups holding
them). Row positions count rows in a fixed order: files sorted by path, row groups and rows in file
order, after the filter.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import hashlib
import io
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.errors import DataLoadError, UsageError, did_you_mean, shorten
from inspectcli.loading.model import check_readable_file, sha256_of
from inspectcli.loading.where import Where, parse_where

DELIMITERS = [",", ";", "\t", "|"]
SNIFF_BYTES = 256 * 1024
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
#: Formats read through pyarrow.dataset (row groups / files read on demand).
ARROW_KINDS = {"parquet": "parquet", "arrow": "ipc"}
_GLOB_MAGIC = re.compile(r"[*?[]")


@dataclass
class DataFile:
    """One file of a dataset: its path (relative to the dataset's root), size and SHA-256."""

    path: str
    bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


@dataclass
class RowSample:
    """Which rows were read: ``positions`` drawn with ``seed`` for ``option`` among ``n_rows``."""

    option: str
    seed: int | None
    positions: np.ndarray

    def as_json(self) -> dict[str, Any]:
        pos = np.asarray(self.positions, dtype="<i8")
        return {
            "option": self.option,
            "rows": int(pos.size),
            "seed": self.seed,
            "positions_sha256": hashlib.sha256(pos.tobytes()).hexdigest(),
        }


@dataclass
class Dataset:
    """A table as read from a file (or dataset), before it is matched to a model."""

    frame: pd.DataFrame
    path: str
    sha256: str | None
    format: str
    notes: list[str] = field(default_factory=list)
    #: Every column the file holds (``frame`` may hold only those asked for).
    columns_in_file: list[str] = field(default_factory=list)
    #: Rows in the data (after ``--where``) when ``frame`` holds only a sample of them.
    n_source: int | None = None
    #: The files of a directory / glob (None for one file or stdin).
    files: list[DataFile] | None = None
    where: str | None = None
    sample: RowSample | None = None

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def n_total(self) -> int:
        """Rows in the data (after ``--where``), read or not."""
        return self.n_source if self.n_source is not None else len(self.frame)

    @property
    def name(self) -> str:
        return "stdin" if self.path == "-" else Path(self.path.rstrip("/") or "/").name


def _sniff_kind(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "arrow"
    if head.startswith(b"FEA1"):
        return "feather-v1"
    if head.startswith(b"\xff\xff\xff\xff"):
        return "arrow-stream"
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith((b"\x80", b"BZh", b"\xfd7zXZ")):
        return "binary"
    if b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary"
    text = head[:4096].lstrip(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    if text.startswith(b"[") and text[1:].lstrip().startswith((b"{", b"]")):
        return "json"
    return "csv"


def _kind_from_name(path: str) -> str | None:
    name = path.lower()
    if name.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if name.endswith((".arrow", ".feather", ".ipc", ".arrows")):
        return "arrow"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv.gz", ".tsv.gz", ".txt.gz")):
        return "csv.gz"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return None


def _same_family(named: str, kind: str) -> bool:
    arrow = {"arrow", "arrow-stream", "feather-v1"}
    return named == kind or (named in arrow and kind in arrow) or {named, kind} == {"json", "jsonl"}


def load_dataset(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    where: str | None = None,
    rows: np.ndarray | None = None,
) -> Dataset:
    """Read a table.

    Parameters
    ----------
    path : str or path-like
        A Parquet, Arrow IPC / Feather, CSV (``.csv``, ``.csv.gz``, ``.tsv``) or JSON Lines file; a
        directory of part files (hive partitions become columns); a glob such as
        ``'parts/*.parquet'``; or ``-`` for CSV / JSON Lines on stdin.
    columns : sequence of str, optional
        Read only these columns (Parquet and Arrow read nothing else from disk).
    sep, encoding, decimal : str, optional
        CSV delimiter (sniffed when omitted), text encoding (default UTF-8) and decimal mark
        (``,`` is recognised automatically for ``;``-separated files).
    where : str, optional
        A row filter (see inspectcli/loading/where.py), e.g. ``"year >= 2024 and region == 'eu'"``.
    rows : ndarray of int, shape (n_rows_wanted,), optional
        Read only the rows at these positions (after ``where``), in this order.
    """
    source = open_data(path, sep=sep, encoding=encoding, decimal=decimal, where=where)
    return source.read(columns, rows=rows)


def _check_text_options(sep: str | None, encoding: str | None) -> str | None:
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(sep, sep)
        if len(sep) != 1:
            raise UsageError(f"`sep='{sep}'` must be one character", "for example `sep=';'`")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise UsageError(
                f"`encoding='{encoding}'` is not an encoding Python knows",
                "try utf-8, latin-1 or cp1252",
            ) from exc
    return sep


def open_data(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    where: str | Where | None = None,
) -> DataSource:
    """Open DATA: learn its columns and row count, read no more than that needs.

    Parameters are those of :func:`load_dataset`. Parquet and Arrow files (one, a directory or a
    glob) are opened lazily through ``pyarrow.dataset``; CSV, JSON Lines and stdin are read whole.
    """
    path = str(path)
    sep = _check_text_options(sep, encoding)
    flt = parse_where(where) if isinstance(where, str) else where
    if path == "-":
        raw = sys.stdin.buffer.read()
        if not raw:
            raise DataLoadError("no data on stdin", "pipe a CSV table into the command")
        digest = hashlib.sha256(raw).hexdigest()
        kind = _sniff_kind(raw[:SNIFF_BYTES])
        if kind == "csv.gz":
            raw = gzip.decompress(raw)
            kind = _sniff_kind(raw[:SNIFF_BYTES])
        if kind == "jsonl":
            frame = _read_jsonl(io.BytesIO(raw), "stdin")
            notes: list[str] = []
        elif kind == "csv":
            frame, notes = _read_csv(io.BytesIO(raw), raw[:SNIFF_BYTES], "stdin", sep, encoding, decimal)
        else:
            raise DataLoadError(
                f"stdin holds {kind} data, not CSV or JSON Lines text",
                "pipe CSV, or pass a Parquet / Arrow file by name",
            )
        return _FrameSource(path, kind, digest, None, notes, frame, flt)

    files, root = _expand(path)
    kinds = []
    notes = []
    for f in files:
        kind, note = _file_kind(f, path if root is None else str(f))
        kinds.append(kind)
        if note and root is None:
            notes.append(note)
    if len(set(kinds)) > 1:
        by_kind = {k: f for f, k in zip(files, kinds)}
        listed = ", ".join(f"'{_rel(f, root)}' is {k}" for k, f in by_kind.items())
        raise DataLoadError(
            f"'{path}' mixes file formats: {listed}", "give files of one format (e.g. a glob '*.parquet')"
        )
    kind = kinds[0]
    entries = None
    if root is None:
        digest = sha256_of(files[0])
    else:
        entries = [DataFile(_rel(f, root), f.stat().st_size, sha256_of(f)) for f in files]
        digest = _fingerprint(entries)
    if kind in ARROW_KINDS:
        return _ArrowSource(path, kind, digest, entries, notes, files, root, flt)
    frames = []
    for f in files:
        frame, more = _read_eager(f, kind, path if root is None else str(f), sep, encoding, decimal)
        notes.extend(more)
        frames.append(frame)
    if len(frames) > 1:
        first = list(frames[0].columns)
        for f, frame in zip(files[1:], frames[1:]):
            if list(frame.columns) != first:
                raise _mixed_schema(path, files[0], f, root, first, list(frame.columns))
        frame = pd.concat(frames, ignore_index=True)
    else:
        frame = frames[0]
    return _FrameSource(path, kind, digest, entries, notes, frame, flt)


def _rel(f: Path, root: Path | None) -> str:
    if root is None:
        return str(f)
    try:
        return f.relative_to(root).as_posix()
    except ValueError:
        return str(f)


def _fingerprint(entries: list[DataFile]) -> str:
    """SHA-256 over every file's relative path, size and SHA-256, in order."""
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.path}\0{e.bytes}\0{e.sha256}\n".encode())
    return h.hexdigest()


def _hidden(parts: Sequence[str]) -> bool:
    # pyarrow.dataset's default: names starting with '.' or '_' (_SUCCESS, _metadata, .crc) are not data
    return any(p.startswith((".", "_")) for p in parts)


def _expand(path: str) -> tuple[list[Path], Path | None]:
    """The data files of DATA, sorted, and the root their relative paths start from (None: one file)."""
    p = Path(path)
    if p.is_dir():
        if not os.access(p, os.R_OK | os.X_OK):
            raise DataLoadError(
                f"cannot read data directory '{path}': permission denied", "check its permissions"
            )
        files = sorted(
            (f for f in p.rglob("*") if f.is_file() and not _hidden(f.relative_to(p).parts)),
            key=lambda f: f.relative_to(p).as_posix(),
        )
        if not files:
            raise DataLoadError(
                f"data directory '{path}' holds no data files",
                "give a directory of Parquet / Arrow / CSV part files "
                "(names starting with '.' or '_' are skipped)",
            )
        return files, p
    if not p.exists() and _GLOB_MAGIC.search(path):
        matched = sorted(
            (Path(m) for m in glob.glob(path, recursive=True) if Path(m).is_file()),
            key=lambda f: f.as_posix(),
        )
        matched = [f for f in matched if not _hidden([f.name])]
        if not matched:
            raise DataLoadError(
                f"the glob '{path}' matches no file", "check the pattern (quote it for the shell)"
            )
        # Hive partitions are read from the part of each path after the glob's fixed directory.
        root = Path(os.path.dirname(_GLOB_MAGIC.split(path, maxsplit=1)[0]) or ".")
        return matched, root
    return [check_readable_file(path, "data", DataLoadError)], None


def _file_kind(p: Path, where: str) -> tuple[str, str | None]:
    if p.stat().st_size == 0:
        raise DataLoadError(f"data file '{where}' is empty", "give a file with a header and rows")
    try:
        with open(p, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except PermissionError as exc:
        raise DataLoadError(
            f"cannot read data file '{where}': permission denied", "check its permissions"
        ) from exc
    kind = _sniff_kind(head)
    if kind == "zip":
        raise DataLoadError(
            f"data file '{where}' is a zip archive (an Excel workbook?), not a table this tool reads",
            "export it as CSV or Parquet",
        )
    if kind == "binary":
        raise DataLoadError(
            f"data file '{where}' holds binary content that is neither Parquet, Arrow nor gzipped CSV",
            "give a .parquet, .csv, .csv.gz, .tsv, .arrow / .feather or .jsonl file",
        )
    if kind == "json":
        raise DataLoadError(
            f"data file '{where}' is a JSON array, not JSON Lines",
            "write one JSON object per line (.jsonl), e.g. df.to_json(path, orient='records', lines=True)",
        )
    named = _kind_from_name(str(p))
    note = None
    if named is None:
        note = f"'{p.name}' has no known data extension; reading it as {kind} by content"
    elif not _same_family(named, kind):
        note = f"'{p.name}' is named like {named} but holds {kind}; reading it as {kind}"
    return kind, note


def _mixed_schema(path: str, a: Path, b: Path, root: Path | None, ca: Any, cb: Any) -> DataLoadError:
    return DataLoadError(
        f"the files of '{path}' have different columns: '{_rel(a, root)}' has {ca}, "
        f"'{_rel(b, root)}' has {cb}",
        "give files written with one schema (or select them with a glob)",
    )


def _read_eager(
    p: Path, kind: str, where: str, sep: str | None, encoding: str | None, decimal: str | None
) -> tuple[pd.DataFrame, list[str]]:
    if kind == "jsonl":
        with open(p, "rb") as fh:
            return _read_jsonl(fh, where), []
    if kind in ("feather-v1", "arrow-stream"):
        import pyarrow as pa
        import pyarrow.feather as feather

        try:
            if kind == "feather-v1":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # (v1 still reads)
                    table = feather.read_table(str(p))
            else:
                with pa.OSFile(str(p), "rb") as fh:
                    table = pa.ipc.open_stream(fh).read_all()
        except (pa.ArrowException, OSError) as exc:
            raise DataLoadError(
                f"cannot read Arrow file '{where}' ({exc})", "check that it was written completely"
            ) from exc
        _check_unique(table.schema.names, where)
        return table.to_pandas(), []
    head = b""
    with open(p, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if kind == "csv.gz":
        try:
            with gzip.open(p, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise DataLoadError(
                f"data file '{where}' is a damaged gzip file ({exc})",
                "compress it again, or give the uncompressed CSV",
            ) from exc
    if sep is None and p.name.lower().endswith((".tsv", ".tsv.gz")):
        sep = "\t"
    return _read_csv(p, head, where, sep, encoding, decimal, gz=(kind == "csv.gz"))


def _read_jsonl(source: Any, where: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(source)
    except (pa.ArrowException, OSError) as exc:
        raise DataLoadError(
            f"cannot read '{where}' as JSON Lines ({str(exc).splitlines()[0]})",
            "give one JSON object per line, with the same type for a field in every line",
        ) from exc
    _check_unique(table.schema.names, where)
    return table.to_pandas()


def _check_unique(names: Sequence[str], where: str) -> None:
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise DataLoadError(
            f"data '{where}' has duplicate column names: {', '.join(map(repr, dupes))}",
            "give every column a unique name",
        )


def _release_arrow_memory() -> None:
    import pyarrow as pa

    pool = pa.default_memory_pool()
    if hasattr(pool, "release_unused"):
        pool.release_unused()


class DataSource:
    """Opened DATA: its columns and row count (after ``--where``); :meth:`read` materialises."""

    path: str
    format: str
    sha256: str | None
    files: list[DataFile] | None
    notes: list[str]
    columns: list[str]
    where: Where | None
    n_rows: int

    def _check_where(self) -> None:
        if self.where is None:
            return
        unknown = [c for c in self.where.columns if c not in self.columns]
        if unknown:
            raise UsageError(
                f"`where` names column '{unknown[0]}', which '{self.name}' does not have"
                f"{did_you_mean(unknown[0], self.columns)}",
                f"columns are: {shorten(self.columns, 12)}",
            )

    def _where_error(self, exc: Exception) -> UsageError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return UsageError(
            f"`where` '{self.where.text if self.where else ''}' cannot be applied to '{self.name}': {text}",
            "compare each column with a value of its type (text in quotes, numbers bare)",
        )

    def _check_rows_left(self) -> None:
        if self.where is not None and self.n_rows == 0:
            raise DataLoadError(
                f"`where` '{self.where.text}' leaves no rows of '{self.name}'",
                "loosen the filter",
            )

    @property
    def name(self) -> str:
        return "stdin" if self.path == "-" else Path(self.path.rstrip("/") or "/").name

    def read(self, columns: Sequence[str] | None = None, *, rows: np.ndarray | None = None) -> Dataset:
        """The rows at ``rows`` (all when None, else in that order) of ``columns`` (all when None)."""
        wanted = list(self.columns) if columns is None else [c for c in self.columns if c in set(columns)]
        order = None
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
                raise ValueError(f"row positions must lie in [0, {self.n_rows})")
            sorted_rows = np.sort(rows)
            if np.any(np.diff(sorted_rows) == 0):
                raise ValueError("row positions must be distinct")
            if not np.array_equal(sorted_rows, rows):
                order = np.searchsorted(sorted_rows, rows)
            rows = sorted_rows
        frame = self._read(wanted, rows)
        if order is not None:
            frame = frame.iloc[order].reset_index(drop=True)
        return Dataset(
            frame,
            self.path,
            self.sha256,
            self.format,
            list(self.notes),
            list(self.columns),
            n_source=self.n_rows if rows is not None else None,
            files=self.files,
            where=self.where.text if self.where is not None else None,
        )

    def _read(self, columns: list[str], rows: np.ndarray | None) -> pd.DataFrame:
        raise NotImplementedError


class _FrameSource(DataSource):
    """CSV, JSON Lines, Feather v1, Arrow streams and stdin: read whole, then filtered."""

    def __init__(
        self,
        path: str,
        kind: str,
        digest: str | None,
        files: list[DataFile] | None,
        notes: list[str],
        frame: pd.DataFrame,
        where: Where | None,
    ) -> None:
        self.path, self.format, self.sha256, self.files, self.notes = path, kind, digest, files, notes
        self.columns = [str(c) for c in frame.columns]
        self.where = where
        self._check_where()
        if where is not None:
            frame = frame.iloc[self._filter(frame, where)].reset_index(drop=True)
        self.frame = frame
        self.n_rows = len(frame)
        self._check_rows_left()

    def _filter(self, frame: pd.DataFrame, where: Where) -> np.ndarray:
        import pyarrow as pa

        try:
            table = pa.Table.from_pandas(frame[list(where.columns)], preserve_index=False)
            table = table.append_column("__row__", pa.array(np.arange(len(frame), dtype=np.int64)))
            kept = table.filter(where.expression()).column("__row__")
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise self._where_error(exc) from exc
        return kept.to_numpy()

    def _read(self, columns: list[str], rows: np.ndarray | None) -> pd.DataFrame:
        frame = self.frame if columns == self.columns else self.frame[columns]
        if rows is not None:
            frame = frame.iloc[rows].reset_index(drop=True)
        return frame


class _ArrowSource(DataSource):
    """Parquet and Arrow IPC files (one, a directory or a glob) through ``pyarrow.dataset``.

    The unit of reading is a Parquet row group (an Arrow IPC file as a whole): a read of some rows
    reads only the units that hold them, one at a time, and keeps only those rows.
    """

    def __init__(
        self,
        path: str,
        kind: str,
        digest: str | None,
        files: list[DataFile] | None,
        notes: list[str],
        paths: list[Path],
        root: Path | None,
        where: Where | None,
    ) -> None:
        import pyarrow as pa
        import pyarrow.dataset as ds

        self.path, self.format, self.sha256, self.files, self.notes = path, kind, digest, files, notes
        self.where = where
        fmt = ARROW_KINDS[kind]
        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                names = pq.read_schema(paths[0]).names
            else:
                with pa.memory_map(str(paths[0])) as fh:
                    names = pa.ipc.open_file(fh).schema.names
            _check_unique(names, path if root is None else _rel(paths[0], root))
            if root is not None:
                keys = {k for f in paths for k in _partition_keys(str(f), root)}
                clash = sorted(k for k in keys if k in names)
                if clash:
                    raise DataLoadError(
                        f"partition column '{clash[0]}' (from the directory names of '{path}') is also "
                        "a column inside its files",
                        "rename the directories or drop the column from the files: its value would be "
                        "ambiguous",
                    )
            if root is None:
                dataset = ds.dataset(str(paths[0]), format=fmt)
            else:
                dataset = ds.dataset(
                    [str(f) for f in paths], format=fmt, partitioning="hive", partition_base_dir=str(root)
                )
            index = {str(f): i for i, f in enumerate(paths)}
            fragments = sorted(dataset.get_fragments(), key=lambda fr: index.get(fr.path, len(index)))
            schemas = [fr.physical_schema for fr in fragments]
        except (pa.ArrowException, OSError) as exc:
            label = {"parquet": "Parquet", "arrow": "Arrow IPC"}[kind]
            raise DataLoadError(
                f"data file '{path}' is not a readable {label} file ({str(exc).splitlines()[0]})"
                if root is None
                else f"data '{path}' is not a readable {label} dataset ({str(exc).splitlines()[0]})",
                "check that it was written completely"
                if root is None
                else "check that every file was written completely",
            ) from exc
        first = schemas[0]
        for fr, sch in zip(fragments[1:], schemas[1:]):
            if not sch.equals(first, check_metadata=False):
                diff = [
                    f"{f.name}: {f.type}"
                    for f in sch
                    if first.get_field_index(f.name) < 0 or first.field(f.name).type != f.type
                ] or [f"{f.name}: {f.type}" for f in first if sch.get_field_index(f.name) < 0]
                diff = diff or ["the same columns in another order"]
                raise _mixed_schema(
                    path,
                    Path(fragments[0].path),
                    Path(fr.path),
                    root,
                    shorten(first.names, 8),
                    f"'{diff[0]}'",
                )
        partitions = [n for n in dataset.schema.names if n not in first.names]
        self.schema = dataset.schema
        self.columns = list(first.names) + partitions
        self.partitions = partitions
        self._check_where()
        expr = where.expression() if where is not None else None
        self._expr = expr
        units: list[Any] = []
        counts: list[int] = []
        try:
            for fr in fragments:
                parts = fr.split_by_row_group() if kind == "parquet" else [fr]
                for unit in parts:
                    if expr is None:
                        n = unit.row_groups[0].num_rows if kind == "parquet" else unit.count_rows()
                    else:
                        n = ds.Scanner.from_fragment(
                            unit, schema=self.schema, columns=[], filter=expr
                        ).count_rows()
                    if n:
                        units.append(unit)
                        counts.append(n)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise self._where_error(exc) from exc
        except (pa.ArrowException, OSError) as exc:
            if where is not None and isinstance(exc, pa.ArrowInvalid) and "FieldRef" not in str(exc):
                raise self._where_error(exc) from exc
            raise DataLoadError(
                f"cannot read {kind} data '{path}' ({str(exc).splitlines()[0]})",
                "check that every file was written completely",
            ) from exc
        self._units = units
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.n_rows = int(self._starts[-1])
        self.n_units = len(units)
        self._check_rows_left()

    def _unit_table(self, unit: Any, columns: list[str]) -> Any:
        import pyarrow as pa
        import pyarrow.dataset as ds

        if self.format != "parquet":
            return ds.Scanner.from_fragment(
                unit, schema=self.schema, columns=columns, filter=self._expr, use_threads=False
            ).to_table()
        # A Parquet row group straight from its file: the scanner's read-ahead buffers doubled the
        # peak memory of a sampled read (measured on 80 row groups of 131,072 x 11: +124 MB vs
        # +57 MB) and took a third longer. Partition columns come from the fragment's path.
        filter_cols = list(self.where.columns) if self.where is not None else []
        needed = list(dict.fromkeys([*columns, *filter_cols]))
        pf = self._files.get(unit.path)
        if pf is None:
            import pyarrow.parquet as pq

            pf = self._files[unit.path] = pq.ParquetFile(unit.path, pre_buffer=False)
        stored = [c for c in needed if c not in self.partitions]
        table = pf.read_row_group(unit.row_groups[0].id, columns=stored, use_threads=False)
        keys = ds.get_partition_keys(unit.partition_expression) or {}
        for name in (c for c in needed if c in self.partitions):
            field = self.schema.field(name)
            value = keys.get(name)
            if value is None:
                col = pa.nulls(table.num_rows, field.type)
            else:
                col = pa.array([value], type=field.type).take(
                    pa.array(np.zeros(table.num_rows, dtype=np.int64))
                )
            table = table.append_column(field, col)
        if self._expr is not None:
            table = table.filter(self._expr)
        return table.select(columns)

    def _read(self, columns: list[str], rows: np.ndarray | None) -> pd.DataFrame:
        import pyarrow as pa

        tables = []
        self.units_read = 0
        self._files: dict[str, Any] = {}
        try:
            for i, unit in enumerate(self._units):
                start, stop = self._starts[i], self._starts[i + 1]
                if rows is not None:
                    lo, hi = np.searchsorted(rows, [start, stop])
                    if lo == hi:
                        continue
                table = self._unit_table(unit, columns)
                self.units_read += 1
                if rows is not None:
                    table = table.take(pa.array(rows[lo:hi] - start))
                tables.append(table)
            if tables:
                table = pa.concat_tables(tables)
            else:
                table = self.schema.empty_table().select(columns)
            del tables
            # Memory: the frame, not three copies of it. Measured on 1,000,000 x 11 float64 (an
            # 84 MB frame): read + to_pandas() peaked at +298 MB and kept +294 MB resident. Converting
            # column by column while freeing the table (split_blocks, self_destruct), then releasing
            # the allocator's pages: peak +158 MB, +111 MB after.
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataLoadError(
                f"cannot read {self.format} data '{self.path}' ({str(exc).splitlines()[0]})",
                "check that every file was written completely",
            ) from exc
        finally:
            self._files = {}
        del table
        _release_arrow_memory()
        return frame


def _partition_keys(path: str, root: Path) -> list[str]:
    rel = _rel(Path(path), root)
    return [part.split("=", 1)[0] for part in rel.split("/")[:-1] if "=" in part]


def _decode_sample(head: bytes, encoding: str, where: str) -> str:
    # Drop a possibly cut multi-byte character at the end of the sample.
    try:
        return head.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4 and len(head) >= SNIFF_BYTES:
            return head[: exc.start].decode(encoding)
        raise DataLoadError(
            f"data '{where}' is not valid {encoding} text (byte 0x{head[exc.start]:02x} at "
            f"offset {exc.start})",
            "pass its encoding, e.g. `encoding=latin-1` or `encoding=cp1252`",
        ) from exc


def _sniff_sep(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        pass
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(
    source: Path | io.BytesIO,
    head: bytes,
    where: str,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
    gz: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    enc = encoding or "utf-8"
    if encoding is None and head.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    if encoding is None and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    text = _decode_sample(head, enc, where)
    if not text.strip():
        raise DataLoadError(f"data '{where}' holds no table (only whitespace)", "give a header and rows")
    if sep is None:
        sep = _sniff_sep(text)
    # Names are kept exactly as written: ' a' is not 'a', and 'a' and 'a ' are two columns.
    header = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    dupes = sorted(n for n, c in Counter(header).items() if c > 1 and n)
    if dupes:
        raise DataLoadError(
            f"data '{where}' has duplicate column names: {', '.join(map(repr, dupes))}",
            "give every column a unique name",
        )
    if decimal is None:
        decimal = "."
        if sep == ";":
            cells = [c for row in csv.reader(io.StringIO(text), delimiter=sep) for c in row[:50]]
            commas = sum(1 for c in cells[: 20 * max(1, len(header))] if _DECIMAL_COMMA.match(c))
            if commas:
                decimal = ","
                notes.append(
                    f"'{where}' uses decimal commas (1,5 = 1.5); reading them as numbers"
                    " (pass `decimal=.` to keep them as text)"
                )
    try:
        frame = pd.read_csv(
            source,
            sep=sep,
            encoding=enc,
            decimal=decimal,
            compression="gzip" if gz else None,
            low_memory=False,
            encoding_errors="strict",
        )
    except UnicodeDecodeError as exc:
        raise DataLoadError(
            f"data '{where}' is not valid {enc} text ({exc.reason} at byte {exc.start})",
            "pass its encoding, e.g. `encoding=latin-1` or `encoding=cp1252`",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataLoadError(f"data '{where}' holds no table", "give a header and rows") from exc
    except (pd.errors.ParserError, ValueError, OSError, EOFError) as exc:
        raise DataLoadError(
            f"cannot parse '{where}' as CSV (delimiter {sep!r}): {str(exc).strip()}",
            "pass the delimiter with `sep`",
        ) from exc
    frame.columns = [str(c) for c in frame.columns]
    unnamed = [c for c in frame.columns if c.startswith("Unnamed: ")]
    if unnamed and unnamed == [frame.columns[0]]:
        notes.append(f"'{where}' has an unnamed first column (a saved index?); it is ignored")
        frame = frame.drop(columns=unnamed)
    return frame, notes
