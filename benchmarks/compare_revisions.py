"""scikit-learn, inspectcli at an older commit and inspectcli as checked out: one process, interleaved.

    python benchmarks/compare_revisions.py BASE_COMMIT [--repeats 3] [--cases a,b] [--json FILE]

On a loaded machine, two runs of bench.py at different times see different loads; here the three
sides take turns in every round (the order rotated), so each ratio compares runs made under the
same load. The old commit's ``inspectcli`` is extracted with ``git archive`` and imported under
the name ``inspectcli_base``. Only engine="auto" on our side; no predict floor, no batched rows (see
bench.py for those). Prints, per case, the median seconds of each side and the speed-ups
(scikit-learn / ours) of the base and the current code with their range over the rounds, and the
same on CPU seconds of the process (steadier than wall seconds on a shared machine).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import forget_kept  # noqa: E402


def extract_base(commit: str) -> Path:
    """``inspectcli`` at ``commit`` as the package ``inspectcli_base`` in a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="inspectcli_base_"))
    archive = out / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", commit, "inspectcli"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    (out / "inspectcli").rename(out / "inspectcli_base")
    for path in (out / "inspectcli_base").rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\binspectcli\.", "inspectcli_base.", text)
        text = re.sub(r"^(\s*)(from|import) inspectcli\b", r"\1\2 inspectcli_base", text, flags=re.M)
        path.write_text(text)
    return out


def load(name: str, target: str, fmt: str = "parquet") -> tuple[Any, Any, Any]:
    model = joblib.load(SAMPLES / f"{name}.joblib")
    data = SAMPLES / f"{name.split('_')[0]}.{fmt}"
    frame = pd.read_parquet(data) if fmt == "parquet" else pd.read_csv(data)
    return model, frame.drop(columns=target), frame[target].to_numpy()


