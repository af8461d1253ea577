"""Read a data table: Parquet / Arrow files and datasets, CSV (plain, gzipped, TSV), JSON Lines, stdin.

DATA is a file, a directory of part files (a Parquet or Arrow dataset as Spark, Dask or pyarrow write
it; hive partitions such as ``year=2024/`` become columns), or a quoted glob (expanded here, sorted):
see :mod:`inspectcli.loading.paths`. Each file's format comes from its bytes
(:mod:`inspectcli.loading.data_formats`).

Reading happens in two steps, so that only what a command needs is materialised:
:func:`open_data` learns the columns and the row count (Parquet / Arrow from their footers, and the
``--where`` filter evaluated on the columns it names), then :meth:`DataSource.read
<inspectcli.loading.sources.DataSource.read>` reads the columns asked for and, when given, only the
rows at some positions (only the row groups holding them). Row positions count rows in a fixed
order: files sorted by path, row groups and rows in file order, after the filter.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from inspectcli.errors import DataLoadError
from inspectcli.loading.data_formats import (
    SNIFF_BYTES,
    check_text_options,
    file_kind,
    read_csv,
    read_eager,
    read_jsonl,
    sniff_kind,
)
from inspectcli.loading.paths import (
    DataFile,
    expand_data_path,
    files_fingerprint,
    mixed_schema_error,
    relative_name,
    sha256_of,
)
from inspectcli.loading.sources import (
    ARROW_KINDS,
    ArrowSource,
    Dataset,
    DataSource,
    FrameSource,
    Origin,
    file_identity,
)
from inspectcli.loading.where import Where, parse_where


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


def open_data(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    where: str | Where | None = None,
    hash_files: bool = True,
) -> DataSource:
    """Open DATA: learn its columns and row count, read no more than that needs.

    Parameters are those of :func:`load_dataset`. Parquet and Arrow files (one, a directory or a
    glob) are opened lazily through ``pyarrow.dataset``; CSV, JSON Lines and stdin are read whole.
    ``hash_files=False`` leaves out the SHA-256 digests of the files (``sha256`` and ``files`` are
    then None): a Dask worker opening data the client has already hashed.
    """
    path = str(path)
    sep = check_text_options(sep, encoding)
    flt = parse_where(where) if isinstance(where, str) else where
    if path == "-":
        raw = sys.stdin.buffer.read()
        if not raw:
            raise DataLoadError("no data on stdin", "pipe a CSV table into the command")
        digest = hashlib.sha256(raw).hexdigest()
        kind = sniff_kind(raw[:SNIFF_BYTES])
        if kind == "csv.gz":
            raw = gzip.decompress(raw)
            kind = sniff_kind(raw[:SNIFF_BYTES])
        if kind == "jsonl":
            frame = read_jsonl(io.BytesIO(raw), "stdin")
            notes: list[str] = []
        elif kind == "csv":
            frame, notes = read_csv(io.BytesIO(raw), raw[:SNIFF_BYTES], "stdin", sep, encoding, decimal)
        else:
            raise DataLoadError(
                f"stdin holds {kind} data, not CSV or JSON Lines text",
                "pipe CSV, or pass a Parquet / Arrow file by name",
            )
        return FrameSource(Origin(path, kind, digest, None, notes, flt), frame)

    files, root = expand_data_path(path)
    kinds = []
    notes = []
    for f in files:
        kind, note = file_kind(f, path if root is None else str(f))
        kinds.append(kind)
        if note and root is None:
            notes.append(note)
    if len(set(kinds)) > 1:
        by_kind = {k: f for f, k in zip(files, kinds)}
        listed = ", ".join(f"'{relative_name(f, root)}' is {k}" for k, f in by_kind.items())
        raise DataLoadError(
            f"'{path}' mixes file formats: {listed}", "give files of one format (e.g. a glob '*.parquet')"
        )
    kind = kinds[0]
    stats = file_identity(files)  # (before hashing: a file written meanwhile is then caught)
    entries, digest = None, None
    if not hash_files:
        pass
    elif root is None:
        digest = sha256_of(files[0])
    else:
        entries = [DataFile(relative_name(f, root), f.stat().st_size, sha256_of(f)) for f in files]
        digest = files_fingerprint(entries)
    if kind in ARROW_KINDS:
        return ArrowSource(Origin(path, kind, digest, entries, notes, flt, stats), files, root)
    frames = []
    for f in files:
        frame, more = read_eager(f, kind, path if root is None else str(f), sep, encoding, decimal)
        notes.extend(more)
        frames.append(frame)
    if len(frames) > 1:
        first = list(frames[0].columns)
        for f, frame in zip(files[1:], frames[1:]):
            if list(frame.columns) != first:
                raise mixed_schema_error(path, files[0], f, root, first, list(frame.columns))
        frame = pd.concat(frames, ignore_index=True)
    else:
        frame = frames[0]
    eager = FrameSource(Origin(path, kind, digest, entries, notes, flt, stats), frame)
    eager.check_unchanged()  # (read whole here: later changes to the files do not matter)
    eager.stats = ()
    return eager
