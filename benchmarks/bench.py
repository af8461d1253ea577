"""inspectcli against scikit-learn on the same work, in one process, interleaved.

    python benchmarks/bench.py [--quick] [--repeats 3] [--write benchmarks/RESULTS.md]
                               [--cases friedman_hgb,bikes_hgb,friedman_lgbm,friedman_xgb,friedman_cb]
                               [--no-parallel] [--no-memory]

For every case the same model and data go through scikit-learn (``partial_dependence(method=
"brute")``, ``permutation_importance``) and through inspectcli's API, in turns (sklearn, ours,
sklearn, ours, … with the order rotated each round), and the medians are compared. Beside them:

- the *predict floor*: the model's plain prediction method on as many rows as the work predicts,
  timed on one call of up to 1,000,000 stacked rows and scaled to the total (no engine that
  predicts every row can beat it; the tree-paths engine does not predict every row);
- the peak RSS each call adds to the process (Linux: freed heap memory is handed back with
  malloc_trim and the high-water mark is reset through /proc/self/clear_refs before each call);
- the largest absolute difference between the two results.

Headline rows use n_jobs=1 on both sides, with BLAS/OpenMP limited to one thread (the 2-core
machine these were first run on gives about one core of throughput). n_jobs=2 rows are separate.
The memory section runs the ``inspect`` CLI as a subprocess on a generated 1,000,000-row Parquet
file and compares its peak RSS with ``--memory-budget`` + 1.5 × the dataset in memory.

Generated inputs (the 1M-row table, its model, the random-forest case) go to benchmarks/data/
(git-ignored); the other models are the sample models (``python sample_models/build.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from inspectcli.engines.execution import Execution

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
DATA = ROOT / "benchmarks" / "data"
FLOOR_CAP_ROWS = 1_000_000
MB = 2**20
# Importance on tree models: what engine="auto" picks (tree paths) and the stacked predictions.
BOTH = ("auto", "batched")


# ------------------------------------------------------------------------------------------------
# memory probes (Linux /proc; elsewhere reported as n/a)


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim() -> None:
    """Hand freed heap memory back to the OS (glibc), so a call's allocations show up in RSS."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------
# inputs


def ensure_samples() -> None:
    needed = ["friedman_hgb.joblib", "bikes_hgb.joblib", "cancer_logreg.joblib", "diabetes_hgb.joblib"]
    if all((SAMPLES / f).exists() for f in needed):
        return
    print("building the sample models (sample_models/build.py) …", file=sys.stderr)
    subprocess.run([sys.executable, str(SAMPLES / "build.py")], check=True)


def ensure_rf() -> Path:
    """RandomForestRegressor on the first 5,000 rows of the Friedman sample data."""
    path = DATA / "friedman_rf.joblib"
    if not path.exists():
        from sklearn.ensemble import RandomForestRegressor

        DATA.mkdir(parents=True, exist_ok=True)
        frame = pd.read_parquet(SAMPLES / "friedman.parquet").iloc[:5000]
        model = RandomForestRegressor(n_estimators=100, min_samples_leaf=5, random_state=0, n_jobs=1)
        model.fit(frame.drop(columns="y"), frame["y"])
        joblib.dump(model, path)
    return path


def ensure_gbm(library: str) -> Path | None:
    """LightGBM / XGBoost / CatBoost (100 trees, one thread) on the 50,000-row Friedman sample data."""
    path = DATA / f"friedman_{library}.joblib"
    if not path.exists():
        try:
            if library == "lgbm":
                import lightgbm as lgb

                model = lgb.LGBMRegressor(n_estimators=100, random_state=0, n_jobs=1, verbose=-1)
            elif library == "xgb":
                import xgboost as xgb

                model = xgb.XGBRegressor(n_estimators=100, max_depth=6, tree_method="hist", n_jobs=1)
            else:
                import catboost as cb

                model = cb.CatBoostRegressor(
                    iterations=100,
                    depth=6,
                    thread_count=1,
                    random_seed=0,
                    verbose=0,
                    allow_writing_files=False,
                )
        except ImportError:
            return None
        DATA.mkdir(parents=True, exist_ok=True)
        frame = pd.read_parquet(SAMPLES / "friedman.parquet")
        model.fit(frame.drop(columns="y"), frame["y"])
        joblib.dump(model, path)
    return path


