"""Variants of earlier hostile inputs (#13) on the newer surfaces (#12 MLflow folders, #19 data).

Subprocess runs where a hang or the exit status itself is what goes wrong; the in-process ``cli``
fixture elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def inspect_(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m inspectcli ARGS` in a subprocess, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "inspectcli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "INSPECT_NO_PROGRESS": "1"},
    )


def _mlflow_folder(tmp_path: Path, samples: Path, mlmodel: str) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(samples / "bikes_lgbm.txt", folder / "model.lgb")
    (folder / "MLmodel").write_text(mlmodel)
    return folder


_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "mlmodel, words",
    [
        # nested aliases: 10^9 values in 400 bytes (str() of them hung the run)
        (_LAUGHS + "flavors:\n  lightgbm:\n    data: model.lgb\n    lgb_version: *i\n", "aliases expand"),
        (_LAUGHS + "flavors:\n  lightgbm:\n    data: *i\n", "aliases expand"),
        ("x: &x [1, *x]\nflavors:\n  lightgbm:\n    data: model.lgb\n", "aliases expand"),
        # a NUL in the model file's name was "unexpected ValueError" (exit 4)
        ('flavors:\n  lightgbm:\n    data: "model\\0.lgb"\n', "is not a file name"),
        ("flavors:\n  lightgbm:\n    data: " + "[" * 50_000 + "\n", "unreadable MLmodel"),
        ("a: " + "x" * (1 << 20) + "\nflavors:\n  lightgbm:\n    data: model.lgb\n", "larger than 1 MB"),
    ],
)
def test_hostile_mlmodel_files_are_input_errors(samples, tmp_path, cli, mlmodel, words):
    folder = _mlflow_folder(tmp_path, samples, mlmodel)
    if "lgb_version: *i" in mlmodel:  # the one that hung: in a subprocess, bounded in time
        run = inspect_("info", folder)
        code, lines = run.returncode, run.stderr.strip().splitlines()
    else:
        run = cli("info", folder)
        code, lines = run.exit_code, run.err_lines
    assert code == 3, lines
    assert len(lines) == 1 and lines[0].startswith("error: MLflow model folder") and words in lines[0]


def test_a_few_shared_values_in_mlmodel_still_load(samples, tmp_path, cli):
    folder = _mlflow_folder(
        tmp_path,
        samples,
        "x: &x [1, 2]\ny: *x\nflavors:\n  lightgbm:\n    data: model.lgb\n    lgb_version: 4.5.0\n",
    )
    run = cli("info", folder, "--json")
    assert run.exit_code == 0, run.stderr
    assert '"4.5.0"' in run.stdout


# --- native model files that crash the libraries' own parsers ---------------------------------------


def _lightgbm_one_size_off(samples: Path, path: Path) -> Path:
    # one tree's recorded size off by 7 (an edited or badly copied file): LightGBM aborts (SIGABRT)
    text = (samples / "bikes_lgbm.txt").read_text()
    head, rest = text.split("tree_sizes=", 1)
    first, tail = rest.split(" ", 1)
    path.write_text(f"{head}tree_sizes={int(first) + 7} {tail}")
    return path


def _xgboost_deep(path: Path) -> Path:
    # XGBoost's JSON parser recurses once per level: 200,000 levels overflow its stack (SIGSEGV)
    n = 200_000
    path.write_text('{"learner": ' + "[" * n + "]" * n + "}")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("make", ["lightgbm", "xgboost"])
def test_native_files_that_crash_the_library_are_input_errors(samples, tmp_path, make):
    model = (
        _lightgbm_one_size_off(samples, tmp_path / "m.txt")
        if make == "lightgbm"
        else _xgboost_deep(tmp_path / "m.json")
    )
    run = inspect_("pdp", model, samples / "bikes.parquet", "--target", "count", "--out", tmp_path / "out")
    assert run.returncode == 3, (run.returncode, run.stderr[-500:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a damaged" in lines[0] and "crashed reading it: SIG" in lines[0]
    assert run.stdout == "" and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_native_file_loads_after_the_library_used_its_threads(tmp_path):
    # The child parse of a process whose OpenMP threads had run (a notebook that just fitted a
    # model) waited forever for them: it parses on one thread, as the real parse does.
    script = f"""
import numpy as np, lightgbm as lgb
from inspectcli import load_model
X = np.random.RandomState(0).rand(500, 4); y = X[:, 0]
m = lgb.LGBMRegressor(n_estimators=5, verbose=-1, n_jobs=2).fit(X, y)
m.predict(X)
m.booster_.save_model({str(tmp_path / "m.txt")!r})
loaded = load_model({str(tmp_path / "m.txt")!r}).estimator
assert np.array_equal(loaded.predict(X), m.predict(X))
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-500:]


# --- JSON Lines: nesting and long lines --------------------------------------------------------------


@pytest.fixture
def friedman_rows(samples):
    import pandas as pd

    return pd.read_parquet(samples / "friedman.parquet").iloc[:200]


def _jsonl(frame, path: Path, first_line_extra: str = "") -> Path:
    lines = frame.to_json(orient="records", lines=True).splitlines()
    lines[0] = lines[0][:-1] + first_line_extra + "}"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_deeply_nested_json_lines_are_an_input_error(samples, friedman_rows, tmp_path):
    # pyarrow's JSON parser overflowed its stack on this (SIGSEGV, exit 139)
    n = 100_000
    data = _jsonl(friedman_rows, tmp_path / "d.jsonl", ', "note": ' + "[" * n + "]" * n)
    run = inspect_("info", samples / "friedman_hgb.joblib", data)
    assert run.returncode == 3, (run.returncode, run.stderr[-300:])
    assert run.stderr.strip().splitlines() == [
        f"error: cannot read '{data}' as JSON Lines (a record is nested 100001 levels deep) — give one"
        " flat JSON object per line (at most 64 levels)"
    ]