def cases(pkg: str) -> dict[str, Any]:
    """{case: (sklearn call, ours(pkg) call)} for the targets of issue 18."""
    from sklearn.inspection import partial_dependence as sk_pd
    from sklearn.inspection import permutation_importance as sk_pi

    pd_ours = importlib.import_module(f"{pkg}.engines.partial_dependence").partial_dependence
    pi_ours = importlib.import_module(f"{pkg}.engines.permutation").permutation_importance

    def pdp(model, X, feats, cat=None, **kw):
        sk_kw = {"categorical_features": cat} if cat else {}

        def sk():
            for f in feats:
                sk_pd(model, X, [f] if isinstance(f, str) else list(f), method="brute", **sk_kw, **kw)

        return sk, lambda: pd_ours(model, X, feats, method="brute", **kw)

    def imp(model, X, y, n):
        return (
            lambda: sk_pi(model, X, y, n_repeats=n, random_state=0),
            lambda: pi_ours(model, X, y, n_repeats=n, random_state=0),
        )

    out: dict[str, Any] = {}
    m, X, y = load("friedman_hgb", "y")
    names = list(X.columns)
    out["friedman_hgb PDP 10 features grid 10"] = lambda: pdp(m, X, names, grid_resolution=10)
    out["friedman_hgb ICE x0,x1 grid 10"] = lambda: pdp(m, X, names[:2], grid_resolution=10, kind="both")
    out["friedman_hgb importance 10 repeats"] = lambda: imp(m, X, y, 10)
    out["friedman_hgb PDP x0 grid 100"] = lambda: pdp(m, X, names[:1], grid_resolution=100)
    mb, Xb, yb = load("bikes_hgb", "count")
    Xb = Xb.astype({"hour": np.float64})
    out["bikes_hgb PDP 4 sets grid 20"] = lambda: pdp(
        mb, Xb, ["hour", "temp", "season", ("hour", "weekday")], cat=["season", "weekday"], grid_resolution=20
    )
    out["bikes_hgb importance 10 repeats"] = lambda: imp(mb, Xb, yb, 10)
    from bench import ensure_rf

    rf = joblib.load(ensure_rf())
    frame = pd.read_parquet(SAMPLES / "friedman.parquet").iloc[:5000]
    Xr, yr = frame.drop(columns="y"), frame["y"].to_numpy()
    out["friedman_rf PDP 4 features grid 20"] = lambda: pdp(rf, Xr, list(Xr.columns[:4]), grid_resolution=20)
    out["friedman_rf importance 5 repeats"] = lambda: imp(rf, Xr, yr, 5)
    from bench import ensure_gbm

    mx = joblib.load(ensure_gbm("xgb"))  # XGBRegressor, nthread 1 (bench.py)
    frame = pd.read_parquet(SAMPLES / "friedman.parquet")
    Xx, yx = frame.drop(columns="y"), frame["y"].to_numpy()
    out["friedman_xgb PDP 10 features grid 10"] = lambda: pdp(mx, Xx, list(Xx.columns), grid_resolution=10)
    out["friedman_xgb importance 10 repeats"] = lambda: imp(mx, Xx, yx, 10)
    mc, Xc, yc = load("cancer_logreg", "target", fmt="csv")
    out["cancer_logreg importance 10 repeats"] = lambda: imp(mc, Xc, yc, 10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    sys.path.insert(0, str(extract_base(args.base)))
    base, current = cases("inspectcli_base"), cases("inspectcli")
    wanted = [c for c in base if not args.cases or any(w in c for w in args.cases.split(","))]
    results = {}
    print(f"load average before: {os.getloadavg()}", flush=True)
    with threadpool_limits(1):
        for name in wanted:
            sk, old = base[name]()
            _, new = current[name]()
            sides = {"sklearn": sk, "base": old, "current": new}
            times: dict[str, list[float]] = {k: [] for k in sides}
            cpu: dict[str, list[float]] = {k: [] for k in sides}
            old()  # warm-up of our sides (lazy imports)
            new()
            order = list(sides)
            for r in range(args.repeats):
                for k in order[r % 3 :] + order[: r % 3]:
                    forget_kept()  # every run starts cold (no trees or split bits kept from the last)
                    t0, c0 = time.perf_counter(), time.process_time()
                    sides[k]()
                    times[k].append(time.perf_counter() - t0)
                    cpu[k].append(time.process_time() - c0)
            sk_t = np.array(times["sklearn"])
            row = {k: float(np.median(v)) for k, v in times.items()}
            for k in ("base", "current"):
                ratios = sk_t / np.array(times[k])  # per round: same load
                row[f"{k}_ratio"] = float(np.median(ratios))
                row[f"{k}_ratio_range"] = [float(ratios.min()), float(ratios.max())]
                cpu_ratios = np.array(cpu["sklearn"]) / np.array(cpu[k])
                row[f"{k}_cpu_s"] = float(np.median(cpu[k]))
                row[f"{k}_cpu_ratio"] = float(np.median(cpu_ratios))
            row["sklearn_cpu_s"] = float(np.median(cpu["sklearn"]))
            row["load"] = os.getloadavg()[0]
            results[name] = row
            spread = {k: "{:.2f}-{:.2f}".format(*row[f"{k}_ratio_range"]) for k in ("base", "current")}
            print(
                f"{name:<40} sklearn {row['sklearn']:7.3f} s | base {row['base']:7.3f} s "
                f"{row['base_ratio']:6.2f}x [{spread['base']}] | current {row['current']:7.3f} s "
                f"{row['current_ratio']:6.2f}x [{spread['current']}] | CPU s: "
                f"sklearn {row['sklearn_cpu_s']:.3f} base {row['base_cpu_s']:.3f} "
                f"({row['base_cpu_ratio']:.2f}x) current {row['current_cpu_s']:.3f} "
                f"({row['current_cpu_ratio']:.2f}x) | load {row['load']:.1f}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
