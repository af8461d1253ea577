"""Load a fitted model from joblib / pickle / skops, safely where the format allows it.

The format is detected from the file's first bytes, not its name. Pickle-based formats (pickle,
joblib) run code while loading: ``--sha256`` pins the exact file, and ``--no-pickle`` (or
``INSPECT_NO_PICKLE=1``) refuses them. skops files load through skops' trusted-types check; types
it does not trust are listed and must be accepted one by one with ``--trust``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sklearn

from inspectcli.errors import ModelLoadError, UsageError, did_you_mean

#: Leading bytes of the formats a model file may have, in the order they are tested.
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

    @property
    def name(self) -> str:
        return Path(self.path).name


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
    if not p.exists():
        siblings = [c.name for c in p.parent.iterdir()] if p.parent.is_dir() else []
        raise error(
            f"{what} file '{path}' does not exist{did_you_mean(p.name, siblings)}",
            "check the path",
        )
    if p.is_dir():
        raise error(f"{what} path '{path}' is a directory, not a file", f"pass the {what} file")
    if not os.access(p, os.R_OK):
        raise error(f"cannot read {what} file '{path}': permission denied", "check its permissions")
    return p


def sniff_model_format(head: bytes) -> str | None:
    """The model format these leading bytes belong to, or None."""
    for magic, fmt in MAGIC:
        if head.startswith(magic):
            return fmt
    if len(head) >= 2 and head[0] == 0x78 and head[1] in ZLIB_SECOND_BYTES:
        return "joblib-zlib"
    return None


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
    trust : sequence of str
        Types to accept when a skops file holds types skops does not trust by default.
    sha256 : str, optional
        Expected hex digest; a file with another digest is refused before it is opened.
    allow_pickle : bool, optional
        Refuse pickle/joblib files when False. Default: allowed unless ``INSPECT_NO_PICKLE`` is set.
    strict : bool
        Turn a scikit-learn version mismatch into an error instead of a warning.

    Returns
    -------
    LoadedModel
    """
    p = check_readable_file(path, "model", ModelLoadError)
    digest = sha256_of(p)
    if sha256 is not None:
        expected = sha256.strip().lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise UsageError(f"`sha256='{sha256}'` is not a SHA-256 hex digest", "give 64 hex characters")
        if expected != digest:
            raise ModelLoadError(
                f"model file '{path}' does not match `sha256`: it has SHA-256 {digest}, not {expected}",
                "the file changed; check where it came from before loading it",
            )
    with open(p, "rb") as fh:
        head = fh.read(512)
    fmt = sniff_model_format(head)
    if fmt is None:
        raise ModelLoadError(
            f"model file '{path}' {_describe_unknown(head)}",
            "give a model saved with joblib.dump, pickle.dump or skops.io.dump",
        )
    notes: list[str] = []
    family = "skops" if fmt == "skops" else "pickle"
    by_name = EXTENSIONS.get(p.suffix.lower())
    if by_name is None:
        notes.append(f"'{p.name}' has no known model extension; its content is {fmt}")
    elif (by_name == "skops") != (family == "skops"):
        notes.append(f"'{p.name}' is named like a {by_name} file but its content is {fmt}")

    if allow_pickle is None:
        allow_pickle = not pickle_refused_by_env()
    if family == "pickle" and not allow_pickle:
        raise ModelLoadError(
            f"model file '{path}' is a {fmt} file, and pickle-based files are refused here"
            " (`no_pickle` or INSPECT_NO_PICKLE)",
            "save the model with skops.io.dump and pass the .skops file",
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if family == "skops":
            estimator = _load_skops(p, trust)
        else:
            estimator = _load_pickle(p, fmt)
    saved_version = None
    for w in caught:
        if isinstance(w.message, sklearn.exceptions.InconsistentVersionWarning):
            saved_version = w.message.original_sklearn_version
    if saved_version is not None and saved_version != sklearn.__version__:
        msg = (
            f"model file '{p.name}' was saved with scikit-learn {saved_version} and is loaded "
            f"with {sklearn.__version__}"
        )
        if strict:
            raise ModelLoadError(
                msg + " (`strict`)",
                f"install scikit-learn=={saved_version}, or drop `strict` to accept the risk",
            )
        notes.append(msg + "; results may differ from the original (`strict` makes this an error)")
    check_estimator_object(estimator, str(path))
    return LoadedModel(
        estimator=estimator,
        path=str(path),
        sha256=digest,
        format=fmt,
        size_bytes=p.stat().st_size,
        sklearn_version_saved=saved_version or sklearn.__version__,
        notes=notes,
    )


def _load_skops(p: Path, trust: Sequence[str]) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=p)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelLoadError(
            f"model file '{p}' is not a valid skops file ({exc})", "save it again with skops.io.dump"
        ) from exc
    refused = [t for t in untrusted if t not in set(trust)]
    if refused:
        flags = " ".join(f"`trust={t}`" for t in refused)
        raise ModelLoadError(
            f"skops file '{p.name}' holds {len(refused)} type(s) skops does not trust by default: "
            + ", ".join(refused),
            f"if you trust where the file came from, accept them with {flags}",
        )
    try:
        return sio.load(p, trusted=list(untrusted))
    except Exception as exc:  # skops raises many kinds on a damaged archive
        raise ModelLoadError(
            f"cannot load skops file '{p}': {type(exc).__name__}: {exc}",
            "the file may be damaged or written by an incompatible skops version",
        ) from exc


def _load_pickle(p: Path, fmt: str) -> Any:
    import joblib

    try:
        return joblib.load(p)
    except ModuleNotFoundError as exc:
        raise ModelLoadError(
            f"model file '{p}' needs the Python module '{exc.name}', which is not installed",
            f"install the package that provides '{exc.name}' in this environment",
        ) from exc
    except (EOFError, pickle.UnpicklingError) as exc:
        raise ModelLoadError(
            f"model file '{p}' is truncated or damaged ({fmt}: {str(exc) or type(exc).__name__})",
            "save the model again",
        ) from exc
    except AttributeError as exc:
        raise ModelLoadError(
            f"model file '{p}' refers to something this environment lacks: {exc}",
            "load it with the library versions it was saved with",
        ) from exc
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load model file '{p}' ({fmt}): {type(exc).__name__}: {exc}",
            "save the model again with joblib.dump or skops.io.dump",
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