def ensure_million() -> tuple[Path, Path]:
    """A Friedman-like 1,000,000 × 10 Parquet table (+ target y) and an HGB model fitted on part of it."""
    data, model_path = DATA / "friedman_1m.parquet", DATA / "friedman_1m_hgb.joblib"
    if not data.exists() or not model_path.exists():
        from sklearn.datasets import make_friedman1
        from sklearn.ensemble import HistGradientBoostingRegressor

        DATA.mkdir(parents=True, exist_ok=True)
        X, y = make_friedman1(n_samples=1_000_000, n_features=10, noise=1.0, random_state=1)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y)
        model = HistGradientBoostingRegressor(max_iter=30, random_state=0)
        model.fit(frame.iloc[:100_000, :10], y[:100_000])
        joblib.dump(model, model_path)
        frame.to_parquet(data, index=False, engine="pyarrow")
    return data, model_path


def load_sample(name: str, target: str, fmt: str = "parquet") -> tuple[Any, pd.DataFrame, np.ndarray]:
    model = joblib.load(SAMPLES / f"{name}.joblib")
    stem = name.split("_")[0]
    frame = (
        pd.read_csv(SAMPLES / f"{stem}.csv") if fmt == "csv" else pd.read_parquet(SAMPLES / f"{stem}.parquet")
    )
    return model, frame.drop(columns=target), frame[target].to_numpy()


# ------------------------------------------------------------------------------------------------
# work


@dataclass
class Work:
    """One piece of work, done by scikit-learn and by inspectcli's API (one or more engines)."""

    case: str
    what: str
    model: Any
    X: Any
    rows_predicted: int  # rows the work predicts (for the floor)
    floor_method: str
    sklearn: Callable[[], Any]
    ours: dict[str, Callable[[], Any]]  # label -> call
    engine_of: Callable[[Any], str]
    diff: Callable[[Any, Any], float]
    notes: dict[str, str] = field(default_factory=dict)  # label -> why not measured
    n_jobs: int = 1


@dataclass
class Row:
    case: str
    what: str
    label: str
    engine: str
    sk_s: float | None
    ours_s: float | None
    floor_s: float | None
    sk_peak: float | None
    ours_peak: float | None
    diff: float | None
    note: str = ""
    n_jobs: int = 1
    sk_times: list[float] = field(default_factory=list)
    ours_times: list[float] = field(default_factory=list)
    sk_cpu: float | None = None  # median CPU seconds of the benchmark process (n_jobs=1: the work)
    ours_cpu: float | None = None


def _sk_spec(feature: Any) -> list[Any]:
    """scikit-learn's ``features`` for one PD: [name] for one feature, [a, b] for a pair."""
    return list(feature) if isinstance(feature, tuple) else [feature]


def sk_pdp(model: Any, X: Any, features: list[Any], *, kind: str = "average", **kw: Any) -> list[Any]:
    from sklearn.inspection import partial_dependence

    return [partial_dependence(model, X, _sk_spec(f), method="brute", kind=kind, **kw) for f in features]


def sk_pdp_parallel(model: Any, X: Any, features: list[Any], n_jobs: int, **kw: Any) -> list[Any]:
    """Features in parallel, as PartialDependenceDisplay.from_estimator(n_jobs=…) does."""
    from joblib import Parallel, delayed
    from sklearn.inspection import partial_dependence

    return Parallel(n_jobs=n_jobs)(
        delayed(partial_dependence)(model, X, _sk_spec(f), method="brute", kind="average", **kw)
        for f in features
    )


def ours_pdp(model: Any, X: Any, features: list[Any], **kw: Any) -> list[Any]:
    from inspectcli import partial_dependence

    return partial_dependence(model, X, features, method="brute", **kw)


def pdp_diff(sk: list[Any], ours: list[Any]) -> float:
    worst = 0.0
    for a, b in zip(sk, ours):
        if "average" in a and b.average is not None:
            worst = max(worst, float(np.max(np.abs(np.asarray(a["average"]) - b.average))))
        if "individual" in a and b.individual is not None:
            worst = max(worst, float(np.max(np.abs(np.asarray(a["individual"]) - b.individual))))
    return worst


