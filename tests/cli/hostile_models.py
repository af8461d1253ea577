"""Model files that attack the tool, for tests/cli and tests/loading (importable, so they pickle).

Every one is built by the test that uses it; none is ever written outside a tmp_path.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class TouchOnLoad:
    """Unpickling it creates ``marker``: proof that the file's code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class ExitOnLoad:
    """Unpickling it calls ``sys.exit(code)``."""

    def __init__(self, code: int = 0) -> None:
        self.code = code

    def __reduce__(self):
        return (sys.exit, (self.code,))


class _Fitted(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.mean_ = float(np.mean(y))
        return self


class ExitingRegressor(_Fitted):
    """Predicts normally for the first ``after`` calls in a process, then calls sys.exit(code)."""

    def __init__(self, code: int = 0, after: int = 0, exc: str = "SystemExit") -> None:
        self.code = code
        self.after = after
        self.exc = exc

    def predict(self, X):
        calls = ExitingRegressor._calls = getattr(ExitingRegressor, "_calls", 0) + 1
        if calls > self.after:
            if self.exc == "SystemExit":
                sys.exit(self.code)
            if self.exc == "GeneratorExit":
                raise GeneratorExit()
            raise BaseException("model code raised BaseException")
        return np.full(len(X), self.mean_)


class NaNRegressor(_Fitted):
    """Predicts NaN (or inf) where column ``column`` is above ``threshold``, else the mean + column."""

    def __init__(self, column: str = "a", threshold: float = np.inf, value: float = np.nan) -> None:
        self.column = column
        self.threshold = threshold
        self.value = value

    def predict(self, X):
        col = np.asarray(X[self.column], dtype=float)
        out = self.mean_ + col
        return np.where(col > self.threshold, self.value, out)


class MemoryHungryRegressor(_Fitted):
    """Its predict runs out of memory (raises MemoryError), as under a tight ``ulimit -v``."""

    def predict(self, X):
        raise MemoryError()


class OddOutputRegressor(_Fitted):
    """Predicts the mean + column ``a``, then (from its 2nd call) returns something else: ``mode``."""

    def __init__(self, mode: str = "short") -> None:
        self.mode = mode

    def predict(self, X):
        calls = OddOutputRegressor._calls = getattr(OddOutputRegressor, "_calls", 0) + 1
        out = self.mean_ + np.asarray(X["a"], dtype=float)
        if calls < 2:
            return out
        return {
            "short": lambda: out[:-1],  # one row missing: averaged silently before
            "long": lambda: np.concatenate([out, out]),
            "text": lambda: np.array(["x"] * len(out)),
            "complex": lambda: out + 1j,
            "none": lambda: None,
        }[self.mode]()


class PrintingRegressor(_Fitted):
    """Predicts the mean + column ``a``, printing to stdout on every call (Python and descriptor 1)."""

    def predict(self, X):
        import os

        print('{"printed": "by the model"}')
        os.write(1, b"written to fd 1 by the model\n")
        return self.mean_ + np.asarray(X["a"], dtype=float)


class ProcessEndingRegressor(_Fitted):
    """Predicts normally on its first call in a process, then ends the process where no ``except``
    sees it: ``os._exit(0)`` ("exit") or a segfault ("crash")."""

    def __init__(self, how: str = "exit") -> None:
        self.how = how

    def predict(self, X):
        import ctypes
        import os

        calls = ProcessEndingRegressor._calls = getattr(ProcessEndingRegressor, "_calls", 0) + 1
        if calls > 1:
            if self.how == "exit":
                os._exit(0)
            ctypes.string_at(0)  # SIGSEGV
        return np.full(len(X), self.mean_)
