"""Bands at their edges: one row of non-zero weight (no band, not a band of width 0), and a model's
NaN / inf reported once by the tool, never as numpy's own warnings."""

from __future__ import annotations

import json

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


@pytest.fixture(scope="module")
def pd_file(frame, tmp_path_factory):
    """A pdp.json with SE bands (and one with a bootstrap) of a linear model, two features, 5 points."""
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    X, y = frame
    base = tmp_path_factory.mktemp("edge_diff")
    joblib.dump(LinearRegression().fit(X, y), base / "m.joblib")
    X.assign(y=y).to_csv(base / "d.csv", index=False)
    out = {}
    for name, extra in (("se", []), ("boot", ["--bootstrap", "20"])):
        args = [str(base / "m.joblib"), str(base / "d.csv"), "--target", "y", "-f", "a,b", "--band"]
        args += ["--grid-resolution", "5", "--no-plot", "--quiet", "--out", str(base / name), *extra]
        r = CliRunner().invoke(app, ["pdp", *args])
        assert r.exit_code == 0, r.stderr
        out[name] = base / name / "pdp.json"
    return out


def _edited(src, tmp_path, edit):
    doc = json.loads(src.read_text())
    edit(doc["results"][0])
    path = tmp_path / "new.json"
    path.write_text(json.dumps(doc))
    return path


def test_diff_a_point_undefined_in_one_file_makes_the_change_undefined_and_gates_fail(pd_file, tmp_path, cli):
    """A model's NaN / inf (null) at one grid point may hide any change: max |Δ|, mean Δ and max_gap of that
    curve are undefined, and a gate on them fails (it passed on the other points' numbers)."""

    def null_at_0(entry):
        entry["average"][0] = None
        entry["se"][0] = None

    new = _edited(pd_file["se"], tmp_path, null_at_0)
    for gate in ("max_abs_diff(a) > 0.001", "mean_abs_diff(a) > 0.001", "max_gap(a) > 0"):
        r = cli("diff", pd_file["se"], new, "--fail-if", gate)
        assert r.exit_code == 1, (gate, r.stdout, r.stderr)
        assert "undefined" in r.stderr
    # the other curve is untouched: its gates are judged as before
    assert cli("diff", pd_file["se"], new, "--fail-if", "max_abs_diff(b) > 0.001").exit_code == 0

    # a point whose band alone is undefined: the change there is unknown, so is max_gap
    def moved_without_band(entry):
        entry["average"][0] += 5.0
        entry["se"][0] = None

    new = _edited(pd_file["se"], tmp_path, moved_without_band)
    doc = json.loads(cli("diff", pd_file["se"], new, "--json").stdout)
    [a] = [c for c in doc["results"] if c["features"] == ["a"]]
    assert (
        a["max_gap"] is None and a["points_beyond_noise"] is None and a["max_abs_diff"] == pytest.approx(5.0)
    )
    assert cli("diff", pd_file["se"], new, "--fail-if", "max_gap(a) > 0").exit_code == 1


@pytest.mark.parametrize(
    "which, edit, words",
    [
        ("se", lambda e: e.__setitem__("se", [-x for x in e["se"]]), "negative standard error"),
        ("se", lambda e: e.__setitem__("se", e["se"][:3]), "has shape (3,)"),
        ("se", lambda e: e.__setitem__("se", [[x, x] for x in e["se"]]), "has shape (5, 2)"),
        (
            "boot",
            lambda e: e["bootstrap"].__setitem__("lower", [v + 9 for v in e["average"]]),
            "lower > upper",
        ),
        ("boot", lambda e: e["bootstrap"].__setitem__("upper", [0.0]), "has shape (1,)"),
    ],
)
def test_diff_refuses_a_band_that_is_not_one(pd_file, tmp_path, cli, which, edit, words):
    new = _edited(pd_file[which], tmp_path, edit)
    r = cli("diff", pd_file[which], new, "--fail-if", "max_gap(a) > 0")
    assert r.exit_code == 3, (r.stdout, r.stderr)
    assert words in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


def test_diff_an_se_near_the_float_range_is_an_infinite_band_without_a_numpy_warning(pd_file, tmp_path, cli):
    new = _edited(pd_file["se"], tmp_path, lambda e: e.__setitem__("se", [1e308] * len(e["se"])))
    r = cli("diff", pd_file["se"], new, "--json")
    assert r.exit_code == 0 and "overflow" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["results"][0]["max_gap"] == 0.0


@pytest.mark.parametrize("command, extra", [("ale", ["--bins", "4"]), ("pdp", ["--grid-resolution", "4"])])
def test_a_bootstrap_that_cannot_be_held_is_refused_naming_bootstrap(frame, tmp_path, cli, command, extra):
    """ALE had no estimate: numpy's MemoryError became exit 4 whose hint named other flags."""
    X, y = frame
    joblib.dump(LinearRegression().fit(X, y), tmp_path / "m.joblib")
    X.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    r = cli(command, tmp_path / "m.joblib", tmp_path / "d.csv", "--target", "y", "-f", "a", "--no-plot",
            "--bootstrap", str(10**12), "--out", tmp_path / "o", *extra)  # fmt: skip
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: --bootstrap 1000000000000:") and "lower --bootstrap" in r.stderr
    assert not (tmp_path / "o").exists()


def test_diff_a_rounding_difference_between_bands_of_width_zero_is_not_beyond_noise(pd_file, tmp_path, cli):
    """A linear model's centred curves have SE ~1e-17: the same curve summed in another order (other
    weights, engine or chunks) differs in the last bits, which is not a change beyond noise."""
    doc = json.loads(pd_file["se"].read_text())
    for e in doc["results"]:
        e["se"] = [0.0] * len(e["se"])
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))

    def nudge(by):
        def edit(entry):
            entry["se"] = [0.0] * len(entry["se"])
            entry["average"] = [v + by * max(abs(v), 1.0) for v in entry["average"]]

        return _edited(old, tmp_path, edit)

    last_bits = json.loads(cli("diff", old, nudge(4e-16), "--json").stdout)
    assert [c["max_gap"] for c in last_bits["results"]] == [0.0, 0.0]
    assert cli("diff", old, nudge(4e-16), "--fail-if", "max_gap > 0").exit_code == 0
    moved = json.loads(cli("diff", old, nudge(1e-9), "--json").stdout)["results"][0]
    assert moved["max_gap"] > 0 and moved["points_beyond_noise"] == 5
    assert cli("diff", old, nudge(1e-9), "--fail-if", "max_gap(a) > 0").exit_code == 1


@pytest.mark.parametrize("extra", [["--band"], ["--bootstrap", "10"]])
def test_a_band_asked_of_individual_curves_is_noted_not_dropped_silently(pd_file, cli, tmp_path, extra):
    base = pd_file["se"].parent.parent
    r = cli("pdp", base / "m.joblib", base / "d.csv", "--target", "y", "-f", "a", "--kind", "individual",
            "--grid-resolution", "3", "--no-plot", "--out", tmp_path / "o", *extra)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert f"note: {extra[0]} bands the average curve; --kind individual has none" in r.stderr


def test_diff_bootstraps_of_different_levels_are_judged_on_the_standard_errors(pd_file, tmp_path):
    from inspectcli.compare import diff_results

    old = json.loads(pd_file["boot"].read_text())
    new = json.loads(json.dumps(old))
    for e in new["results"]:
        e["bootstrap"]["level"] = 0.5
    assert [c.noise for c in diff_results(old, old).curves] == ["bootstrap", "bootstrap"]
    assert [c.noise for c in diff_results(old, new).curves] == ["se", "se"]