def pdp_engine(res: list[Any]) -> str:
    return "+".join(sorted({r.engine for r in res}))


def imp_diff(sk: Any, ours: Any) -> float:
    return float(np.max(np.abs(sk.importances - ours.scorers[0].importances)))


def grid_points(X: Any, features: list[Any], categorical: list[str], resolution: int) -> int:
    """Grid points of all feature sets, built as the engines build them."""
    from inspectcli.engines.grid import feature_grid, is_categorical_dtype

    total = 0
    for spec in features:
        size = 1
        for name in (spec,) if isinstance(spec, str) else spec:
            col = X[name]
            cat = name in categorical or is_categorical_dtype(col)
            size *= len(feature_grid(col, name=name, categorical=cat, grid_resolution=resolution))
        total += size
    return total


def auto_engine(model: Any, X: Any, features: list[Any], **kw: Any) -> str:
    """Which engine engine="auto" picks for this model (run on a few rows)."""
    from inspectcli import partial_dependence

    few = X.iloc[:20] if hasattr(X, "iloc") else X[:20]
    kw = {**kw, "grid_resolution": 3, "custom_values": None}
    return pdp_engine(partial_dependence(model, few, features[:1], method="brute", engine="auto", **kw))


def _tree_paths_take(model: Any, method: str) -> bool:
    try:
        from inspectcli.engines.trees import supports_tree_paths
    except ImportError:  # an older build
        return False
    return bool(supports_tree_paths(model, method))


def pdp_work(
    case: str,
    what: str,
    model: Any,
    X: Any,
    features: list[Any],
    *,
    kind: str = "average",
    sk_kw: dict[str, Any] | None = None,
    ours_kw: dict[str, Any] | None = None,
    n_jobs: int = 1,
) -> Work:
    sk_kw = dict(sk_kw or {})
    ours_kw = dict(ours_kw or {})
    categorical = list(sk_kw.get("categorical_features") or [])
    from inspectcli.engines.response import resolve_response

    method = resolve_response(model, response_method="auto").method
    if n_jobs == 1:
        sklearn = lambda: sk_pdp(model, X, features, kind=kind, **sk_kw)  # noqa: E731
    else:
        sklearn = lambda: sk_pdp_parallel(model, X, features, n_jobs, **sk_kw)  # noqa: E731
    ours: dict[str, Callable[[], Any]] = {
        "batched": lambda: ours_pdp(
            model, X, features, kind=kind, engine="batched", execution=Execution(n_jobs=n_jobs), **ours_kw
        )
    }
    notes = {}
    if n_jobs == 1:
        auto = auto_engine(model, X, features, **ours_kw)
        if auto == "batched":
            notes["auto"] = (
                "engine=auto runs the batched engine here (the tree-paths engine is not in this build or "
                "does not take this model): same code path as the row above, not measured twice"
            )
        else:
            ours["auto"] = lambda: ours_pdp(model, X, features, kind=kind, engine="auto", **ours_kw)
        if auto == "batched" and _tree_paths_take(model, method):
            # auto predicts, but the tree-path engine takes the model (XGBoost's float32 sums): its row too
            notes["auto"] = "engine=auto runs the batched engine here (it predicts this model's PDs)"
            ours["tree-paths"] = lambda: ours_pdp(
                model, X, features, kind=kind, engine="tree-paths", **ours_kw
            )
    n = X.shape[0]
    return Work(
        case,
        what,
        model,
        X,
        n * grid_points(X, features, categorical, ours_kw.get("grid_resolution", 100)),
        method,
        sklearn,
        ours,
        pdp_engine,
        pdp_diff,
        notes,
        n_jobs,
    )


def imp_work(
    case: str,
    what: str,
    model: Any,
    X: Any,
    y: Any,
    *,
    n_repeats: int,
    engines: tuple[str, ...] = ("auto",),
    n_jobs: int = 1,
) -> Work:
    from sklearn.inspection import permutation_importance as sk_pi

    from inspectcli import permutation_importance

    def ours_call(engine: str) -> Callable[[], Any]:
        return lambda: permutation_importance(
            model,
            X,
            y,
            n_repeats=n_repeats,
            random_state=0,
            engine=engine,
            execution=Execution(n_jobs=n_jobs),
        )

    return Work(
        case,
        what,
        model,
        X,
        X.shape[0] * (X.shape[1] * n_repeats + 1),
        "predict",
        lambda: sk_pi(model, X, y, n_repeats=n_repeats, random_state=0, n_jobs=n_jobs),
        {e: ours_call(e) for e in engines},
        lambda r: r.engine,
        imp_diff,
        n_jobs=n_jobs,
    )


