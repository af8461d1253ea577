"""Data the Dask workers read themselves, instead of receiving it from the client.

With ``backend="dask"`` the engines' ``shared`` objects (the model, the data) go to every worker
once per map (engines/parallel.py). When the data came from a file or dataset on disk, the workers
can instead read it themselves: a workflow *offers* the frame it built (:func:`offer`) with a
*recipe* that rebuilds exactly that frame from the path (the same columns, ``--where`` filter, row
positions and preparation: see workflows/_on_workers.py). A map then sends a small :class:`Part`
in the frame's place; each worker process rebuilds the frame once (cached by the recipe's key, at
most :data:`CACHE_ENTRIES` frames) and every task on it uses that copy. Frames an engine derives
from an offered one (:func:`derive`, e.g. integer columns widened to float) are rebuilt on the
workers by the same steps.

Before the first map of a runner, the workers are asked whether they see the path, with the files
the client saw (sizes and modification times; where only the times differ, the SHA-256 digests the
client recorded). ``data_on_workers`` (of :class:`~inspectcli.engines.execution.Execution`, through the task
runner) decides what happens then:

- ``"auto"``: workers read when every worker passes the check, else the data is scattered from the
  client with a note saying why;
- ``"yes"``: a worker that fails the check is an input error (the run stops before any task);
- ``"no"``: always scattered.

Either way the tasks compute on the same frame, so the results are the same bit for bit; the
:class:`Delivery` of each offered dataset records which path was taken (``"workers-read"`` or
``"scatter"``) for the result file.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from inspectcli.errors import DataLoadError, UsageError

MODES = ("auto", "yes", "no")
#: Frames a worker process keeps (a recipe's frame and the frames derived from it).
CACHE_ENTRIES = 4


class Recipe(Protocol):
    """How a worker rebuilds an offered frame (workflows/_on_workers.py)."""

    key: str
    path: str

    def check_here(self) -> str | None:
        """None when this process sees the client's files at ``path``; else what differs."""
        ...

    def materialise(self, estimator: Any) -> Any:
        """The frame, exactly as the client built it."""
        ...


@dataclass(frozen=True)
class Part:
    """What goes to the workers in an offered frame's place: its recipe and derivation steps."""

    recipe: Any
    steps: tuple[tuple[Callable[..., Any], tuple[Any, ...]], ...] = ()
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Delivery:
    """Client side: how the workers got one offered dataset (``used``), and notes for the user."""

    path: str
    used: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    #: {scheduler address: None when its workers read the data, else why not}
    checked: dict[str, str | None] = field(default_factory=dict)

    @property
    def path_taken(self) -> str | None:
        """``"workers-read"``, ``"scatter"``, both joined by ``+``, or None (no Dask run)."""
        return "+".join(sorted(self.used, reverse=True)) or None


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"`data_on_workers={mode}` is not one of {', '.join(MODES)}", "choose one of them")
    return mode


# ------------------------------------------------------------------------------------------------
# client side: offers

_OFFERS: dict[int, tuple[Any, Part, Delivery]] = {}


def _ref(obj: Any) -> Callable[[], Any]:
    try:
        return weakref.ref(obj, lambda _r, key=id(obj): _OFFERS.pop(key, None))
    except TypeError:  # (objects without weak references are held)
        return lambda: obj


def offer(obj: Any, recipe: Recipe | None, delivery: Delivery) -> None:
    """Let the Dask workers rebuild ``obj`` with ``recipe`` instead of receiving it (``None``: data
    they cannot read, such as stdin: sent, and recorded as sent)."""
    _OFFERS[id(obj)] = (_ref(obj), Part(recipe), delivery)


def offered(obj: Any) -> tuple[Part, Delivery] | None:
    """The part and delivery ``obj`` was offered with, or None."""
    found = _OFFERS.get(id(obj))
    if found is None or found[0]() is not obj:
        return None
    return found[1], found[2]


