"""Bands at their edges: one row of non-zero weight (no band, not a band of width 0), and a model's
NaN / inf reported once by the tool, never as numpy's own warnings."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from inspectcli import partial_dependence
from inspectcli.engines.ale import accumulated_local_effects
from tests.cli.hostile_models import NaNRegressor


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    y = 2 * X.a + X.b
    return X, y


def test_one_row_of_non_zero_weight_has_no_band_not_a_band_of_width_zero(frame):
    X, y = frame
    model = LinearRegression().fit(X, y)
    w = np.zeros(len(X))
    w[5] = 1.0
    [pd_res] = partial_dependence(
        model, X, ["a"], grid_resolution=4, sample_weight=w, standard_error=True, bootstrap=30
    )
    assert np.isnan(pd_res.se).all()
    assert np.isnan(pd_res.bootstrap.lower).all() and np.isnan(pd_res.bootstrap.upper).all()
    assert np.isfinite(pd_res.average).all()
    [ale_res] = accumulated_local_effects(
        model, X, ["a"], bins=3, sample_weight=w, standard_error=True, bootstrap=30
    )
    assert np.isnan(ale_res.se).all()
    assert np.isnan(ale_res.bootstrap.lower).all() and np.isnan(ale_res.bootstrap.upper).all()
    # two rows of non-zero weight: a band again (the resamples differ)
    w[7] = 1.0
    [two] = partial_dependence(
        model, X, ["a"], grid_resolution=4, sample_weight=w, standard_error=True, bootstrap=30
    )
    assert np.isfinite(two.se).all() and np.isfinite(two.bootstrap.lower).all()
    assert (two.bootstrap.upper > two.bootstrap.lower).all()


@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_a_models_inf_or_nan_is_reported_by_the_tool_without_numpy_warnings(frame, tmp_path, cli, value):
    X, y = frame
    model = NaNRegressor("a", 1.0, value).fit(X, y)
    joblib.dump(model, tmp_path / "m.joblib")
    w = np.full(len(X), 1.0)
    w[:3] = 0.0
    X.assign(y=y, w=w).to_csv(tmp_path / "d.csv", index=False)
    common = [
        tmp_path / "m.joblib",
        tmp_path / "d.csv",
        "--target",
        "y",
        "--no-plot",
        "--out",
        tmp_path / "o",
    ]
    runs = [
        cli(
            "pdp",
            *common,
            "-f",
            "a,b",
            "--pair",
            "a,b",
            "--kind",
            "both",
            "--centered",
            "--band",
            "--bootstrap",
            "20",
            "--grid-resolution",
            "5",
        ),
        cli(
            "pdp",
            *common,
            "-f",
            "a",
            "--pair",
            "a,b",
            "--band",
            "--bootstrap",
            "20",
            "--grid-resolution",
            "5",
            "--sample-weight",
            "w",
        ),
        cli("ale", *common, "-f", "a,b", "--bootstrap", "20", "--bins", "4"),
        cli("ale", *common, "-f", "a", "--categorical", "a", "--bootstrap", "20"),
    ]
    for r in runs:
        assert r.exit_code == 0, r.stderr
        assert "the model returned" in r.stderr
        numpy_words = ("invalid value", "overflow", "All-NaN", "divide by zero", "Degrees of freedom")
        assert not any(word in r.stderr for word in numpy_words), r.stderr
