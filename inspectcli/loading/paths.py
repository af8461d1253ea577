"""Where data and model files are: checks of one file, the files of a dataset directory or glob.

DATA may be a file, a directory of part files (Spark, Dask and pyarrow write them so; hive partitions
such as ``year=2024/`` become columns) or a quoted glob, expanded here and sorted, so that the rows
of a dataset always come in the same order. A dataset's fingerprint is the SHA-256 over its files'
relative paths, sizes and SHA-256 digests, in that order.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspectcli.errors import DataLoadError, did_you_mean

_GLOB_MAGIC = re.compile(r"[*?[]")


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_readable_file(path: str | os.PathLike[str], what: str, error: type[Exception]) -> Path:
    """A readable regular file, or ``error`` naming it and saying what to do."""
    p = Path(path)
    shown = str(path)
    try:
        exists = p.exists()
    except OSError as exc:  # ENAMETOOLONG, ELOOP, …
        raise error(f"{what} path '{shown}' cannot be used: {exc.strerror}", "check the path") from exc
    if not exists:
        try:
            siblings = [c.name for c in p.parent.iterdir()] if p.parent.is_dir() else []
        except OSError:
            siblings = []
        raise error(
            f"{what} file '{shown}' does not exist{did_you_mean(p.name, siblings)}",
            "check the path",
        )
    if p.is_dir():
        raise error(f"{what} path '{shown}' is a directory, not a file", f"pass the {what} file")
    if not os.access(p, os.R_OK):
        raise error(f"cannot read {what} file '{shown}': permission denied", "check its permissions")
    return p


@dataclass
class DataFile:
    """One file of a dataset: its path (relative to the dataset's root), size and SHA-256."""

    path: str
    bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


def relative_name(f: Path, root: Path | None) -> str:
    if root is None:
        return str(f)
    try:
        return f.relative_to(root).as_posix()
    except ValueError:
        return str(f)


def files_fingerprint(entries: list[DataFile]) -> str:
    """SHA-256 over every file's relative path, size and SHA-256, in order."""
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.path}\0{e.bytes}\0{e.sha256}\n".encode())
    return h.hexdigest()


def _hidden(parts: Sequence[str]) -> bool:
    # pyarrow.dataset's default: names starting with '.' or '_' (_SUCCESS, _metadata, .crc) are not data
    return any(p.startswith((".", "_")) for p in parts)


def expand_data_path(path: str) -> tuple[list[Path], Path | None]:
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


def file_stats(path: str) -> list[tuple[str, int, int]]:
    """(name, size in bytes, modification time in ns) of each file of DATA, in reading order.

    Names are relative to a dataset's root, or the file's own name: the same files seen from
    another machine at the same path give the same list.
    """
    files, root = expand_data_path(path)
    out = []
    for f in files:
        st = f.stat()
        out.append((relative_name(f, root) if root is not None else f.name, st.st_size, st.st_mtime_ns))
    return out


def partition_keys(path: str, root: Path) -> list[str]:
    rel = relative_name(Path(path), root)
    return [part.split("=", 1)[0] for part in rel.split("/")[:-1] if "=" in part]


def mixed_schema_error(path: str, a: Path, b: Path, root: Path | None, ca: Any, cb: Any) -> DataLoadError:
    return DataLoadError(
        f"the files of '{path}' have different columns: '{relative_name(a, root)}' has {ca}, "
        f"'{relative_name(b, root)}' has {cb}",
        "give files written with one schema (or select them with a glob)",
    )
