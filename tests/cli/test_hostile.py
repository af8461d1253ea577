"""Issue #13: hostile inputs and situations, through the real CLI.

Each test names the defect of the issue it covers. Subprocess runs where the exit status itself,
signals or other processes are involved; the in-process ``cli`` fixture elsewhere.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.cli.hostile_models import ExitingRegressor, ExitOnLoad, MemoryHungryRegressor, NaNRegressor

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = b'{"previous": "run"}\n'


def inspect_(
    *args: object, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m inspectcli ARGS` in a subprocess (tests.cli.hostile_models importable there)."""
    return subprocess.run(
        [sys.executable, "-m", "inspectcli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A 400-row table (a, b -> y) and the hostile models fitted on it."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.uniform(size=400)})
    y = 2 * X["a"] + X["b"]
    X.assign(y=y).to_csv(root / "data.csv", index=False)
    # exits on its 2nd predict call in a process: the probe passes, the work (or a worker's 2nd) exits
    joblib.dump(ExitingRegressor(0, after=1).fit(X, y), root / "exit.joblib")
    joblib.dump(ExitingRegressor(0, after=1, exc="BaseException").fit(X, y), root / "base.joblib")
    (root / "exitload.pkl").write_bytes(pickle.dumps(ExitOnLoad(0)))
    return root


def _previous(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pdp.json").write_bytes(PREVIOUS)
    return out


# --- defect 2: model code that ends the run --------------------------------------------------------


def test_sys_exit_while_unpickling_is_an_input_error(ws, cli):
    r = cli("info", ws / "exitload.pkl")
    assert r.exit_code == 3, r.stderr
    assert "raised SystemExit(0) while being loaded" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("model", "extra", "subprocess"),
    [
        ("exit.joblib", (), False),  # (the in-process runner, too, would read SystemExit(0) as 0)
        ("exit.joblib", ("--n-jobs", "2", "--method", "brute", "-f", "b"), True),  # loky workers
        ("base.joblib", ("--n-jobs", "2", "--backend", "threading", "--method", "brute", "-f", "b"), False),
    ],
    ids=["in-process", "loky", "threading-BaseException"],
)
def test_model_ending_the_run_is_exit_4_and_fails_the_gate(ws, cli, tmp_path, model, extra, subprocess):
    out = _previous(tmp_path / "out")
    ExitingRegressor._calls = 0  # (counts predict calls per process: the probe passes, the work exits)
    run = inspect_ if subprocess else cli
    r = run(
        "pdp",
        ws / model,
        ws / "data.csv",
        "--target",
        "y",
        "-f",
        "a",
        *extra,
        "--fail-if",
        "range(a) > 100",
        "--out",
        out,
    )
    code = r.returncode if subprocess else r.exit_code
    assert code == 4, (code, r.stderr)
    assert "the model's code raised" in r.stderr and "tried to end the run" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pdp.json"]
    assert (out / "pdp.json").read_bytes() == PREVIOUS


def test_model_ending_importance_is_exit_4(ws, cli, tmp_path):
    r = cli(
        "importance",
        ws / "exit.joblib",
        ws / "data.csv",
        "--target",
        "y",
        "--n-repeats",
        "2",
        "--out",
        tmp_path / "o",
        "--fail-if",
        "mean(a) < -1000",
    )
    assert r.exit_code == 4, r.stderr
    assert "SystemExit(0)" in r.stderr


@pytest.mark.parametrize(
    "how, words",
    [
        ("exit", "the run ended with status 0 before the command finished"),
        ("crash", "the run crashed (SIGSEGV)"),
    ],
)
def test_model_ending_the_process_is_exit_4_and_fails_the_gate(ws, tmp_path, how, words):
    # os._exit(0) in predict made the run exit 0 (the gate "passed"); a segfault exited 139
    from tests.cli.hostile_models import ProcessEndingRegressor

    data = pd.read_csv(ws / "data.csv")
    joblib.dump(ProcessEndingRegressor(how).fit(data[["a", "b"]], data["y"]), tmp_path / "m.joblib")
    out = _previous(tmp_path / "out")
    r = inspect_(
        "pdp", tmp_path / "m.joblib", ws / "data.csv", "--target", "y", "-f", "a",
        "--fail-if", "range(a) > 1000", "--out", out,
    )  # fmt: skip
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: {words}")
    assert (out / "pdp.json").read_bytes() == PREVIOUS


# --- defect 3: non-finite model outputs --------------------------------------------------------------


