"""The linear engine of permutation importance: the model's own labels, bit-identical scores."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.inspection import permutation_importance as sk_pi
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from inspectcli.engines.permutation import linear as linear_engine
from inspectcli.engines.permutation import permutation_importance
from inspectcli.errors import UsageError


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X, y = X.iloc[:300], y.to_numpy()[:300]
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y), X, y


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.assign(kind=pd.Series(np.arange(len(X)) % 3).map({0: "a", 1: "b", 2: "c"}).to_numpy())
    pre = ColumnTransformer(
        [("num", StandardScaler(), list(X.columns[:-1])), ("cat", OneHotEncoder(), ["kind"])]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=5000)).fit(X, y), X, y.to_numpy()


def same(ours, ref):
    np.testing.assert_array_equal(ours.scorers[0].importances, ref.importances)


def test_binary_default_scoring(cancer):
    model, X, y = cancer
    ours = permutation_importance(model, X, y, n_repeats=5, random_state=0)
    assert ours.engine == "linear"
    same(ours, sk_pi(model, X, y, n_repeats=5, random_state=0))


@pytest.mark.parametrize("scoring", ["accuracy", "balanced_accuracy", "f1_macro"])
def test_multiclass_one_hot_and_groups(wine, scoring):
    model, X, y = wine
    ours = permutation_importance(model, X, y, n_repeats=4, random_state=1, scoring=scoring)
    assert ours.engine == "linear"
    same(ours, sk_pi(model, X, y, n_repeats=4, random_state=1, scoring=scoring))
    groups = {"acids": ["malic_acid", "ash", "kind"]}
    ours = permutation_importance(model, X, y, n_repeats=3, random_state=2, scoring=scoring, groups=groups)
    assert ours.engine == "linear" and "acids" in ours.features


def test_subsample_weights_and_ndarray(cancer):
    model, X, y = cancer
    w = np.linspace(0.5, 2.0, len(y))
    kw = dict(n_repeats=3, random_state=3, max_samples=0.5, sample_weight=w)
    ours = permutation_importance(model, X, y, **kw)
    assert ours.engine == "linear"
    same(ours, sk_pi(model, X, y, **kw))
    bare = LogisticRegression(max_iter=5000).fit(X.to_numpy(), y)
    ours = permutation_importance(bare, X.to_numpy(), y, n_repeats=3, random_state=0)
    assert ours.engine == "linear"
    same(ours, sk_pi(bare, X.to_numpy(), y, n_repeats=3, random_state=0))
    # RidgeClassifier has its own predict (multilabel): not taken
    ridge = RidgeClassifier().fit(X.to_numpy(), y)
    assert linear_engine.linear_labels(ridge, ("predict",), X.to_numpy()) is None


def test_rows_near_the_threshold_are_predicted(cancer, monkeypatch):
    """With a rounding allowance that covers every row, every repeat is predicted for real."""
    model, X, y = cancer
    monkeypatch.setattr(linear_engine, "_U", 1.0)
    built = []
    real = linear_engine.linear_labels
    monkeypatch.setattr(
        "inspectcli.engines.permutation.linear_labels", lambda *a: built.append(real(*a)) or built[-1]
    )
    ours = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    assert ours.engine == "linear" and built[0].predicted == 3 * X.shape[1]
    same(ours, sk_pi(model, X, y, n_repeats=3, random_state=0))


def test_labels_equal_predict(wine):
    model, X, _ = wine
    lab = linear_engine.linear_labels(model, ("predict",), X)
    perm = np.random.default_rng(0).permutation(len(X))
    for cols in ([0], [3, 13], [13]):
        Xp = X.copy()
        for j in cols:
            Xp.isetitem(j, X.iloc[perm, j].to_numpy())
        np.testing.assert_array_equal(lab.labels(cols, perm), model.predict(Xp))


def test_not_applicable(cancer):
    model, X, y = cancer
    ours = permutation_importance(model, X, y, n_repeats=2, random_state=0, scoring="roc_auc")
    assert ours.engine != "linear"  # roc_auc reads decision_function / predict_proba
    with pytest.raises(UsageError, match="engine 'linear'"):
        permutation_importance(model, X, y, n_repeats=2, random_state=0, scoring="roc_auc", engine="linear")
