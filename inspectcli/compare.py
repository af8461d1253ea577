"""What changed between two result files of the same kind (importance.json or pdp.json).

Pure: takes the two parsed JSON documents, returns a ``Diff``; files are read by the CLI.

Importance: per scorer the two files share, per feature (or group) the change of the mean
importance, of its rank, and whether the change is beyond the permutation noise of the two runs:
each run's interval is ``mean ± 2·std/√n_repeats`` (``std`` as in the file: over the repeats,
ddof=0) and the change is *beyond noise* when the two intervals do not overlap. ``gap`` is the
distance between the intervals (0 when they overlap), so ``gap > 0`` is the same test.

PDP: per curve (features, target[, group of ``by``]) present in both files on the same grid, the
largest absolute difference of the average curves, the mean difference (new − old) and the mean
absolute difference over the grid points, and the grid point where the largest difference lies. When
both files carry bands (engines/bands.py), each grid point's change is judged against them as
importances are: each run's interval is its bootstrap interval when both files have one, else
``average ± 2·SE`` (the same ``noise_band``, with the standard error of the mean given directly),
and a point changed *beyond noise* when the two intervals do not overlap; ``max_gap`` is the
largest distance between them (0: every change within noise).

Files that cannot be compared (other kinds, other features or groups, other grids, a centred and
an uncentred curve) raise ``ValidationError`` (exit 3) saying why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspectcli.engines.permutation import NOISE_Z, noise_band
from inspectcli.errors import ValidationError, shorten

#: half-width of a run's interval, in standard errors of its mean over the repeats
NOISE_RULE = "beyond noise: the intervals mean ± 2·std/√n_repeats of the two runs do not overlap"
GRID_RTOL = 1e-9
#: A gap between two PD bands within this fraction of the curves' magnitude is floating-point
#: rounding (the same curve summed in another order), not a change: bands of width ~0 (a linear
#: model's centred curves, a constant model) would otherwise call every last-bit difference beyond noise.
GAP_RTOL = 1e-12
DIFFABLE = ("importance", "pdp")


@dataclass
class FeatureChange:
    """One feature (or group) under one scorer, old vs new."""

    feature: str
    columns: list[str]
    mean_old: float | None
    mean_new: float | None
    change: float | None  # new − old
    abs_change: float | None
    rank_old: int
    rank_new: int
    rank_change: int  # |new − old|
    interval_old: tuple[float, float] | None
    interval_new: tuple[float, float] | None
    gap: float | None  # distance between the intervals; None without a noise estimate
    beyond_noise: bool | None

    def as_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "columns": self.columns,
            "mean_old": self.mean_old,
            "mean_new": self.mean_new,
            "change": self.change,
            "abs_change": self.abs_change,
            "rank_old": self.rank_old,
            "rank_new": self.rank_new,
            "rank_change": self.rank_change,
            "interval_old": list(self.interval_old) if self.interval_old else None,
            "interval_new": list(self.interval_new) if self.interval_new else None,
            "gap": self.gap,
            "beyond_noise": self.beyond_noise,
        }


@dataclass
class ScorerDiff:
    scorer: str
    baseline_old: float | None
    baseline_new: float | None
    features: list[FeatureChange]

    def as_json(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "baseline_old": self.baseline_old,
            "baseline_new": self.baseline_new,
            "features": [f.as_json() for f in self.features],
        }


@dataclass
class CurveDiff:
    """One PD curve (features, target), old vs new on the same grid."""

    features: tuple[str, ...]
    target: Any
    n_points: int
    max_abs_diff: float | None
    mean_diff: float | None  # mean of new − old over the grid
    mean_abs_diff: float | None
    max_at: list[Any] | None  # grid value(s) where |new − old| is largest
    h2_old: float | None = None
    h2_new: float | None = None
    group: str | None = None  # `by`: the group's label; None for the curve of all rows
    noise: str | None = None  # "bootstrap" | "se" | None: the bands the change is judged against
    points_beyond_noise: int | None = None  # grid points whose two intervals do not overlap
    max_gap: float | None = None  # largest distance between the two intervals (0: within noise)

    @property
    def beyond_noise(self) -> bool | None:
        return None if self.max_gap is None else self.max_gap > 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "features": list(self.features),
            "target": self.target,
            **({"group": self.group} if self.group is not None else {}),
            "n_points": self.n_points,
            "max_abs_diff": self.max_abs_diff,
            "mean_diff": self.mean_diff,
            "mean_abs_diff": self.mean_abs_diff,
            "max_at": self.max_at,
            "noise": self.noise,
            "points_beyond_noise": self.points_beyond_noise,
            "max_gap": self.max_gap,
            "beyond_noise": self.beyond_noise,
        }
        if len(self.features) == 2:
            out["h2_old"] = self.h2_old
            out["h2_new"] = self.h2_new
        return out


@dataclass
class Diff:
    """The comparison of two result files of kind ``of``."""

    of: str
    scorers: list[ScorerDiff] = field(default_factory=list)
    curves: list[CurveDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def results_json(self) -> list[dict[str, Any]]:
        items = self.scorers if self.of == "importance" else self.curves
        return [item.as_json() for item in items]


def diff_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    """Compare two parsed result documents (``inspect importance`` or ``inspect pdp`` JSON).

    Raises
    ------
    ValidationError
        When the two cannot be compared (kinds, features, groups, scorers or grids differ).
    """
    k_old, k_new = old.get("kind"), new.get("kind")
    if k_old != k_new:
        raise ValidationError(
            f"cannot compare {_a(k_old)} result with {_a(k_new)} result",
            "give two importance.json files or two pdp.json files",
        )
    if k_old not in DIFFABLE:
        raise ValidationError(f"cannot diff '{k_old}' results", "diff compares importance or pdp results")
    if k_old == "importance":
        return _diff_importance(old, new)
    return _diff_pdp(old, new)


# --------------------------------------------------------------------------------------------
# importance


def _f(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _interval(feat: Mapping[str, Any]) -> tuple[float, float] | None:
    mean, std = _f(feat.get("importances_mean")), _f(feat.get("importances_std"))
    n = len(feat.get("importances") or [])
    if mean is None or std is None or n < 2:
        return None
    low, high = noise_band(mean, std, n, NOISE_Z)
    return (float(low), float(high))


def _diff_importance(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    blocks_old = {b["scorer"]: b for b in old["results"]}
    blocks_new = {b["scorer"]: b for b in new["results"]}
    common = [s for s in blocks_old if s in blocks_new]
    if not common:
        raise ValidationError(
            f"the two files share no scorer (old: {shorten(blocks_old)}; new: {shorten(blocks_new)})",
            "run both with the same `scoring`",
        )
    notes = []
    only = [s for s in blocks_old if s not in blocks_new] + [s for s in blocks_new if s not in blocks_old]
    if only:
        notes.append(f"scorer(s) in one file only, not compared: {', '.join(only)}")
    out = Diff("importance", notes=notes)
    for scorer in common:
        feats_old = {f["feature"]: f for f in blocks_old[scorer]["features"]}
        feats_new = {f["feature"]: f for f in blocks_new[scorer]["features"]}
        unmatched = _only_in(list(feats_old), list(feats_new))
        if unmatched:
            raise ValidationError(
                f"the two files rank different features or groups ({unmatched})",
                "compare runs over the same features, `group` and `cluster_threshold`",
            )
        for name, f_old in feats_old.items():
            if list(f_old["columns"]) != list(feats_new[name]["columns"]):
                raise ValidationError(
                    f"group '{name}' holds other columns in the two files "
                    f"({', '.join(f_old['columns'])} vs {', '.join(feats_new[name]['columns'])})",
                    "compare runs with the same groups",
                )
        changes = []
        for name, f_old in feats_old.items():
            f_new = feats_new[name]
            m_old, m_new = _f(f_old["importances_mean"]), _f(f_new["importances_mean"])
            change = None if m_old is None or m_new is None else m_new - m_old
            i_old, i_new = _interval(f_old), _interval(f_new)
            gap = None
            if i_old is not None and i_new is not None:
                gap = max(0.0, i_new[0] - i_old[1], i_old[0] - i_new[1])
            changes.append(
                FeatureChange(
                    feature=name,
                    columns=list(f_old["columns"]),
                    mean_old=m_old,
                    mean_new=m_new,
                    change=change,
                    abs_change=None if change is None else abs(change),
                    rank_old=int(f_old["rank"]),
                    rank_new=int(f_new["rank"]),
                    rank_change=abs(int(f_new["rank"]) - int(f_old["rank"])),
                    interval_old=i_old,
                    interval_new=i_new,
                    gap=gap,
                    beyond_noise=None if gap is None else gap > 0,
                )
            )
        out.scorers.append(
            ScorerDiff(
                scorer,
                _f(blocks_old[scorer].get("baseline_score")),
                _f(blocks_new[scorer].get("baseline_score")),
                changes,
            )
        )
    if any(c.beyond_noise is None for s in out.scorers for c in s.features):
        out.notes.append("a run with fewer than 2 repeats has no noise estimate: beyond-noise is unknown")
    return out


# --------------------------------------------------------------------------------------------
# pdp


def _key(entry: Mapping[str, Any]) -> tuple[tuple[str, ...], str, str | None]:
    import json

    group = entry.get("group")
    return tuple(entry["features"]), json.dumps(entry.get("target")), group["label"] if group else None


def _label(key: tuple[tuple[str, ...], str, str | None]) -> str:
    feats, target, group = key
    return (
        " × ".join(feats)
        + ("" if target == "null" else f" (target {target})")
        + ("" if group is None else f" [group {group}]")
    )


def _by_column(doc: Mapping[str, Any]) -> str | None:
    by = (doc.get("parameters") or {}).get("by")
    return by.get("column") if isinstance(by, Mapping) else None


def _same_grid(a: Sequence[Any], b: Sequence[Any]) -> bool:
    if len(a) != len(b):
        return False
    try:
        fa, fb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return list(a) == list(b)
    if np.isnan(fa).any() or np.isnan(fb).any():
        return list(a) == list(b)
    return bool(np.allclose(fa, fb, rtol=GRID_RTOL, atol=0.0))


def _array(values: Any) -> np.ndarray:
    def fill(v: Any) -> Any:
        if isinstance(v, list):
            return [fill(x) for x in v]
        return np.nan if v is None else v

    return np.asarray(fill(values), dtype=float)


def _diff_pdp(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    c_old = old.get("parameters", {}).get("centered")
    c_new = new.get("parameters", {}).get("centered")
    if bool(c_old) != bool(c_new):
        raise ValidationError(
            "one file has centred curves (`centered`), the other not",
            "compare runs made with the same `centered`",
        )
    by_old, by_new = _by_column(old), _by_column(new)
    if by_old != by_new:
        raise ValidationError(
            f"the two files group rows by different columns ('{by_old}' vs '{by_new}')"
            if by_old and by_new
            else f"{'OLD' if by_old else 'NEW'} groups rows by '{by_old or by_new}', "
            f"{'NEW' if by_old else 'OLD'} does not",
            "compare runs made with the same `by` (groups are compared group by group)",
        )
    e_old = {_key(e): e for e in old["results"]}
    e_new = {_key(e): e for e in new["results"]}
    unmatched = _only_in([_label(k) for k in e_old], [_label(k) for k in e_new])
    if unmatched:
        raise ValidationError(
            f"the two files hold different curves ({unmatched})",
            "compare runs with the same `features`, `pair` and `classes`",
        )
    out = Diff("pdp")
    for key, a in e_old.items():
        b = e_new[key]
        for d, (ga, gb) in enumerate(zip(a["grid"], b["grid"])):
            if not _same_grid(ga, gb):
                raise ValidationError(
                    f"the grids of {_label(key)} differ (feature '{key[0][d]}': {len(ga)} values "
                    f"{_span(ga)} vs {len(gb)} values {_span(gb)})",
                    "compare PDs on the same grid: give both runs the same `values` "
                    f"{key[0][d]}=… (or the same data and `grid_resolution`/`percentiles`)",
                )
        if a.get("average") is None or b.get("average") is None:
            raise ValidationError(
                f"{_label(key)} has no average curve in one of the files (`kind=individual`)",
                "compare runs made with `kind=average` or both",
            )
        va, vb = _array(a["average"]), _array(b["average"])
        if va.shape != vb.shape:
            raise ValidationError(
                f"the curves of {_label(key)} have different shapes {va.shape} vs {vb.shape}"
            )
        delta = vb - va
        finite = np.isfinite(delta)
        max_abs = mean = mean_abs = None
        max_at = None
        if not finite.all():
            # a point undefined in either file (a model's NaN / inf, null in the JSON) could hide any
            # change: the curve's statistics are undefined (and gates on them fail), not those of the rest
            out.notes.append(
                f"{_label(key)}: {int((~finite).sum())} of {delta.size} grid point(s) undefined in "
                "one of the files: its change is undefined"
            )
        elif finite.any():
            absd = np.where(finite, np.abs(delta), -np.inf)
            pos = np.unravel_index(int(np.argmax(absd)), delta.shape)
            max_abs = float(absd[pos])
            mean = float(np.mean(delta[finite]))
            mean_abs = float(np.mean(np.abs(delta[finite])))
            max_at = [a["grid"][d][int(i)] for d, i in enumerate(pos)]
        noise, n_beyond, max_gap = _pd_noise(a, b, va, vb)
        out.curves.append(
            CurveDiff(
                features=tuple(a["features"]),
                target=a.get("target"),
                n_points=int(delta.size),
                max_abs_diff=max_abs,
                mean_diff=mean,
                mean_abs_diff=mean_abs,
                max_at=max_at,
                h2_old=_f(a.get("h2")),
                h2_new=_f(b.get("h2")),
                group=key[2],
                noise=noise,
                points_beyond_noise=n_beyond,
                max_gap=max_gap,
            )
        )
    if any(c.noise is None for c in out.curves):
        out.notes.append(
            "a curve without a band in one of the files (`band` off, or `method=recursion`): "
            "beyond-noise is unknown for it"
        )
    return out


def _pd_intervals(entry: Mapping[str, Any], avg: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "bootstrap":
        boot = entry["bootstrap"]
        return _array(boot["lower"]), _array(boot["upper"])
    se = _array(entry["se"])
    if se.shape != avg.shape:
        return se, se  # refused by _check_band
    # the one noise band (engines/permutation.noise_band) with the SE itself as std and n = 1
    with np.errstate(over="ignore"):  # an SE near the float range: an infinite band, without a warning
        low, high = noise_band(avg, se, 1, NOISE_Z)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _pd_noise(
    a: Mapping[str, Any], b: Mapping[str, Any], va: np.ndarray, vb: np.ndarray
) -> tuple[str | None, int | None, float | None]:
    """(which bands, grid points beyond noise, largest gap) of a PD change; Nones without bands."""
    same_level = (a.get("bootstrap") or {}).get("level") == (b.get("bootstrap") or {}).get("level")
    if a.get("bootstrap") and b.get("bootstrap") and same_level:
        kind = "bootstrap"
    elif a.get("se") is not None and b.get("se") is not None:
        # (bootstrap intervals of different levels, e.g. 0.9 and 0.99, are not one noise rule)
        kind = "se"
    else:
        return None, None, None
    lo_a, hi_a = _pd_intervals(a, va, kind)
    lo_b, hi_b = _pd_intervals(b, vb, kind)
    _check_band(a, kind, va, lo_a, hi_a)
    _check_band(b, kind, vb, lo_b, hi_b)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.maximum(np.maximum(lo_b - hi_a, lo_a - hi_b), 0.0)
    if np.isnan(gap).any() or not (np.isfinite(va).all() and np.isfinite(vb).all()):
        # a point without a band (or without a value) could hide a change
        return kind, None, None
    scale = float(max(np.abs(va).max(initial=0.0), np.abs(vb).max(initial=0.0)))
    gap = np.where(gap <= GAP_RTOL * scale, 0.0, gap)
    return kind, int((gap > 0).sum()), float(gap.max())


def _check_band(
    entry: Mapping[str, Any], kind: str, avg: np.ndarray, low: np.ndarray, high: np.ndarray
) -> None:
    """ValidationError for a band that is not one: of another shape than its curve, a negative
    standard error, a bootstrap interval whose lower end lies above its upper one."""
    where = " × ".join(str(f) for f in entry.get("features", []))
    if low.shape != avg.shape or high.shape != avg.shape:
        shape = low.shape if low.shape != avg.shape else high.shape
        raise ValidationError(
            f"the band of {where} ({'bootstrap' if kind == 'bootstrap' else 'se'}) has shape {shape}, "
            f"its curve {avg.shape}",
            "give the pdp.json files as inspect wrote them",
        )
    with np.errstate(invalid="ignore"):
        wrong = (_array(entry["se"]) < 0).any() if kind == "se" else (low > high).any()
    if wrong:
        what = "a negative standard error" if kind == "se" else "a bootstrap interval with lower > upper"
        raise ValidationError(
            f"the band of {where} has {what}", "give the pdp.json files as inspect wrote them"
        )


def _span(grid: Sequence[Any]) -> str:
    from inspectcli.formatting import label

    if len(grid) > 2:
        return f"[{label(grid[0])} … {label(grid[-1])}]"
    return "[" + ", ".join(label(v) for v in grid) + "]"


def _a(kind: Any) -> str:
    if not isinstance(kind, str):
        return f"a {kind!r}"
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _only_in(old: list[str], new: list[str]) -> str:
    """'only in OLD: a; only in NEW: b' for the names one side lacks ('' when both match)."""
    parts = []
    missing = [name for name in old if name not in new]
    added = [name for name in new if name not in old]
    if missing:
        parts.append(f"only in OLD: {shorten(missing)}")
    if added:
        parts.append(f"only in NEW: {shorten(added)}")
    return "; ".join(parts)
