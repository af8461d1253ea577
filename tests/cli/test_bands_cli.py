"""Bands through the CLI: seeded bootstraps rerun byte for byte, JSON / CSV fields, and `inspect diff`
judging PD changes against both runs' bands."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from inspectcli.compare import diff_results
from inspectcli.engines.bands import mean_se

DATA = ("diabetes_hgb.joblib", "diabetes.parquet")
GRID = ["--values", "bmi=-0.05,0,0.05,0.1", "--values", "age=-0.05,0.05"]


def without_elapsed(data: bytes) -> bytes:
    return re.sub(rb'\n  "elapsed_s": [0-9.e+-]+\n', b"\n", data)


@pytest.fixture(scope="module")
def runs(samples, tmp_path_factory):
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    base = tmp_path_factory.mktemp("band_runs")
    model, data = (samples / f for f in DATA)

    def run(name, command, *extra):
        out = base / name
        r = CliRunner().invoke(
            app,
            [command, str(model), str(data), "--target", "target", "--no-plot", "--quiet", "--out", str(out)]
            + [str(e) for e in extra],
        )
        assert r.exit_code == 0, r.stderr
        return out

    return {
        "boot1": run("boot1", "pdp", "-f", "bmi,age", "--bootstrap", "40", "--random-state", "7", *GRID),
        "boot2": run("boot2", "pdp", "-f", "bmi,age", "--bootstrap", "40", "--random-state", "7", *GRID),
        "boot3": run("boot3", "pdp", "-f", "bmi,age", "--bootstrap", "40", "--random-state", "8", *GRID),
        "sub": run("sub", "pdp", "-f", "bmi,age", "--subsample", "120", *GRID),
        "centred": run(
            "centred", "pdp", "-f", "bmi", "--centered", "--kind", "both", "--ice-rows", "all", *GRID
        ),
        "ale1": run(
            "ale1", "ale", "-f", "bmi,sex", "--bins", "5", "--bootstrap", "30", "--random-state", "3"
        ),
        "ale2": run(
            "ale2", "ale", "-f", "bmi,sex", "--bins", "5", "--bootstrap", "30", "--random-state", "3"
        ),
    }


def test_bootstrap_reruns_are_byte_identical_and_the_seed_matters(runs):
    for a, b, name in (("boot1", "boot2", "pdp"), ("ale1", "ale2", "ale")):
        for ext in ("json", "csv"):
            first = (runs[a] / f"{name}.{ext}").read_bytes()
            assert without_elapsed(first) == without_elapsed((runs[b] / f"{name}.{ext}").read_bytes())
    doc = json.loads((runs["boot1"] / "pdp.json").read_bytes())
    other = json.loads((runs["boot3"] / "pdp.json").read_bytes())
    entry = doc["results"][0]
    assert (
        entry["bootstrap"]["n"] == 40
        and entry["bootstrap"]["seed"] == 7
        and entry["bootstrap"]["level"] == 0.95
    )
    assert entry["bootstrap"]["lower"] != other["results"][0]["bootstrap"]["lower"]
    assert doc["parameters"]["bootstrap"] == 40 and doc["parameters"]["band"] == "auto"
    assert len(entry["se"]) == len(entry["average"]) == 4
    assert all(
        lo <= avg <= hi
        for lo, avg, hi in zip(entry["bootstrap"]["lower"], entry["average"], entry["bootstrap"]["upper"])
    )
    csv = pd.read_csv(runs["boot1"] / "pdp.csv")
    assert list(csv.columns[-3:]) == ["se", "boot_lower", "boot_upper"]
    assert (
        csv["se"].tolist()[:4] == entry["se"]
        and csv["boot_upper"].tolist()[:4] == entry["bootstrap"]["upper"]
    )
    ale = json.loads((runs["ale1"] / "ale.json").read_bytes())["results"]
    assert all(len(e["se"]) == len(e["ale"]) == len(e["bootstrap"]["lower"]) for e in ale)


def test_a_centred_curve_carries_the_band_of_the_centred_values(runs, samples):
    doc = json.loads((runs["centred"] / "pdp.json").read_bytes())
    [entry] = doc["results"]
    ice = np.asarray(entry["individual"])  # every row, centred at the first grid point
    assert entry["se"][0] == 0.0
    assert np.max(np.abs(np.asarray(entry["se"]) - mean_se(ice)) / np.maximum(mean_se(ice), 1e-300)) < 1e-10


def test_diff_judges_pd_changes_against_the_bands(runs, cli):
    old = json.loads((runs["boot1"] / "pdp.json").read_bytes())
    # the same run: every change within noise
    same = diff_results(old, old)
    assert all(c.noise == "bootstrap" and c.max_gap == 0 and c.beyond_noise is False for c in same.curves)
    # another sample of rows (no bootstrap there): judged on average ± 2·SE
    sub = json.loads((runs["sub"] / "pdp.json").read_bytes())
    d = diff_results(old, sub)
    for c, a, b in zip(d.curves, old["results"], sub["results"]):
        assert c.noise == "se"
        va, vb = np.asarray(a["average"]), np.asarray(b["average"])
        sa, sb = np.asarray(a["se"]), np.asarray(b["se"])
        gap = np.maximum(np.maximum((vb - 2 * sb) - (va + 2 * sa), (va - 2 * sa) - (vb + 2 * sb)), 0)
        assert c.max_gap == float(gap.max()) and c.points_beyond_noise == int((gap > 0).sum())
    # a change of 10 SE at one grid point is beyond noise there, and only there
    moved = json.loads(json.dumps(old))
    for e in moved["results"]:
        e.pop("bootstrap")
    for e in old["results"]:
        e.pop("bootstrap")
    entry = moved["results"][0]
    entry["average"][2] += 10 * entry["se"][2]
    d = diff_results(old, moved)
    assert d.curves[0].points_beyond_noise == 1 and d.curves[0].max_gap == pytest.approx(6 * entry["se"][2])
    assert d.curves[1].beyond_noise is False
    # without a band on one side the judgement is unknown, and said so
    bare = json.loads(json.dumps(moved))
    for e in bare["results"]:
        e.pop("se")
    d = diff_results(old, bare)
    assert all(c.noise is None and c.beyond_noise is None for c in d.curves) and any(
        "band" in n for n in d.notes
    )


def test_diff_gate_on_max_gap(runs, tmp_path, cli):
    old = runs["boot1"] / "pdp.json"
    doc = json.loads(old.read_bytes())
    entry = doc["results"][0]
    for values in (entry["average"], entry["bootstrap"]["lower"], entry["bootstrap"]["upper"]):
        values[1] += 1e3  # a new run whose curve (and band) moved at one grid point
    new = tmp_path / "pdp.json"
    new.write_text(json.dumps(doc))
    r = cli("diff", old, new, "--fail-if", "max_gap(bmi) > 0", "--fail-if", "max_gap(age) > 0")
    assert r.exit_code == 1, r.stderr
    assert "beyond noise" in r.stdout
    r = cli("diff", old, old, "--fail-if", "max_gap > 0")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("command", ["pdp", "ale"])
def test_band_options_are_checked(cli, samples, command):
    model, data = (samples / f for f in DATA)
    base = [command, model, data, "--target", "target", "-f", "bmi", "--no-plot", "--format", "json"]
    r = cli(*base, "--bootstrap", "2000000000")  # refused before predicting: the curves cannot be held
    assert r.exit_code == 2 and "--bootstrap 2000000000" in r.stderr and "lower --bootstrap" in r.stderr
    r = cli(*base, "--band-level", "1.5")
    assert r.exit_code == 2 and "--band-level 1.5 must lie strictly between 0 and 1" in r.stderr
    r = cli(*base, "--bootstrap", "-1")
    assert r.exit_code == 2 and "--bootstrap -1" in r.stderr


def test_pdp_band_by_default_where_cheap_and_on_request(cli, samples, tmp_path, monkeypatch):
    from inspectcli.engines.trees import grid

    monkeypatch.setattr(grid, "AUTO_SPREAD_WORK", 0)  # as for a large model on many rows
    model, data = (samples / f for f in DATA)
    base = ["pdp", model, data, "--target", "target", "-f", "bmi,age", "--no-plot", "--format", "json", *GRID]
    r = cli(*base, "--out", tmp_path / "auto")
    assert r.exit_code == 0 and "--band computes it" in r.stderr
    doc = json.loads((tmp_path / "auto" / "pdp.json").read_bytes())
    assert all("se" not in e for e in doc["results"]) and "band computes it" in doc["notes"][-1]
    r = cli(*base, "--band", "--out", tmp_path / "forced")
    doc_forced = json.loads((tmp_path / "forced" / "pdp.json").read_bytes())
    assert r.exit_code == 0 and all(len(e["se"]) == len(e["average"]) for e in doc_forced["results"])
    assert [e["average"] for e in doc_forced["results"]] == [e["average"] for e in doc["results"]]
    assert doc_forced["parameters"]["band"] is True
