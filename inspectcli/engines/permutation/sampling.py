"""scikit-learn's random sequence: row subsamples, cumulative permutations, groups, task blocks."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from inspectcli.errors import (
    UsageError,
    closest,
    shorten,
)


@dataclass(frozen=True)
class _Task:
    """One task of an importance call: repeats ``[r0, r1)`` of the feature (group) ``cols``.

    ``seed``, ``n_rows`` and ``m`` replay scikit-learn's sequence (``m`` rows drawn of ``n_rows``);
    ``scorer`` scores each repeat; ``methods`` are the prediction methods stacked into few calls
    (None: the real estimator per repeat), ``rows_per_chunk`` the rows one call may take.
    """

    cols: list[int]
    r0: int
    r1: int
    seed: int
    n_rows: int
    m: int
    scorer: Any
    methods: tuple[str, ...] | None = None
    rows_per_chunk: int = 0

    def with_block(self, cols: list[int], r0: int, r1: int) -> _Task:
        return replace(self, cols=cols, r0=r0, r1=r1)


def _resolve_max_samples(max_samples: float | int, n: int) -> int:
    if isinstance(max_samples, bool):
        raise UsageError("`max_samples` must be a number", "give a row count or a fraction")
    if isinstance(max_samples, numbers.Integral):
        if not 1 <= max_samples <= n:
            raise UsageError(
                f"`max_samples={max_samples}` is out of range: the data has {n} rows",
                f"give 1…{n} rows, or a fraction in (0, 1]",
            )
        return int(max_samples)
    if not 0 < float(max_samples) <= 1:
        raise UsageError(
            f"`max_samples={max_samples}` is out of range", "give a fraction in (0, 1], or a row count"
        )
    m = int(float(max_samples) * n)
    if m < 1:
        raise UsageError(
            f"`max_samples={max_samples}` of {n} rows is no row at all", "give a larger fraction"
        )
    return m


def importance_rows(random_state: int | None, n_rows: int, max_samples: float | int) -> np.ndarray | None:
    """The rows :func:`permutation_importance` permutes when ``max_samples`` < ``n_rows``, else None.

    Positions into a dataset of ``n_rows`` rows, in scikit-learn's order: read those rows alone
    and pass ``population=n_rows`` to get its permutations without holding the whole dataset.
    """
    m = _resolve_max_samples(max_samples, n_rows)
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max + 1))
    _, rows = _rng_for_feature(seed, n_rows, m)
    return rows


def resolve_groups(
    names: Sequence[str], groups: Mapping[str, Sequence[str]] | None
) -> tuple[list[str], list[list[int]]]:
    """Rows of the result: groups at the position of their first column, other columns alone."""
    groups = dict(groups or {})
    owner: dict[int, str] = {}
    for gname, cols in groups.items():
        if not cols:
            raise UsageError(f"group '{gname}' lists no columns", f"e.g. `group={gname}=a,b`")
        for c in cols:
            if c not in names:
                near = closest(c, names)
                raise UsageError(
                    f"group '{gname}' names unknown column '{c}'"
                    + (f" (did you mean {' or '.join(map(repr, near))}?)" if near else ""),
                    f"model features: {shorten(names, 12)}",
                )
            j = list(names).index(c)
            if j in owner and owner[j] != gname:
                raise UsageError(
                    f"column '{c}' is in two groups ('{owner[j]}' and '{gname}')",
                    "groups must not overlap",
                )
            owner[j] = gname
        if gname in names and gname not in cols:
            raise UsageError(f"group name '{gname}' is also a column name", "choose another group name")
    rows: list[str] = []
    members: list[list[int]] = []
    seen: set[str] = set()
    for j, name in enumerate(names):
        g = owner.get(j)
        if g is None:
            rows.append(name)
            members.append([j])
        elif g not in seen:
            seen.add(g)
            rows.append(g)
            members.append([list(names).index(c) for c in groups[g]])
    return rows, members


def _rng_for_feature(seed: int, n: int, m: int) -> tuple[np.random.RandomState, np.ndarray | None]:
    """scikit-learn's per-feature generator, after its row subsample (if any)."""
    rs = check_random_state(seed)
    rows = None
    if m < n:
        rows = sample_without_replacement(n, m, random_state=rs)
    return rs, rows


def _permutations(rs: np.random.RandomState, m: int, r0: int, r1: int) -> list[np.ndarray]:
    """Positions such that repeat r's column is original[positions[r]] (cumulative, as sklearn).

    Only repeats [r0, r1) are kept; the earlier ones are drawn (the sequence must be replayed) and
    dropped, so a task holds (r1 - r0) index arrays, not r1.
    """
    shuffling = np.arange(m)
    current = np.arange(m)
    out = []
    for r in range(r1):
        rs.shuffle(shuffling)
        current = current[shuffling]
        if r >= r0:
            out.append(current)
    return out


def _repeat_blocks(
    n_features: int, n_repeats: int, per_task: int, first: int
) -> Iterator[tuple[int, int, int]]:
    """(feature, r0, r1) of every task: blocks of ``per_task`` repeats, the first ``first``
    repeats of feature 0 left out (already scored)."""
    for f in range(n_features):
        for r0 in range(first if f == 0 else 0, n_repeats, per_task):
            yield f, r0, min(r0 + per_task, n_repeats)