@pytest.fixture(scope="module")
def nan_models(ws) -> Path:
    frame = pd.read_csv(ws / "data.csv")
    X, y = frame.drop(columns="y"), frame["y"]
    joblib.dump(NaNRegressor(threshold=1.0).fit(X, y), ws / "somenan.joblib")
    joblib.dump(NaNRegressor(threshold=-np.inf).fit(X, y), ws / "allnan.joblib")
    joblib.dump(NaNRegressor(threshold=1.0, value=np.inf).fit(X, y), ws / "someinf.joblib")
    return ws


def test_nan_at_some_grid_points_fails_the_gate(nan_models, tmp_path):
    out = tmp_path / "out"
    r = inspect_(
        "pdp",
        nan_models / "somenan.joblib",
        nan_models / "data.csv",
        "--target",
        "y",
        "-f",
        "a",
        "--grid-resolution",
        "60",
        "--fail-if",
        "range(a) > 100",
        "--out",
        out,
        "--no-plot",
    )
    assert r.returncode == 1, r.stderr
    assert "the model returned NaN for 'a' at" in r.stderr and "of 60 grid point(s) (a = " in r.stderr
    doc = json.loads((out / "pdp.json").read_text())
    avg = doc["results"][0]["average"]
    assert None in avg and any(v is not None for v in avg)
    assert doc["gates"]["passed"] is False
    assert doc["gates"]["conditions"][0]["value"] is None


@pytest.mark.parametrize(
    ("model", "gate", "words"),
    [
        ("allnan.joblib", "range(a) < 1000", "returned NaN for 'a' at 10 of 10 grid point(s)"),
        ("someinf.joblib", "range(a) < 1", "returned inf for 'a'"),
        ("somenan.joblib", "range > 1000", "returned NaN for 'b' at 10 of 10 grid point(s)"),
    ],
)
def test_every_gate_touching_an_undefined_value_fails(nan_models, cli, tmp_path, model, gate, words):
    r = cli(
        "pdp",
        nan_models / model,
        nan_models / "data.csv",
        "--target",
        "y",
        "-f",
        "a",
        "-f",
        "b",
        "--grid-resolution",
        "10",
        "--kind",
        "both",
        "--fail-if",
        gate,
        "--out",
        tmp_path,
        "--no-plot",
    )
    assert r.exit_code == 1, r.stderr
    assert words in r.stderr
    assert "All-NaN slice" not in r.stderr
    if model == "somenan.joblib":  # ICE: the rows are named too (rows with a > 1)
        assert "row(s) of the data (rows " in r.stderr


