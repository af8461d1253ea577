"""DATA as a Parquet dataset, a glob, Feather, JSON Lines, filtered with --where and read only as
far as a command needs (issue #19), through the real CLI: the results equal those on the same rows
given as one file, and the JSON records exactly which rows were used."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from sklearn.utils.random import sample_without_replacement

from inspectcli.engines.permutation import importance_rows

MODEL = "bikes_hgb.joblib"
PDP = ["pdp", "--target", "count", "-f", "temp", "-f", "season", "--grid-resolution", "6"]
IMP = ["importance", "--target", "count", "-r", "2", "--no-mdi"]
QUIET = ["--json", "--no-plot", "--format", "none"]


@pytest.fixture(scope="module")
def bikes(samples, tmp_path_factory):
    """1,200 bikes rows as a hive dataset (season=…/, row groups of 100) and as one file in its order."""
    root = tmp_path_factory.mktemp("bikes")
    frame = pd.read_parquet(samples / "bikes.parquet").iloc[:1200].reset_index(drop=True)
    pq.write_to_dataset(
        pa.Table.from_pandas(frame, preserve_index=False),
        root / "ds",
        partition_cols=["season"],
        row_group_size=100,
    )
    ordered = frame.sort_values("season", kind="stable").reset_index(drop=True)
    ordered.to_parquet(root / "one.parquet", index=False)
    return root, ordered


def _run(cli, samples, args, data, *extra):
    r = cli(args[0], samples / MODEL, data, *args[1:], *QUIET, *extra)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_dataset_equals_one_file(cli, samples, bikes):
    root, _ = bikes
    for args, extra in (
        (PDP, ()),
        (PDP, ("--subsample", "300", "--kind", "both")),
        (IMP, ("--max-samples", "250")),
    ):
        ds_doc = _run(cli, samples, args, root / "ds", *extra)
        one = _run(cli, samples, args, root / "one.parquet", *extra)
        assert ds_doc["results"] == one["results"], (args, extra)
        a, b = ds_doc["data"], one["data"]
        assert a["n_rows"] == b["n_rows"] == 1200 and a["n_used"] == b["n_used"]
        assert a["sample"] == b["sample"] and a["format"] == "parquet" and b["files"] is None
        assert [f["path"].split("/")[0] for f in a["files"]] == [
            "season=fall",
            "season=spring",
            "season=summer",
            "season=winter",
        ]
        if extra:
            assert a["sample"]["rows"] == a["n_used"] and a["sample"]["seed"] == 0
        else:
            assert a["sample"] is None


@pytest.mark.slow
def test_sampled_rows_are_the_rows_recorded(cli, samples, bikes, tmp_path):
    """--subsample 300 on the dataset equals the whole command on exactly those 300 rows."""
    root, ordered = bikes
    doc = _run(cli, samples, PDP, root / "ds", "--subsample", "300")
    ids = np.sort(sample_without_replacement(1200, 300, random_state=np.random.RandomState(0)))

    assert (
        doc["data"]["sample"]["positions_sha256"] == hashlib.sha256(ids.astype("<i8").tobytes()).hexdigest()
    )
    ordered.iloc[ids].to_parquet(tmp_path / "rows.parquet", index=False)
    assert _run(cli, samples, PDP, tmp_path / "rows.parquet")["results"] == doc["results"]
    # importance reads scikit-learn's --max-samples rows, in its order
    rows = importance_rows(0, 1200, 250)
    doc = _run(cli, samples, IMP, root / "ds", "--max-samples", "250")
    assert (
        doc["data"]["sample"]["positions_sha256"] == hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest()
    )


@pytest.mark.slow
def test_where_equals_the_filtered_file(cli, samples, bikes, tmp_path):
    root, ordered = bikes
    where = "season in ('summer', 'fall') and temp > 12.5"
    keep = ordered[ordered.season.isin(["summer", "fall"]) & (ordered.temp > 12.5)]
    keep.to_parquet(tmp_path / "kept.parquet", index=False)
    ref = _run(cli, samples, PDP, tmp_path / "kept.parquet")
    for data in (root / "ds", root / "one.parquet"):
        doc = _run(cli, samples, PDP, data, "--where", where)
        assert doc["results"] == ref["results"] and doc["data"]["where"] == where
        assert doc["data"]["n_rows"] == len(keep)


@pytest.mark.slow
def test_glob_feather_and_json_lines_equal_parquet(cli, samples, bikes, tmp_path):
    root, ordered = bikes
    ref = _run(cli, samples, PDP, root / "one.parquet")
    for i, chunk in enumerate(np.array_split(np.arange(len(ordered)), 3)):
        ordered.iloc[chunk].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    feather.write_feather(ordered, tmp_path / "b.feather")
    with open(tmp_path / "b.jsonl", "w") as fh:
        for rec in ordered.to_dict(orient="records"):
            fh.write(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}) + "\n")
    for data, kind in (
        (str(tmp_path / "part-*.parquet"), "parquet"),
        (tmp_path / "b.feather", "arrow"),
        (tmp_path / "b.jsonl", "jsonl"),
    ):
        doc = _run(cli, samples, PDP, data)
        assert doc["results"] == ref["results"] and doc["data"]["format"] == kind, data


def test_reruns_are_byte_identical(cli, samples, bikes, tmp_path):
    root, _ = bikes
    texts = []
    for out in ("a", "b"):
        r = cli(
            *IMP[:1], samples / MODEL, root / "ds", *IMP[1:], "--max-samples", "0.2",
            "--where", "hour >= 6", "--no-plot", "--out", tmp_path / out,
        )  # fmt: skip
        assert r.exit_code == 0, r.stderr
        doc = json.loads((tmp_path / out / "importance.json").read_text())
        doc.pop("elapsed_s")
        texts.append(json.dumps(doc))
    assert texts[0] == texts[1]


def test_dataset_errors_exit_3_or_2_and_write_nothing(cli, samples, bikes, tmp_path):
    root, ordered = bikes
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    ordered.iloc[:50].to_parquet(mixed / "a.parquet", index=False)
    ordered.iloc[50:100].astype({"hour": float}).to_parquet(mixed / "b.parquet", index=False)
    clash = tmp_path / "clash" / "hour=3"
    clash.mkdir(parents=True)
    ordered.iloc[:50].to_parquet(clash / "p.parquet", index=False)
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "empty", (), 3, "holds no data files"),
        (str(tmp_path / "nope-*.parquet"), (), 3, "matches no file"),
        (mixed, (), 3, "have different columns"),
        (tmp_path / "clash", (), 3, "partition column 'hour'"),
        (root / "ds", ("--where", "hour > 99"), 3, "leaves no rows"),
        (root / "ds", ("--where", "hour >"), 2, "is malformed"),
        (root / "ds", ("--where", "hour == 'x'"), 2, "cannot be applied"),
        (root / "ds", ("--where", "huor > 1"), 2, "did you mean 'hour'"),
    ]
    for data, extra, code, text in cases:
        out = tmp_path / "out"
        r = cli("pdp", samples / MODEL, data, "--target", "count", "-f", "temp", *extra, "--out", out)
        assert r.exit_code == code and text in r.stderr, (data, extra, r.stderr)
        assert len(r.err_lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert not out.exists()


@pytest.mark.slow
def test_ale_info_and_stdin_json_lines(cli, samples, bikes, tmp_path):
    root, ordered = bikes
    ale = ["ale", "--target", "count", "-f", "temp", "-f", "weekday", "--subsample", "400"]
    assert (
        _run(cli, samples, ale, root / "ds")["results"]
        == _run(cli, samples, ale, root / "one.parquet")["results"]
    )
    r = cli("info", samples / MODEL, root / "ds", "--target", "count", "--json")
    assert r.exit_code == 0, r.stderr
    facts = json.loads(r.stdout)["data"]
    assert facts["n_rows"] == 1200 and facts["format"] == "parquet" and facts["missing"] == []
    lines = "".join(
        json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}) + "\n"
        for rec in ordered.to_dict(orient="records")
    )
    r = cli(PDP[0], samples / MODEL, "-", *PDP[1:], *QUIET, input=lines.encode())
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["data"]["format"] == "jsonl"
    assert doc["results"] == _run(cli, samples, PDP, root / "one.parquet")["results"]
