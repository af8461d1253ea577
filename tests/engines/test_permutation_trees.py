"""The tree-path engine of permutation importance: bit-for-bit equal to scikit-learn.

Two layers: ``tree_path_permuted_responses`` against the estimator's own method on the permuted
data (``assert_array_equal``: every bit, labels included), and ``permutation_importance`` (engine
"auto", which picks tree paths for these models) against ``sklearn.inspection.
permutation_importance`` with the same random_state.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance as sk_pi
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor
from threadpoolctl import threadpool_limits

from inspectcli.engines import trees as engine
from inspectcli.engines.execution import Execution
from inspectcli.engines.permutation import _TREE_PATHS_MARGIN as MARGIN
from inspectcli.engines.permutation import permutation_importance
from inspectcli.engines.trees import (
    TreePathMismatchError,
    supports_permuted_tree_paths,
    supports_tree_paths,
    tree_path_permuted_responses,
)
from inspectcli.engines.trees import _plan as tree_plan
from inspectcli.engines.trees import _walk as tree_walk
from inspectcli.engines.trees import permuted as tree_permuted
from inspectcli.errors import UsageError

N = 300


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _auto_keeps_tree_paths(keep_tree_paths):
    """engine="auto" below means tree paths (the measured choice is tested on its own)."""


@pytest.fixture
def walk():
    """The row walk (one compiled walk since the numpy level / node walks were replaced)."""
    return "compiled"


def permuted(X, free, p):
    """X with the columns ``free`` taken from rows ``p`` (as scikit-learn permutes them)."""
    if hasattr(X, "iloc"):
        Xp = X.copy()
        for j in free:
            Xp.isetitem(j, X.iloc[p, j].values)  # (a Categorical stays one)
        return Xp
    Xp = X.copy()
    Xp[:, free] = X[p][:, free]
    return Xp


def perms(n, k=3, seed=0):
    rng = np.random.RandomState(seed)
    return [np.arange(n)] + [rng.permutation(n) for _ in range(k - 1)]


def check(est, X, free, method, **kw):
    ps = perms(X.shape[0])
    outs = tree_path_permuted_responses(est, X, free, ps, response_method=method, **kw)
    assert len(outs) == len(ps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for p, out in zip(ps, outs):
            ref = getattr(est, method)(permuted(X, free, p))
            assert out.dtype == ref.dtype and out.shape == ref.shape
            np.testing.assert_array_equal(out, ref)


def assert_exact(ours, ref, names=None):
    assert ours.engine == "tree-paths"
    if "importances" in ref:
        np.testing.assert_array_equal(ours.scorers[0].importances, ref.importances)
        return
    for name in names or list(ref):
        np.testing.assert_array_equal(ours.scorer(name).importances, ref[name].importances)


# --------------------------------------------------------------------------------------------
# data


@pytest.fixture(scope="module")
def reg():
    X, y = make_regression(n_samples=N, n_features=5, n_informative=4, noise=5.0, random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    X["x4"] = np.round(X["x4"])  # a few distinct values: ties at thresholds, small donor bins
    return X, y


@pytest.fixture(scope="module")
def reg_nan(reg):
    X, y = reg
    X = X.copy()
    rng = np.random.RandomState(1)
    for c in ["x0", "x2"]:
        X.loc[rng.rand(N) < 0.15, c] = np.nan
    return X, y


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=N, n_features=5, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), y


@pytest.fixture(scope="module")
def multi():
    X, y = make_classification(
        n_samples=N, n_features=5, n_informative=3, n_classes=3, n_clusters_per_class=1, random_state=2
    )
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]), np.array(["a", "b", "c"])[y]


@pytest.fixture(scope="module")
def categorical():
    rng = np.random.RandomState(3)
    X = pd.DataFrame(
        {
            "color": pd.Categorical(rng.choice(["red", "green", "blue", "grey"], N)),
            "x": rng.normal(size=N),
            "z": rng.uniform(size=N),
        }
    )
    X.loc[rng.rand(N) < 0.1, "x"] = np.nan
    y = (X["color"] == "red") * 2.0 + np.nan_to_num(X["x"].to_numpy()) + rng.normal(0, 0.2, N)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def bikes():
    rng = np.random.RandomState(4)
    X = pd.DataFrame(
        {
            "season": rng.choice(["winter", "spring", "summer", "fall"], N),
            "weekday": rng.choice(["mon", "tue", "sat"], N),
            "hour": rng.randint(0, 24, N),
            "temp": np.round(rng.normal(15, 8, N), 1),
        }
    )
    y = (X["season"] == "summer") * 30 + np.sin(X["hour"] / 4) * 20 + X["temp"] + rng.normal(0, 3, N)
    return X, y.to_numpy()


def bikes_model(X, y):
    ct = ColumnTransformer(
        [("oh", OneHotEncoder(handle_unknown="ignore"), ["season", "weekday"])], remainder="passthrough"
    )
    return make_pipeline(ct, HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, y)


# --------------------------------------------------------------------------------------------
# tree_path_permuted_responses vs the estimator's own method


@pytest.mark.parametrize(
    "est",
    [
        HistGradientBoostingRegressor(max_iter=25, random_state=0),
        HistGradientBoostingRegressor(max_iter=15, loss="poisson", random_state=0),
        GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0),
        RandomForestRegressor(n_estimators=8, random_state=0),
        ExtraTreesRegressor(n_estimators=6, random_state=0),
        DecisionTreeRegressor(random_state=0),
        ExtraTreeRegressor(random_state=0),
    ],
    ids=lambda e: type(e).__name__ + ("-poisson" if getattr(e, "loss", "") == "poisson" else ""),
)
def test_regressors_bit_for_bit(est, reg, walk):
    X, y = reg
    y = np.abs(y) if getattr(est, "loss", "") == "poisson" else y
    est.fit(X, y)
    check(est, X, [0], "predict")
    check(est, X, [4], "predict")
    check(est, X, [1, 3], "predict")  # a group: the same permutation for both columns
    est.fit(X.to_numpy(), y)
    check(est, X.to_numpy(), [2], "predict")


@pytest.mark.parametrize(
    ("est", "methods"),
    [
        (
            HistGradientBoostingClassifier(max_iter=20, random_state=0),
            ["predict_proba", "decision_function", "predict"],
        ),
        (
            GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0),
            ["predict_proba", "decision_function", "predict"],
        ),
        (RandomForestClassifier(n_estimators=8, random_state=0), ["predict_proba", "predict"]),
        (ExtraTreesClassifier(n_estimators=6, random_state=0), ["predict_proba", "predict"]),
        (DecisionTreeClassifier(max_depth=5, random_state=0), ["predict_proba", "predict"]),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, list) else "",
)
@pytest.mark.parametrize("kind", ["binary", "multi"])
def test_classifiers_bit_for_bit(est, methods, kind, binary, multi, walk):
    X, y = binary if kind == "binary" else multi
    est.fit(X, y)
    for method in methods:
        assert supports_permuted_tree_paths(est, method)
        check(est, X, [0], method)
        check(est, X, [1, 2], method)


def test_label_support_is_only_for_permutations(binary):
    X, y = binary
    est = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    assert supports_permuted_tree_paths(est, "predict")
    assert not supports_tree_paths(est, "predict")  # PD averages of labels: still unsupported
    assert not supports_permuted_tree_paths(Ridge().fit(X, y), "predict")


def test_label_ties_take_the_first_class(walk):
    # Contradictory duplicates leave leaves at 50/50: argmax picks the first class, as predict does.
    rng = np.random.RandomState(0)
    x = rng.randint(0, 4, size=(200, 2)).astype(float)
    y = rng.randint(0, 2, size=200)
    x = np.vstack([x, x])
    y = np.concatenate([y, 1 - y])
    est = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x, y)
    assert (est.predict_proba(x)[:, 0] == 0.5).any()
    check(est, x, [0], "predict")
    check(est, x, [0], "predict_proba")


def test_missing_values_and_native_categorical(reg_nan, categorical, walk):
    X, y = reg_nan
    est = HistGradientBoostingRegressor(max_iter=25, random_state=0).fit(X, y)
    check(est, X, [0], "predict")
    check(est, X, [0, 2], "predict")
    rf = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)  # trees route NaN too
    check(rf, X, [2], "predict")
    X, y = categorical
    est = HistGradientBoostingRegressor(max_iter=25, categorical_features="from_dtype", random_state=0)
    est.fit(X, y)
    check(est, X, [0], "predict")
    check(est, X, [0, 1], "predict")
    check(est, X, [2], "predict")


def test_pipelines(bikes, reg_nan, walk):
    X, y = bikes
    model = bikes_model(X, y)
    check(model, X, [0], "predict")  # one-hot columns of one input move together
    check(model, X, [0, 1], "predict")
    check(model, X, [2], "predict")
    X, y = reg_nan
    model = make_pipeline(
        SimpleImputer(add_indicator=True),
        StandardScaler(),
        GradientBoostingRegressor(n_estimators=10, random_state=0),
    ).fit(X, y)
    check(model, X, [0], "predict")


def test_deep_trees_and_small_budgets(reg, multi, walk):
    # Fully grown trees (>64 leaves: fingerprints, level walks), and budgets small enough to
    # force row steps and the incidence lookup instead of tables.
    X, y = reg
    est = RandomForestRegressor(n_estimators=4, random_state=0).fit(X, y)
    assert max(t.tree_.n_leaves for t in est.estimators_) > 64
    check(est, X, [0], "predict")
    check(est, X, [0], "predict", max_bytes=2**12)
    X, y = multi
    est = ExtraTreesClassifier(n_estimators=4, random_state=0).fit(X, y)
    check(est, X, [1, 3], "predict_proba", max_bytes=2**12)
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    check(hgb, X, [1], "predict_proba", max_bytes=2**10)


def test_arguments_and_self_check(reg, monkeypatch):
    X, y = reg
    est = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    assert tree_path_permuted_responses(est, X, [0], [], response_method="predict") == []
    with pytest.raises(ValueError, match="permutation"):
        tree_path_permuted_responses(est, X, [0], [np.arange(5)], response_method="predict")
    with pytest.raises(ValueError, match="free columns"):
        tree_path_permuted_responses(est, X, [9], [np.arange(N)], response_method="predict")
    with pytest.raises(ValueError, match="cannot reproduce"):
        tree_path_permuted_responses(Ridge().fit(X, y), X, [0], [np.arange(N)], response_method="predict")
    for lookup in (tree_permuted._TableLookup, tree_permuted._ConstLookup):

        def wrong(self, acc, donors, out_cols, chunk, real=lookup.add):
            real(self, acc, donors, out_cols, chunk)
            acc[out_cols[0]] += 1.0

        monkeypatch.setattr(lookup, "add", wrong)
    root = int(est._predictors[0][0].nodes["feature_idx"][0])  # split in the first tree: no tree shared
    with pytest.raises(TreePathMismatchError):
        tree_path_permuted_responses(est, X, [root], perms(N), response_method="predict")
    # the trees before the first split on the free column: summed once per row, then copied
    monkeypatch.undo()
    real_own = tree_permuted.PermutedTreePaths._own_leaves

    def wrong_own(self, t):
        return tree_permuted._ConstLookup(real_own(self, t).values + 1.0)

    monkeypatch.setattr(tree_permuted.PermutedTreePaths, "_own_leaves", wrong_own)
    with pytest.raises(TreePathMismatchError):
        tree_path_permuted_responses(est, X, [0], perms(N), response_method="predict")


def test_trees_before_the_first_free_split_are_shared(reg):
    """Trees before the first one splitting on the free column are summed once per row."""
    X, y = reg
    est = HistGradientBoostingRegressor(max_iter=12, max_leaf_nodes=4, random_state=0).fit(X, y)
    used = [
        set(p[0].nodes["feature_idx"][~p[0].nodes["is_leaf"].astype(bool)].tolist()) for p in est._predictors
    ]
    late = [f for f in range(X.shape[1]) if f not in used[0]]
    assert late, "every feature is split in the first tree"
    for f in late[:2]:
        check(est, X, [f], "predict")


# --------------------------------------------------------------------------------------------
# permutation_importance vs scikit-learn


def test_importance_hgb_regressor_nan_and_categorical(reg_nan, categorical):
    X, y = reg_nan
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=4, random_state=0)
    assert_exact(permutation_importance(model, X, y, n_repeats=4, random_state=0), ref)
    X, y = categorical
    model = HistGradientBoostingRegressor(max_iter=30, categorical_features="from_dtype", random_state=0)
    model.fit(X, y)
    scoring = ["r2", "neg_mean_absolute_error"]
    ref = sk_pi(model, X, y, n_repeats=4, random_state=3, scoring=scoring)
    assert_exact(permutation_importance(model, X, y, n_repeats=4, random_state=3, scoring=scoring), ref)


@pytest.mark.parametrize("kind", ["binary", "multi"])
def test_importance_hgb_classifier(kind, binary, multi):
    X, y = binary if kind == "binary" else multi
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    scoring = ["neg_log_loss", "accuracy"] + (["roc_auc"] if kind == "binary" else ["roc_auc_ovr"])
    ref = sk_pi(model, X, y, n_repeats=4, random_state=0, scoring=scoring)
    assert_exact(permutation_importance(model, X, y, n_repeats=4, random_state=0, scoring=scoring), ref)
    ref = sk_pi(model, X, y, n_repeats=3, random_state=1)  # default: accuracy via score()
    assert_exact(permutation_importance(model, X, y, n_repeats=3, random_state=1), ref)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestRegressor(n_estimators=10, min_samples_leaf=3, random_state=0),
        lambda: GradientBoostingRegressor(n_estimators=20, random_state=0),
        lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
        lambda: ExtraTreesRegressor(n_estimators=8, random_state=0),
    ],
    ids=["rf", "gb", "tree", "extra"],
)
def test_importance_other_regressors(make, reg):
    X, y = reg
    model = make().fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=3, random_state=0)
    assert_exact(permutation_importance(model, X, y, n_repeats=3, random_state=0), ref)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=10, random_state=0),
        lambda: GradientBoostingClassifier(n_estimators=15, random_state=0),
        lambda: DecisionTreeClassifier(max_depth=5, random_state=0),
        lambda: ExtraTreesClassifier(n_estimators=8, random_state=0),
    ],
    ids=["rf", "gb", "tree", "extra"],
)
def test_importance_other_classifiers(make, multi):
    X, y = multi
    model = make().fit(X, y)
    scoring = ["accuracy", "neg_log_loss", "balanced_accuracy"]
    ref = sk_pi(model, X, y, n_repeats=3, random_state=0, scoring=scoring)
    ours = permutation_importance(model, X, y, n_repeats=3, random_state=0, scoring=scoring)
    assert_exact(ours, ref)


def test_importance_pipeline_with_strings(bikes):
    X, y = bikes
    model = bikes_model(X, y)
    ref = sk_pi(model, X, y, n_repeats=4, random_state=0)
    assert_exact(permutation_importance(model, X, y, n_repeats=4, random_state=0), ref)


def test_importance_max_samples_weights_workers(reg, binary):
    X, y = reg
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    sw = np.random.RandomState(3).uniform(0.2, 2.0, len(y))
    scoring = ["r2", "neg_mean_squared_error"]
    for kwargs in ({"max_samples": 0.5}, {"max_samples": 120}, {"sample_weight": sw}, {"n_jobs": 2}):
        ref = sk_pi(model, X, y, scoring=scoring, n_repeats=3, random_state=2, **kwargs)
        if "n_jobs" in kwargs:
            kwargs = {"execution": Execution(n_jobs=kwargs["n_jobs"])}
        ours = permutation_importance(model, X, y, scoring=scoring, n_repeats=3, random_state=2, **kwargs)
        assert_exact(ours, ref)
    # small memory budgets split the repeats of a feature over several tasks
    ours = permutation_importance(
        model, X, y, n_repeats=3, random_state=2, execution=Execution(memory_budget=2**13)
    )
    assert_exact(ours, sk_pi(model, X, y, n_repeats=3, random_state=2))
    X, y = binary
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    ref = sk_pi(model, X, y, scoring="roc_auc", n_repeats=3, random_state=0, n_jobs=2, max_samples=0.7)
    ours = permutation_importance(
        model,
        X,
        y,
        scoring="roc_auc",
        n_repeats=3,
        random_state=0,
        execution=Execution(n_jobs=2),
        max_samples=0.7,
    )
    assert_exact(ours, ref)


def test_importance_groups_permute_together(bikes):
    X, y = bikes
    model = bikes_model(X, y)
    ours = permutation_importance(
        model, X, y, n_repeats=3, random_state=0, groups={"when": ["season", "weekday", "hour"]}
    )
    assert ours.engine == "tree-paths"
    assert ours.features == ["when", "temp"]
    rs = np.random.RandomState(np.random.RandomState(0).randint(np.iinfo(np.int32).max + 1))
    idx, cur = np.arange(len(X)), np.arange(len(X))
    baseline = model.score(X, y)
    expected = []
    for _ in range(3):
        rs.shuffle(idx)
        cur = cur[idx]
        Xp = permuted(X, [0, 1, 2], cur)
        expected.append(baseline - model.score(Xp, y))
    np.testing.assert_array_equal(ours.scorers[0].importances[0], expected)
    ref = sk_pi(model, X, y, n_repeats=3, random_state=0)
    np.testing.assert_array_equal(ours.scorers[0].importances[1], ref.importances[3])


def test_importance_falls_back_on_mismatch(reg, monkeypatch):
    X, y = reg
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)

    def mismatch(*args, **kwargs):
        raise TreePathMismatchError("boom")

    monkeypatch.setattr(engine.PermutedTreePaths, "responses", mismatch)
    with pytest.warns(RuntimeWarning, match="self-check"):
        ours = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    assert ours.engine == "sequential" and ours.notes
    np.testing.assert_array_equal(
        ours.scorers[0].importances, sk_pi(model, X, y, n_repeats=3, random_state=0).importances
    )


def test_explicit_engine(reg):
    X, y = reg
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, y)
    ours = permutation_importance(model, X, y, n_repeats=2, random_state=0, engine="tree-paths")
    assert_exact(ours, sk_pi(model, X, y, n_repeats=2, random_state=0))
    with pytest.raises(UsageError, match="tree-paths"):
        permutation_importance(Ridge().fit(X, y), X, y, n_repeats=2, engine="tree-paths")
    with pytest.raises(UsageError, match="tree-paths"):  # a custom scorer cannot be replayed

        def score(est, X_, y_):
            return float(est.score(X_, y_))

        permutation_importance(model, X, y, n_repeats=2, engine="tree-paths", scoring=score)


def _frontiers_by_levels(tree, model_free):
    """Reference: frontiers by one pass over the levels per step (the first version)."""
    internal = ~tree.is_leaf
    free_split = internal & model_free[tree.feature]
    has_free = np.zeros(tree.n_nodes, dtype=bool)
    for level in reversed(tree.levels):
        nodes = level[internal[level]]
        if nodes.size:
            has_free[nodes] = free_split[nodes] | has_free[tree.left[nodes]] | has_free[tree.right[nodes]]
    anc = np.full(tree.n_nodes, -1, dtype=np.intp)
    if not has_free[0]:
        anc[0] = 0
    for level in tree.levels:
        nodes = level[internal[level]]
        parent_anc = anc[nodes]
        for child in (tree.left[nodes], tree.right[nodes]):
            anc[child] = np.where(parent_anc >= 0, parent_anc, np.where(has_free[child], -1, child))
    fronts = np.flatnonzero(anc == np.arange(tree.n_nodes))
    col_of = np.full(tree.n_nodes, -1, dtype=np.intp)
    col_of[fronts] = np.arange(fronts.size)
    front_of = np.where(anc >= 0, col_of[np.maximum(anc, 0)], -1)
    return {
        "free_split": free_split,
        "has_free": has_free,
        "n_front": fronts.size,
        "col_of": col_of,
        "front_of": front_of,
    }


def test_cached_frontiers_match(reg, multi):
    X, y = reg
    for est in (
        RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y),
        HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y),
    ):
        for tree in tree_plan._plan(est, "predict").spec.trees:
            for free in ([0], [4], [1, 3], [0, 1, 2, 3, 4]):
                model_free = np.isin(np.arange(5), free)
                a, b = _frontiers_by_levels(tree, model_free), tree_walk._frontiers(tree, model_free)
                for field in ("free_split", "has_free", "n_front", "col_of", "front_of"):
                    np.testing.assert_array_equal(a[field], getattr(b, field))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_auto_predicts_when_tree_paths_are_slower(reg, monkeypatch, n_jobs):
    """engine="auto" times the first task against the model's own predictions: when tree paths
    lose (here: forced, margin 0), the other features are predicted (stacked: the forest is
    row-exact); the first feature's tree-path scores are kept. Every bit as scikit-learn."""
    from inspectcli.engines import permutation

    X, y = reg
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    ref = sk_pi(model, X, y, n_repeats=4, random_state=0, scoring=["r2", "neg_mean_absolute_error"])
    calls = []
    real = permutation.tree_paths._feature_scores_trees
    monkeypatch.setattr(
        permutation.tree_paths,
        "_feature_scores_trees",
        lambda *a, **k: calls.append(a[5].cols) or real(*a, **k),
    )
    kw = dict(
        n_repeats=4,
        random_state=0,
        scoring=["r2", "neg_mean_absolute_error"],
        execution=Execution(n_jobs=n_jobs),
    )
    monkeypatch.setattr(permutation, "_TREE_PATHS_MARGIN", 0.0)
    ours = permutation_importance(model, X, y, **kw)
    assert ours.engine == "batched"
    assert calls == [[0]]  # only the trial task went through tree paths
    for name in ref:
        np.testing.assert_array_equal(ours.scorer(name).importances, ref[name].importances)
    calls.clear()
    monkeypatch.setattr(permutation, "_TREE_PATHS_MARGIN", float("inf"))
    ours = permutation_importance(model, X, y, **kw)
    assert ours.engine == "tree-paths"
    if n_jobs == 1:
        assert calls == [[j] for j in range(X.shape[1])]
    for name in ref:
        np.testing.assert_array_equal(ours.scorer(name).importances, ref[name].importances)