def derive(fn: Callable[..., Any], obj: Any, *args: Any) -> Any:
    """``fn(obj, *args)``; when ``obj`` was offered, the result is offered too (rebuilt by the same call)."""
    out = fn(obj, *args)
    found = offered(obj) if out is not obj else None
    if found is not None:
        part, delivery = found
        _OFFERS[id(out)] = (
            _ref(out),
            replace(part, steps=(*part.steps, (fn, args)), token=uuid.uuid4().hex),
            delivery,
        )
    return out


def stand_ins(
    shared: tuple[Any, ...],
    check: Callable[[Recipe], dict[str, str | None]],
    address: str,
    mode: str = "auto",
) -> tuple[Any, ...]:
    """``shared`` with each offered frame replaced by its :class:`Part` where the workers can read
    it (``check(recipe)`` asks them: {worker: None or what is wrong}); records the path taken.

    ``mode`` is ``data_on_workers``: auto | yes | no (see the module docstring).
    """
    out = []
    for obj in shared:
        found = offered(obj) if obj is not None else None
        if found is None:
            out.append(obj)
            continue
        part, delivery = found
        if part.recipe is None and mode == "yes":
            raise UsageError(
                f"`data_on_workers=yes` needs DATA on disk, and '{delivery.path}' is not a path the workers "
                "can read",
                "give a file, a dataset directory or a glob, or pass `data_on_workers=auto`",
            )
        if mode == "no" or part.recipe is None:
            delivery.used.add("scatter")
            out.append(_whole(obj))
            continue
        if address not in delivery.checked:
            delivery.checked[address] = _verdict(part.recipe, check(part.recipe), mode, delivery)
        if delivery.checked[address] is None:
            delivery.used.add("workers-read")
            out.append(part)
        else:
            delivery.used.add("scatter")
            out.append(_whole(obj))
    return tuple(out)


def _whole(obj: Any) -> Any:
    """What is scattered for ``obj``: a :class:`LeanFrame` is read whole here first."""
    return obj.materialise() if isinstance(obj, LeanFrame) else obj


def _verdict(recipe: Recipe, answers: dict[str, str | None], mode: str, delivery: Delivery) -> str | None:
    problems = {w: p for w, p in sorted(answers.items()) if p is not None}
    if not problems:
        return None
    worker, problem = next(iter(problems.items()))
    more = f" (and {len(problems) - 1} more worker(s))" if len(problems) > 1 else ""
    what = f"{worker}: {problem}{more}"
    if mode == "yes":
        raise DataLoadError(
            f"the Dask workers cannot read the data '{recipe.path}' as this machine sees it ({what})",
            "give every worker the same files at the same path, or pass `data_on_workers=auto` "
            "to send the data from here",
        )
    delivery.notes.append(
        f"the Dask workers cannot read '{recipe.path}' as this machine sees it ({what}); "
        "the data is sent to them from here (`data_on_workers=auto`)"
    )
    return what


def check_on_worker(recipe: Recipe) -> str | None:
    """Run on every worker (``client.run``): None when it sees the client's files."""
    try:
        return recipe.check_here()
    except Exception as exc:  # any failure to look is a no, with its reason
        return f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------------------------
# worker side: rebuilding, cached per process

_CACHE: OrderedDict[str, Any] = OrderedDict()
_LOCK = threading.Lock()
_BUILDING: dict[str, threading.Lock] = {}


def _cached(key: str, build: Callable[[], Any]) -> Any:
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        lock = _BUILDING.setdefault(key, threading.Lock())
    with lock:  # one thread builds, the others of this worker wait for it
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        value = build()
        with _LOCK:
            _CACHE[key] = value
            while len(_CACHE) > CACHE_ENTRIES:
                _CACHE.popitem(last=False)
            _BUILDING.pop(key, None)
        return value


@dataclass(frozen=True)
class Window:
    """The rows ``[start, stop)`` of the data that a task works on (a task argument).

    The task takes them with :meth:`of`. A worker that reads the data itself reads just these
    rows for the task (``read``: the frame it passes is the window already), when the recipe can
    (``recipe.window``) and every derivation step works row by row (:data:`ROW_LOCAL`).
    """

    start: int
    stop: int
    read: bool = False

    def of(self, X: Any) -> Any:
        """The window's rows of ``X`` (``X`` itself when it was read as the window)."""
        if self.read:
            return X
        if hasattr(X, "iloc"):
            return X.iloc[self.start : self.stop]
        import numpy as np

        return np.asarray(X)[self.start : self.stop]