def test_json_lines_with_a_long_line_are_read(samples, friedman_rows, tmp_path, cli):
    # a 3 MB text value (and brackets inside strings) on one line: refused before ("straddling object")
    extra = ', "note": "' + "[{" * 100 + "x" * 3_000_000 + '"'
    data = _jsonl(friedman_rows, tmp_path / "d.jsonl", extra)
    run = cli(
        "pdp", samples / "friedman_hgb.joblib", data, "--target", "y", "-f", "x0", "--json", "--no-plot"
    )
    plain = cli(
        "pdp", samples / "friedman_hgb.joblib", _jsonl(friedman_rows, tmp_path / "p.jsonl"),
        "--target", "y", "-f", "x0", "--json", "--no-plot",
    )  # fmt: skip
    assert run.exit_code == 0 and plain.exit_code == 0, run.stderr
    import json

    assert json.loads(run.stdout)["results"] == json.loads(plain.stdout)["results"]


# --- --where: size bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where, words",
    [
        ("(" * 2000 + "x0 > 0" + ")" * 2000, "nested over 32 deep"),
        ("not " * 2000 + "x0 > 0", "nested over 32 deep"),
        # 20,000 chained comparisons segfaulted pyarrow's evaluation; 2,000 were a RecursionError (exit 4)
        (" or ".join(["x0 > 0"] * 2000), "over 256 comparisons"),
    ],
)
def test_huge_where_filters_are_usage_errors(samples, cli, tmp_path, where, words):
    model, data = samples / "friedman_hgb.joblib", samples / "friedman.parquet"
    run = cli("pdp", model, data, "--target", "y", "-f", "x0", "--where", where, "--out", tmp_path / "o")
    assert run.exit_code == 2 and not (tmp_path / "o").exists(), run.stderr
    assert len(run.err_lines) == 1 and "is too large" in run.stderr and words in run.stderr


def test_where_at_its_bounds_still_filters(samples):
    from inspectcli.loading.data import open_data

    chain = " or ".join(["x0 > 0.5"] * 256)
    nested = "(" * 32 + "x0 > 0.5" + ")" * 32
    n = open_data(samples / "friedman.parquet", where="x0 > 0.5").n_rows
    assert open_data(samples / "friedman.parquet", where=chain).n_rows == n
    assert open_data(samples / "friedman.parquet", where=nested).n_rows == n


def test_a_partition_column_named_twice_in_a_path_is_an_input_error(samples, tmp_path, cli):
    # k=1/k=2/: pyarrow read k as 1 while `--where "k == 2"` left no rows
    import pandas as pd

    part = tmp_path / "ds" / "k=1" / "k=2"
    part.mkdir(parents=True)
    pd.read_parquet(samples / "friedman.parquet").iloc[:100].to_parquet(part / "p.parquet")
    run = cli("pdp", samples / "friedman_hgb.joblib", tmp_path / "ds", "--target", "y", "-f", "x0",
              "--out", tmp_path / "o")  # fmt: skip
    assert run.exit_code == 3 and not (tmp_path / "o").exists(), run.stderr
    assert run.err_lines == [
        "error: partition column 'k' is named twice in the path of 'k=1/k=2/p.parquet'"
        f" (in '{tmp_path / 'ds'}') — give each partition column one directory level:"
        " its value would be ambiguous"
    ]


@pytest.mark.parametrize("kind", ["parquet", "csv", "dataset"])
def test_data_written_between_opening_and_reading_is_an_input_error(samples, tmp_path, monkeypatch, kind):
    """The SHA-256 recorded in the results is taken when DATA is opened: a file rewritten before
    its rows are read (same name, other rows) is refused, not read under the old digest."""
    import pandas as pd

    from inspectcli.errors import DataLoadError
    from inspectcli.loading.data import open_data

    frame = pd.read_parquet(samples / "diabetes.parquet")
    if kind == "dataset":
        (tmp_path / "d").mkdir()
        target = tmp_path / "d" / "part-0.parquet"
        frame.to_parquet(target)
        path = tmp_path / "d"
    else:
        target = tmp_path / f"data.{kind}"
        path = target
        frame.to_parquet(target) if kind == "parquet" else frame.to_csv(target, index=False)
    opened = open_data(str(path))
    assert opened.read().n_rows == len(frame)  # unchanged: read as often as needed
    changed = frame.iloc[::-1]
    if kind == "csv":  # read whole when opened: what it holds is what was hashed
        changed.to_csv(target, index=False)
        assert opened.read().frame.equals(frame)
        # rewritten between its hashing and its parsing, in open_data itself
        from inspectcli.loading import data as data_module

        real = data_module.sha256_of

        def hash_then_write(f, *args):
            digest = real(f, *args)
            target.write_text(target.read_text() + ",".join(["0.5"] * frame.shape[1]) + "\n")
            return digest

        monkeypatch.setattr(data_module, "sha256_of", hash_then_write)
        with pytest.raises(DataLoadError, match="changed while it was being read"):
            open_data(str(path))
        return
    changed.to_parquet(target)
    with pytest.raises(DataLoadError, match="changed while it was being read"):
        opened.read()