def test_auto_on_deep_forest_and_large_boosting(monkeypatch):
    """The real measurement: a forest grown to purity on few rows is faster to predict (measured
    30x); 100 boosting trees of 15 leaves on 20,000 rows are faster from tree paths (the trial
    costs a third of its limit)."""
    from inspectcli.engines import permutation

    monkeypatch.setattr(permutation, "_TREE_PATHS_MARGIN", MARGIN)
    X, y = make_regression(n_samples=20_000, n_features=4, noise=1.0, random_state=0)
    hgb = HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15, early_stopping=False, random_state=0)
    hgb.fit(X, y)
    ours = permutation_importance(hgb, X, y, n_repeats=5, random_state=0)
    assert ours.engine == "tree-paths"
    np.testing.assert_array_equal(
        ours.scorers[0].importances, sk_pi(hgb, X, y, n_repeats=5, random_state=0).importances
    )
    Xs, ys = X[:2000], y[:2000]
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(Xs, ys)
    ours = permutation_importance(forest, Xs, ys, n_repeats=2, random_state=0)
    assert ours.engine == "batched"
    np.testing.assert_array_equal(
        ours.scorers[0].importances, sk_pi(forest, Xs, ys, n_repeats=2, random_state=0).importances
    )


def test_responses_give_up_when_too_slow(reg):
    X, y = reg
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    paths = engine.PermutedTreePaths(model, X, ["predict"])
    with pytest.raises(engine.TreePathsTooSlow, match="of 5 trees"):
        paths.responses([0], perms(X.shape[0]), give_up_after=0.0)
    outs = paths.responses([0], perms(X.shape[0]), give_up_after=1e9)["predict"]
    for p, out in zip(perms(X.shape[0]), outs):
        np.testing.assert_array_equal(out, model.predict(permuted(X, [0], p)))


def test_no_row_meets_the_free_split_under_a_small_budget():
    """The free feature splits only where no row goes; with a tiny budget the table of (pattern,
    donor class) is not built: the rows' own leaves still come out exact."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = np.where(X[:, 1] > 0, 10 + X[:, 0], 0.0)
    est = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    Xq = X[X[:, 1] < -0.5]
    ps = [rng.permutation(len(Xq))]
    for max_bytes in (256 * 2**20, 8):
        out = tree_path_permuted_responses(est, Xq, [0], ps, response_method="predict", max_bytes=max_bytes)
        np.testing.assert_array_equal(out[0], est.predict(permuted(Xq, [0], ps[0])))
