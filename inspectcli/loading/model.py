"""Load a fitted model from joblib / pickle / skops, safely where the format allows it.

The file is read **once**, into memory: its SHA-256, the format detection (from the first bytes,
not the name) and the loading all use that one buffer, so ``--sha256`` pins exactly what is
loaded, even when the path is a FIFO or is swapped while we read it. How many bytes are read is
bounded (``INSPECT_MAX_MODEL_SIZE``, default 2GiB); so is what a skops archive decompresses to.

Formats are :class:`ModelFormat` entries in :data:`FORMATS`: ``sniff(head)`` recognises the
leading bytes, ``load(data, context)`` turns the whole file's bytes into an estimator. A new
format (native GBM files, …) is one more entry (:func:`register_format`); it never opens the path
itself. Pickle-based formats run code while loading: ``--sha256`` pins the exact bytes and
``--no-pickle`` (or ``INSPECT_NO_PICKLE=1``) refuses them. skops files load through skops'
trusted-types check; types it does not trust are listed and must be accepted with ``--trust``.

Whatever the file's own code raises while it is loaded (``SystemExit`` included; only Ctrl-C and
SIGTERM pass) is an input error (exit 3), never the end of the run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import stat
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sklearn

from inspectcli.errors import ModelLoadError, Terminated, UsageError, did_you_mean, safe_text

#: How many leading bytes the ``sniff`` functions see.
SNIFF_BYTES = 4096
#: Default bound on a model file's size (env INSPECT_MAX_MODEL_SIZE, e.g. "8GB").
DEFAULT_MAX_MODEL_BYTES = 2 * 2**30
#: Bound on a skops archive's schema.json, decompressed (it is parsed into Python objects).
MAX_SKOPS_SCHEMA_BYTES = 64 * 2**20
#: Bound on the number of members of a skops archive.
MAX_SKOPS_MEMBERS = 200_000

MAGIC: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "skops"),
    (b"\x80", "pickle"),
    (b"\x1f\x8b", "joblib-gzip"),
    (b"BZh", "joblib-bz2"),
    (b"\xfd7zXZ\x00", "joblib-xz"),
    (b"]\x00\x00", "joblib-lzma"),
]
ZLIB_SECOND_BYTES = {0x01, 0x5E, 0x9C, 0xDA}
EXTENSIONS = {
    ".skops": "skops",
    ".joblib": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".jbl": "joblib",
    ".z": "joblib",
    ".gz": "joblib",
    ".bz2": "joblib",
    ".xz": "joblib",
    ".lzma": "joblib",
}


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


@dataclass(frozen=True)
class LoadContext:
    """What a format's ``load`` may need besides the bytes."""

    path: str  # as the user gave it, for messages only: never open it again
    trust: tuple[str, ...] = ()  # skops types accepted with --trust
    format: str = ""  # the name ``sniff`` returned


@dataclass(frozen=True)
class ModelFormat:
    """One kind of model file.

    Attributes
    ----------
    family : str
        ``"pickle"`` when loading runs code from the file (refused by ``--no-pickle``), else a
        name of its own (``"skops"``, ``"lightgbm"``, …); used for the extension check too.
    sniff : callable (head: bytes) -> str or None
        The format's name (e.g. ``"joblib-gzip"``) when the first :data:`SNIFF_BYTES` bytes are
        this kind of file, else None. Formats are tried in :data:`FORMATS` order.
    load : callable (data: bytes, context: LoadContext) -> estimator
        The estimator built from the whole file's bytes (the same bytes that were hashed). Raise
        ModelLoadError for a file that cannot be loaded; any other exception (or SystemExit & co)
        becomes one naming the file.
    extensions : tuple of str
        Lower-case suffixes files of this kind usually have (a note when the name disagrees).
    """

    family: str
    sniff: Callable[[bytes], str | None]
    load: Callable[[bytes, LoadContext], Any]
    extensions: tuple[str, ...] = ()

    @property
    def runs_code(self) -> bool:
        return self.family == "pickle"


def max_model_bytes() -> int:
    """The model file size bound: INSPECT_MAX_MODEL_SIZE ('8GB', '500MiB', bytes) or 2 GiB."""
    text = os.environ.get("INSPECT_MAX_MODEL_SIZE", "").strip()
    if not text:
        return DEFAULT_MAX_MODEL_BYTES
    from inspectcli.engines.batching import parse_memory

    try:
        return parse_memory(text)
    except UsageError as exc:
        raise UsageError(
            f"INSPECT_MAX_MODEL_SIZE '{text}' is not a size of at least 1 MB",
            "write e.g. 4GB or 500MiB",
        ) from exc


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


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
        f"model file '{shown}' is larger than the {_size(limit)} a model file may have here",
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


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pickle_refused_by_env() -> bool:
    """True when INSPECT_NO_PICKLE asks to refuse pickle-based model files."""
    return os.environ.get("INSPECT_NO_PICKLE", "").strip().lower() not in ("", "0", "false", "no")


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


