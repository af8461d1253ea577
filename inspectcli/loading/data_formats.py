"""The formats of data files: sniffed from their bytes, and the readers of the formats read whole.

Each file's format comes from its bytes (``PAR1`` Parquet, ``ARROW1`` Arrow IPC / Feather v2,
``FEA1`` Feather v1, an Arrow IPC stream, gzip magic, ``{`` JSON Lines, else CSV text); the name is a
second opinion: a mismatch is a note, not a failure. CSV delimiters are sniffed among ``, ; TAB |``;
decimal commas are recognised when the delimiter is ``;``; text that is not valid in the chosen
encoding is an error that names ``--encoding``, never silently replaced bytes. Column names are kept
exactly as written (``' a'`` and ``'a'`` are two columns), whatever the format. Parquet and Arrow IPC
files are read lazily (:mod:`inspectcli.loading.sources`); the rest is read whole here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from inspectcli.errors import DataLoadError, UsageError

DELIMITERS = [",", ";", "\t", "|"]
SNIFF_BYTES = 256 * 1024
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


#: Leading bytes of the binary formats, in the order they are tried.
_MAGIC: list[tuple[bytes, str]] = [
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"FEA1", "feather-v1"),
    (b"\xff\xff\xff\xff", "arrow-stream"),
    (b"\x1f\x8b", "csv.gz"),
    (b"PK\x03\x04", "zip"),
    (b"\x80", "binary"),  # a pickle
    (b"BZh", "binary"),
    (b"\xfd7zXZ", "binary"),
]
#: What a file's name says it holds (a second opinion on its bytes).
_SUFFIXES: list[tuple[tuple[str, ...], str]] = [
    ((".parquet", ".pq", ".parq"), "parquet"),
    ((".arrow", ".feather", ".ipc", ".arrows"), "arrow"),
    ((".jsonl", ".ndjson"), "jsonl"),
    ((".json",), "json"),
    ((".csv.gz", ".tsv.gz", ".txt.gz"), "csv.gz"),
    ((".csv", ".tsv", ".txt"), "csv"),
]


def sniff_kind(head: bytes) -> str:
    """The format of data starting with ``head``: one of the kinds of :data:`_MAGIC`, or
    ``"jsonl"``, ``"json"`` (an array), ``"csv"``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
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
    return next((kind for suffixes, kind in _SUFFIXES if name.endswith(suffixes)), None)


def _same_family(named: str, kind: str) -> bool:
    arrow = {"arrow", "arrow-stream", "feather-v1"}
    return named == kind or (named in arrow and kind in arrow) or {named, kind} == {"json", "jsonl"}


def check_text_options(sep: str | None, encoding: str | None) -> str | None:
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


def file_kind(p: Path, where: str) -> tuple[str, str | None]:
    if p.stat().st_size == 0:
        raise DataLoadError(f"data file '{where}' is empty", "give a file with a header and rows")
    try:
        with open(p, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except PermissionError as exc:
        raise DataLoadError(
            f"cannot read data file '{where}': permission denied", "check its permissions"
        ) from exc
    kind = sniff_kind(head)
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


def read_eager(
    p: Path, kind: str, where: str, sep: str | None, encoding: str | None, decimal: str | None
) -> tuple[pd.DataFrame, list[str]]:
    if kind == "jsonl":
        with open(p, "rb") as fh:
            return read_jsonl(fh, where), []
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
        check_unique_names(table.schema.names, where)
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
    return read_csv(p, head, where, sep, encoding, decimal, gz=(kind == "csv.gz"))


#: Nesting a JSON Lines record may have: a data table's values are flat (pyarrow's JSON parser
#: recurses once per level and overflowed its stack, SIGSEGV, at ~20,000 levels).
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}\n")


def _line_depths(data: bytes) -> Any:
    """Deepest nesting of each line of ``data`` (bytes holding only brackets and newlines)."""
    import numpy as np

    a = np.frombuffer(data, np.uint8)
    step = (a == 91).astype(np.int64) + (a == 123) - (a == 93) - (a == 125)
    depth = np.cumsum(step)
    newline = a == 10
    base = np.concatenate([[0], depth[newline]])[np.cumsum(newline)]
    return depth - base


def scan_jsonl(source: Any, chunk: int = 1 << 22) -> tuple[int, int]:
    """(deepest nesting of a line, or a bound on it when that is at most :data:`MAX_JSON_DEPTH`;
    longest line in bytes) of JSON Lines, read in chunks of whole lines.

    Brackets inside strings do not count (a JSON string holds no raw newline, so lines are
    scanned independently). ``source`` is a binary file object, left at its start.
    """
    import numpy as np

    deepest = longest = 0
    carry = b""
    while True:
        block = source.read(chunk)
        data = carry + block
        if block:
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: a long line, keep reading
                carry = data
                continue
            data, carry = data[:cut], data[cut:]
        else:
            carry = b""
        if data:
            ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
            longest = max(longest, int(np.diff(np.concatenate([[-1], ends, [len(data)]])).max()))
            # Bound: a line's opening brackets (strings included); exact only when it is too deep.
            brackets = data.translate(None, _NOT_BRACKET)
            a = np.frombuffer(brackets, np.uint8)
            opens = np.cumsum((a == 91) | (a == 123))
            bound = int(np.diff(np.concatenate([[0], opens[a == 10], opens[-1:]])).max()) if a.size else 0
            if bound > MAX_JSON_DEPTH:
                bound = int(_line_depths(_JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKET)).max())
            deepest = max(deepest, bound)
        if not block:
            break
    source.seek(0)
    return deepest, longest


def read_jsonl(source: Any, where: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.json as pj

    deepest, longest = scan_jsonl(source)
    if deepest > MAX_JSON_DEPTH:
        raise DataLoadError(
            f"cannot read '{where}' as JSON Lines (a record is nested {deepest} levels deep)",
            f"give one flat JSON object per line (at most {MAX_JSON_DEPTH} levels)",
        )
    try:
        # a block holds whole lines: the default (1 MB) refused valid files with a longer line
        table = pj.read_json(source, read_options=pj.ReadOptions(block_size=max(1 << 20, longest + 2)))
    except (pa.ArrowException, OSError) as exc:
        raise DataLoadError(
            f"cannot read '{where}' as JSON Lines ({str(exc).splitlines()[0]})",
            "give one JSON object per line, with the same type for a field in every line",
        ) from exc
    check_unique_names(table.schema.names, where)
    return table.to_pandas()


def check_unique_names(names: Sequence[str], where: str) -> None:
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise DataLoadError(
            f"data '{where}' has duplicate column names: {', '.join(map(repr, dupes))}",
            "give every column a unique name",
        )


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


def read_csv(
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
