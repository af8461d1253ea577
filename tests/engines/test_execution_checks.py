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


@pytest.fixture(scope="module")
def linear_model():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(50, 2)), columns=["a", "b"])
    y = 2 * X.a - X.b
    return LinearRegression().fit(X, y), X, y, rng.uniform(0.5, 2.0, len(X))


@pytest.mark.parametrize("scale", [2.0**-660, 2.0**600, 1e-200, 3.0, 1e200])
def test_pd_band_is_unchanged_when_every_weight_is_scaled(linear_model, scale):
    """Σ w² underflowed (weights of 1e-200: SE 0, a band of width 0) or overflowed (1e200: no SE).
    A power of two scales exactly: the same bits; another scale rounds the weights: 1e-12."""
    model, X, _, w = linear_model
    kw = {"grid_resolution": 4, "standard_error": True, "bootstrap": 20}
    [ref] = partial_dependence(model, X, ["a"], sample_weight=w, **kw)
    [got] = partial_dependence(model, X, ["a"], sample_weight=w * scale, **kw)
    pairs = [(got.average, ref.average), (got.se, ref.se), (got.bootstrap.lower, ref.bootstrap.lower)]
    for a, b in pairs:
        if np.frexp(scale)[0] == 0.5:
            assert np.array_equal(a, b)
        else:
            assert np.max(np.abs(a - b) / np.abs(b)) < 1e-12


@pytest.mark.parametrize(
    "weights, words",
    [
        (np.r_[-1.0, np.ones(49)], "1 negative value"),
        (np.r_[np.nan, np.ones(49)], "1 NaN or infinite value"),
        (np.r_[np.inf, np.ones(49)], "1 NaN or infinite value"),
        (np.zeros(50), "sums to zero"),
        (["x"] * 50, "not numbers"),
        (np.ones(5), "has shape (5,), expected (50,)"),
    ],
)
def test_library_weights_that_make_no_average_are_usage_errors(linear_model, weights, words):
    """The CLI checked its --sample-weight column; the library took negative or NaN weights silently."""
    model, X, _, _ = linear_model
    calls = [
        lambda: partial_dependence(model, X, ["a"], grid_resolution=3, sample_weight=weights),
        lambda: accumulated_local_effects(model, X, ["a"], bins=3, sample_weight=weights),
    ]
    for call in calls:
        with pytest.raises(UsageError) as err:
            call()
        assert words in str(err.value) and str(err.value).startswith("sample_weight ")
