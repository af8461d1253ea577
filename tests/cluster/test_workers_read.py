"""Dask workers reading DATA themselves (``--data-on-workers``), on a real external cluster.

The same commands on a hive-partitioned dataset with ``--where`` and sampled rows give the same
results whether the workers read the rows (``yes``), receive them (``no``) or the run stays in one
process; the JSON says which way the rows went. A worker that does not see the client's files
(its files differ, or one is missing) is an input error with ``yes`` (exit 3, nothing written)
and a note with ``auto`` (the data is then sent, with the same results).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from tests.cluster.test_external_cluster import QUIET, _cluster_fixture, _env

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def lean_on_small_data(monkeypatch):
    """The client's lean read (a column at a time) on these small datasets too."""
    from inspectcli.workflows import _on_workers

    monkeypatch.setattr(_on_workers, "LEAN_MIN_BYTES", 0)


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    return _cluster_fixture(request, tmp_path_factory)


@pytest.fixture(scope="module")
def dataset(samples, tmp_path_factory) -> Path:
    """friedman.parquet as a hive dataset: part=0..3, two row groups per file."""
    import pyarrow.parquet as pq

    frame = pq.read_table(samples / "friedman.parquet").to_pandas().iloc[:8000]
    root = tmp_path_factory.mktemp("hive") / "friedman"
    for p in range(4):
        part = root / f"part={p}"
        part.mkdir(parents=True)
        import pyarrow as pa

        table = pa.Table.from_pandas(frame.iloc[p * 2000 : (p + 1) * 2000], preserve_index=False)
        pq.write_table(table, part / "data.parquet", row_group_size=1000)
    return root


def _commands(samples: Path, data: Path) -> dict[str, list[str]]:
    model = [str(samples / "friedman_hgb.joblib"), str(data), "--target", "y", "--where", "part >= 1"]
    return {
        "pdp": ["pdp", *model, "-f", "x0", "-f", "x3", "--grid-resolution", "5", "--kind", "both"],
        "pdp-sub": ["pdp", *model, "-f", "x1", "--grid-resolution", "5", "--subsample", "1500"],
        "importance": ["importance", *model, "--n-repeats", "2", "--max-samples", "2000"],
        "ale": ["ale", *model, "-f", "x3", "--bins", "6"],
        "pdp-by": ["pdp", *model, "-f", "x3", "--grid-resolution", "4", "--by", "part"],
        # (the centred band of a pair, from ICE returned by the workers: it differed in the last bits)
        "pdp-pair": [
            "pdp",
            *model,
            "--pair",
            "x0,x3",
            "--grid-resolution",
            "4",
            "--kind",
            "both",
            "--centered",
        ],
    }


def _run(args: list[str], *extra: str):
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    return CliRunner().invoke(app, [*args, *QUIET, *extra], env=_env())


def test_workers_read_equals_scatter_and_one_process(cluster, samples, dataset):
    on = ["--backend", "dask", "--scheduler", cluster.address]
    for name, args in _commands(samples, dataset).items():
        local = _run(args, "--n-jobs", "1")
        assert local.exit_code == 0, (name, local.output)
        ref = json.loads(local.stdout)
        assert "dask_data" not in ref["data"]
        for mode, taken in (("yes", "workers-read"), ("no", "scatter"), ("auto", "workers-read")):
            run = _run(args, *on, "--data-on-workers", mode)
            assert run.exit_code == 0, (name, mode, run.output)
            doc = json.loads(run.stdout)
            assert doc["results"] == ref["results"], (name, mode)  # bit for bit: the same JSON floats
            assert doc["data"]["dask_data"] == taken, (name, mode)
            assert {k: v for k, v in doc["data"].items() if k != "dask_data"} == ref["data"]


def _client_sees_other_files(monkeypatch, change):
    """The client records other file stats than the workers find (as if their copy differed)."""
    from inspectcli.loading import paths

    real = paths.file_stats
    monkeypatch.setattr(paths, "file_stats", lambda path: change(real(path)))


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda stats: [(n, size + 1, t) for n, size, t in stats], "bytes there"),
        (lambda stats: [*stats, ("part=9/ghost.parquet", 10, 0)], "'part=9/ghost.parquet' is missing there"),
    ],
)
def test_workers_that_do_not_see_the_files(cluster, samples, dataset, tmp_path, monkeypatch, change, says):
    _client_sees_other_files(monkeypatch, change)
    args = _commands(samples, dataset)["pdp-sub"]
    on = ["--backend", "dask", "--scheduler", cluster.address]
    out = tmp_path / "out"
    run = _run(args, *on, "--data-on-workers", "yes", "--out", str(out), "--format", "json")
    assert run.exit_code == 3, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the Dask workers cannot read the data"), lines
    assert str(dataset) in lines[0] and says in lines[0] and "--data-on-workers auto" in lines[0]
    assert not out.exists() or not any(out.iterdir())
    # auto: a note, the data is sent from here, the same numbers
    ref = _run(args, "--n-jobs", "1")
    got = _run(args, *on, "--data-on-workers", "auto")
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["results"] == json.loads(ref.stdout)["results"]
    assert json.loads(got.stdout)["data"]["dask_data"] == "scatter"
    assert any("cannot read" in n and says in n for n in json.loads(got.stdout)["notes"])


