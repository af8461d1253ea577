"""Permutation importance equals scikit-learn's `permutation_importance` exactly (same RNG).

Our engine stacks the permuted copies into few prediction calls and replays each repeat's slice
to the scorer; these tests check the numbers are identical to scikit-learn's, bit for bit.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, make_classification
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.inspection import permutation_importance as sk_pi
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import make_scorer, mean_absolute_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from inspectcli.cli.handling import cli_message
from inspectcli.engines.execution import Execution
from inspectcli.engines.permutation import permutation_importance
from inspectcli.errors import UsageError


def blocks(ref, ours):
    """(ours, reference) pairs per scorer."""
    if "importances" in ref:
        assert len(ours.scorers) == 1
        return [(ours.scorers[0], ref)]
    return [(ours.scorer(name), ref[name]) for name in ref]


def assert_exact(ours, ref):
    for mine, theirs in blocks(ref, ours):
        np.testing.assert_array_equal(mine.importances, theirs.importances)
        np.testing.assert_array_equal(mine.importances_mean, theirs.importances_mean)
        np.testing.assert_array_equal(mine.importances_std, theirs.importances_std)


@pytest.fixture(scope="module")
def diabetes():
    data = load_diabetes(as_frame=True)
    return data.data, data.target.to_numpy()


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=250, n_features=6, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=240, n_features=5, n_informative=3, n_classes=3, n_clusters_per_class=1, random_state=2
    )
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), np.array(["x", "y", "z"])[y]


@pytest.fixture(scope="module")
def strings():
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "tier": rng.choice(["a", "b"], n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )
    y = 2 * X["x"] + (X["city"] == "paris") * 1.5 + rng.normal(0, 0.3, n)
    return X, y.to_numpy()


@pytest.mark.parametrize("random_state", [0, 7])
def test_regressor_default_score(diabetes, random_state, keep_tree_paths):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=6, random_state=random_state)
    ours = permutation_importance(model, X, y, n_repeats=6, random_state=random_state)
    assert ours.engine == "tree-paths"
    assert ours.default_scoring and ours.scorers[0].scorer == "r2"
    assert_exact(ours, ref)
    batched = permutation_importance(model, X, y, n_repeats=6, random_state=random_state, engine="batched")
    assert batched.engine == "batched"
    assert_exact(batched, ref)


def test_several_scorers_max_samples_and_weights(diabetes):
    X, y = diabetes
    model = make_pipeline(StandardScaler(), Ridge(alpha=0.1)).fit(X, y)
    sw = np.random.RandomState(3).uniform(0.2, 2.0, len(y))
    scoring = ["r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"]
    for kwargs in ({"max_samples": 0.6}, {"max_samples": 100}, {"sample_weight": sw}, {}):
        ref = sk_pi(model, X, y, scoring=scoring, n_repeats=4, random_state=1, **kwargs)
        ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=4, random_state=1, **kwargs)
        assert [b.scorer for b in ours.scorers] == scoring
        assert_exact(ours, ref)


def test_binary_classifier_scorers(binary):
    X, y = binary
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    scoring = ["accuracy", "roc_auc", "neg_log_loss", "f1", "average_precision"]
    ref = sk_pi(model, X, y, scoring=scoring, n_repeats=5, random_state=0)
    ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=5, random_state=0)
    assert ours.engine == "sequential"  # BLAS-based: one call per repeat keeps every bit
    assert_exact(ours, ref)
    ref = sk_pi(model, X, y, n_repeats=5, random_state=0)  # default: accuracy via score()
    ours = permutation_importance(model, X, y, n_repeats=5, random_state=0)
    assert ours.scorers[0].scorer == "accuracy"
    assert_exact(ours, ref)


def test_multiclass_classifier(multiclass):
    X, y = multiclass
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    scoring = ["accuracy", "balanced_accuracy", "roc_auc_ovr", "neg_log_loss"]
    ref = sk_pi(model, X, y, scoring=scoring, n_repeats=4, random_state=5, max_samples=0.5)
    ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=4, random_state=5, max_samples=0.5)
    assert_exact(ours, ref)


def test_pipeline_with_string_columns(strings, keep_tree_paths):
    X, y = strings
    model = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["city", "tier"])], remainder="passthrough"),
        HistGradientBoostingRegressor(max_iter=25, random_state=0),
    ).fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=5, random_state=0, scoring=["r2", "neg_mean_squared_error"])
    ours = permutation_importance(
        model, X, y, n_repeats=5, random_state=0, scoring=["r2", "neg_mean_squared_error"]
    )
    assert ours.engine == "tree-paths"  # encoder + trees: the trees' structure gives every bit
    assert ours.features == ["city", "tier", "x", "z"]
    assert_exact(ours, ref)
    batched = permutation_importance(
        model, X, y, n_repeats=5, random_state=0, scoring=["r2", "neg_mean_squared_error"], engine="batched"
    )
    assert batched.engine == "batched"  # encoder + trees: stacking changes no bit
    assert_exact(batched, ref)


def test_numpy_input_and_decision_function_only(binary):
    X, y = binary
    model = SVC(kernel="linear").fit(X.to_numpy(), y)  # no predict_proba: roc_auc uses decision_function
    ref = sk_pi(model, X.to_numpy(), y, scoring="roc_auc", n_repeats=3, random_state=2)
    ours = permutation_importance(model, X.to_numpy(), y, scoring="roc_auc", n_repeats=3, random_state=2)
    assert ours.features == [f"x{i}" for i in range(6)]
    assert_exact(ours, ref)


def test_custom_scorer(diabetes):
    X, y = diabetes
    scorer = make_scorer(mean_absolute_error, greater_is_better=False)
    for model in (Ridge().fit(X, y), HistGradientBoostingRegressor(max_iter=10).fit(X, y)):
        ref = sk_pi(model, X, y, scoring=scorer, n_repeats=3, random_state=0)
        ours = permutation_importance(model, X, y, scoring=scorer, n_repeats=3, random_state=0)
        assert_exact(ours, ref)


def test_forced_stacking_of_blas_models_differs_by_rounding_only(binary):
    """engine='batched' stacks any model; BLAS may then round a row differently by an ulp."""
    X, y = binary
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    ref = sk_pi(model, X, y, scoring=["roc_auc", "neg_log_loss"], n_repeats=5, random_state=0)
    ours = permutation_importance(
        model, X, y, scoring=["roc_auc", "neg_log_loss"], n_repeats=5, random_state=0, engine="batched"
    )
    assert ours.engine == "batched"
    for mine, theirs in blocks(ref, ours):
        np.testing.assert_allclose(mine.importances, theirs.importances, rtol=1e-10, atol=1e-13)


def test_sequential_engine_and_workers_agree(diabetes):
    X, y = diabetes
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=4, random_state=0, n_jobs=2)
    for kwargs in (
        {"engine": "sequential"},
        {"execution": Execution(n_jobs=2)},
        {"execution": Execution(memory_budget=2**20)},
    ):
        ours = permutation_importance(model, X, y, n_repeats=4, random_state=0, **kwargs)
        assert_exact(ours, ref)


def test_group_of_one_is_the_feature_and_groups_permute_together(diabetes):
    X, y = diabetes
    model = Ridge().fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=5, random_state=0)
    ours = permutation_importance(
        model, X, y, n_repeats=5, random_state=0, groups={"blood": ["s1", "s2", "s3"]}
    )
    assert ours.features == ["age", "sex", "bmi", "bp", "blood", "s4", "s5", "s6"]
    assert ours.columns[4] == ["s1", "s2", "s3"]
    for name in ["age", "bmi", "s5"]:
        np.testing.assert_array_equal(
            ours.scorers[0].importances[ours.features.index(name)],
            ref.importances[list(X.columns).index(name)],
        )
    # The group's score equals permuting its rows jointly with the same generator
    rs = np.random.RandomState(np.random.RandomState(0).randint(np.iinfo(np.int32).max + 1))
    idx, cur = np.arange(len(X)), np.arange(len(X))
    baseline = model.score(X, y)
    expected = []
    for _ in range(5):
        rs.shuffle(idx)
        cur = cur[idx]
        Xp = X.copy()
        Xp[["s1", "s2", "s3"]] = X[["s1", "s2", "s3"]].to_numpy()[cur]
        expected.append(baseline - model.score(Xp, y))
    np.testing.assert_allclose(ours.scorers[0].importances[4], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_repeats": 0}, "n-repeats"),
        ({"max_samples": 0.0}, "out of range"),
        ({"max_samples": 10_000}, "out of range"),
        ({"scoring": "r3"}, "did you mean 'r2'"),
        ({"groups": {"g": ["bmi", "nope"]}}, "unknown column 'nope'"),
        ({"groups": {"g": ["bmi", "bp"], "h": ["bp", "s1"]}}, "two groups"),
        ({"scoring": "roc_auc"}, "is a classification scorer"),
    ],
)
def test_usage_errors(diabetes, kwargs, match):
    X, y = diabetes
    model = Ridge().fit(X, y)
    with pytest.raises(UsageError) as info:
        permutation_importance(model, X, y, **kwargs)
    assert re.search(match, cli_message(info.value))  # as the CLI says it: parameters as flags
