"""The formats of model files: how each is recognised from its first bytes and turned into an estimator.

Formats are :class:`ModelFormat` entries in :data:`FORMATS`: ``sniff(head)`` recognises the
leading bytes, ``load(data, context)`` turns the whole file's bytes into an estimator. A new
format (native GBM files, …) is one more entry (:func:`register_format`); it never opens the path
itself. Pickle-based formats run code while loading: ``--sha256`` pins the exact bytes and
``--no-pickle`` (or ``INSPECT_NO_PICKLE=1``) refuses them. skops files load through skops'
trusted-types check; types it does not trust are listed and must be accepted with ``--trust``.
What a skops archive decompresses to is bounded, as the model file's size is.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspectcli.errors import ModelLoadError, UsageError, safe_text

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


def size_text(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


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


def first_line(exc: BaseException, default: str | None = None) -> str:
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
                    f"skops file '{path}' decompresses to {size_text(total)}, more than the "
                    f"{size_text(limit)} a model may take here",
                    "raise the bound with INSPECT_MAX_MODEL_SIZE if you trust the file",
                )
            try:
                info = zf.getinfo("schema.json")
            except KeyError:
                raise ModelLoadError(f"{bad} (it has no schema.json)", hint) from None
            if info.file_size > MAX_SKOPS_SCHEMA_BYTES:
                raise ModelLoadError(
                    f"{bad}: its schema.json decompresses to {size_text(info.file_size)}, more than "
                    f"the {size_text(MAX_SKOPS_SCHEMA_BYTES)} a skops schema may have here",
                    hint,
                )
            raw = zf.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ModelLoadError(f"{bad} ({first_line(exc)})", hint) from exc
    except (ValueError, RuntimeError) as exc:  # encrypted members, bad compression data
        raise ModelLoadError(f"{bad} ({first_line(exc)})", hint) from exc
    try:
        schema = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ModelLoadError(f"{bad}: its schema.json is not JSON ({first_line(exc)})", hint) from exc
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
            f"model file '{path}' is not a valid skops file ({type(exc).__name__}: {first_line(exc)})",
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
            f"cannot load skops file '{path}': {type(exc).__name__}: {first_line(exc)}",
            "the file may be damaged or written by an incompatible skops version",
        ) from exc


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


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


def find_format(head: bytes) -> tuple[ModelFormat, str] | None:
    for fmt in FORMATS:
        name = fmt.sniff(head)
        if name is not None:
            return fmt, name
    return None


def sniff_model_format(head: bytes) -> str | None:
    """The model format these leading bytes belong to, or None."""
    found = find_format(head)
    return found[1] if found else None


def describe_unknown(head: bytes) -> str:
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
