"""Subgroups (`by`) and ICE clusters (`ice_clusters`): each group's PD is scikit-learn's
partial_dependence on the group's rows, on the grid of all rows; clusters recover known shapes."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.inspection import partial_dependence as sk_pd
from sklearn.linear_model import LogisticRegression

from inspectcli.compare import diff_results
from inspectcli.engines.bands import mean_se
from inspectcli.errors import UsageError, ValidationError
from inspectcli.workflows import PdpOptions, Source, run_pdp
from inspectcli.workflows._groups import MISSING, OTHER, make_groups

RTOL = 1e-10


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """y = x0 · sign(x1) (+ x2 a little): ICE of x0 rises where x1 > 0 and falls where x1 < 0."""
    rng = np.random.RandomState(0)
    n = 400
    X = pd.DataFrame({"x0": rng.uniform(-1, 1, n), "x1": rng.uniform(-1, 1, n), "x2": rng.normal(size=n)})
    y = X["x0"] * np.sign(X["x1"]) + 0.1 * X["x2"]
    est = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=0).fit(X, y)
    region = np.array(["north", "south", "east"], dtype=object)[rng.randint(0, 3, n)]
    region[:7] = None  # a missing group
    frame = X.assign(region=region, y=y)
    d = tmp_path_factory.mktemp("shapes")
    joblib.dump(est, d / "m.joblib")
    frame.to_parquet(d / "d.parquet")
    return est, X, frame, Source(d / "m.joblib", str(d / "d.parquet"), target="y")


def _rows_of(frame: pd.DataFrame, column: str, group: dict) -> np.ndarray:
    col = frame[column]
    if group["label"] == MISSING:
        return np.flatnonzero(col.isna().to_numpy())
    if group["interval"] is not None:
        lo, hi = group["interval"]
        x = col.to_numpy(dtype=float)
        left = x >= lo if group["label"].startswith("[") else x > lo
        return np.flatnonzero(left & (x <= hi))
    return np.flatnonzero((col == group["level"]).to_numpy())


@pytest.mark.parametrize("by", ["region", "x1"])
def test_each_group_is_sklearn_pd_on_its_rows_on_the_all_rows_grid(shapes, by):
    est, X, frame, source = shapes
    run = run_pdp(source, PdpOptions(features=("x0", "x2"), by=by, kind="both", ice_rows="all"))
    entries = run.document["results"]
    overall = {tuple(e["features"]): e for e in entries if "group" not in e}
    groups = [e for e in entries if "group" in e]
    labels = [g["label"] for g in run.document["parameters"]["by"]["groups"]]
    assert len(groups) == 2 * len(labels)
    assert sum(g["n_rows"] for g in run.document["parameters"]["by"]["groups"]) == len(frame)
    if by == "region":
        assert labels == ["east", "north", "south", MISSING]
    else:
        assert run.document["parameters"]["by"]["how"] == "quantiles" and len(labels) == 4
    for e in groups:
        f = e["features"][0]
        assert e["grid"] == overall[(f,)]["grid"]  # one x axis for every group
        rows = _rows_of(frame, by, e["group"])
        assert len(rows) == e["group"]["n_rows"]
        ref = sk_pd(est, X.iloc[rows], [f], custom_values={f: np.asarray(e["grid"][0])}, kind="both")
        np.testing.assert_allclose(e["average"], ref["average"][0], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(e["individual"], ref["individual"][0], rtol=RTOL, atol=1e-12)
        assert e["rows"] == rows.tolist()
        # each group's band is the standard error over its own rows (engines/bands.mean_se)
        np.testing.assert_allclose(e["se"], mean_se(ref["individual"][0]), rtol=1e-9, atol=1e-12)
    # the all-rows curve is scikit-learn's on every row
    ref = sk_pd(est, X, ["x0"], grid_resolution=100, kind="average", method="brute")
    np.testing.assert_allclose(overall[("x0",)]["average"], ref["average"][0], rtol=RTOL)


def test_classes_and_individual_per_group(tmp_path):
    rng = np.random.RandomState(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = np.digitize(X["a"] + 0.5 * X["b"], [-0.5, 0.5])
    est = LogisticRegression().fit(X, y)
    joblib.dump(est, tmp_path / "m.joblib")
    X.assign(y=y, hour=rng.randint(0, 3, 300)).to_parquet(tmp_path / "d.parquet")
    source = Source(tmp_path / "m.joblib", str(tmp_path / "d.parquet"), target="y")
    run = run_pdp(source, PdpOptions(features=("a",), by="hour", kind="individual", ice_rows="all"))
    frame = pd.read_parquet(tmp_path / "d.parquet")
    groups = [e for e in run.document["results"] if "group" in e]
    assert [e["target"] for e in groups] == [t for t in (0, 1, 2) for _ in range(3)]
    assert {e["group"]["label"] for e in groups} == {"0", "1", "2"}  # a low-cardinality integer: levels
    for e in groups:
        rows = np.flatnonzero(frame["hour"].to_numpy() == e["group"]["level"])
        ref = sk_pd(
            est, X.iloc[rows], ["a"], custom_values={"a": np.asarray(e["grid"][0])}, kind="individual"
        )
        assert e["average"] is None
        np.testing.assert_allclose(
            e["individual"], ref["individual"][int(e["target"])], rtol=RTOL, atol=1e-12
        )


def test_numeric_bins_are_type_1_quantiles_closed_on_the_right():
    g = make_groups(np.arange(1, 101, dtype=float) + 0.5, "v", bins=4)
    assert g.how == "quantiles"
    assert g.edges == [1.5, 25.5, 50.5, 75.5, 100.5]
    assert [x.label for x in g.groups] == ["[1.5, 25.5]", "(25.5, 50.5]", "(50.5, 75.5]", "(75.5, 100.5]"]
    assert [x.n_rows for x in g.groups] == [25, 25, 25, 25]
    # repeated edges merge: 60 zeros then 1 … 40
    g = make_groups(np.r_[np.zeros(60), np.arange(1.0, 41.0)], "v", bins=4)
    assert g.edges == [0.0, 15.0, 40.0] and [x.n_rows for x in g.groups] == [75, 25]
    # labels get the digits that tell edges apart
    g = make_groups(
        np.r_[np.full(5, 1.0001), np.full(5, 1.0002), 3.0, 4.0] + 0.0 * np.arange(12), "v", bins=2
    )
    assert len({x.label for x in g.groups}) == len(g.groups)


def test_levels_pooling_and_missing():
    values = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 5 + [None] * 3)
    g = make_groups(values, "s", max_levels=3)
    assert [(x.label, x.n_rows) for x in g.groups] == [("a", 50), ("b", 30), (OTHER, 15), (MISSING, 3)]
    assert g.groups[2].pooled == ["c", "d"]
    assert any("pooled" in n for n in g.notes())
    assert [x.label for x in make_groups(np.array([True, False, True]), "t").groups] == ["False", "True"]
    # many integers: quantile bins; few: levels
    assert make_groups(np.arange(100), "i", max_levels=8).how == "quantiles"
    assert make_groups(np.arange(100) % 5, "i", max_levels=8).how == "levels"
    g = make_groups(np.array([1.0, 2.0, np.nan, 2.0]), "f")  # integers read as floats (a NaN)
    assert [(x.label, x.n_rows) for x in g.groups] == [("1", 1), ("2", 2), (MISSING, 1)]
    with pytest.raises(UsageError, match="one level"):
        make_groups(np.ones(10), "c")
    with pytest.raises(UsageError, match="by_bins=1"):
        make_groups(np.arange(10.0), "c", bins=1)


def test_ice_clusters_recover_the_sign_of_x1_and_rerun_identically(shapes):
    _, X, _, source = shapes
    opts = PdpOptions(features=("x0",), ice_clusters=2, ice_rows="all")
    run = run_pdp(source, opts)
    entry = run.document["results"][0]
    assert run.document["parameters"]["kind"] == "both"
    clusters = entry["clusters"]
    labels = np.asarray(clusters["labels"])
    truth = (X["x1"].to_numpy()[entry["rows"]] > 0).astype(int)
    agreement = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agreement >= 0.95
    assert sorted(clusters["sizes"], reverse=True) == clusters["sizes"] and sum(clusters["sizes"]) == len(X)
    for j, mean in enumerate(clusters["means"]):  # each cluster's mean ICE curve
        np.testing.assert_allclose(
            mean, np.asarray(entry["individual"])[labels == j].mean(axis=0), rtol=1e-12
        )
    slopes = [m[-1] - m[0] for m in clusters["means"]]
    assert min(slopes) < -1 and max(slopes) > 1  # one falls, one rises
    again = run_pdp(source, opts)
    assert {**again.document, "elapsed_s": 0} == {**run.document, "elapsed_s": 0}


def test_usage_errors(shapes):
    source = shapes[3]
    cases = [
        (PdpOptions(features=("x0",), by="regoin"), "no column 'regoin'.*did you mean 'region'"),
        (PdpOptions(features=("x0",), ice_clusters=1), "ice_clusters=1 must be at least 2"),
        (PdpOptions(features=("x0",), ice_clusters=401, ice_rows="all"), "more than the 400 ICE curves"),
        (PdpOptions(pairs=(("x0", "x1"),), by="region"), "a pair has no curve"),
        (PdpOptions(features=("x0",), by="region", ice_clusters=2), "one at a time"),
        (PdpOptions(features=("x0",), by="region", method="recursion"), "not over the rows of a group"),
    ]
    for opts, message in cases:
        with pytest.raises(UsageError, match=message):
            run_pdp(source, opts)


def test_diff_compares_group_by_group(shapes):
    source = shapes[3]
    grid = {"x0": "-0.5,0,0.5"}
    a = run_pdp(source, PdpOptions(features=("x0",), by="region", values=grid)).document
    b = run_pdp(source, PdpOptions(features=("x0",), by="region", values=grid, subsample=300)).document
    diff = diff_results(a, b)
    assert [c.group for c in diff.curves] == [None, "east", "north", "south", MISSING]
    assert all(c.max_abs_diff is not None for c in diff.curves)
    c = run_pdp(source, PdpOptions(features=("x0",))).document
    with pytest.raises(ValidationError, match="OLD groups rows by 'region', NEW does not"):
        diff_results(a, c)


def test_ale_by_group_is_the_ale_of_the_group_rows(shapes):
    from inspectcli.engines.ale import accumulated_local_effects
    from inspectcli.workflows import AleOptions, run_ale

    est, X, frame, source = shapes
    run = run_ale(source, AleOptions(features=("x0",), bins=8, by="region"))
    groups = [e for e in run.document["results"] if "group" in e]
    assert [e["group"]["label"] for e in groups] == ["east", "north", "south", MISSING]
    assert run.document["parameters"]["by"]["grid"].startswith("per group")
    for e in groups:
        rows = _rows_of(frame, "region", e["group"])
        (ref,) = accumulated_local_effects(est, X.iloc[rows], ["x0"], bins=8)
        np.testing.assert_array_equal(e["grid"][0], ref.grid)
        np.testing.assert_allclose(e["ale"], ref.ale[0], rtol=RTOL, atol=1e-12)
        assert e["counts"] == ref.counts.tolist()


def test_a_gate_names_a_group(shapes):
    source = shapes[3]
    opts = PdpOptions(
        features=("x0",), by="region", fail_if=("range(x0, group=north) > 100", "range(x0) > 100")
    )
    run = run_pdp(source, opts)
    spread = {
        e["group"]["label"] if "group" in e else None: max(e["average"]) - min(e["average"])
        for e in run.document["results"]
    }
    values = [o.value for o in run.gates.outcomes]
    assert values == [spread["north"], spread[None]]
    with pytest.raises(UsageError, match="no group 'nort' \\(did you mean 'north'"):
        run_pdp(source, PdpOptions(features=("x0",), by="region", fail_if=("range(x0, group=nort) > 1",)))


def test_groups_follow_the_runs_one_band_decision(shapes, monkeypatch):
    """Under the default ("auto"), a run's curves all have a band or none do: the groups (fewer rows,
    so cheaper each) follow the all-rows decision instead of taking their own."""
    from inspectcli.engines.trees import grid

    _, X, _, source = shapes
    n, trees = len(X), 60
    monkeypatch.setattr(grid, "AUTO_SPREAD_WORK", n * 5 * trees - 1)  # all rows: too much; a group: cheap
    options = PdpOptions(features=("x0",), grid_resolution=5, by="x1", by_bins=2)
    none = run_pdp(source, options)
    assert all(c.se is None for c in none.curves)
    forced = run_pdp(source, PdpOptions(features=("x0",), grid_resolution=5, by="x1", by_bins=2, band=True))
    assert all(c.se is not None for c in forced.curves)