def build_work(quick: bool, cases: set[str] | None, parallel: bool) -> list[Work]:
    works: list[Work] = []

    def want(name: str) -> bool:
        return cases is None or name in cases

    if want("friedman_hgb"):
        model, X, y = load_sample("friedman_hgb", "y")
        names = list(X.columns)
        if quick:
            Xq, yq = X.iloc[:5000], y[:5000]
            works.append(
                pdp_work(
                    "friedman_hgb",
                    "PDP 2 features, grid 10 (5,000 rows)",
                    model,
                    Xq,
                    names[:2],
                    sk_kw={"grid_resolution": 10},
                    ours_kw={"grid_resolution": 10},
                )
            )
            works.append(
                imp_work("friedman_hgb", "importance, 3 repeats (5,000 rows)", model, Xq, yq, n_repeats=3)
            )
        else:
            g = {"grid_resolution": 10}
            works.append(
                pdp_work("friedman_hgb", "PDP all 10 features, grid 10", model, X, names, sk_kw=g, ours_kw=g)
            )
            works.append(
                pdp_work(
                    "friedman_hgb",
                    "ICE (kind=both) x0, x1, grid 10",
                    model,
                    X,
                    names[:2],
                    kind="both",
                    sk_kw=g,
                    ours_kw=g,
                )
            )
            works.append(
                imp_work("friedman_hgb", "importance, 10 repeats", model, X, y, n_repeats=10, engines=BOTH)
            )
            g100 = {"grid_resolution": 100}
            works.append(
                pdp_work("friedman_hgb", "PDP x0, grid 100", model, X, names[:1], sk_kw=g100, ours_kw=g100)
            )
            if parallel:
                works.append(
                    pdp_work(
                        "friedman_hgb",
                        "PDP all 10 features, grid 10",
                        model,
                        X,
                        names,
                        sk_kw=g,
                        ours_kw=g,
                        n_jobs=2,
                    )
                )
                works.append(
                    imp_work("friedman_hgb", "importance, 10 repeats", model, X, y, n_repeats=10, n_jobs=2)
                )
    if want("bikes_hgb") and not quick:
        model, X, y = load_sample("bikes_hgb", "count")
        # scikit-learn refuses integer columns for PD; both sides get hour as float
        X = X.astype({"hour": np.float64})
        feats = ["hour", "temp", "season", ("hour", "weekday")]
        g = {"grid_resolution": 20}
        works.append(
            pdp_work(
                "bikes_hgb",
                "PDP hour, temp, season, hour×weekday (grid 20)",
                model,
                X,
                feats,
                sk_kw={**g, "categorical_features": ["season", "weekday"]},
                ours_kw=g,
            )
        )
        works.append(imp_work("bikes_hgb", "importance, 10 repeats", model, X, y, n_repeats=10, engines=BOTH))
        if parallel:
            works.append(imp_work("bikes_hgb", "importance, 10 repeats", model, X, y, n_repeats=10, n_jobs=2))
    if want("cancer_logreg"):
        model, X, y = load_sample("cancer_logreg", "target", fmt="csv")
        names = list(X.columns)
        feats = names[:5] if quick else names
        works.append(pdp_work("cancer_logreg", f"PDP {len(feats)} features, grid 100", model, X, feats))
        works.append(
            imp_work(
                "cancer_logreg",
                f"importance, {3 if quick else 10} repeats",
                model,
                X,
                y,
                n_repeats=3 if quick else 10,
                engines=("auto", "batched"),
            )
        )
    if want("diabetes_hgb"):
        model, X, y = load_sample("diabetes_hgb", "target")
        names = list(X.columns)
        feats = names[:4] if quick else names
        works.append(pdp_work("diabetes_hgb", f"PDP {len(feats)} features, grid 100", model, X, feats))
        if not quick:
            works.append(
                pdp_work(
                    "diabetes_hgb", "ICE (kind=both) bmi, s5, grid 100", model, X, ["bmi", "s5"], kind="both"
                )
            )
        works.append(
            imp_work("diabetes_hgb", "importance, 10 repeats", model, X, y, n_repeats=10, engines=BOTH)
        )
    for lib in ("lgbm", "xgb", "cb"):
        case = f"friedman_{lib}"
        path = ensure_gbm(lib) if want(case) and not quick else None
        if path is None:
            continue
        model = joblib.load(path)
        frame = pd.read_parquet(SAMPLES / "friedman.parquet")
        X, y = frame.drop(columns="y"), frame["y"].to_numpy()
        g = {"grid_resolution": 10}
        works.append(
            pdp_work(case, "PDP all 10 features, grid 10", model, X, list(X.columns), sk_kw=g, ours_kw=g)
        )
        works.append(imp_work(case, "importance, 10 repeats", model, X, y, n_repeats=10, engines=BOTH))
    if want("friedman_rf") and not quick:
        model = joblib.load(ensure_rf())
        frame = pd.read_parquet(SAMPLES / "friedman.parquet").iloc[:5000]
        X, y = frame.drop(columns="y"), frame["y"].to_numpy()
        g = {"grid_resolution": 20}
        works.append(
            pdp_work(
                "friedman_rf",
                "PDP 4 features, grid 20 (5,000 rows)",
                model,
                X,
                list(X.columns[:4]),
                sk_kw=g,
                ours_kw=g,
            )
        )
        works.append(
            imp_work(
                "friedman_rf", "importance, 5 repeats (5,000 rows)", model, X, y, n_repeats=5, engines=BOTH
            )
        )
    return works


