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
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from inspectcli import __version__
from inspectcli.errors import UsageError, clip

#: Bumped whenever the layout of a result file changes (see `inspect schema`).
SCHEMA_VERSION = 7
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
        "library": library_block(loaded),
    }


def library_block(loaded: Any) -> dict[str, Any] | None:
    """{name, version (installed), saved_version} for LightGBM / XGBoost / CatBoost models, else None."""
    from inspectcli.gbm import installed_version

    name = getattr(loaded, "library", None)
    if name is None:
        return None
    return {
        "name": name,
        "version": installed_version(name),
        "saved_version": getattr(loaded, "library_version_saved", None),
    }


def data_block(dataset: Any, n_used: int) -> dict[str, Any]:
    """Which data, and exactly which of its rows, a result was computed on (see loading/sources.py)."""
    files = getattr(dataset, "files", None)
    sample = getattr(dataset, "sample", None)
    delivery = getattr(dataset, "delivery", None)
    taken = delivery.path_taken if delivery is not None else None
    block = {
        "path": dataset.path,
        "sha256": dataset.sha256,
        "format": dataset.format,
        "files": [f.as_json() for f in files] if files is not None else None,
        "where": getattr(dataset, "where", None),
        "n_rows": getattr(dataset, "n_total", dataset.n_rows),
        "n_used": int(n_used),
        "sample": sample.as_json() if sample is not None else None,
    }
    if taken is not None:  # (only for runs on Dask workers: how the rows got there)
        block["dask_data"] = taken
    return block


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
    try:
        return _check_out_dir(p, out)
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES on a parent, …
        raise UsageError(
            f"--out '{clip(out, 80)}' cannot be used: {exc.strerror or exc}",
            "choose a shorter or other directory name",
        ) from exc


def _check_out_dir(p: Path, out: str | os.PathLike[str]) -> Path:
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


def current_umask() -> int:
    """The process's umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stage(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temporary file next to ``path`` (mode 0666 & ~umask); return its name."""
    mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
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


#: Extensions of the files one result set ``<base>.<ext>`` may have; with ``SET_EXTRAS``, what a
#: new set replaces (a file of the old set the new run does not write is removed with it).
SET_EXTENSIONS = ("json", "csv", "png")
SET_EXTRAS = {"importance": ("correlation.png",)}
#: Signals held back while a result set is swapped in, then delivered (the commit finishes first).
_COMMIT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def result_set(names: Iterable[str]) -> set[str]:
    """Every file name that belongs to the result sets ``names`` are part of."""
    members: set[str] = set()
    for name in names:
        base, dot, ext = name.rpartition(".")
        if dot and ext in SET_EXTENSIONS and "/" not in base:
            members.update(f"{base}.{e}" for e in SET_EXTENSIONS)
            members.update(SET_EXTRAS.get(base, ()))
    return members


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT / SIGTERM / SIGHUP wait until the block is done, then arrive as they would have.

    Python runs signal handlers in the main thread whichever thread the signal reached, so the
    handlers themselves are swapped for one that only takes note (a signal mask would not do:
    the signal goes to another thread that does not block it).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous: dict[int, Any] = {}
    for sig in _COMMIT_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, lambda signum, frame: got.append(signum))
        except (ValueError, OSError):
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(got):
            handler = previous.get(sig)
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(sig)


def _commit(out: Path, staged: list[tuple[str, Path]], stale: list[Path]) -> None:
    """Swap the staged files in and the stale ones out: all of them, or (on an error) none.

    Signals are held back meanwhile, so an interrupt lands before or after the swap, never in it;
    an error in the middle (a file that cannot be replaced) puts the old files back.
    """
    touched = [t for _, t in staged] + stale
    backups: dict[Path, str] = {}
    done: list[Path] = []
    with _signals_held():
        try:
            for target in touched:
                if target.exists():
                    fd, keep = tempfile.mkstemp(dir=out, prefix=f".{target.name}.", suffix=".old")
                    os.close(fd)
                    backups[target] = keep
                    try:
                        os.unlink(keep)
                        os.link(target, keep)
                    except OSError:  # a file system without hard links: a copy does
                        shutil.copy2(target, keep)
            for tmp, target in staged:
                os.replace(tmp, target)
                done.append(target)
            for target in stale:
                if target in backups:
                    os.unlink(target)
                    done.append(target)
        except BaseException:
            for target in reversed(done):
                try:
                    if target in backups:
                        os.replace(backups.pop(target), target)
                    else:
                        os.unlink(target)
                except OSError:
                    pass
            raise
        finally:
            _discard(backups.values())


def write_files(out: str | os.PathLike[str], files: Mapping[str, bytes]) -> list[Path]:
    """Write every rendered file into ``out`` (created if needed); returns the paths written.

    All files are first written to temporary names in ``out``; only when every one of them is
    complete are they swapped in, together, with signals held back: the files of the previous
    run's set (``pdp.json``, ``pdp.csv``, ``pdp.png``, …) are replaced as a whole, and those the
    new run does not write are removed, so the directory never holds a mix of two runs. A failure
    (disk full, permissions, Ctrl-C) before or during the swap leaves the previous set whole. New
    files get the usual permissions under the umask.
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
                    "free some space, shorten the name or choose another --out",
                ) from exc
        stale = [out / n for n in sorted(result_set(files) - set(files))]
        try:
            _commit(out, staged, [p for p in stale if p.is_file()])
        except OSError as exc:
            raise UsageError(
                f"cannot replace the results in '{out}': {exc.strerror or exc}; the previous ones are kept",
                "check the directory's permissions or choose another --out",
            ) from exc
    except BaseException:
        _discard(tmp for tmp, _ in staged)
        raise
    return [target for _, target in staged]
