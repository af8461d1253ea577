"""Errors a user can act on.

Each exception's ``str()`` is the one-line message the user reads (``<what> — <hint>``), and each
class carries the process exit code the CLI maps it to (documented in the README):

    0 ok · 1 a threshold the user set failed · 2 usage error · 3 input error
    4 computation failed inside the model · 130 interrupted
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_COMPUTE = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM (a CI job cancelled), raised like Ctrl-C's KeyboardInterrupt so clean-up runs."""


def safe_text(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every control / invisible formatting character shown as an escape.

    Names read from files (column names, class labels, type names, paths) reach the terminal only
    through this: ``'\\x1b[2J'`` is printed as those six characters, never as a clear-screen, and
    bidi overrides or zero-width characters cannot disguise a name.
    """
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable() or ch == " " or (keep_newlines and ch == "\n"):
            out.append(ch)
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    return "".join(out)


#: A parameter named in a message: `max_samples`, or `method=brute` with the value given to it
#: (`features!`: the long flag alone, for a parameter whose flag has a short alias).
PARAM = re.compile(r"`([a-z][a-z0-9_]*!?)(?:=([^`]*))?`")


def _as_python(name: str, value: str | None) -> str:
    name = name.rstrip("!")
    return name if value is None else f"{name}={value}"


#: The parameters messages may name (a marker of another name is left as it is: user text such
#: as a column written `in backquotes` stays untouched).
PARAMS = frozenset(
    {
        "backend", "bins", "categorical_features", "centered", "classes", "cluster_threshold",
        "custom_values",
        "compare", "cv", "data_on_workers", "decimal", "encoding", "fail_if", "features", "grid_resolution",
        "group", "groups",
        "ice_lines", "ice_rows", "independent_y", "kind", "max_samples", "memory_budget", "method",
        "n_jobs", "execution", "progress",
        "n_repeats", "no_pickle", "order",
        "orders", "pair", "pairs", "percentiles", "random_state", "response_method", "sample_weight",
        "scheduler", "scoring", "sep", "sha256", "strict", "subsample", "target", "trust", "values",
        "where",
        # inspect report
        "max_size", "pair_rows", "skip", "top_k", "top_pairs",
        # inspect interactions
        "overall", "rows",
        # subgroups (pdp, ale)
        "by", "by_bins", "by_max_levels", "ice_clusters",
        # bands (pdp, ale)
        "band", "band_level", "bootstrap", "standard_error",
    }
)  # fmt: skip


def render_params(text: str, spell: Callable[[str, str | None], str] = _as_python) -> str:
    """``text`` with each `param` / `param=value` marker spelled by ``spell(name, value)``.

    Library messages name parameters as the Python caller knows them (``max_samples=2.5``); the
    CLI spells the same markers as its flags (``--max-samples 2.5``), see cli/handling.py.
    """

    def one(m: re.Match[str]) -> str:
        return spell(m.group(1), m.group(2)) if m.group(1).rstrip("!") in PARAMS else m.group(0)

    return PARAM.sub(one, text)


class InspectError(ValueError):
    """Base class: a message for the user, the parameter it is about, and the exit code it maps to.

    Parameters
    ----------
    message : str
        What went wrong. Parameters are written as markers: `max_samples` or `method=brute`.
    hint : str or None, default=None
        What to do about it.
    param : str or None, default=None
        The parameter the error is about (default: the first one the message names).

    Every error is a ``ValueError``, so library callers can catch it as one; ``str()`` names
    parameters as Python does (``max_samples``), :meth:`render` as the command line does.
    """

    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, hint: str | None = None, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if param is None:
            found = (m.group(1).rstrip("!") for m in PARAM.finditer(message))
            param = next((p for p in found if p in PARAMS), None)
        self.param = param

    def render(self, spell: Callable[[str, str | None], str] = _as_python) -> str:
        """The one-line text ``<what> — <hint>``, parameters spelled by ``spell(name, value)``."""
        text = render_params(" ".join(self.message.split()), spell)
        if self.hint:
            return f"{text} — {render_params(' '.join(self.hint.split()), spell)}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # keep the hint when sent back from a worker process
        return (type(self), (self.message, self.hint))

    def __str__(self) -> str:
        return self.render()


class GateFailed(InspectError):
    """A condition given with --fail-if did not hold."""

    exit_code = EXIT_GATE


class UsageError(InspectError):
    """A bad option, feature name or combination of options."""

    exit_code = EXIT_USAGE


class InputError(InspectError):
    """An unreadable or invalid model or data file, or a mismatch between them."""

    exit_code = EXIT_INPUT


class ModelLoadError(InputError):
    """The model file cannot be loaded or is not a fitted estimator."""


class DataLoadError(InputError):
    """The data file cannot be read."""


class ValidationError(InputError):
    """Model and data do not fit together (columns, dtypes, NaN, rows)."""


class ComputationError(InspectError):
    """The model itself failed while predicting or scoring."""

    exit_code = EXIT_COMPUTE


class ClusterError(ComputationError):
    """The Dask cluster stopped answering, or lost its workers, during a run (exit 4)."""


class ModelExited(ComputationError):
    """The model's code raised SystemExit (or another BaseException but Ctrl-C) to end the run."""


def model_exited(exc: BaseException) -> ModelExited:
    """A model's SystemExit & co as our exit-4 error: a model may not end the run, whatever the code."""
    return ModelExited(
        f"the model's code raised {type(exc).__name__}({first_line(exc, '')}) and tried to end the run",
        "nothing was written and no --fail-if passed; a model may not stop the process",
    )


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Names among ``choices`` that look like ``name`` (for 'did you mean' hints)."""
    choices = [str(c) for c in choices]
    cutoff = 0.5 if len(name) <= 4 else 0.6
    found = difflib.get_close_matches(name, choices, n=n, cutoff=cutoff)
    if not found:
        lowered = {c.lower(): c for c in choices}
        found = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=n)]
    return found


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or '' — to append to a message about an unknown name."""
    found = closest(name, choices)
    if not found:
        return ""
    return " (did you mean " + " or ".join(repr(f) for f in found) + "?)"


def clip(name: object, width: int = 60) -> str:
    """A name cut to ``width`` characters ('feature_xxxx…' + its length) for one-line messages."""
    text = str(name)
    if len(text) <= width:
        return text
    return f"{text[: width - 1]}…({len(text)} chars)"


def shorten(items: Iterable[object], limit: int = 8) -> str:
    """'a, b, c, … (+12 more)' for listing names in one line."""
    items = [clip(i) for i in items]
    shown = ", ".join(repr(i) for i in items[:limit])
    if len(items) > limit:
        shown += f", … (+{len(items) - limit} more)"
    return shown


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


#: Libraries both we and the models call into: their frames say nothing about who failed.
_DATA_LIBS = re.compile(r"[/\\\\](numpy|pandas|pyarrow|scipy)[/\\\\]")


def raised_in_our_code(exc: BaseException) -> bool:
    """True when ``exc`` was raised by inspectcli's own code (a bug to report), not by the model.

    Looks at the innermost frame of the traceback that is not numpy / pandas / pyarrow / scipy
    code; for an exception re-raised from a joblib / loky worker, at the worker's traceback (kept
    as text in the cause). Engines use it to blame the estimator only for the estimator's errors.
    """
    files = []
    tb = exc.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    remote = getattr(exc.__cause__, "tb", None)
    if isinstance(remote, str):
        files = re.findall(r'File "([^"]+)"', remote) or files
    own = [f for f in files if not _DATA_LIBS.search(f) and not f.startswith("<")]
    return bool(own) and os.path.abspath(own[-1]).startswith(_PACKAGE_DIR)


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an exception's message; ``default`` (None: the type's name) when empty."""
    text = str(exc).strip()
    if text:
        return text.splitlines()[0]
    return type(exc).__name__ if default is None else default


def model_failed(exc: BaseException) -> ComputationError:
    """The estimator's own exception while predicting, as our exit-4 error."""
    return ComputationError(
        f"the model failed while predicting: {type(exc).__name__}: {first_line(exc)}",
        "this is the estimator's own error; check the data and options",
    )


@contextmanager
def blame_model() -> Iterator[None]:
    """Inside: the estimator's ValueError & co become :func:`model_failed`; ours pass unchanged."""
    try:
        yield
    except InspectError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        if raised_in_our_code(exc):
            raise
        raise model_failed(exc) from exc