#: Derivation steps (:func:`derive`) that work row by row, so they apply to a window as to the whole.
ROW_LOCAL = frozenset({"widen_integer_columns"})


def resolve(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A task's arguments with each :class:`Part` rebuilt (the model is the first argument): the
    whole frame (cached in this process), or only a :class:`Window`'s rows when the task has one."""
    if not any(isinstance(a, Part) for a in args):
        return args
    estimator = args[0]
    window = next((a for a in args if isinstance(a, Window)), None)
    windowed = False

    def build(part: Part) -> Any:
        nonlocal windowed
        if window is not None and all(getattr(fn, "__name__", "") in ROW_LOCAL for fn, _ in part.steps):
            reader = getattr(part.recipe, "window", None)
            frame = reader(estimator, window.start, window.stop) if reader is not None else None
            if frame is not None:  # (None: the recipe cannot give these rows alone exactly)
                for fn, fn_args in part.steps:
                    frame = fn(frame, *fn_args)
                windowed = True
                READS["windows"] += 1
                return frame
        frame = _cached(part.recipe.key, lambda: _whole_read(part.recipe, estimator))
        for i, (fn, fn_args) in enumerate(part.steps):
            frame = _cached(f"{part.recipe.key}/{part.token}/{i}", lambda f=frame, g=fn, a=fn_args: g(f, *a))
        return frame

    out = tuple(build(a) if isinstance(a, Part) else a for a in args)
    if windowed:
        out = tuple(replace(a, read=True) if isinstance(a, Window) else a for a in out)
    return out


#: What this worker process read: windows of rows, whole frames (:func:`read_counts`).
READS = {"windows": 0, "whole": 0}


def _whole_read(recipe: Any, estimator: Any) -> Any:
    READS["whole"] += 1
    return recipe.materialise(estimator)


def read_counts() -> dict[str, int]:
    """What this process read since it started (run on the workers: ``client.run``)."""
    return dict(READS)


def forget(keys: list[str]) -> None:
    """Drop this worker's frames of ``keys`` (recipe keys; their derived frames too)."""
    with _LOCK:
        for k in list(_CACHE):
            if k.split("/", 1)[0] in keys:
                del _CACHE[k]


def recipe_keys(shared: tuple[Any, ...]) -> list[str]:
    return [a.recipe.key for a in shared if isinstance(a, Part)]


# ------------------------------------------------------------------------------------------------
# client side: a frame the workers read, of which this process reads one column at a time

#: Row selections of a :class:`LeanFrame` up to this many rows are read here as a DataFrame (the
#: rows of a trial prediction); larger ones stay lean (a group's rows, ``take_rows``).
SMALL_ROWS = 10_000


class ColumnReader(Protocol):
    """Where a :class:`LeanFrame` gets its values (workflows/_on_workers.py reads them from disk)."""

    def column(self, name: str) -> Any:
        """One column, every row, exactly as in the whole frame (a Series)."""
        ...

    def whole(self) -> Any:
        """The whole frame (a DataFrame)."""
        ...


class LeanFrame:
    """The client's stand-in for a frame that the Dask workers read themselves.

    What the client computes on the data (grids, deciles, a trial prediction's rows) takes one
    column or a few rows at a time: ``X.iloc[:, j]`` and ``X[name]`` read that column (the last one
    is kept), ``X.iloc[rows]`` reads those rows when they are few (:data:`SMALL_ROWS`), else gives
    a lean frame of them; ``astype`` of some columns gives a lean frame too. A map sends its
    recipe, not the frame (:func:`stand_ins`). Anything else — and a map whose workers cannot read
    the data — reads the whole frame here once (:meth:`materialise`), so results never depend on
    which way the data went; only memory does.

    Parameters
    ----------
    reader : ColumnReader
    columns : sequence of str
    dtypes : sequence of dtype
        Each column's dtype, as in the whole frame.
    n_rows : int
    """

    def __init__(self, reader: ColumnReader, columns: Any, dtypes: Any, n_rows: int) -> None:
        import pandas as pd

        self._reader = reader
        self.columns = pd.Index(list(columns))
        self.dtypes = pd.Series(list(dtypes), index=self.columns, dtype=object)
        self.shape = (int(n_rows), len(self.columns))
        self._last: tuple[str, Any] | None = None
        self._whole: Any = None

    ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<LeanFrame {self.shape[0]:,} rows x {self.shape[1]} columns, read on the workers>"

    @property
    def iloc(self) -> _LeanIloc:
        return _LeanIloc(self)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.column(key)
        return self.materialise()[key]

    def column(self, name: str) -> Any:
        """Column ``name`` (every row); the previous column read is let go."""
        if self._whole is not None:
            return self._whole[name]
        if self._last is not None and self._last[0] == name:
            return self._last[1]
        self._last = None
        values = self._reader.column(name)
        self._last = (name, values)
        return values

    def rows(self, positions: Any) -> Any:
        """The rows at ``positions``: a DataFrame when they are few, else a lean frame of them."""
        import numpy as np
        import pandas as pd

        from inspectcli.engines.frames import take

        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        positions = positions.astype(np.intp, copy=False)
        if self._whole is not None:
            return self._whole.iloc[positions]
        if len(positions) <= SMALL_ROWS:
            data = {name: take(self.column(name), positions) for name in self.columns}
            return pd.DataFrame(data, index=pd.Index(positions), columns=self.columns, copy=False)
        return LeanFrame(_Rows(self, positions), self.columns, self.dtypes, len(positions))

    def astype(self, dtype: Any, **kwargs: Any) -> Any:
        if kwargs or not isinstance(dtype, dict) or self._whole is not None:
            return self.materialise().astype(dtype, **kwargs)
        import numpy as np

        dtypes = [np.dtype(dtype[c]) if c in dtype else d for c, d in zip(self.columns, self.dtypes)]
        return LeanFrame(_Cast(self, dict(dtype)), self.columns, dtypes, self.shape[0])

    def materialise(self) -> Any:
        """The whole frame, read here (once)."""
        if self._whole is None:
            self._last = None
            self._whole = self._reader.whole()
        return self._whole

    def __getattr__(self, name: str) -> Any:  # what the stand-in does not know: the whole frame's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.materialise(), name)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy as np

        return np.asarray(self.materialise(), dtype=dtype)

    def __reduce__(self) -> Any:  # (pickled: the frame itself)
        return (_same, (self.materialise(),))


def _same(obj: Any) -> Any:
    return obj


class _LeanIloc:
    def __init__(self, frame: LeanFrame) -> None:
        self.frame = frame

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        f = self.frame
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], (int, np.integer)):
            rows, j = key
            values = f.column(f.columns[int(j)])
            if isinstance(rows, slice) and rows == slice(None):
                return values
            return values.iloc[rows]
        if isinstance(key, slice):
            return f.rows(np.arange(f.shape[0])[key])
        if isinstance(key, (list, np.ndarray)) or hasattr(key, "to_numpy"):
            return f.rows(np.asarray(key))
        return f.materialise().iloc[key]


@dataclass(frozen=True)
class _Rows:
    """Rows of a lean frame."""

    parent: LeanFrame
    positions: Any

    def column(self, name: str) -> Any:
        import pandas as pd

        from inspectcli.engines.frames import take

        values = take(self.parent.column(name), self.positions)
        return pd.Series(values, index=pd.Index(self.positions), name=name, copy=False)

    def whole(self) -> Any:
        return self.parent.materialise().iloc[self.positions]


@dataclass(frozen=True)
class _Cast:
    """Some columns of a lean frame in other dtypes."""

    parent: LeanFrame
    dtypes: dict[str, Any]

    def column(self, name: str) -> Any:
        values = self.parent.column(name)
        return values.astype(self.dtypes[name]) if name in self.dtypes else values

    def whole(self) -> Any:
        return self.parent.materialise().astype(self.dtypes)
