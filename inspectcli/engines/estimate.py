"""What a request costs, estimated before any work starts; refused when it cannot fit.

``--n-repeats 1000000000`` on a 60-row table, or ``--grid-resolution`` in the millions on a pair,
asks for results (score lists, PD grids, ICE arrays, and their JSON / CSV renderings) larger
than the machine's memory. The memory budget sizes the *chunks* of work; these checks bound what
must be held *at once* whatever the chunking. Engines call them with the sizes they know before
they compute; a request that cannot fit is a usage error naming the option and the estimate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from inspectcli.errors import UsageError

#: Bytes held per importance value (feature × repeat × scorer): the engine's score, the result
#: array, and its JSON and CSV renderings (text and Python objects while they are built).
BYTES_PER_SCORE = 320
#: Bytes held per PD grid cell and target (average, JSON / CSV / table / plot).
BYTES_PER_CELL = 240
#: Bytes per ICE value (row × cell × target) in the engine (array + temporaries).
BYTES_PER_ICE_VALUE = 24
#: Bytes per resampled PD value (resample × cell × target): the curves and their percentile sort.
BYTES_PER_BOOTSTRAP_VALUE = 24
#: Share of the memory limit a request may plan for.
USABLE = 0.8


def _size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 2**10:,.1f} KiB"


def _proc_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_limit() -> int:
    """Bytes this process may still use: the least of RAM, ``ulimit -v`` / ``-d`` room and the cgroup."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        for which, used_field in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
            soft, _ = resource.getrlimit(which)
            if soft != resource.RLIM_INFINITY:
                used = (_proc_kib(used_field) or 0) * 1024
                limits.append(max(0, soft - used))
    except (ImportError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
            if text.isdigit() and int(text) < 2**60:
                limits.append(int(text))
                break
        except OSError:
            continue
    return min(limits) if limits else 2**62


def _refuse(needed: float, what: str, option: str, hint: str) -> None:
    limit = memory_limit()
    if needed > USABLE * limit:
        raise UsageError(
            f"{option}: {what} would need about {_size(needed)} of memory at once, more than the "
            f"{_size(limit)} this process can use",
            hint,
        )


def check_importance_request(*, n_features: int, n_repeats: int, n_rows: int, n_scorers: int) -> None:
    """Refuse permutation importance whose per-repeat results cannot be held (exit 2)."""
    values = n_features * n_repeats * max(1, n_scorers)
    _refuse(
        values * BYTES_PER_SCORE,
        f"{n_repeats:,} repeats of {n_features:,} feature(s) × {max(1, n_scorers)} scorer(s) "
        f"({n_features * n_repeats * n_rows:,.0f} rows to predict)",
        f"`n_repeats={n_repeats}`",
        "lower `n_repeats` (5–30 repeats are usual)",
    )


def check_pdp_request(
    axes: Sequence[Sequence[int]],
    *,
    n_rows: int,
    n_targets: int,
    individual: bool,
    option: str,
    bootstrap: int = 0,
) -> None:
    """Refuse partial dependence whose grids (and ICE arrays) cannot be held (exit 2).

    ``axes`` are the (upper bounds of the) grid sizes of each feature set. A ``bootstrap`` keeps
    the ICE values (``individual``) and the resampled curves of one feature set at a time.
    """
    cells = sum(math.prod(a) for a in axes)
    needed = cells * n_targets * BYTES_PER_CELL
    if individual:
        needed += cells * n_targets * n_rows * BYTES_PER_ICE_VALUE
    resampled = 0.0
    if bootstrap:
        resampled = max(math.prod(a) for a in axes) * n_targets * bootstrap * BYTES_PER_BOOTSTRAP_VALUE
        if resampled > needed:  # the resampled curves are what does not fit: name --bootstrap
            check_bootstrap_request(
                n_boot=bootstrap,
                values_per_resample=max(math.prod(a) for a in axes) * n_targets,
                n_rows=n_rows,
                option=f"`bootstrap={bootstrap}`",
            )
        needed += resampled
    biggest = max(axes, key=math.prod)
    shape = " × ".join(f"{n:,}" for n in biggest)
    what = (
        f"{len(axes)} curve(s) of up to {shape} grid points × {n_targets} target(s)"
        + (f" with ICE over {n_rows:,} rows" if individual else "")
        + f" ({cells * n_rows:,} rows to predict)"
    )
    _refuse(
        needed,
        what,
        option,
        "lower `grid_resolution` (or give fewer `custom_values`), use `kind=average`, or `subsample` rows",
    )


def check_bootstrap_request(*, n_boot: int, values_per_resample: int, n_rows: int, option: str) -> None:
    """Refuse a bootstrap whose resampled curves cannot be held at once (exit 2).

    ``values_per_resample``: the largest curve's values (grid points × targets) recomputed per
    resample; the row counts of the resamples are drawn in blocks under the memory budget.
    """
    _refuse(
        n_boot * values_per_resample * BYTES_PER_BOOTSTRAP_VALUE,
        f"{n_boot:,} resamples of {n_rows:,} rows × {values_per_resample:,} curve values",
        option,
        "lower `bootstrap` (a few hundred resamples give a percentile interval; 1,000 are plenty)",
    )
