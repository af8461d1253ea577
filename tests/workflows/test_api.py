"""The commands as library calls: typed options in, the same numbers as scikit-learn out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import partial_dependence as sk_pd
from sklearn.inspection import permutation_importance as sk_pi

from inspectcli.errors import UsageError
from inspectcli.loading.model import load_model
from inspectcli.workflows import (
    Collected,
    Execution,
    ImportanceOptions,
    PdpOptions,
    Source,
    run_importance,
    run_info,
    run_pdp,
)


@pytest.fixture(scope="module")
def diabetes(samples):
    model = load_model(samples / "diabetes_hgb.joblib").estimator
    frame = pd.read_parquet(samples / "diabetes.parquet")
    source = Source(samples / "diabetes_hgb.joblib", str(samples / "diabetes.parquet"), target="target")
    return model, frame.drop(columns="target"), frame["target"], source


def test_option_objects_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PdpOptions().kind = "both"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Execution().n_jobs = 2  # type: ignore[misc]


def test_run_importance_equals_scikit_learn(diabetes):
    model, X, y, source = diabetes
    run = run_importance(source, ImportanceOptions(n_repeats=3, random_state=4, mdi=False))
    ref = sk_pi(model, X, y, n_repeats=3, random_state=4)
    np.testing.assert_array_equal(run.result.scorers[0].importances, ref.importances)
    entries = run.document["results"][0]["features"]
    np.testing.assert_array_equal([f["importances"] for f in entries], ref.importances)
    block = run.result.scorers[0]
    assert [f["rank"] for f in entries] == block.ranks().tolist()
    low, high = block.noise_band()
    half = 2 * ref.importances_std / np.sqrt(3)
    np.testing.assert_allclose(low, ref.importances_mean - half, rtol=1e-15)
    np.testing.assert_allclose(high, ref.importances_mean + half, rtol=1e-15)


def test_run_pdp_equals_scikit_learn_and_notes_name_parameters(diabetes):
    model, X, _, source = diabetes
    report = Collected()
    run = run_pdp(source, PdpOptions(features=("bmi",), grid_resolution=7, method="brute"), report=report)
    ref = sk_pd(model, X, ["bmi"], grid_resolution=7, method="brute", kind="average")
    [curve] = run.curves
    np.testing.assert_allclose(curve.average, ref["average"][0], rtol=1e-10)
    assert run.document["parameters"]["features"] == ["bmi"]
    assert all("--" not in m for m in report.messages)


def test_library_usage_error_names_the_parameter(diabetes):
    *_, source = diabetes
    with pytest.raises(ValueError) as info:
        run_pdp(source, PdpOptions(features=("bmj",)))
    assert isinstance(info.value, UsageError)
    assert info.value.param == "features"
    assert str(info.value).startswith("features: unknown feature 'bmj' (did you mean 'bmi'?)")


def test_run_info(diabetes):
    *_, source = diabetes
    run = run_info(source)
    assert run.model["task"] == "regression" and run.data["missing"] == []
    assert run.data["prediction"]["ok"] and run.problem is None
    assert run.document()["kind"] == "info"
