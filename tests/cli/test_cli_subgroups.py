"""`inspect pdp --by COLUMN` / `--ice-clusters K` through the real CLI: errors, files, reruns."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor

from inspectcli.workflows import PdpOptions, Source, run_pdp


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.RandomState(0)
    n = 300
    X = pd.DataFrame({"x0": rng.uniform(-1, 1, n), "x1": rng.uniform(-1, 1, n)})
    y = X["x0"] * np.sign(X["x1"])
    est = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0).fit(X, y)
    d = tmp_path_factory.mktemp("sub")
    joblib.dump(est, d / "m.joblib")
    region = np.array(["north", "south"], dtype=object)[rng.randint(0, 2, n)]
    X.assign(region=region, const="k", y=y).to_parquet(d / "d.parquet")
    return d / "m.joblib", d / "d.parquet"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "regoin"], "error: --by: no column 'regoin' in 'd.parquet' (did you mean 'region'?)"),
        (["--by", "const"], "error: --by column 'const' has one level ('k')"),
        (["--ice-clusters", "1"], "error: --ice-clusters 1 must be at least 2"),
        (
            ["--ice-clusters", "301", "--ice-rows", "all"],
            "error: --ice-clusters 301 is more than the 300 ICE",
        ),
        (["--by", "region", "--by-bins", "1"], "error: --by-bins 1 must be at least 2"),
        (["--by", "region", "--pair", "x0,x1"], "error: --by draws one curve per group"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(cli, files, tmp_path, args, message):
    model, data = files
    out = tmp_path / "out"
    r = cli("pdp", model, data, "--target", "y", "-f", "x0", "--out", out, *args)
    assert r.exit_code == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_grouped_and_clustered_files_rerun_byte_identical(cli, files, tmp_path):
    model, data = files
    for flags in (["--by", "x1", "--kind", "both"], ["--ice-clusters", "2"]):
        written = []
        for k in range(2):
            out = tmp_path / f"{flags[0]}{k}"
            narrow = {"INSPECT_WIDTH": "80", "COLUMNS": "80"}
            r = cli("pdp", model, data, "--target", "y", "-f", "x0", "--out", out, *flags, env=narrow)
            assert r.exit_code == 0, r.stderr
            doc = json.loads((out / "pdp.json").read_text())
            doc["elapsed_s"] = 0
            written.append((doc, (out / "pdp.csv").read_bytes(), (out / "pdp.png").read_bytes()))
        assert written[0] == written[1]
        assert max(len(line) for line in r.stdout.splitlines()) <= 80
    header = written[0][1].decode().splitlines()[0]
    assert header == "features,target,grid_1,kind,row,value,se,cluster"
    csv = pd.read_csv(tmp_path / "--by0" / "pdp.csv", keep_default_na=False)
    assert list(csv.columns[:3]) == ["features", "target", "group"]
    groups = list(dict.fromkeys(csv["group"]))
    assert len(groups) == 5 and groups[0] == "" and groups[1].startswith("[")  # all rows, then 4 bins


def test_plot_draws_one_line_per_group_with_counts(files):
    from inspectcli.plots.subgroups import plot_subgroups

    model, data = files
    run = run_pdp(Source(model, str(data), target="y"), PdpOptions(features=("x0",), by="region", band=True))
    display = plot_subgroups(run.curves, n_rows=300)
    lines = display.group_lines_[0]
    assert list(lines) == ["north", "south"]
    groups = [c for c in run.curves if c.group is not None]
    for c in groups:
        np.testing.assert_array_equal(lines[c.group["label"]].get_ydata(), c.average)
    labels = [t.get_text() for t in display.legend_.get_texts()]
    n = {c.group["label"]: c.group["n_rows"] for c in groups}
    assert labels == [
        f"region = north (n={n['north']})",
        f"region = south (n={n['south']})",
        "all rows (n=300)",
        "95% band (± 1.96 SE over rows)",  # each group's band, shaded in its colour
    ]
    run = run_pdp(Source(model, str(data), target="y"), PdpOptions(features=("x0",), ice_clusters=2))
    display = plot_subgroups(run.curves)
    means = display.cluster_lines_[0]
    for line, mean in zip(means, run.curves[0].clusters.means):
        np.testing.assert_array_equal(line.get_ydata(), mean)