# ------------------------------------------------------------------------------------------------
# measuring


def forget_kept() -> None:
    """Drop what the tree-path engine keeps between calls on one model (each run starts cold).

    Within one call (the PDs of all features of one model) the trees are read and the split
    bits computed once; across the benchmark's repeated runs on the same model that would be a
    saving no single command sees.
    """
    for name in ("inspectcli.engines.trees._plan", "inspectcli_base.engines.trees._plan"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "forget_kept"):
            module.forget_kept()


def _timed(fn: Callable[[], Any]) -> tuple[float, float, float | None, Any]:
    """(wall seconds, CPU seconds of this process, peak RSS added in MB or None, result) of one call."""
    forget_kept()
    gc.collect()
    _trim()
    before = _status_kb("VmRSS")
    can_peak = _reset_peak() and before is not None
    cpu = time.process_time()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = _status_kb("VmHWM") if can_peak else None
    added = (peak - before) / 1024 if peak is not None and before is not None else None
    return seconds, cpu, added, result


def floor_call(model: Any, X: Any, method: str, total_rows: int) -> Callable[[], float]:
    """A call that predicts one stacked batch and returns the seconds ``total_rows`` rows would take.

    The batch (whole copies of X, up to FLOOR_CAP_ROWS rows) is built once, outside the timing.
    """
    n = X.shape[0]
    copies = max(1, min(total_rows, FLOOR_CAP_ROWS) // n)
    stacked = pd.concat([X] * copies, ignore_index=True) if hasattr(X, "iloc") else np.tile(X, (copies, 1))
    fn = getattr(model, method)

    def run() -> float:
        start = time.perf_counter()
        fn(stacked)
        return (time.perf_counter() - start) * total_rows / len(stacked)

    return run


def measure(work: Work, repeats: int, warmup: bool) -> list[Row]:
    """Median seconds of every side, in rounds (sklearn, ours…, floor) rotated each round."""
    floor = floor_call(work.model, work.X, work.floor_method, work.rows_predicted)
    calls = [("sklearn", work.sklearn), *work.ours.items(), ("floor", floor)]
    if warmup:
        for _, fn in calls:
            fn()
    times: dict[str, list[float]] = {k: [] for k, _ in calls}
    cpus: dict[str, list[float]] = {k: [] for k, _ in calls}
    peaks: dict[str, float | None] = {}
    results: dict[str, Any] = {}
    for i in range(repeats):
        shift = i % len(calls)
        for key, fn in calls[shift:] + calls[:shift]:
            seconds, cpu, peak, result = _timed(fn)
            if key == "floor":
                times[key].append(result)
                continue
            times[key].append(seconds)
            cpus[key].append(cpu)
            if peak is not None:
                peaks[key] = max(peaks.get(key) or 0.0, peak)
            results[key] = result
            del result
    del floor, calls
    rows = []
    sk_s = statistics.median(times["sklearn"])
    floor_s = statistics.median(times["floor"])
    for key in work.ours:
        rows.append(
            Row(
                work.case,
                work.what,
                key,
                work.engine_of(results[key]),
                sk_s,
                statistics.median(times[key]),
                floor_s,
                peaks.get("sklearn"),
                peaks.get(key),
                work.diff(results["sklearn"], results[key]),
                sk_times=times["sklearn"],
                ours_times=times[key],
                sk_cpu=statistics.median(cpus["sklearn"]),
                ours_cpu=statistics.median(cpus[key]),
                n_jobs=work.n_jobs,
            )
        )
    for key, note in work.notes.items():
        empty = (None,) * 6
        rows.append(Row(work.case, work.what, key, "batched", *empty, note, n_jobs=work.n_jobs))
    return rows


# ------------------------------------------------------------------------------------------------
# memory: the CLI on 1,000,000 rows

PEAK_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "t = time.perf_counter() - t\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, t)\n"
)