def test_nan_predictions_in_importance_name_the_rows(nan_models, cli, tmp_path):
    frame = pd.read_csv(nan_models / "data.csv")
    first = int(np.flatnonzero(frame["a"] > 1.0)[0])
    r = cli(
        "importance",
        nan_models / "somenan.joblib",
        nan_models / "data.csv",
        "--target",
        "y",
        "--n-repeats",
        "2",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 4, r.stderr
    assert "predict returned NaN for" in r.stderr and f"(rows {first}, " in r.stderr


# --- defect 4: a result set is replaced as a whole, or not at all -----------------------------------

OLD = b"old run\n"
SET = ("pdp.json", "pdp.csv", "pdp.png")


def _old_set(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name in SET:
        (out / name).write_bytes(OLD)
    return out


def _assert_one_run(out: Path) -> str:
    """The set in ``out`` is the old one or the new one, whole: never a mix."""
    old = [n for n in SET if (out / n).read_bytes() == OLD]
    assert old in ([], list(SET)), f"a mix of two runs: {old} are old, the rest new"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    return "old" if old else "new"


PDP_ARGS = (
    "pdp",
    ROOT / "sample_models" / "diabetes_hgb.joblib",
    ROOT / "sample_models" / "diabetes.parquet",
    "--target",
    "target",
    "-f",
    "bmi",
    "-f",
    "bp",
    "--grid-resolution",
    "5",
)

# Sends SIGTERM to itself from inside the first os.replace of the commit (after the first rename).
KILL_IN_COMMIT = """
import os, runpy, signal, sys
real = os.replace
def replace(src, dst, **kw):
    real(src, dst, **kw)
    if str(dst).endswith(("pdp.json", "pdp.csv", "pdp.png")):
        os.replace = real
        os.kill(os.getpid(), signal.SIGTERM)
os.replace = replace
sys.argv = ["inspect", *sys.argv[1:]]
runpy.run_module("inspectcli", run_name="__main__")
"""


def test_sigterm_between_renames_leaves_one_whole_set(samples, tmp_path):
    out = _old_set(tmp_path / "out")
    r = subprocess.run(
        [sys.executable, "-c", KILL_IN_COMMIT, *map(str, PDP_ARGS), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 143, r.stderr
    assert "Traceback" not in r.stderr
    assert _assert_one_run(out) == "new"  # the signal waited for the commit to finish


@pytest.mark.skipif(not shutil.which("strace"), reason="strace is not installed (make ci-deps)")
def test_sigterm_injected_at_rename_by_strace(samples, tmp_path):
    out = _old_set(tmp_path / "out")
    cmd = [
        "strace",
        "-f",
        "-qq",
        "-o",
        os.devnull,
        "-e",
        "trace=rename,renameat,renameat2",
        "-e",
        "inject=rename,renameat,renameat2:signal=SIGTERM:when=1",
        sys.executable,
        "-m",
        "inspectcli",
        *map(str, PDP_ARGS),
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    if "ptrace" in r.stderr and r.returncode != 143:
        pytest.skip(f"strace cannot trace here: {r.stderr.strip()[:200]}")
    assert r.returncode == 143, r.stderr
    assert _assert_one_run(out) == "new"


def test_files_of_the_old_set_the_new_run_does_not_write_are_removed(samples, cli, tmp_path):
    out = _old_set(tmp_path / "out")
    (out / "notes.txt").write_bytes(b"mine\n")
    r = cli(*PDP_ARGS, "--no-plot", "--format", "json", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "pdp.json"]


def test_a_failed_rename_puts_the_old_set_back(samples, cli, tmp_path):
    out = _old_set(tmp_path / "out")
    (out / "pdp.png").unlink()
    (out / "pdp.png").mkdir()  # os.replace(file, directory) fails: after pdp.json and pdp.csv
    (out / "pdp.png" / "x").write_bytes(b"x")
    r = cli(*PDP_ARGS, "--out", out)
    assert r.exit_code == 2, r.stderr
    assert "the previous ones are kept" in r.stderr
    assert (out / "pdp.json").read_bytes() == OLD and (out / "pdp.csv").read_bytes() == OLD
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


# --- defect 10: result files respect the umask -------------------------------------------------------


@pytest.mark.parametrize("umask", [0o077, 0o022])
def test_result_files_respect_the_umask(samples, cli, tmp_path, umask):
    old = os.umask(umask)
    try:
        r = cli(*PDP_ARGS, "--kind", "both", "--out", tmp_path / "out")
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert set(modes.values()) == {0o666 & ~umask}, modes


# --- defect 5: signals from the first instruction of main() ------------------------------------------

# Sends the signal to itself while the app is imported (``typer`` is imported) or while click parses
# the options; runs the real entry point the way `python -m inspectcli` does.
SIGNAL_AT = """
import importlib.abc, os, runpy, signal, sys
when, sig = sys.argv[1], getattr(signal, sys.argv[2])
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if when == "import" and name == "typer":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), sig)
        return None
sys.meta_path.insert(0, Hook())
if when == "parse":
    import click, typer.core
    core = getattr(typer.core, "_click", click).core
    real = core.Command.parse_args
    def parse_args(self, ctx, args):
        if self.name == "pdp":
            os.kill(os.getpid(), sig)
        return real(self, ctx, args)
    core.Command.parse_args = parse_args
sys.argv = ["inspect", "pdp", "model.joblib", "data.csv", "-f", "a"]
runpy.run_module("inspectcli", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("when", "sig", "code", "word"),
    [
        ("import", "SIGTERM", 143, "terminated"),
        ("parse", "SIGTERM", 143, "terminated"),
        ("import", "SIGINT", 130, "interrupted"),
    ],
)
def test_signals_before_the_command_runs(when, sig, code, word):
    r = subprocess.run(
        [sys.executable, "-c", SIGNAL_AT, when, sig],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        # (SIGINT handled as in a foreground job, even when this suite runs in the background)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert not r.stderr.strip() or r.stderr.strip().splitlines()[-1].startswith(f"error: {word}")


# --- defect 7: terminal escapes read from files ------------------------------------------------------

ESC = "\x1b[2J\x1b]0;pwned\x07"


def _skops_with_type(tmp_path: Path, module: str) -> Path:
    import skops.io as sio
    from sklearn.tree import DecisionTreeRegressor

    X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) % 3})
    path = tmp_path / "m.skops"
    sio.dump(DecisionTreeRegressor(max_depth=2).fit(X, X["a"]), path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"] = module
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return path


def test_skops_type_names_are_escaped_and_never_suggested(cli, tmp_path):
    path = _skops_with_type(tmp_path, "evil" + ESC)
    r = cli("info", path)
    assert r.exit_code == 3, r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert "evil\\x1b[2J" in r.stderr
    assert "--trust evil" not in r.stderr and "do not trust this file" in r.stderr
    # a plain untrusted name is still offered, shell-quoted
    r = cli("info", _skops_with_type(tmp_path, "mypkg.models"))
    assert r.exit_code == 3 and "--trust mypkg.models.DecisionTreeRegressor" in r.stderr


def test_column_names_and_labels_from_data_are_escaped(cli, tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    col = "a" + ESC
    X = pd.DataFrame({col: rng.normal(size=60), "b": rng.normal(size=60)})
    y = np.where(X[col] > 0, "yes" + ESC, "no")
    joblib.dump(LogisticRegression().fit(X, y), tmp_path / "m.joblib")
    X.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    for args in (
        ["info", tmp_path / "m.joblib", tmp_path / "d.csv", "--target", "y"],
        [
            "pdp",
            tmp_path / "m.joblib",
            tmp_path / "d.csv",
            "--target",
            "y",
            "-f",
            "b",
            "--no-plot",
            "--out",
            tmp_path / "o",
            "--class",
            "nope",
        ],
    ):
        r = cli(*args)
        assert "\x1b" not in r.stdout + r.stderr and "\x07" not in r.stdout + r.stderr, r.stdout + r.stderr
        assert "\\x1b[2J" in r.stdout + r.stderr


# --- defects 8, 9, 14: input and usage errors are never "unexpected" ----------------------------------


def _skops_schema(tmp_path: Path, schema: bytes, name: str = "m.skops") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", schema)
    return path


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        (b"{}", "does not describe a saved object"),
        (b"[1, 2]", "does not describe a saved object"),
        (b"[" * 50_000 + b"]" * 50_000, "not a valid skops file"),
        (b" " * (65 * 2**20), "its schema.json decompresses to 65.0 MiB"),
    ],
    ids=["empty-object", "list", "deep", "bomb"],
)
def test_bad_skops_schemas_are_input_errors(cli, tmp_path, schema, words):
    r = cli("info", _skops_schema(tmp_path, schema))
    assert r.exit_code == 3, r.stderr
    assert words in r.stderr and "unexpected" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("pdp", "-f", "bmi", "--subsample", "nan"),
        ("pdp", "-f", "bmi", "--subsample", "inf"),
        ("pdp", "-f", "bmi", "--values", "bmi=nan,inf"),
        ("pdp", "-f", "bmi", "--values", "bmi=1,1e999"),
        ("pdp", "-f", "bmi", "--percentiles", "0.05,nan"),
        ("importance", "--max-samples", "nan"),
        ("importance", "--cluster-threshold", "nan"),
        ("pdp", "-f", "bmi", "--out", "x" * 300),
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_non_finite_numbers_and_long_names_are_usage_errors(samples, cli, tmp_path, args):
    command, *rest = args
    r = cli(
        command,
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        *rest,
        *(() if "--out" in rest else ("--out", tmp_path / "o")),
    )
    assert r.exit_code == 2, r.stderr
    assert "unexpected" not in r.stderr
    option = next(a for a in rest if a.startswith("--"))
    assert option in r.stderr, r.stderr


@pytest.fixture(scope="module")
def importance_json(samples, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("imp")
    from typer.testing import CliRunner

    from inspectcli.cli.app import app

    args = [
        "importance",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--n-repeats",
        "2",
        "--no-plot",
        "--out",
        out,
    ]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.stderr
    return json.loads((out / "importance.json").read_text())


def _edited(doc: dict, edit) -> dict:
    doc = json.loads(json.dumps(doc))
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (lambda d: _edited(d, lambda x: x.update(schema_version="1")), "at $.schema_version"),
        (
            lambda d: _edited(d, lambda x: x["results"][0]["features"][0].pop("importances_std")),
            "at $.results[0].features[0]: 'importances_std' is a required property",
        ),
        (
            lambda d: _edited(d, lambda x: x["results"][0]["features"][0].update(importances_mean="big")),
            "at $.results[0].features[0].importances_mean",
        ),
        (lambda d: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            lambda d: '{"kind": "importance", "schema_version": ' + "9" * 5000 + "}",
            "holds a value no result file",
        ),
        (lambda d: [1, 2], "not an inspectcli result"),
    ],
    ids=["version-as-text", "no-importances_std", "mean-as-text", "deep", "5000-digits", "list"],
)
def test_diff_validates_both_files_against_the_schema(importance_json, cli, tmp_path, content, words):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(importance_json))
    bad = tmp_path / "bad.json"
    made = content(importance_json)
    bad.write_text(made if isinstance(made, str) else json.dumps(made))
    for old, new, role in ((good, bad, "NEW"), (bad, good, "OLD")):
        r = cli("diff", old, new)
        assert r.exit_code == 3, r.stderr
        assert len(r.err_lines) == 1, r.stderr
        assert f"{role} file '{bad}'" in r.stderr and words in r.stderr, r.stderr


# --- defect 6: requests that cannot fit are refused before any work -----------------------------------


def test_huge_n_repeats_is_refused_before_any_work(ws, cli, tmp_path):
    from sklearn.linear_model import LinearRegression

    frame = pd.read_csv(ws / "data.csv").iloc[:60]
    frame.to_csv(tmp_path / "d.csv", index=False)
    joblib.dump(LinearRegression().fit(frame[["a", "b"]], frame["y"]), tmp_path / "lin.joblib")
    r = cli(
        "importance",
        tmp_path / "lin.joblib",
        tmp_path / "d.csv",
        "--target",
        "y",
        "--n-repeats",
        "1000000000",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 2, r.stderr
    assert "--n-repeats 1000000000" in r.stderr and "GiB of memory" in r.stderr
    assert "120,000,000,000 rows to predict" in r.stderr


def test_request_is_measured_against_ulimit(samples, tmp_path):
    """Under ``ulimit -v`` the same estimate refuses far smaller requests (not a MemoryError)."""
    import resource

    def limit():  # 2.5 GB of address space: enough to start, not for 3 million repeats
        resource.setrlimit(resource.RLIMIT_AS, (2500 * 2**20, resource.RLIM_INFINITY))

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "inspectcli",
            "importance",
            samples / "diabetes_hgb.joblib",
            samples / "diabetes.parquet",
            "--target",
            "target",
            "--n-repeats",
            "3000000",
            "--out",
            tmp_path,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert r.returncode == 2, r.stderr
    assert "--n-repeats 3000000" in r.stderr and "this process can use" in r.stderr


def test_huge_grids_with_ice_are_refused(samples, cli, tmp_path):
    values = ",".join(str(v) for v in np.linspace(-0.1, 0.2, 3000))
    r = cli(
        "pdp",
        samples / "diabetes_hgb.joblib",
        samples / "diabetes.parquet",
        "--target",
        "target",
        "--pair",
        "bmi,bp",
        "--values",
        f"bmi={values}",
        "--values",
        f"bp={values}",
        "--kind",
        "both",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 2, r.stderr
    assert "--values: 3 curve(s) of up to 3,000 × 3,000 grid points" in r.stderr and "with ICE" in r.stderr


def test_memory_error_is_never_unexpected(ws, cli, tmp_path):
    frame = pd.read_csv(ws / "data.csv")
    joblib.dump(MemoryHungryRegressor().fit(frame[["a", "b"]], frame["y"]), tmp_path / "m.joblib")
    r = cli(
        "pdp", tmp_path / "m.joblib", ws / "data.csv", "--target", "y", "-f", "a", "--out", tmp_path / "o"
    )
    assert r.exit_code == 4, r.stderr
    assert "out of memory" in r.stderr and "unexpected" not in r.stderr


def test_nan_predictions_in_ale_are_reported(nan_models, cli, tmp_path):
    r = cli(
        "ale",
        nan_models / "somenan.joblib",
        nan_models / "data.csv",
        "--target",
        "y",
        "-f",
        "b",
        "--no-plot",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 0, r.stderr
    assert "the model returned NaN for 'b': its ALE is undefined at" in r.stderr
    doc = json.loads((tmp_path / "ale.json").read_text())
    assert None in doc["results"][0]["ale"]


@pytest.mark.parametrize("args", [["--out", ""], ["--out="], ["-o", ""]])
def test_an_empty_out_is_refused_not_the_current_directory(cli, samples, tmp_path, monkeypatch, args):
    """`--out "$DIR"` with DIR unset: exit 2, one line, and nothing written where we stand."""
    monkeypatch.chdir(tmp_path)
    r = cli("pdp", samples / "diabetes_hgb.joblib", samples / "diabetes.parquet", "--target", "target",
            "-f", "bmi", *args)  # fmt: skip
    assert r.exit_code == 2, r.stderr
    assert r.err_lines == [
        "error: --out is empty (an unset variable?): give a directory, e.g. --out results"
        " — see 'inspect --help'"
    ]
    assert not list(tmp_path.iterdir())
