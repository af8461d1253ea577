"""Data where it lives (issue #19): Parquet datasets (hive partitions, several row groups), globs,
Arrow IPC / Feather and JSON Lines read as one table, and reads of only some rows."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from inspectcli.cli.handling import cli_message
from inspectcli.errors import DataLoadError, UsageError
from inspectcli.loading.data import load_dataset, open_data


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "s": rng.choice(["red", "green", "blue"], n),
            "year": 2020 + rng.integers(0, 3, n),
        }
    )


def _hive(frame: pd.DataFrame, root, row_group_size: int = 40) -> pd.DataFrame:
    """Write ``frame`` partitioned by year; return it in the dataset's row order."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_to_dataset(table, root, partition_cols=["year"], row_group_size=row_group_size)
    ordered = frame.sort_values("year", kind="stable").reset_index(drop=True)
    return ordered[["x", "k", "s", "year"]]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        assert a[c].astype(object).tolist() == b[c].astype(object).tolist(), c


def test_hive_dataset_reads_like_one_file(frame, tmp_path):
    expected = _hive(frame, tmp_path / "d")
    src = open_data(tmp_path / "d")
    assert src.format == "parquet" and src.columns == ["x", "k", "s", "year"] and src.n_rows == len(frame)
    assert src.n_units > 3  # several row groups per part file
    full = src.read()
    _same(full.frame, expected)
    assert full.frame["year"].dtype == np.int32  # typed as pyarrow infers partition values
    assert [f.path.split("/")[0] for f in full.files] == ["year=2020", "year=2021", "year=2022"]
    assert all(f.bytes > 0 and len(f.sha256) == 64 for f in full.files)
    assert full.sha256 == open_data(tmp_path / "d").sha256  # a stable fingerprint


def test_reading_some_rows_reads_only_their_row_groups(frame, tmp_path):
    expected = _hive(frame, tmp_path / "d")
    src = open_data(tmp_path / "d")
    rows = np.array([500, 3, 41, 42, 599])
    got = src.read(["s", "x"], rows=rows)
    _same(got.frame, expected.iloc[rows][["x", "s"]].reset_index(drop=True))
    assert got.n_total == len(frame) and got.n_rows == 5
    assert src.units_read == 4 < src.n_units  # rows 41 and 42 share a row group
    with pytest.raises(ValueError):
        src.read(rows=np.array([len(frame)]))


def test_a_filter_on_partitions_counts_each_row_group_once(frame, tmp_path):
    """``year >= 2021`` holds for whole partitions: pyarrow counted each of their row groups as
    the whole file (rows past a row group's end were then asked for)."""
    expected = _hive(frame, tmp_path / "d")
    src = open_data(tmp_path / "d", where="year >= 2021")
    kept = expected[expected.year >= 2021].reset_index(drop=True)
    assert src.n_rows == len(kept)
    rows = np.arange(0, len(kept), 7)
    _same(src.read(rows=rows).frame, kept.iloc[rows].reset_index(drop=True))


@pytest.mark.parametrize(
    "where, mask",
    [
        ("year >= 2021 and s in ('red', 'blue')", lambda f: (f.year >= 2021) & f.s.isin(["red", "blue"])),
        ("x < -0.5 or k == 4", lambda f: (f.x < -0.5) | (f.k == 4)),
        ('not (k != 2) and `s` != "green"', lambda f: (f.k == 2) & (f.s != "green")),
        ("s not in ('red')", lambda f: f.s != "red"),
    ],
)
def test_where_selects_the_same_rows_in_every_format(frame, tmp_path, where, mask):
    expected = _hive(frame, tmp_path / "d")
    want = expected[mask(expected)].reset_index(drop=True)
    expected.to_csv(tmp_path / "one.csv", index=False)
    expected.to_parquet(tmp_path / "one.parquet", index=False)
    for path in (tmp_path / "d", tmp_path / "one.csv", tmp_path / "one.parquet"):
        src = open_data(path, where=where)
        assert src.n_rows == len(want), path
        got = src.read()
        _same(got.frame.astype({"year": "int64"}), want)
        rows = np.array([0, len(want) - 1])
        _same(src.read(rows=rows).frame.astype({"year": "int64"}), want.iloc[rows].reset_index(drop=True))


def test_globs_feather_and_json_lines(frame, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[chunk].to_parquet(parts / f"part-{2 - i}.parquet", index=False)  # names sort backwards
    expected = pd.concat([frame.iloc[c] for c in np.array_split(np.arange(len(frame)), 3)[::-1]])
    got = load_dataset(str(parts / "*.parquet"))
    _same(got.frame, expected.reset_index(drop=True))
    assert [f.path for f in got.files] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    feather.write_feather(frame, tmp_path / "t.feather")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        feather.write_feather(frame, tmp_path / "v1.feather", version=1)
    with pa.OSFile(str(tmp_path / "t.arrows"), "wb") as sink:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    with open(tmp_path / "t.jsonl", "w") as fh:
        for rec in frame.to_dict(orient="records"):
            fh.write(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}) + "\n")
    (tmp_path / "t.ndjson.txt").write_bytes((tmp_path / "t.jsonl").read_bytes())
    for name, kind in [
        ("t.feather", "arrow"),
        ("v1.feather", "feather-v1"),
        ("t.arrows", "arrow-stream"),
        ("t.jsonl", "jsonl"),
        ("t.ndjson.txt", "jsonl"),  # sniffed by content
    ]:
        got = load_dataset(tmp_path / name)
        assert got.format == kind, name
        _same(got.frame, frame)


def test_dataset_errors(frame, tmp_path):
    def fails(path, *texts, where=None, error=DataLoadError):
        with pytest.raises(error) as info:
            open_data(path, where=where)
        shown = cli_message(info.value)  # as the CLI says it: parameters spelled as flags
        for text in texts:
            assert text in shown, shown

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    fails(tmp_path / "empty", "holds no data files")
    fails(str(tmp_path / "nothing*.parquet"), "matches no file")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    frame.iloc[:10].to_parquet(mixed / "a.parquet", index=False)
    frame.iloc[10:20].astype({"k": float}).to_parquet(mixed / "b.parquet", index=False)
    fails(mixed, "different columns", "'a.parquet'", "'b.parquet'", "k: double")
    formats = tmp_path / "formats"
    formats.mkdir()
    frame.iloc[:10].to_parquet(formats / "a.parquet", index=False)
    frame.iloc[:10].to_csv(formats / "b.csv", index=False)
    fails(formats, "mixes file formats")
    clash = tmp_path / "clash" / "k=1"
    clash.mkdir(parents=True)
    frame.iloc[:10].to_parquet(clash / "a.parquet", index=False)
    fails(tmp_path / "clash", "partition column 'k'", "also a column inside its files")
    _hive(frame, tmp_path / "d")
    fails(tmp_path / "d", "leaves no rows", where="year > 3000")
    fails(tmp_path / "d", "names column 'yaer'", "did you mean 'year'", where="yaer > 1", error=UsageError)
    fails(tmp_path / "d", "cannot be applied", where="s > 1", error=UsageError)
    for bad in ("x >", "x > 1 and", "x in (1", "x ~ 1", "(x > 1", "", "x > 1 1"):
        fails(tmp_path / "d", "--where", where=bad, error=UsageError)
