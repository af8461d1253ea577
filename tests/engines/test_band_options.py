"""Band parameters of the library engines: a value of the wrong type is a one-line UsageError naming the
parameter (they were TypeErrors from inside the bootstrap, or silently truthy), and NumPy scalars are
numbers (band_level=np.float32(0.9) was refused as outside (0, 1))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from inspectcli import partial_dependence
from inspectcli.engines.ale import accumulated_local_effects
from inspectcli.errors import UsageError


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    return LinearRegression().fit(X, X.a - X.b), X


def _both(model, X, **kw):
    return [
        lambda: partial_dependence(model, X, ["a"], grid_resolution=3, **kw),
        lambda: accumulated_local_effects(model, X, ["a"], bins=3, **kw),
    ]


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"bootstrap": "10"}, "bootstrap='10' must be a whole number"),
        ({"bootstrap": 1.5}, "bootstrap=1.5 must be a whole number"),
        ({"bootstrap": True}, "bootstrap=True must be a whole number"),
        ({"bootstrap": None}, "bootstrap=None must be a whole number"),
        ({"bootstrap": -1}, "bootstrap=-1 must be 0 (none)"),
        ({"band_level": "0.9"}, "band_level='0.9' must be a number"),
        ({"band_level": 1.0}, "band_level=1.0 must lie strictly between 0 and 1"),
        ({"standard_error": "yes"}, "standard_error='yes' must be True, False or 'auto'"),
        ({"standard_error": None}, "standard_error=None must be"),
        ({"bootstrap": 3, "random_state": "x"}, "random_state='x' must be a whole number >= 0"),
        ({"bootstrap": 3, "random_state": -1}, "random_state=-1 must be a whole number >= 0"),
    ],
)
def test_wrong_band_parameters_are_usage_errors(fitted, kw, words):
    for call in _both(*fitted, **kw):
        with pytest.raises(UsageError) as err:
            call()
        assert str(err.value).startswith(words) and "\n" not in str(err.value)


def test_numpy_scalars_are_numbers(fitted):
    model, X = fitted
    ref = partial_dependence(model, X, ["a"], grid_resolution=3, bootstrap=5, band_level=0.5)[0]
    got = partial_dependence(
        model,
        X,
        ["a"],
        grid_resolution=3,
        bootstrap=np.int64(5),
        band_level=np.float64(0.5),
        random_state=np.int32(0),
    )[0]
    assert np.array_equal(got.bootstrap.lower, ref.bootstrap.lower)
    for call in _both(model, X, bootstrap=np.int16(4), band_level=np.float32(0.9)):
        assert call()[0].bootstrap.n == 4
