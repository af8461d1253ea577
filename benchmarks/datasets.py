"""What a command costs on a large partitioned dataset when it needs only a sample of it.

    python benchmarks/datasets.py [--rows 10000000] [--write benchmarks/RESULTS.md]
    (or: make bench-datasets)

Builds (once; benchmarks/data/ is not committed) a hive-partitioned Parquet dataset of the
friedman features (``make_friedman1``'s formula, 10 uniform features and y, ``part=0..9``, row
groups of 131,072 rows) and a 100,000-row single Parquet file of the same generator, then runs the
real CLI on each, one process per run:

    inspect importance sample_models/friedman_hgb.joblib DATA --target y --max-samples 100000
    inspect pdp        sample_models/friedman_hgb.joblib DATA --target y --subsample 10000

and reports wall time and the peak RSS of the process (``ru_maxrss`` from ``wait4``). The section
it writes into RESULTS.md starts at a marker line that ``bench.py --write`` keeps.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
MODEL = ROOT / "sample_models" / "friedman_hgb.joblib"
MARKER = "<!-- benchmarks/datasets.py: section kept by bench.py -->"
CHUNK = 1_000_000
ROW_GROUP = 131_072


def _friedman(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    X = rng.uniform(size=(n, 10))
    y = (
        10 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20 * (X[:, 2] - 0.5) ** 2
        + 10 * X[:, 3]
        + 5 * X[:, 4]
        + rng.normal(size=n)
    )
    cols = {f"x{i}": X[:, i] for i in range(10)}
    cols["y"] = y
    return cols


def build(rows: int) -> tuple[Path, Path]:
    """The partitioned dataset of ``rows`` rows and the 100,000-row file (written once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = DATA / f"friedman_{rows}"
    small = DATA / "friedman_100000.parquet"
    DATA.mkdir(parents=True, exist_ok=True)
    if not (big / "_SUCCESS").exists():
        rng = np.random.default_rng(0)
        n_parts = max(1, -(-rows // CHUNK))
        for part in range(n_parts):
            n = min(CHUNK, rows - part * CHUNK)
            d = big / f"part={part}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(_friedman(rng, n)), d / "part-0.parquet", row_group_size=ROW_GROUP)
            print(f"wrote {d} ({n:,} rows)", file=sys.stderr)
        (big / "_SUCCESS").write_text("")
    if not small.exists():
        pq.write_table(
            pa.table(_friedman(np.random.default_rng(1), 100_000)), small, row_group_size=ROW_GROUP
        )
    return big, small


def run(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one CLI process."""
    env = dict(os.environ, INSPECT_NO_PROGRESS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    inspect = Path(sys.executable).with_name("inspect")
    started = time.perf_counter()
    proc = subprocess.Popen([str(inspect), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(stderr, file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def run_python(code: str) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of ``python -c code``."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def phase_times(data: Path, n_sample: int) -> dict[str, float]:
    from sklearn.utils.random import sample_without_replacement

    from inspectcli.loading.data import open_data

    t0 = time.perf_counter()
    source = open_data(data)
    t1 = time.perf_counter()
    rows = sample_without_replacement(source.n_rows, n_sample, random_state=np.random.RandomState(0))
    t2 = time.perf_counter()
    source.read([f"x{i}" for i in range(10)] + ["y"], rows=rows)
    t3 = time.perf_counter()
    return {
        "open": t1 - t0,
        "draw": t2 - t1,
        "read": t3 - t2,
        "units": source.units_read,
        "n_units": source.n_units,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--write", type=Path, help="put the section into this Markdown file")
    args = parser.parse_args()
    big, small = build(args.rows)
    parts = list(big.rglob("*.parquet"))
    size = sum(f.stat().st_size for f in parts)
    commands = [
        ("importance --max-samples 100000", ["importance", "--max-samples", "100000", "-r", "5"]),
        ("pdp --subsample 10000", ["pdp", "--subsample", "10000"]),
    ]
    lines = [
        MARKER,
        "## Reading only what is needed: a 10M-row partitioned dataset\n",
        f"Generated by `make bench-datasets` (`python benchmarks/datasets.py --rows {args.rows}`) on "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC. `friedman_hgb` on a hive-partitioned "
        f"Parquet dataset of {args.rows:,} rows ({size / 2**20:,.0f} MB in {len(parts)} "
        f"files, row groups of {ROW_GROUP:,} rows) and on a single file of 100,000 rows; one CLI process "
        "per run (`--no-plot --format json`, n_jobs=1), wall time and the process's peak RSS "
        "(`ru_maxrss`).\n",
        "| command | data | rows read | wall s | peak RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as out:
        for label, extra in commands:
            for name, data, n in (("10M-row dataset", big, args.rows), ("100,000-row file", small, 100_000)):
                cmd = [*extra[:1], str(MODEL), str(data), "--target", "y", *extra[1:]]
                cmd += ["--no-plot", "--format", "json", "--out", out]
                wall, rss, code = run(cmd)
                sample = int(extra[2])
                status = "" if code == 0 else f" (exit {code})"
                rows_read = f"{min(sample, n):,} of {n:,}"
                lines.append(
                    f"| `inspect {label}` | {name} | {rows_read} | {wall:.2f}{status} | {rss:,.0f} |"
                )
                print(lines[-1], file=sys.stderr)
        # What reading costs, and what it would cost to read everything.
        cols = [f"x{i}" for i in range(10)] + ["y"]
        full = f"from inspectcli import load_dataset; load_dataset({str(big)!r}, columns={cols!r})"
        wall, rss, code = run_python(full)
        lines += [
            "",
            "Reading every row of the model's columns instead (`load_dataset(DIR, columns=…)`, one "
            f"process): "
            f"{wall:.1f} s, peak RSS {rss:,.0f} MB{'' if code == 0 else f' (exit {code})'}.",
            "",
            "Where the dataset's extra time goes (in one process, `open_data` then `read`):",
            "",
            "| step | 10,000 rows | 100,000 rows (importance's draw) |",
            "|---|---:|---:|",
        ]
        phases = [phase_times(big, n) for n in (10_000, 100_000)]
        for key, label in (
            ("open", "open: footers, row counts, SHA-256 of every file"),
            ("draw", "draw the positions"),
            ("read", "read the row groups holding them, keep the rows"),
        ):
            lines.append(f"| {label} | {phases[0][key]:.2f} s | {phases[1][key]:.2f} s |")
        lines.append(
            f"| row groups read | {phases[0]['units']} of {phases[0]['n_units']} | "
            f"{phases[1]['units']} of {phases[1]['n_units']} |"
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        text = args.write.read_text() if args.write.exists() else ""
        head = text.split(MARKER, 1)[0].rstrip("\n")
        args.write.write_text((head + "\n\n" if head else "") + section)
        print(f"wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
