"""Load a fitted model from joblib / pickle / skops, safely where the format allows it.

The file is read **once**, into memory: its SHA-256, the format detection (from the first bytes,
not the name) and the loading all use that one buffer, so ``--sha256`` pins exactly what is
loaded, even when the path is a FIFO or is swapped while we read it. How many bytes are read is
bounded (``INSPECT_MAX_MODEL_SIZE``, default 2GiB); so is what a skops archive decompresses to.

The formats (pickle / joblib, skops, LightGBM / XGBoost / CatBoost files) are entries of
:data:`inspectcli.loading.model_formats.FORMATS`; pickle-based ones run code while loading:
``--sha256`` pins the exact bytes and ``--no-pickle`` (or ``INSPECT_NO_PICKLE=1``) refuses them.

Whatever the file's own code raises while it is loaded (``SystemExit`` included; only Ctrl-C and
SIGTERM pass) is an input error (exit 3), never the end of the run.
"""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sklearn

from inspectcli.errors import ModelLoadError, Terminated, UsageError
from inspectcli.gbm import LIBRARIES
from inspectcli.loading.model_formats import (
    EXTENSIONS,
    NATIVE_FAMILY,
    SNIFF_BYTES,
    LoadContext,
    ModelFormat,
    describe_unknown,
    find_format,
    first_line,
    max_model_bytes,
    size_text,
)
from inspectcli.loading.paths import check_readable_file


@dataclass
class LoadedModel:
    """A fitted estimator and what we know about the file it came from."""

    estimator: Any
    path: str
    sha256: str
    format: str
    size_bytes: int
    sklearn_version_saved: str | None
    notes: list[str] = field(default_factory=list)
    #: 'lightgbm' / 'xgboost' / 'catboost' when the final estimator is theirs
    library: str | None = None
    #: the version of that library that saved the file, where the file records it
    library_version_saved: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name


