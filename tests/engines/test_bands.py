"""Uncertainty bands of PD and ALE (engines/bands.py) against direct computations of their definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression

from inspectcli import partial_dependence
from inspectcli.engines.ale import accumulated_local_effects, bin_codes
from inspectcli.engines.bands import mean_se


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.fixture(scope="module")
def linear():
    """y = 3·a − 2·b + c + noise: a fitted LinearRegression, whose ICE values are known in closed form."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.uniform(-1, 1, 300), "c": rng.normal(2, 3, 300)})
    y = 3 * X.a - 2 * X.b + X.c + rng.normal(size=300)
    return LinearRegression().fit(X, y), X


def test_pd_standard_error_of_a_linear_model_is_the_spread_of_the_other_terms(linear):
    """ICE at a = v is β_a·v + (β_b·b + β_c·c + intercept): the SE is std(β_b·b + β_c·c, ddof=1)/√n."""
    model, X = linear
    rest = X.b.to_numpy() * model.coef_[1] + X.c.to_numpy() * model.coef_[2]
    expected = np.std(rest, ddof=1) / np.sqrt(len(X))
    [res] = partial_dependence(model, X, ["a"], grid_resolution=7, standard_error=True)
    assert res.se.shape == res.average.shape == (1, 7)
    assert rel(res.se, np.full((1, 7), expected)) < 1e-10
    # weighted: √(n/(n−1) · Σ w²(r − r̄_w)²) / Σ w, the linearization SE of a weighted mean
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(X))
    r_bar = np.sum(w * rest) / np.sum(w)
    n = len(X)
    expected_w = np.sqrt(n / (n - 1) * np.sum(w**2 * (rest - r_bar) ** 2)) / np.sum(w)
    [res_w] = partial_dependence(
        model, X, ["a"], grid_resolution=7, standard_error=True, sample_weight=w, engine="batched"
    )
    assert rel(res_w.se, np.full((1, 7), expected_w)) < 1e-10
    # equal weights give the unweighted SE, and scaling the weights changes nothing
    [res_2] = partial_dependence(
        model, X, ["a"], grid_resolution=7, standard_error=True, sample_weight=np.full(n, 2.5)
    )
    assert rel(res_2.se, res.se) < 1e-10


def test_pd_average_is_unchanged_by_the_band(linear):
    model, X = linear
    [plain] = partial_dependence(model, X, ["a"], grid_resolution=9)
    [banded] = partial_dependence(model, X, ["a"], grid_resolution=9, standard_error=True, bootstrap=20)
    assert np.array_equal(plain.average, banded.average)
    assert banded.individual is None  # kept for the bootstrap only


@pytest.fixture(scope="module")
def hgb(samples):
    import joblib

    X = pd.read_parquet(samples / "friedman.parquet").drop(columns=["y"]).iloc[:600]
    model = joblib.load(samples / "friedman_hgb.joblib")
    return model, X


@pytest.mark.parametrize("weighted", [False, True])
def test_pd_standard_error_is_the_same_in_every_engine(hgb, weighted):
    """Tree paths (per-row blocks) and batched predictions (two passes per grid point), one- and
    two-way, equal each other and a direct computation from the ICE values to 1e-10."""
    model, X = hgb
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X)) if weighted else None
    sets = ["x0", ("x0", "x1")]
    kw = dict(grid_resolution=6, standard_error=True, sample_weight=w)
    tree = partial_dependence(model, X, sets, engine="tree-paths", **kw)
    batched = partial_dependence(model, X, sets, engine="batched", **kw)
    both = partial_dependence(model, X, sets, engine="batched", kind="both", **kw)
    plain = partial_dependence(model, X, sets, engine="tree-paths", grid_resolution=6, sample_weight=w)
    for t, p in zip(tree, plain):  # the band leaves the averages as they are, bit for bit
        assert np.array_equal(t.average, p.average)
    assert [r.engine for r in tree] == ["tree-paths"] * 2 and [r.engine for r in batched] == ["batched"] * 2
    for t, b, ice in zip(tree, batched, both):
        assert t.se.shape == t.average.shape
        assert rel(t.se, b.se) < 1e-10
        direct = mean_se(np.moveaxis(ice.individual, 1, 0), w)  # (n, k, *grid) -> (k, *grid)
        assert rel(b.se, direct) < 1e-10
        assert rel(ice.se, direct) < 1e-10


