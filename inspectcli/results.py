"""Result files: the versioned JSON envelope, tidy CSV, and atomic writes.

Every file is rendered to bytes first and written at the end of a successful run, each to a
temporary name in the target directory and then renamed over the old one: an interrupted or
failed run leaves the previous file or none, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inspectcli import __version__
from inspectcli.errors import UsageError

#: Bumped whenever the layout of a result file changes (see `inspect schema`).
SCHEMA_VERSION = 2
FORMATS = ("json", "csv")


def jsonable(obj: Any) -> Any:
    """Plain Python for json: numpy scalars and arrays, NaN/inf as null, tuples as lists."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def to_json_bytes(obj: Any, *, indent: int | None = 2) -> bytes:
    """Stable JSON (insertion key order, shortest round-trip floats, NaN as null) as UTF-8."""
    text = json.dumps(jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def envelope(
    kind: str,
    *,
    model: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    parameters: Mapping[str, Any],
    results: Sequence[Any],
    elapsed_s: float,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """DESIGN.md's result envelope; keys always in this order."""
    import sklearn

    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "tool": {"name": "inspectcli", "version": __version__},
        "sklearn_version": sklearn.__version__,
        "model": dict(model) if model is not None else None,
        "data": dict(data) if data is not None else None,
        "parameters": dict(parameters),
        "results": list(results),
    }
    if extra:
        out.update(extra)
    out["elapsed_s"] = round(float(elapsed_s), 3)
    return out


def model_block(loaded: Any) -> dict[str, Any]:
    from inspectcli.introspect import pipeline_steps, qualified_name

    return {
        "path": loaded.path,
        "sha256": loaded.sha256,
        "format": loaded.format,
        "class": qualified_name(loaded.estimator),
        "steps": pipeline_steps(loaded.estimator),
        "sklearn_version_saved": loaded.sklearn_version_saved,
    }


def data_block(dataset: Any, n_used: int) -> dict[str, Any]:
    return {
        "path": dataset.path,
        "sha256": dataset.sha256,
        "n_rows": dataset.n_rows,
        "n_used": int(n_used),
    }


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file (RFC 4180 quoting, '\\n' line ends, floats as repr, NaN as empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else _csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return repr(f) if math.isfinite(f) else ""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def parse_formats(value: str | None) -> tuple[str, ...]:
    """'json,csv' -> ('json', 'csv'); 'none' -> ()."""
    if value is None:
        return FORMATS
    items = [v.strip().lower() for v in value.split(",") if v.strip()]
    if items in (["none"], []):
        return ()
    bad = [v for v in items if v not in FORMATS]
    if bad:
        raise UsageError(f"--format '{value}' names unknown format(s) {bad}", "use json, csv, or none")
    return tuple(dict.fromkeys(items))


def check_out_dir(out: str | os.PathLike[str]) -> Path:
    """Fail early (before any computation) when results could not be written to ``out``."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--out '{out}' is a file, not a directory", "choose a directory name")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"--out '{out}': '{probe}' is a file", "choose another directory")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == p else f" ('{probe}')"
        raise UsageError(f"--out '{out}' is not writable{where}", "choose a directory you can write to")
    return p


def _stage(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temporary file next to ``path``; return its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        _discard([tmp])
        raise
    return tmp


def _discard(temps: Iterable[str]) -> None:
    for tmp in temps:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def write_files(out: str | os.PathLike[str], files: Mapping[str, bytes]) -> list[Path]:
    """Write every rendered file into ``out`` (created if needed); returns the paths written.

    All files are first written to temporary names in ``out``; only when every one of them is
    complete are they renamed over the old files. A failure (disk full, permissions, Ctrl-C)
    before that point removes the temporary files and leaves the previous results as they were.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create --out directory '{out}': {exc.strerror}", "choose another --out"
        ) from exc
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            target = out / name
            try:
                staged.append((_stage(target, data), target))
            except PermissionError as exc:
                raise UsageError(
                    f"cannot write '{target}': permission denied", "choose another --out"
                ) from exc
            except OSError as exc:
                raise UsageError(
                    f"cannot write '{target}': {exc.strerror or exc}",
                    "free some space or choose another --out",
                ) from exc
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        _discard(tmp for tmp, _ in staged)
        raise
    return [target for _, target in staged]
