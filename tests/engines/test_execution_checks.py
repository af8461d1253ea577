"""The library's Execution refuses values of the wrong type or range at construction, and the engines refuse
an ``execution`` that is not one: a one-line UsageError (a ValueError) naming the parameter, never a
TypeError deep in an engine or a silent default."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from inspectcli import Execution, partial_dependence, permutation_importance
from inspectcli.engines.ale import accumulated_local_effects
from inspectcli.errors import UsageError


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"backend": "foo"}, "backend='foo' is not one of"),
        ({"backend": None}, "backend=None must be a string"),
        ({"scheduler": "tcp://127.0.0.1:1"}, "scheduler only applies with backend=dask"),
        ({"backend": "dask", "scheduler": 8786}, "scheduler=8786 must be a Dask scheduler's address"),
        ({"n_jobs": "2"}, "n_jobs='2' must be a whole number"),
        ({"n_jobs": 1.5}, "n_jobs=1.5 must be a whole number"),
        ({"n_jobs": True}, "n_jobs=True must be a whole number"),
        ({"memory_budget": -1}, "memory_budget=-1 must be a whole number of bytes"),
        ({"memory_budget": 0}, "memory_budget=0 must be"),
        ({"memory_budget": None}, "memory_budget=None must be"),
        ({"memory_budget": float("nan")}, "memory_budget=nan must be"),
        ({"memory_budget": 10.5}, "memory_budget=10.5 must be"),
        ({"memory_budget": "lots"}, "memory_budget='lots' is not a size"),
        ({"progress": 3}, "progress=3 must be a callable"),
    ],
)
def test_wrong_values_are_one_line_usage_errors_naming_the_parameter(kwargs, words):
    with pytest.raises(UsageError) as err:
        Execution(**kwargs)
    assert isinstance(err.value, ValueError)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_sizes_and_defaults_are_normalised():
    assert Execution(memory_budget="512MB").memory_budget == 512_000_000
    assert Execution(memory_budget=1.5e6).memory_budget == 1_500_000
    assert Execution(memory_budget=np.int64(2**20)).memory_budget == 2**20
    assert Execution(n_jobs=None).n_jobs == 1 and Execution(n_jobs=np.int32(2)).n_jobs == 2
    with pytest.raises(UsageError, match="n_jobs='x'"):
        Execution().replace(n_jobs="x")


def test_dask_backend_without_dask_installed_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(UsageError, match="backend=dask needs the dask extra"):
        Execution(backend="dask", scheduler="tcp://127.0.0.1:8786")


@pytest.mark.parametrize("bad", ["loky", {}, Execution, 2])
def test_engines_refuse_an_execution_that_is_not_one(bad):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    y = X.a - X.b
    model = LinearRegression().fit(X, y)
    calls = [
        lambda: partial_dependence(model, X, ["a"], grid_resolution=3, execution=bad),
        lambda: accumulated_local_effects(model, X, ["a"], bins=3, execution=bad),
        lambda: permutation_importance(model, X, y, n_repeats=2, execution=bad),
    ]
    for call in calls:
        with pytest.raises(UsageError, match=r"execution=.* must be an inspectcli\.Execution"):
            call()