def test_workers_rebuild_the_same_frame_in_process(samples, dataset):
    """The recipe's frame equals the client's (values and dtypes), with --where and positions."""
    import numpy as np
    import pandas as pd

    from inspectcli.engines.worker_data import offered
    from inspectcli.workflows._inputs import Collected, RowPlan, Source, load_inputs

    source = Source(samples / "friedman_hgb.joblib", str(dataset), target="y", where="part != 2")
    plan = RowPlan("--max-samples", 3, lambda n: np.random.RandomState(3).permutation(n)[:700])
    inputs = load_inputs(source, Collected(), rows=plan)
    part, delivery = offered(inputs.prepared.X)
    assert part.recipe.check_here() is None and delivery.path_taken is None
    rebuilt = part.recipe.materialise(inputs.model.estimator)
    pd.testing.assert_frame_equal(rebuilt, inputs.prepared.X, check_exact=True)
    # the same memory layout too (one float64 block here and there: the same prediction bits)
    assert np.asarray(rebuilt).flags.f_contiguous == np.asarray(inputs.prepared.X).flags.f_contiguous


def test_the_check_compares_sizes_then_digests(samples, dataset, tmp_path):
    """Another modification time with the same bytes passes (the digests agree); other bytes do not."""
    import os
    import shutil

    from inspectcli.engines.worker_data import offered
    from inspectcli.workflows._inputs import Collected, Source, load_inputs

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    inputs = load_inputs(Source(samples / "friedman_hgb.joblib", str(copy), target="y"), Collected())
    recipe = offered(inputs.prepared.X)[0].recipe
    part = copy / "part=2" / "data.parquet"
    os.utime(part, ns=(0, 10**18))
    assert recipe.check_here() is None
    with open(part, "ab") as fh:
        fh.write(b"x")
    assert recipe.check_here() == f"'part=2/data.parquet' has {part.stat().st_size:,} bytes there, " + (
        f"{part.stat().st_size - 1:,} here"
    )
    data = part.read_bytes()
    part.write_bytes(data[:-2] + b"y")  # same size, other bytes, another time
    os.utime(part, ns=(0, 2 * 10**18))
    assert recipe.check_here() == "'part=2/data.parquet' has other content there (SHA-256 differs)"
    shutil.rmtree(copy / "part=3")
    assert recipe.check_here() == "'part=3/data.parquet' is missing there"
    shutil.rmtree(copy)
    assert recipe.check_here() == f"'{copy}' does not exist there"


def test_stdin_is_sent_and_yes_refuses_it(cluster, samples):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    text = pq.read_table(samples / "friedman.parquet").to_pandas().iloc[:1500].to_csv(index=False)
    args = [
        "pdp",
        str(samples / "friedman_hgb.joblib"),
        "-",
        "--target",
        "y",
        "-f",
        "x0",
        "--grid-resolution",
        "4",
    ]
    on = ["--backend", "dask", "--scheduler", cluster.address]
    runs = {
        mode: CliRunner().invoke(app, [*args, *QUIET, *extra], input=text, env=_env())
        for mode, extra in (
            ("local", ["--n-jobs", "1"]),
            ("auto", on),
            ("yes", [*on, "--data-on-workers", "yes"]),
        )
    }
    assert runs["auto"].exit_code == 0, runs["auto"].output
    doc = json.loads(runs["auto"].stdout)
    assert doc["data"]["dask_data"] == "scatter"
    assert doc["results"] == json.loads(runs["local"].stdout)["results"]
    assert runs["yes"].exit_code == 2
    assert runs["yes"].stderr.startswith("error: --data-on-workers yes needs DATA on disk")