# --------------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------------

#: Opcodes a protocol 0 / 1 pickle of an object can start with.
_OLD_PICKLE_FIRST = set(b"c(}])NILFSVUTXGJKM")
_GLOBAL_NAME = re.compile(r"[A-Za-z_][\w.]* [A-Za-z_][\w.]*")


def _sniff_old_pickle(head: bytes) -> bool:
    """True for a protocol 0 / 1 pickle (no PROTO opcode): its first opcodes parse as a pickle
    and name a class (GLOBAL / INST with a module and a name), or it ends with STOP."""
    if not head or head[0] not in _OLD_PICKLE_FIRST:
        return False
    named = False
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(head)):
            if op.name in ("GLOBAL", "INST"):
                if not isinstance(arg, str) or not _GLOBAL_NAME.fullmatch(arg):
                    return False
                named = True
            if op.name == "STOP" or op.proto >= 2:
                return named
    except (ValueError, UnicodeDecodeError, EOFError):
        # the sniffing window ends inside an opcode, or this is not a pickle at all
        return named
    return named


def _sniff(head: bytes) -> tuple[ModelFormat, str] | None:
    for fmt in FORMATS:
        name = fmt.sniff(head)
        if name is not None:
            return fmt, name
    return None


def sniff_model_format(head: bytes) -> str | None:
    """The model format these leading bytes belong to, or None."""
    found = _sniff(head)
    return found[1] if found else None


def _describe_unknown(head: bytes) -> str:
    if not head:
        return "is empty"
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:
            return "is not a model file (unknown binary content)"
        text = sample[: exc.start].decode("utf-8")
    if any(ord(ch) < 32 and ch not in "\t\r\n\f" for ch in text):
        return "is not a model file (unknown binary content)"
    if text.lstrip().startswith(("{", "[")):
        return "holds JSON text, not a model"
    if "," in text or "\t" in text or ";" in text:
        return "holds text that looks like a data table, not a model"
    return "holds text, not a model"


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


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
    found = _sniff(head)
    if found is None:
        raise ModelLoadError(
            f"model file '{path}' {_describe_unknown(head)}",
            "give a model saved with joblib.dump, pickle.dump or skops.io.dump, a LightGBM / XGBoost /"
            " CatBoost model file, or an MLflow model folder",
        )
    kind, fmt = found
    notes: list[str] = []
    name = Path(path).name
    by_name = EXTENSIONS.get(Path(path).suffix.lower())
    if by_name is None and Path(path).suffix.lower() not in kind.extensions:
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
            f"cannot load model file '{context.path}' ({fmt}): {type(exc).__name__}: {_first(exc)}",
            "save the model again with joblib.dump or skops.io.dump",
        ) from exc
    except BaseException as exc:  # SystemExit, GeneratorExit, …: the file's code may not end the run
        raise ModelLoadError(
            f"model file '{context.path}' ({fmt}) raised {type(exc).__name__}({_first(exc, '')}) while "
            "being loaded: its code tried to end the run",
            "do not load this file unless you know what its code does",
        ) from exc


def _first(exc: BaseException, default: str | None = None) -> str:
    text = str(exc).strip()
    if text:
        return text.splitlines()[0][:300]
    return type(exc).__name__ if default is None else default


def _load_pickle(data: bytes, context: LoadContext) -> Any:
    import joblib

    path, fmt = context.path, context.format
    try:
        return joblib.load(io.BytesIO(data))
    except ModuleNotFoundError as exc:
        from inspectcli.gbm import LIBRARIES

        lib = LIBRARIES.get((exc.name or "").split(".")[0])
        if lib is not None:
            raise ModelLoadError(
                f"model file '{path}' holds a {lib.title} model, and {lib.module} is not installed", lib.pip
            ) from exc
        raise ModelLoadError(
            f"model file '{path}' needs the Python module '{exc.name}', which is not installed",
            f"install the package that provides '{exc.name}' in this environment",
        ) from exc
    except (EOFError, pickle.UnpicklingError) as exc:
        raise ModelLoadError(
            f"model file '{path}' is truncated or damaged ({fmt}: {str(exc) or type(exc).__name__})",
            "save the model again",
        ) from exc
    except AttributeError as exc:
        raise ModelLoadError(
            f"model file '{path}' refers to something this environment lacks: {exc}",
            "load it with the library versions it was saved with",
        ) from exc


