"""The 45-pair interaction screening against the scikit-learn PDs a user would compute for it.

    python benchmarks/interactions.py [--rows 300] [--repeats 3] [--grid 20]

On friedman_hgb (10 features → 45 pairs), on the same seeded sample of rows:

- scikit-learn: ``partial_dependence(method="brute")`` of every pair on a grid of ``grid × grid``
  points plus the 10 one-way PDs on the same axes (what H² on a grid needs), averaged over the rows;
- inspectcli: :func:`inspectcli.engines.h_statistic.h_statistics` (pairs only, ``overall=False``),
  which evaluates every PD at the rows' own points (``rows`` points per pair, Friedman's definition)
  through the tree-path engine.

Work per pair: scikit-learn ``grid²·rows`` predicted rows, inspectcli ``rows·rows`` outputs (at the
defaults 400·300 = 120,000 and 300·300 = 90,000). The two sides run in turns, BLAS/OpenMP on one
thread, and the medians are compared.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import joblib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--grid", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sklearn.inspection import partial_dependence

    from inspectcli.engines.h_statistic import h_statistics

    model = joblib.load(ROOT / "sample_models" / "friedman_hgb.joblib")
    X = pd.read_parquet(ROOT / "sample_models" / "friedman.parquet").drop(columns="y")
    rows = np.sort(np.random.RandomState(0).choice(len(X), size=args.rows, replace=False))
    Xs = X.iloc[rows].reset_index(drop=True)
    names = list(X.columns)

    def sklearn_side() -> None:
        for f in names:
            partial_dependence(model, Xs, [f], grid_resolution=args.grid, method="brute")
        for a, b in itertools.combinations(names, 2):
            partial_dependence(model, Xs, [a, b], grid_resolution=args.grid, method="brute")

    def ours() -> None:
        h_statistics(model, X, n_rows=args.rows, random_state=0, top_k=10, overall=False)

    times: dict[str, list[float]] = {"sklearn": [], "ours": []}
    for r in range(args.repeats):
        order = [("sklearn", sklearn_side), ("ours", ours)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    sk, us = statistics.median(times["sklearn"]), statistics.median(times["ours"])
    spread = (
        f"{min(times['sklearn']) / max(times['ours']):.1f}–{max(times['sklearn']) / min(times['ours']):.1f}"
    )
    print(
        f"| friedman_hgb ({args.rows} rows) | 45-pair screening (+10 one-way) | "
        f"{sk:.2f} | {us:.2f} | **{sk / us:.1f}×** (range {spread}) | load {os.getloadavg()[0]:.1f} |"
    )


if __name__ == "__main__":
    main()
