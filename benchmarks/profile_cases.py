"""cProfile of our side of the benchmark cases: writes benchmarks/profiles/<case>.txt (top functions).

    python benchmarks/profile_cases.py [--out DIR] [case ...]   # cases: see CASES below

n_jobs=1, BLAS/OpenMP at one thread, as in bench.py. Files go to benchmarks/profiles/ (or DIR);
each holds the cumulative and the internal-time tables (top 30 each) of one run after a warm-up.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
SAMPLES = ROOT / "sample_models"
OUT = ROOT / "benchmarks" / "profiles"


def _load(name: str, target: str, fmt: str = "parquet"):
    model = joblib.load(SAMPLES / f"{name}.joblib")
    data = SAMPLES / f"{name.split('_')[0]}.{fmt}"
    frame = pd.read_parquet(data) if fmt == "parquet" else pd.read_csv(data)
    return model, frame.drop(columns=target), frame[target].to_numpy()


def _rf():
    from bench import ensure_rf

    model = joblib.load(ensure_rf())
    frame = pd.read_parquet(SAMPLES / "friedman.parquet").iloc[:5000]
    return model, frame.drop(columns="y"), frame["y"].to_numpy()


def case(name: str):
    from inspectcli.engines.partial_dependence import partial_dependence
    from inspectcli.engines.permutation import permutation_importance

    if name == "friedman_hgb_pdp":
        m, X, y = _load("friedman_hgb", "y")
        return lambda: partial_dependence(m, X, list(X.columns), grid_resolution=10, method="brute")
    if name == "friedman_hgb_pdp_grid100":
        m, X, y = _load("friedman_hgb", "y")
        return lambda: partial_dependence(m, X, list(X.columns), grid_resolution=100, method="brute")
    if name == "friedman_hgb_ice":
        m, X, y = _load("friedman_hgb", "y")
        return lambda: partial_dependence(
            m, X, list(X.columns[:2]), grid_resolution=10, kind="both", method="brute"
        )
    if name == "friedman_hgb_importance":
        m, X, y = _load("friedman_hgb", "y")
        return lambda: permutation_importance(m, X, y, n_repeats=10, random_state=0)
    if name == "bikes_hgb_importance":
        m, X, y = _load("bikes_hgb", "count")
        X = X.astype({"hour": np.float64})
        return lambda: permutation_importance(m, X, y, n_repeats=10, random_state=0)
    if name == "friedman_rf_pdp":
        m, X, y = _rf()
        return lambda: partial_dependence(m, X, list(X.columns[:4]), grid_resolution=20, method="brute")
    if name == "friedman_rf_importance":
        m, X, y = _rf()
        return lambda: permutation_importance(m, X, y, n_repeats=5, random_state=0, engine="tree-paths")
    if name.startswith("friedman_xgb_"):
        # the benchmark's XGBRegressor (benchmarks/bench.py ensure_gbm; nthread 1), tree paths forced
        from bench import ensure_gbm

        m = joblib.load(ensure_gbm("xgb"))
        frame = pd.read_parquet(SAMPLES / "friedman.parquet")
        X, y = frame.drop(columns="y"), frame["y"].to_numpy()
        if name == "friedman_xgb_pdp":
            return lambda: partial_dependence(m, X, list(X.columns), grid_resolution=10, engine="tree-paths")
        if name == "friedman_xgb_importance":
            return lambda: permutation_importance(m, X, y, n_repeats=10, random_state=0, engine="tree-paths")
    if name == "cancer_logreg_importance":
        m, X, y = _load("cancer_logreg", "target", fmt="csv")
        return lambda: permutation_importance(m, X, y, n_repeats=10, random_state=0)
    raise SystemExit(f"unknown case {name}")


CASES = [
    "friedman_hgb_pdp",
    "friedman_hgb_pdp_grid100",
    "friedman_hgb_ice",
    "friedman_hgb_importance",
    "bikes_hgb_importance",
    "friedman_rf_pdp",
    "friedman_rf_importance",
    "cancer_logreg_importance",
    "friedman_xgb_pdp",
    "friedman_xgb_importance",
]


def main() -> None:
    args = sys.argv[1:]
    out = OUT
    if args[:1] == ["--out"]:
        out, args = Path(args[1]), args[2:]
    out.mkdir(parents=True, exist_ok=True)
    for name in args or CASES:
        run = case(name)
        with threadpool_limits(limits=1):
            run()
            from bench import forget_kept

            forget_kept()  # profiled cold: nothing kept from the warm-up run
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            run()
            prof.disable()
            wall = time.perf_counter() - t0
        buf = io.StringIO()
        import os

        buf.write(f"# {name}: {wall:.3f} s under cProfile, load average {os.getloadavg()}\n\n")
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(30)
        (out / f"{name}.txt").write_text(buf.getvalue())
        print(f"{name}: {wall:.3f} s", flush=True)


if __name__ == "__main__":
    main()