def test_pd_bootstrap_is_the_percentile_interval_of_resampled_means(hgb):
    """Against resampling done by hand: rows drawn with default_rng(seed), n per resample, in order."""
    model, X = hgb
    [res] = partial_dependence(model, X, ["x1"], grid_resolution=5, bootstrap=60, random_state=11)
    [ice] = partial_dependence(model, X, ["x1"], grid_resolution=5, kind="individual")
    values = ice.individual[0]  # (n, G)
    rng = np.random.default_rng(11)
    means = np.array([values[rng.integers(0, len(X), len(X))].mean(axis=0) for _ in range(60)])
    lo, hi = np.percentile(means, [2.5, 97.5], axis=0)
    assert (res.bootstrap.n, res.bootstrap.seed, res.bootstrap.level) == (60, 11, 0.95)
    assert rel(res.bootstrap.lower[0], lo) < 1e-10 and rel(res.bootstrap.upper[0], hi) < 1e-10
    [again] = partial_dependence(model, X, ["x1"], grid_resolution=5, bootstrap=60, random_state=11)
    assert np.array_equal(again.bootstrap.lower, res.bootstrap.lower)


class _Product(RegressorMixin, BaseEstimator):
    """f(x) = x0·x1 + x1: the ALE differences of x0 are (z_b − z_{b−1})·x1 of each row."""

    def fit(self, X, y=None):
        self.n_features_in_ = 2
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        return X[:, 0] * X[:, 1] + X[:, 1]


def _ale_of_weights(omega, d, bins, n_bins, edges, fixed_centre=None, fixed_local=None):
    """The centred ALE as a function of row weights ω (works on complex ω: complex-step derivatives)."""
    onehot = np.zeros((len(d), n_bins))
    onehot[np.arange(len(d)), bins] = 1.0
    local = (omega * d) @ onehot / (omega @ onehot) if fixed_local is None else fixed_local
    ale = np.concatenate([[0.0], np.cumsum(local)])
    v = omega @ onehot if fixed_centre is None else fixed_centre
    c = np.sum(v * (ale[:-1] + ale[1:]) / 2) / np.sum(v)
    return ale - c