def _spy_reads(monkeypatch) -> list[tuple[tuple[str, ...], int]]:
    """(columns, rows) of every read of Parquet / Arrow data in this process."""
    from inspectcli.loading.sources import ArrowSource

    reads: list[tuple[tuple[str, ...], int]] = []

    def spying(name):
        real = getattr(ArrowSource, name)

        def spy(self, columns, rows, *args):
            reads.append((tuple(columns), self.n_rows if rows is None else len(rows)))
            return real(self, columns, rows, *args)

        monkeypatch.setattr(ArrowSource, name, spy)

    spying("_read")
    if hasattr(ArrowSource, "_read_block"):  # (the model's float64 columns read as one block)
        spying("_read_block")
    return reads


def test_the_client_reads_a_column_at_a_time_when_workers_read(cluster, samples, dataset, monkeypatch):
    """With the workers reading, this process never reads every row of two model columns at once
    (grids, deciles and the trial prediction take one column, or a few rows, at a time); sending
    the data reads them all together. The results are the same bit for bit."""
    features = {f"x{i}" for i in range(10)}
    on = ["--backend", "dask", "--scheduler", cluster.address]
    commands = _commands(samples, dataset)
    for name in ("pdp", "ale", "pdp-by"):
        ref = _run(commands[name], "--n-jobs", "1")
        n_rows = json.loads(ref.stdout)["data"]["n_rows"]
        for mode in ("yes", "no"):
            reads = _spy_reads(monkeypatch)
            run = _run(commands[name], *on, "--data-on-workers", mode)
            assert run.exit_code == 0, (name, mode, run.output)
            assert json.loads(run.stdout)["results"] == json.loads(ref.stdout)["results"], (name, mode)
            wide = [(cols, n) for cols, n in reads if len(features & set(cols)) > 1 and n == n_rows]
            if mode == "yes":
                assert not wide, (name, wide)
                assert any(cols == ("x3",) and n == n_rows for cols, n in reads), (name, reads)
            else:
                assert wide, (name, reads)
    # A sample smaller than LEAN_MIN_BYTES is read whole here, and the workers read it too.
    from inspectcli.workflows import _on_workers

    monkeypatch.setattr(_on_workers, "LEAN_MIN_BYTES", 16 * 2**20)
    reads = _spy_reads(monkeypatch)
    run = _run(commands["pdp"], *on, "--data-on-workers", "yes")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["data"]["dask_data"] == "workers-read"
    assert (
        json.loads(run.stdout)["results"]
        == json.loads(_run(commands["pdp"], "--n-jobs", "1").stdout)["results"]
    )
    assert any(len(features & set(cols)) == 10 for cols, _ in reads), reads