def cli_peak(args: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in MB, seconds) of one ``inspect`` run in a fresh process tree."""
    inspect = str(Path(sys.executable).with_name("inspect"))
    cmd = [sys.executable, "-c", PEAK_WRAPPER, inspect, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "NO_COLOR": "1"})
    rc, kb, seconds = out.stdout.split()
    return int(rc), int(kb) / 1024, float(seconds)


@dataclass
class MemoryRow:
    command: str
    rows: int
    peak_mb: float
    small_peak_mb: float
    bound_mb: float
    seconds: float
    rc: int

    @property
    def added_mb(self) -> float:
        return self.peak_mb - self.small_peak_mb


def memory_section(budget: str = "256MB") -> tuple[list[MemoryRow], dict[str, Any]]:
    data, model = ensure_million()
    frame_bytes = pd.read_parquet(data).memory_usage(index=False, deep=True).sum()
    budget_mb = int(budget.removesuffix("MB")) * 1e6 / MB
    bound = budget_mb + 1.5 * frame_bytes / MB
    small_model, small_data = SAMPLES / "friedman_hgb.joblib", SAMPLES / "friedman.parquet"
    runs = {
        "pdp": ["pdp", "-f", "x0", "-f", "x3", "--grid-resolution", "5", "--method", "brute"],
        "importance": ["importance", "--n-repeats", "2"],
        "pdp-both": ["pdp", "-f", "x0", "-f", "x3", "--grid-resolution", "5", "--kind", "both"],
        "ale": ["ale"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (command, *opts) in runs.items():
            opts = [*opts, "--target", "y", "--memory-budget", budget, "--out", str(Path(tmp) / name)]
            rc_small, small, _ = cli_peak([command, str(small_model), str(small_data), *opts])
            rc, peak, seconds = cli_peak([command, str(model), str(data), *opts])
            label = " ".join([f"inspect {command}", *opts[: opts.index("--target")]])
            rows.append(MemoryRow(label, 1_000_000, peak, small, bound, seconds, rc or rc_small))
    info = {"dataset_mb": frame_bytes / MB, "budget": budget, "bound_mb": bound}
    return rows, info


# ------------------------------------------------------------------------------------------------
# report


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in (
        "inspectcli",
        "scikit-learn",
        "numpy",
        "pandas",
        "scipy",
        "joblib",
        "pyarrow",
        "dask",
        "distributed",
        "lightgbm",
        "xgboost-cpu",
        "catboost",
    ):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "commit": commit or "unknown",
    }


def _s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _mb(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} MB"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}×"


def _diff(x: float | None) -> str:
    return "—" if x is None else ("0" if x == 0 else f"{x:.1e}")


def timing_table(rows: list[Row]) -> str:
    head = (
        "| case | work | ours: engine | scikit-learn s | ours s | speed-up | speed-up (CPU s) "
        "| predict floor s | sklearn / floor | ours / floor | peak RSS added: sklearn | ours "
        "| max abs diff |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        if r.note:
            lines.append(f"| {r.case} | {r.what} | {r.label} → {r.engine} | | | | | | | | | | {r.note} |")
            continue
        label = r.engine if r.label == r.engine else f"{r.label} → {r.engine}"
        lines.append(
            f"| {r.case} | {r.what} | {label} | {_s(r.sk_s)} | {_s(r.ours_s)} "
            f"| **{_ratio(r.sk_s, r.ours_s)}** | {_ratio(r.sk_cpu, r.ours_cpu) if r.n_jobs == 1 else '—'} "
            f"| {_s(r.floor_s)} | {_ratio(r.sk_s, r.floor_s)} | {_ratio(r.ours_s, r.floor_s)} "
            f"| {_mb(r.sk_peak)} | {_mb(r.ours_peak)} | {_diff(r.diff)} |"
        )
    return head + "\n".join(lines) + "\n"


def memory_table(rows: list[MemoryRow], info: dict[str, Any]) -> str:
    head = (
        f"Dataset in memory: {info['dataset_mb']:.0f} MB (1,000,000 × 10 float64 + target); "
        f"`--memory-budget {info['budget']}`; bound = budget + 1.5 × dataset = {info['bound_mb']:.0f} MB "
        "above the same command's peak on the 50,000-row sample (interpreter, libraries, model).\n\n"
        "| command (1,000,000-row Parquet) | peak RSS | same command, 50,000 rows | added | bound "
        "| within | wall s |\n"
        "|---|---:|---:|---:|---:|---|---:|\n"
    )
    lines = [
        f"| `{r.command}` | {_mb(r.peak_mb)} | {_mb(r.small_peak_mb)} | {_mb(r.added_mb)} "
        f"| {_mb(r.bound_mb)} "
        f"| {'yes' if r.added_mb <= r.bound_mb else '**no**'}{'' if r.rc == 0 else f' (exit {r.rc})'} "
        f"| {_s(r.seconds)} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


DATASETS_MARKER = "<!-- benchmarks/datasets.py: section kept by bench.py -->"


STARTUP_COMMANDS = (("--version",), ("--help",), ("schema", "pdp"))


STARTUP_TITLE = "Start-up of the CLI"
STARTUP_NOTE = (
    "Wall time of a new `inspect` process (median of 7 after one warm-up run): these commands import "
    "neither scikit-learn nor pandas, matplotlib or dask.\n\n"
)


def startup_section(runs: int = 7) -> str:
    """Median wall time of `inspect --version`, `--help` and `schema pdp` (new processes, warm cache)."""
    script = Path(sys.executable).with_name("inspect")
    cmd0 = [str(script)] if script.exists() else [sys.executable, "-m", "inspectcli"]
    python = [sys.executable, "-c", "pass"]
    lines = [
        "| command | median s | min s | max s | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for args in [None, *STARTUP_COMMANDS]:
        cmd = python if args is None else [*cmd0, *args]
        subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        name = "python -c pass (interpreter alone)" if args is None else "inspect " + " ".join(args)
        print(f"startup: {name:<40} median {statistics.median(times):.3f} s", file=sys.stderr)
        lines.append(
            f"| `{name}` | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} | {runs} |"
        )
    return "\n".join(lines) + "\n"


def _replace_section(path: Path, title: str, body: str) -> None:
    """Put ``body`` under ``## title`` in ``path`` (replacing that section, or appended)."""
    text = path.read_text() if path.exists() else ""
    head = f"## {title}\n"
    if head in text:
        before, _, rest = text.partition(head)
        after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        text = before + head + "\n" + body + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + head + "\n" + body
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a subset that runs in about a minute")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side (default 3)")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the n_jobs=2 rows")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1,000,000-row CLI memory runs")
    parser.add_argument("--memory-only", action="store_true", help="only the 1,000,000-row CLI memory runs")
    parser.add_argument("--write", type=Path, help="write the report (Markdown) to this file")
    parser.add_argument("--json", type=Path, help="also write every timing to this JSON file")
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="only the CLI start-up times (with --write: replaces that section of the file)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.startup_only:
        table = startup_section()
        print(table)
        if args.write:
            _replace_section(args.write, STARTUP_TITLE, STARTUP_NOTE + table)
        return

    from threadpoolctl import threadpool_limits

    ensure_samples()
    started = dt.datetime.now(dt.timezone.utc)
    load_before = load_average()
    cases = set(args.cases.split(",")) if args.cases else None
    works = (
        []
        if args.memory_only
        else build_work(args.quick, cases, parallel=not (args.quick or args.no_parallel))
    )
    rows: list[Row] = []
    with threadpool_limits(1):
        for work in works:
            t0 = time.perf_counter()
            warm = args.quick or work.X.shape[0] <= 5000
            got = measure(work, args.repeats, warmup=warm)
            for r in got:
                if not r.note:
                    print(
                        f"{r.case:<14} {r.what:<48} n_jobs={work.n_jobs} {r.label}->{r.engine:<10} "
                        f"sklearn {_s(r.sk_s):>7} s  ours {_s(r.ours_s):>7} s  "
                        f"{_ratio(r.sk_s, r.ours_s):>7}  "
                        f"floor {_s(r.floor_s):>7} s  diff {_diff(r.diff)}",
                        file=sys.stderr,
                    )
            print(f"  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            rows.extend(got)
    serial = [r for r in rows if r.n_jobs == 1]
    par = [r for r in rows if r.n_jobs != 1]
    mem_rows: list[MemoryRow] = []
    mem_info: dict[str, Any] = {}
    if not (args.quick or args.no_memory):
        print("memory: inspect CLI on 1,000,000 rows …", file=sys.stderr)
        mem_rows, mem_info = memory_section()
    startup = "" if args.quick else startup_section()
    load_after = load_average()

    out = ["## n_jobs=1 (headline)\n", timing_table(serial)] if serial else []
    if startup:
        out += [f"\n## {STARTUP_TITLE}\n", STARTUP_NOTE + startup]
    if par:
        out += ["\n## n_jobs=2\n", timing_table(par)]
    if mem_rows:
        out += ["\n## Peak memory of the CLI on 1,000,000 rows\n", memory_table(mem_rows, mem_info)]
    report = "\n".join(out)
    print(report)
    if args.write:
        machine, versions = _machine(), _versions()
        text = [
            "# Benchmarks: inspectcli vs scikit-learn\n",
            f"Generated by `make bench` (`python benchmarks/bench.py --write {args.write}`) on "
            f"{started:%Y-%m-%d %H:%M} UTC, {args.repeats} interleaved runs per side, medians.\n",
            "- **speed-up** = scikit-learn median / ours median (above 1: we are faster). "
            "Same model, same data, same process, runs interleaved (sklearn, ours, … rotated each round).",
            "- **speed-up (CPU s)** = the same ratio on the CPU seconds of the benchmark process, which "
            "other processes on the machine disturb less than wall-clock seconds (n_jobs=1 rows only).",
            "- **predict floor** = the model's plain prediction method on as many rows as the work predicts "
            f"(timed on one call of up to {FLOOR_CAP_ROWS:,} stacked rows, scaled to the total). "
            "`sklearn / floor` and `ours / floor` show how close each side gets to it.",
            "- **peak RSS added** = the process's high-water mark during the call minus its RSS before "
            "(freed heap returned with malloc_trim, then the mark reset through /proc/self/clear_refs, "
            "before each call).",
            "- **max abs diff** = largest absolute difference between the two results "
            "(PD averages and ICE lines; importances of every repeat).",
            "- n_jobs=1 on both sides; BLAS/OpenMP limited to one thread (threadpoolctl). "
            "scikit-learn's `partial_dependence` runs one feature per call; the n_jobs=2 PDP row runs "
            "features in parallel as `PartialDependenceDisplay.from_estimator(n_jobs=2)` does.\n",
            "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
            f"Load average (1, 5, 15 min): {load_before} before, {load_after} after.\n",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n",
            report,
        ]
        # benchmarks/datasets.py's section (after its marker) is measured separately: keep it.
        kept = args.write.read_text().split(DATASETS_MARKER, 1) if args.write.exists() else []
        if len(kept) == 2:
            text.append("\n" + DATASETS_MARKER + kept[1].rstrip("\n"))
        args.write.write_text("\n".join(text))
        print(f"wrote {args.write}", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": [r.__dict__ for r in rows],
                    "memory": [m.__dict__ for m in mem_rows],
                    "memory_info": mem_info,
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