def test_ale_standard_error_against_complex_step_influences():
    """The delta method, computed independently: each row's influence on the centred curve by
    complex-step differentiation of ALE(row weights); the bins' part scaled by √(m_b/(m_b − 1)),
    the centring weights' part by √(n/(n − 1)), summed in squares over rows."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x0": rng.uniform(0, 1, 150), "x1": rng.normal(1, 1, 150)})
    w = rng.uniform(0.5, 2.0, 150)
    [res] = accumulated_local_effects(
        _Product().fit(X), X, ["x0"], bins=6, sample_weight=w, standard_error=True
    )
    edges = res.grid
    codes = bin_codes(X.x0.to_numpy(), edges) - 1
    d = (edges[codes + 1] - edges[codes]) * X.x1.to_numpy()
    B = len(edges) - 1
    base = _ale_of_weights(w, d, codes, B, edges)
    assert rel(base, res.ale[0]) < 1e-10
    m = np.bincount(codes, minlength=B)
    n = len(X)
    v = np.bincount(codes, weights=w, minlength=B)
    onehot = np.zeros((n, B))
    onehot[np.arange(n), codes] = 1.0
    local = (w * d) @ onehot / (w @ onehot)
    h = 1e-30
    influence = np.zeros((n, len(edges)))
    for i in range(n):
        step = w.astype(complex)
        step[i] += 1j * h
        bins_part = _ale_of_weights(step, d, codes, B, edges, fixed_centre=v).imag / h
        centre_part = _ale_of_weights(step, d, codes, B, edges, fixed_local=local).imag / h
        influence[i] = w[i] * (
            bins_part * np.sqrt(m[codes[i]] / (m[codes[i]] - 1)) + centre_part * np.sqrt(n / (n - 1))
        )
    expected = np.sqrt((influence**2).sum(axis=0))
    assert rel(res.se[0], expected) < 1e-10


def test_ale_bands_agree_with_the_bootstrap_and_a_single_row_bin_has_none():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"x0": rng.uniform(0, 1, 400), "x1": rng.normal(1, 1, 400)})
    X["c"] = pd.Categorical(rng.choice(list("pqrs"), 400))
    model = _Product().fit(X[["x0", "x1"]])

    [res] = accumulated_local_effects(
        model, X[["x0", "x1"]], ["x0"], bins=5, standard_error=True, bootstrap=400, random_state=5
    )
    boot_sd = (res.bootstrap.upper - res.bootstrap.lower) / (2 * 1.959964)
    assert np.all(np.abs(res.se / boot_sd - 1) < 0.25)  # the two estimates of one spread
    [again] = accumulated_local_effects(model, X[["x0", "x1"]], ["x0"], bins=5, bootstrap=400, random_state=5)
    assert np.array_equal(again.bootstrap.upper, res.bootstrap.upper)
    # a bin holding one row has no variance estimate: the band is undefined, not zero
    tiny = pd.DataFrame({"x0": [0.0, 0.1, 0.2, 0.3, 5.0], "x1": [1.0, 2.0, 0.5, 1.5, 1.0]})
    [one] = accumulated_local_effects(model, tiny, ["x0"], bins=4, standard_error=True)
    assert np.isnan(one.se).all()


def test_plots_draw_the_band_of_each_curve(linear):
    """The shaded band spans the bootstrap interval when there is one, else average ± 1.96·SE."""
    from inspectcli.plots.ale import plot_ale
    from inspectcli.plots.pdp import plot_pdp
    from inspectcli.reports import ale as ale_report
    from inspectcli.reports.pdp import build_curves

    model, X = linear
    res = partial_dependence(model, X, ["a", "b"], grid_resolution=5, standard_error=True, bootstrap=30)
    curves = build_curves(res)
    display = plot_pdp(curves)
    for i, c in enumerate(curves):
        [band] = display.bands_[i]
        drawn = np.unique(band.get_paths()[0].vertices[:, 1])
        assert np.allclose(drawn, np.unique([*c.bootstrap.lower, *c.bootstrap.upper]))
    curves[0].bootstrap = None
    [band] = plot_pdp(curves[:1]).bands_[0]
    drawn = np.unique(band.get_paths()[0].vertices[:, 1])
    z = 1.959963984540054
    expected = np.unique([*(curves[0].average - z * curves[0].se), *(curves[0].average + z * curves[0].se)])
    assert np.allclose(drawn, expected)
    ale = accumulated_local_effects(
        _Product().fit(X[["a", "b"]]), X[["a", "b"]], ["a"], bins=4, standard_error=True
    )
    [c] = ale_report.build_curves(ale)
    [band] = plot_ale([c]).bands_[0]
    assert np.isclose(band.get_paths()[0].vertices[:, 1].max(), np.max(c.ale + z * c.se))


def test_auto_band_where_it_comes_cheap(hgb, monkeypatch):
    """standard_error="auto": one decision per run; tree paths skip the per-row pass when it is
    costly, batched predictions never (the values pass through anyway)."""
    from inspectcli.engines.trees import grid

    model, X = hgb
    sets = ["x0", ("x0", "x1")]
    cheap = partial_dependence(model, X, sets, grid_resolution=6, standard_error="auto")
    assert all(r.se is not None for r in cheap)
    monkeypatch.setattr(grid, "AUTO_SPREAD_WORK", 0)
    costly = partial_dependence(model, X, sets, grid_resolution=6, standard_error="auto")
    assert [r.engine for r in costly] == ["tree-paths"] * 2 and all(r.se is None for r in costly)
    with_ice = partial_dependence(model, X, sets, grid_resolution=6, standard_error="auto", kind="both")
    batched = partial_dependence(model, X, sets, grid_resolution=6, standard_error="auto", engine="batched")
    for a, b in zip(with_ice, batched):
        assert rel(a.se, b.se) < 1e-10


def test_pd_standard_error_does_not_depend_on_how_rows_are_chunked():
    """Tree paths chunk rows by each worker's memory share: the SE must be the same bits anyway."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from inspectcli import Execution, partial_dependence

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(5000, 4))
    y = np.sin(6 * X[:, 0]) + X[:, 1] * X[:, 2] + rng.normal(scale=0.1, size=5000)
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    runs = [
        partial_dependence(
            model, X, [0, (1, 2)], grid_resolution=6, standard_error=True, engine="tree-paths", execution=ex
        )
        for ex in (
            Execution(memory_budget=2**30),
            Execution(memory_budget=2**21),
            Execution(memory_budget=2**22, n_jobs=2, backend="threading"),
        )
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a.se, b.se)
            np.testing.assert_array_equal(a.average, b.average)