def read_model_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The whole content of the model file, read through one open file descriptor.

    Everything about the model (hash, format, estimator) must come from these bytes: opening the
    path again could give other bytes (a FIFO, a file replaced meanwhile).

    Raises
    ------
    ModelLoadError
        When the file cannot be read or holds more than ``limit`` bytes
        (default :func:`max_model_bytes`).
    """
    limit = max_model_bytes() if limit is None else limit
    p = check_readable_file(path, "model", ModelLoadError)
    shown = str(path)
    too_big = (
        f"model file '{shown}' is larger than the {size_text(limit)} a model file may have here",
        "raise the bound with INSPECT_MAX_MODEL_SIZE=8GB (the file is held in memory) if you trust it",
    )
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ModelLoadError(f"cannot open model file '{shown}': {exc.strerror}", "check the path") from exc
    with os.fdopen(fd, "rb", buffering=0) as fh:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ModelLoadError(f"model path '{shown}' is a directory, not a file", "pass the model file")
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise ModelLoadError(*too_big)
        buf = bytearray()
        try:
            while True:
                block = fh.read(min(1 << 20, limit + 1 - len(buf)))
                if not block:
                    break
                buf += block
                if len(buf) > limit:
                    raise ModelLoadError(*too_big)
        except OSError as exc:
            raise ModelLoadError(
                f"cannot read model file '{shown}': {exc.strerror or exc}", "check the file"
            ) from exc
    return bytes(buf)


def pickle_refused_by_env() -> bool:
    """True when INSPECT_NO_PICKLE asks to refuse pickle-based model files."""
    return os.environ.get("INSPECT_NO_PICKLE", "").strip().lower() not in ("", "0", "false", "no")


def load_model(
    path: str | os.PathLike[str],
    *,
    trust: Sequence[str] = (),
    sha256: str | None = None,
    allow_pickle: bool | None = None,
    strict: bool = False,
) -> LoadedModel:
    """Load a fitted scikit-learn estimator (or pipeline) from a file.

    Parameters
    ----------
    path : str or path-like
        A ``.joblib``, ``.pkl``/``.pickle`` or ``.skops`` file (the format is read from its bytes).
        It is read once; the digest, the format and the estimator all come from those bytes.
    trust : sequence of str
        Types to accept when a skops file holds types skops does not trust by default.
    sha256 : str, optional
        Expected hex digest; a file with another digest is refused before it is loaded.
    allow_pickle : bool, optional
        Refuse pickle/joblib files when False. Default: allowed unless ``INSPECT_NO_PICKLE`` is set.
    strict : bool
        Turn a scikit-learn version mismatch into an error instead of a warning.

    Returns
    -------
    LoadedModel
    """
    expected = None
    if sha256 is not None:
        expected = sha256.strip().lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise UsageError(f"`sha256='{sha256}'` is not a SHA-256 hex digest", "give 64 hex characters")
    from inspectcli.loading.native import is_mlflow_folder

    if is_mlflow_folder(path):
        return _load_mlflow(path, trust=trust, sha256=expected, allow_pickle=allow_pickle, strict=strict)
    data = read_model_bytes(path)
    return load_model_bytes(
        data, path=str(path), trust=trust, sha256=expected, allow_pickle=allow_pickle, strict=strict
    )


def load_model_bytes(
    data: bytes,
    *,
    path: str,
    trust: Sequence[str] = (),
    sha256: str | None = None,
    allow_pickle: bool | None = None,
    strict: bool = False,
) -> LoadedModel:
    """:func:`load_model` on bytes already read (``path`` names them in messages only)."""
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and sha256.strip().lower() != digest:
        raise ModelLoadError(
            f"model file '{path}' does not match `sha256`: it has SHA-256 {digest}, not {sha256}",
            "the file changed; check where it came from before loading it",
        )
    head = data[:SNIFF_BYTES]
    found = find_format(head)
    if found is None:
        from inspectcli.loading.native import describe_export

        export = describe_export(head)
        if export is not None:
            raise ModelLoadError(f"model file '{path}' {export[0]}", export[1])
        raise ModelLoadError(
            f"model file '{path}' {describe_unknown(head)}",
            "give a model saved with joblib.dump, pickle.dump or skops.io.dump, a LightGBM / XGBoost /"
            " CatBoost model file, or an MLflow model folder",
        )
    kind, fmt = found
    notes: list[str] = []
    name = Path(path).name
    by_name = EXTENSIONS.get(Path(path).suffix.lower())
    from inspectcli.loading.native import NATIVE_FORMATS, NATIVE_SUFFIXES

    named_lib = NATIVE_SUFFIXES.get(Path(path).suffix.lower())
    if named_lib is not None and NATIVE_FORMATS.get(fmt) != named_lib:
        title = LIBRARIES[named_lib].title
        title = ("an " if title[0] in "AEIOX" else "a ") + title
        notes.append(f"'{name}' is named like {title} file but its content is {fmt}")
    elif by_name is None and Path(path).suffix.lower() not in kind.extensions:
        notes.append(f"'{name}' has no known model extension; its content is {fmt}")
    elif by_name is not None and (by_name == "skops") != (kind.family == "skops"):
        notes.append(f"'{name}' is named like a {by_name} file but its content is {fmt}")

    if allow_pickle is None:
        allow_pickle = not pickle_refused_by_env()
    if kind.runs_code and not allow_pickle:
        raise ModelLoadError(
            f"model file '{path}' is a {fmt} file, and pickle-based files are refused here"
            " (`no_pickle` or INSPECT_NO_PICKLE)",
            "save the model with skops.io.dump and pass the .skops file",
        )

    context = LoadContext(path=path, trust=tuple(trust), format=fmt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = _guarded_load(kind, data, context)
    saved_version = None
    for w in caught:
        if isinstance(w.message, sklearn.exceptions.InconsistentVersionWarning):
            saved_version = w.message.original_sklearn_version
    if saved_version is not None and saved_version != sklearn.__version__:
        msg = (
            f"model file '{name}' was saved with scikit-learn {saved_version} and is loaded "
            f"with {sklearn.__version__}"
        )
        if strict:
            raise ModelLoadError(
                msg + " (`strict`)",
                f"install scikit-learn=={saved_version}, or drop `strict` to accept the risk",
            )
        notes.append(msg + "; results may differ from the original (`strict` makes this an error)")
    from inspectcli.gbm import library_of
    from inspectcli.loading.native import saved_library_version

    native = kind.family == NATIVE_FAMILY
    return LoadedModel(
        estimator=estimator,
        path=path,
        sha256=digest,
        format=fmt,
        size_bytes=len(data),
        sklearn_version_saved=None if native else saved_version or sklearn.__version__,
        notes=notes,
        library=library_of(estimator),
        library_version_saved=saved_library_version(estimator, data, fmt if native else None),
    )


def _load_mlflow(
    folder: str | os.PathLike[str],
    *,
    trust: Sequence[str],
    sha256: str | None,
    allow_pickle: bool | None,
    strict: bool,
) -> LoadedModel:
    """An MLflow model folder: its flavour's model file, loaded under the same rules as any file.

    ``--sha256`` pins that model file (MLmodel and the environment files are not code we run).
    """
    from inspectcli.loading.native import mlflow_model_file, mlflow_saved_version

    file, flavour, conf = mlflow_model_file(folder)
    loaded = load_model(file, trust=trust, sha256=sha256, allow_pickle=allow_pickle, strict=strict)
    loaded.path = str(folder)
    loaded.format = f"mlflow {flavour} flavour: {file.name} ({loaded.format})"
    loaded.notes = [
        n for n in loaded.notes if "is named like" not in n and "no known model extension" not in n
    ]
    saved = mlflow_saved_version(flavour, conf)
    if saved is not None:
        loaded.library_version_saved = saved
    return loaded


def _guarded_load(kind: ModelFormat, data: bytes, context: LoadContext) -> Any:
    """``kind.load``; whatever the file's code raises (SystemExit too) becomes a ModelLoadError."""
    fmt = context.format
    try:
        estimator = kind.load(data, context)
        check_estimator_object(estimator, context.path)  # attribute look-ups run the object's code
        return estimator
    except (ModelLoadError, KeyboardInterrupt, Terminated):
        raise
    except MemoryError as exc:
        raise ModelLoadError(
            f"model file '{context.path}' ({fmt}) needs more memory than this machine has to load",
            "load it on a machine with more memory",
        ) from exc
    except RecursionError as exc:
        raise ModelLoadError(
            f"model file '{context.path}' ({fmt}) is nested too deeply to load", "save the model again"
        ) from exc
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load model file '{context.path}' ({fmt}): {type(exc).__name__}: {first_line(exc)}",
            "save the model again with joblib.dump or skops.io.dump",
        ) from exc
    except BaseException as exc:  # SystemExit, GeneratorExit, …: the file's code may not end the run
        raise ModelLoadError(
            f"model file '{context.path}' ({fmt}) raised {type(exc).__name__}({first_line(exc, '')}) while "
            "being loaded: its code tried to end the run",
            "do not load this file unless you know what its code does",
        ) from exc


def check_estimator_object(estimator: Any, path: str) -> None:
    """Refuse what is not a fitted estimator with a prediction method."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    kind = type(estimator).__name__
    if not any(hasattr(estimator, m) for m in ("predict", "predict_proba", "decision_function")):
        extra = ""
        if hasattr(estimator, "transform"):
            extra = " (it is a transformer)"
        raise ModelLoadError(
            f"model file '{path}' holds a {kind}{extra}, which has no predict method",
            "give a fitted estimator or pipeline that ends in one",
        )
    if hasattr(estimator, "fit"):
        try:
            check_is_fitted(estimator)
        except NotFittedError as exc:
            raise ModelLoadError(
                f"model file '{path}' holds a {kind} that was never fitted",
                "save the estimator after calling fit",
            ) from exc
        except TypeError:
            pass