@pytest.mark.parametrize("model", ["bikes_hgb.joblib", "bikes_lgbm.joblib"])
def test_the_lean_read_matches_the_whole_read(samples, tmp_path, model):
    """Column by column, the client's inputs are the whole read's: values, dtypes (text, LightGBM
    categories, integers with a missing value after the first rows read), target, weights, notes."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from inspectcli.engines.worker_data import LeanFrame
    from inspectcli.workflows._inputs import Collected, Source, load_inputs

    frame = pq.read_table(samples / "bikes.parquet").to_pandas().iloc[:5000]
    frame["w"] = np.linspace(0.5, 2.0, len(frame))
    frame["hour"] = frame["hour"].astype("Int64")
    frame.loc[4000, "hour"] = pd.NA  # beyond the first rows read: float64 in the whole frame
    path = tmp_path / "bikes.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, row_group_size=1000)  # (no pandas metadata: int64 with a null)
    source = Source(samples / model, str(path), target="count", sample_weight="w")
    eager, notes = load_inputs(source, Collected()), Collected()
    lean = load_inputs(source, notes, lean=True)
    assert isinstance(lean.prepared.X, LeanFrame) and not isinstance(eager.prepared.X, LeanFrame)
    assert lean.prepared.X.dtypes.to_dict() == eager.prepared.X.dtypes.to_dict()
    for name in eager.prepared.feature_names:
        pd.testing.assert_series_equal(lean.prepared.X[name], eager.prepared.X[name], check_exact=True)
    np.testing.assert_array_equal(lean.prepared.y, eager.prepared.y)
    np.testing.assert_array_equal(lean.prepared.sample_weight, eager.prepared.sample_weight)
    assert lean.prepared.notes == eager.prepared.notes and lean.data.n_rows == eager.data.n_rows
    whole = [r for r in lean.prepared.X._reader.reads if len(r[0]) > 1 or r[1] < 0]
    assert not whole, whole


def test_the_lean_read_errors_and_falls_back_as_the_whole_read(samples, tmp_path):
    """A missing target value beyond the first rows is the same one-line input error; numbers
    stored as text are read whole (the check of how the model reads them needs every row)."""
    import numpy as np
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from inspectcli.cli.app import app
    from inspectcli.engines.worker_data import LeanFrame
    from inspectcli.workflows._inputs import Collected, Source, load_inputs

    frame = pq.read_table(samples / "friedman.parquet").to_pandas().iloc[:3000]
    bad = frame.copy()
    bad.loc[2500, "y"] = np.nan
    bad.to_parquet(tmp_path / "bad.parquet", row_group_size=1000)
    args = ["pdp", str(samples / "friedman_hgb.joblib"), str(tmp_path / "bad.parquet"), "--target", "y"]
    runs = [
        CliRunner().invoke(app, [*args, "-f", "x0", *QUIET, *extra], env=_env())
        for extra in (["--n-jobs", "1"], ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"])
    ]
    # (no cluster is reached: the data is checked first, the same way)
    assert [r.exit_code for r in runs] == [3, 3], [r.output for r in runs]
    assert runs[0].stderr == runs[1].stderr
    assert runs[1].stderr.startswith("error: target column 'y' has 1 missing value(s)")
    text = frame.astype({"x2": str})
    text.to_parquet(tmp_path / "text.parquet", row_group_size=1000)
    source = Source(samples / "friedman_hgb.joblib", str(tmp_path / "text.parquet"), target="y")
    got, ref = load_inputs(source, Collected(), lean=True), load_inputs(source, Collected())
    assert not isinstance(got.prepared.X, LeanFrame)
    import pandas as pd

    pd.testing.assert_frame_equal(got.prepared.X, ref.prepared.X, check_exact=True)


@pytest.mark.parametrize("lean", [False, True])
def test_a_worker_reads_a_window_of_rows_alone(samples, tmp_path, lean):
    """A task with a Window (ALE on Dask) gets just those rows, read alone, equal to the whole
    frame's rows (types as read elsewhere in the data: an integer column with a missing value
    outside the window is float; LightGBM categories from every row); without a recipe's dtypes,
    or after a step that is not row by row, the whole frame is built and the task takes the rows."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from inspectcli.engines.frames import take_rows, widen_integer_columns
    from inspectcli.engines.worker_data import Window, derive, offered, resolve
    from inspectcli.workflows._inputs import Collected, Source, load_inputs

    frame = pq.read_table(samples / "bikes.parquet").to_pandas().iloc[:5000]
    frame["hour"] = frame["hour"].astype("Int64")
    frame.loc[4000, "hour"] = pd.NA
    path = tmp_path / "bikes.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), path)
    inputs = load_inputs(
        Source(samples / "bikes_lgbm.joblib", str(path), target="count"), Collected(), lean=lean
    )
    est, X = inputs.model.estimator, inputs.prepared.X
    whole = X.materialise() if lean else X
    for step, windowed in ((None, True), ((widen_integer_columns, {3: np.array([0.5])}), True)):
        Xs = derive(step[0], X, step[1]) if step else X
        part, _ = offered(Xs)
        got = resolve((est, part, "task args", Window(1000, 2500)))
        assert got[3] == Window(1000, 2500, read=windowed)
        ref = step[0](whole, step[1]) if step else whole
        pd.testing.assert_frame_equal(got[3].of(got[1]), ref.iloc[1000:2500], check_exact=True)
    part, _ = offered(derive(take_rows, X, np.arange(0, 5000, 2)))
    got = resolve((est, part, Window(10, 20)))
    assert got[2] == Window(10, 20) and len(got[1]) == 2500


def test_ale_workers_read_windows_of_rows(cluster, samples, dataset):
    """ALE on the cluster: each task's worker reads just its window of rows (none reads the whole
    frame), and the curve is the one of one process, bit for bit."""
    from distributed import Client

    from inspectcli.engines.worker_data import read_counts

    args = _commands(samples, dataset)["ale"]
    ref = _run(args, "--n-jobs", "1")
    with Client(cluster.address, timeout=30) as client:
        before = client.run(read_counts)
        run = _run(args, "--backend", "dask", "--scheduler", cluster.address, "--data-on-workers", "yes")
        after = client.run(read_counts)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["results"] == json.loads(ref.stdout)["results"]
    windows = sum(after[w]["windows"] - before.get(w, {}).get("windows", 0) for w in after)
    whole = sum(after[w]["whole"] - before.get(w, {}).get("whole", 0) for w in after)
    assert windows >= 2 and whole == 0, (before, after)