def _check_skops_archive(data: bytes, path: str) -> None:
    """Refuse a skops archive that is not one, or that would decompress to more than we allow.

    zipfile never returns more bytes for a member than its declared size (it fails the CRC check
    instead), so bounding the declared sizes bounds what skops decompresses.
    """
    bad = f"model file '{path}' is not a valid skops file"
    hint = "save it again with skops.io.dump"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_SKOPS_MEMBERS:
                raise ModelLoadError(f"{bad} (it holds {len(infos):,} members)", hint)
            total = sum(i.file_size for i in infos)
            limit = max_model_bytes()
            if total > limit:
                raise ModelLoadError(
                    f"skops file '{path}' decompresses to {_size(total)}, more than the {_size(limit)} "
                    "a model may take here",
                    "raise the bound with INSPECT_MAX_MODEL_SIZE if you trust the file",
                )
            try:
                info = zf.getinfo("schema.json")
            except KeyError:
                raise ModelLoadError(f"{bad} (it has no schema.json)", hint) from None
            if info.file_size > MAX_SKOPS_SCHEMA_BYTES:
                raise ModelLoadError(
                    f"{bad}: its schema.json decompresses to {_size(info.file_size)}, more than "
                    f"the {_size(MAX_SKOPS_SCHEMA_BYTES)} a skops schema may have here",
                    hint,
                )
            raw = zf.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ModelLoadError(f"{bad} ({_first(exc)})", hint) from exc
    except (ValueError, RuntimeError) as exc:  # encrypted members, bad compression data
        raise ModelLoadError(f"{bad} ({_first(exc)})", hint) from exc
    try:
        schema = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ModelLoadError(f"{bad}: its schema.json is not JSON ({_first(exc)})", hint) from exc
    if not isinstance(schema, dict) or not all(
        isinstance(schema.get(k), str) for k in ("__class__", "__module__")
    ):
        raise ModelLoadError(
            f"{bad}: its schema.json does not describe a saved object (a JSON object with "
            "'__class__' and '__module__')",
            hint,
        )


def _load_skops(data: bytes, context: LoadContext) -> Any:
    import skops.io as sio

    path, name = context.path, Path(context.path).name
    _check_skops_archive(data, path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except RecursionError as exc:
        raise ModelLoadError(
            f"model file '{path}' is not a valid skops file (nested too deeply)",
            "save it again with skops.io.dump",
        ) from exc
    except Exception as exc:  # reading the schema runs no code from the file: a damaged file
        raise ModelLoadError(
            f"model file '{path}' is not a valid skops file ({type(exc).__name__}: {_first(exc)})",
            "save it again with skops.io.dump",
        ) from exc
    trusted = set(context.trust)
    refused = [t for t in untrusted if t not in trusted]
    if refused:
        plain = [t for t in refused if safe_text(t) == t and re.fullmatch(r"[\w.<>\[\], -]+", t)]
        odd = len(refused) - len(plain)
        hint = ""
        if plain:
            flags = " ".join(f"`trust={_shell_quote(t)}`" for t in plain)
            hint = f"if you trust where the file came from, accept them with {flags}"
        if odd:
            hint += ("; " if hint else "") + (
                f"{odd} of the names hold characters no Python type name has: do not trust this file"
            )
        raise ModelLoadError(
            f"skops file '{name}' holds {len(refused)} type(s) skops does not trust by default: "
            + ", ".join(refused),
            hint,
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except ModelLoadError:
        raise
    except Exception as exc:  # skops raises many kinds on a damaged archive
        raise ModelLoadError(
            f"cannot load skops file '{path}': {type(exc).__name__}: {_first(exc)}",
            "the file may be damaged or written by an incompatible skops version",
        ) from exc


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _sniff_magic(names: dict[bytes, str]) -> Callable[[bytes], str | None]:
    def sniff(head: bytes) -> str | None:
        for magic, name in names.items():
            if head.startswith(magic):
                return name
        return None

    return sniff


def _sniff_pickle(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if name != "skops" and head.startswith(magic):
            return name
    if len(head) >= 2 and head[0] == 0x78 and head[1] in ZLIB_SECOND_BYTES:
        return "joblib-zlib"
    if _sniff_old_pickle(head):
        return "pickle"
    return None


#: The family of LightGBM model text, XGBoost JSON / UBJ and CatBoost .cbm files (no code inside).
NATIVE_FAMILY = "gbm-native"


def _sniff_native(head: bytes) -> str | None:
    from inspectcli.loading.native import sniff_native

    return sniff_native(head)


def _load_native(data: bytes, context: LoadContext) -> Any:
    from inspectcli.loading.native import load_native

    return load_native(data, context.format, context.path)


#: The formats a model file may have, in the order they are tried (see :class:`ModelFormat`).
FORMATS: list[ModelFormat] = [
    ModelFormat(NATIVE_FAMILY, _sniff_native, _load_native, (".txt", ".lgb", ".json", ".ubj", ".cbm", ".cb")),
    ModelFormat("skops", _sniff_magic({b"PK\x03\x04": "skops"}), _load_skops, (".skops",)),
    ModelFormat(
        "pickle", _sniff_pickle, _load_pickle, tuple(k for k, v in EXTENSIONS.items() if v != "skops")
    ),
]


def register_format(fmt: ModelFormat, *, first: bool = True) -> None:
    """Add a model format; ``first`` tries it before the built-in ones (pickle sniffing is lax)."""
    if first:
        FORMATS.insert(0, fmt)
    else:
        FORMATS.append(fmt)


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
