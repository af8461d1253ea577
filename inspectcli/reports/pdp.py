"""From engine results to what a user reads: curves per (features, target), JSON, CSV, table.

Post-processing that scikit-learn leaves to its display lives here: centring (curves start at 0),
the choice of ICE lines kept, H² for pairs and the PD-based ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from inspectcli.engines.grid import plain
from inspectcli.engines.interaction import h_squared, pd_variability
from inspectcli.engines.partial_dependence import PDPResult
from inspectcli.formatting import Spark, fmt, label
from inspectcli.results import csv_bytes


@dataclass
class PDPCurve:
    """One (feature set, target): what the JSON entry, the table row and a plot panel show."""

    features: tuple[str, ...]
    categorical: tuple[bool, ...]
    target: Any
    method: str
    engine: str
    response_method: str
    grid: list[np.ndarray]
    average: np.ndarray | None  # grid shape
    individual: np.ndarray | None  # (n_lines, *grid shape)
    rows: np.ndarray | None  # data row of each ICE line
    centered: bool = False
    h2: float | None = None
    variability: float | None = None
    rank: int | None = None
    se: np.ndarray | None = None  # grid shape: standard error of each PD value (engines/bands.py)
    bootstrap: Any = None  # engines.bands.Bootstrap of this target: lower / upper of grid shape
    group: dict[str, Any] | None = None  # `by`: {column, label, n_rows, level, interval}
    clusters: Any = None  # engines.ice_clusters.IceClusters (`ice_clusters`)

    def band(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray] | None:
        """The band drawn: the bootstrap interval, else average ± z·SE (z for ``level``), else None."""
        if self.bootstrap is not None:
            return self.bootstrap.lower, self.bootstrap.upper
        if self.se is None or self.average is None:
            return None
        from inspectcli.engines.bands import z_value

        half = z_value(level) * self.se
        return self.average - half, self.average + half

    @property
    def ndim(self) -> int:
        return len(self.features)

    @property
    def name(self) -> str:
        return " × ".join(self.features)


def build_curves(
    results: Sequence[PDPResult],
    *,
    centered: bool = False,
    ice_rows: np.ndarray | None = None,
    row_ids: np.ndarray | None = None,
    helpers: Mapping[tuple[str, ...], PDPResult] | None = None,
    rank: bool = False,
) -> list[PDPCurve]:
    """One curve per (result, target).

    Parameters
    ----------
    results : engine results, in output order.
    centered : subtract each curve's value at the first grid point (grid corner for pairs).
    ice_rows : positions (among the rows used) of the ICE lines to keep; None keeps all.
    row_ids : data-file row number of each row used (after any subsample).
    helpers : one-way results on a pair's grid axes, keyed by (feature,), used for H².
    rank : number curves by PD variability (Greenwell et al.), most variable first.
    """
    helpers = helpers or {}
    curves: list[PDPCurve] = []
    for res in results:
        for t, target in enumerate(res.targets):
            avg = None if res.average is None else np.asarray(res.average[t], dtype=float)
            ind = None
            rows = None
            if res.individual is not None:
                ind = np.asarray(res.individual[t], dtype=float)
                positions = np.arange(ind.shape[0]) if ice_rows is None else np.asarray(ice_rows)
                ind = ind[positions]
                rows = positions if row_ids is None else np.asarray(row_ids)[positions]
            curve = PDPCurve(
                features=res.features,
                categorical=res.categorical,
                target=target,
                method=res.method,
                engine=res.engine,
                response_method=res.response_method,
                grid=list(res.grid_values),
                average=avg,
                individual=ind,
                rows=rows,
                centered=centered,
                se=None if res.se is None or avg is None else np.asarray(res.se[t], dtype=float),
                bootstrap=None if res.bootstrap is None or avg is None else res.bootstrap.select(t),
            )
            if avg is not None and len(res.features) == 1:
                curve.variability = pd_variability(avg, res.categorical[0])
            if len(res.features) == 2 and avg is not None:
                a = helpers.get((res.features[0],))
                b = helpers.get((res.features[1],))
                if a is not None and b is not None and a.average is not None and b.average is not None:
                    curve.h2 = h_squared(avg, a.average[t], b.average[t])
            if centered:
                _center(curve)
            curves.append(curve)
    if rank:
        one_way = [c for c in curves if c.variability is not None]
        for i, c in enumerate(sorted(one_way, key=lambda c: -c.variability)):  # type: ignore[operator]
            c.rank = i + 1
    return curves


@np.errstate(invalid="ignore", over="ignore")  # a model's inf at the first grid point: NaN, no numpy warning
def _center(curve: PDPCurve) -> None:
    corner = (0,) * curve.ndim
    if curve.average is not None:
        curve.average = curve.average - curve.average[corner]
    if curve.individual is not None:
        firsts = curve.individual[(slice(None), *corner)]
        curve.individual = curve.individual - firsts.reshape((-1,) + (1,) * curve.ndim)


def json_entries(curves: Sequence[PDPCurve]) -> list[dict[str, Any]]:
    """The ``results`` list of pdp.json."""
    out = []
    for c in curves:
        entry: dict[str, Any] = {
            "features": list(c.features),
            "categorical": list(c.categorical),
            "target": c.target,
            "method": c.method,
            "engine": c.engine,
            "response_method": c.response_method,
            "grid": [g.tolist() for g in c.grid],
            "average": None if c.average is None else c.average.tolist(),
        }
        if c.se is not None:
            entry["se"] = c.se.tolist()
        if c.bootstrap is not None:
            entry["bootstrap"] = c.bootstrap.as_json()
        if c.individual is not None:
            entry["individual"] = c.individual.tolist()
            entry["rows"] = [int(r) for r in c.rows] if c.rows is not None else None
        if c.variability is not None:
            entry["variability"] = c.variability
        if c.rank is not None:
            entry["rank"] = c.rank
        if c.ndim == 2:
            entry["h2"] = c.h2
        if c.group is not None:
            entry["group"] = c.group
        if c.clusters is not None:
            entry["clusters"] = c.clusters.as_json()
        out.append(entry)
    return out


def csv_data(curves: Sequence[PDPCurve]) -> bytes:
    """Tidy long CSV: one row per (features, target, grid point[, ICE row]).

    With bands, average rows also carry ``se`` and (with a bootstrap) ``boot_lower`` / ``boot_upper``.
    With ``by``, a ``group`` column after ``target`` (empty for the curve of all rows); with
    ``ice_clusters``, a last ``cluster`` column (the cluster of each ICE row) and rows of kind
    ``cluster_mean`` (each cluster's mean curve).
    """
    dims = max((c.ndim for c in curves), default=1)
    grouped = any(c.group is not None for c in curves)
    clustered = any(c.clusters is not None for c in curves)
    header = ["features", "target", *(["group"] if grouped else []), *[f"grid_{i + 1}" for i in range(dims)]]
    header += ["kind", "row", "value"]
    with_se = any(c.se is not None for c in curves)
    with_boot = any(c.bootstrap is not None for c in curves)
    header += (["se"] if with_se else []) + (["boot_lower", "boot_upper"] if with_boot else [])
    header += ["cluster"] if clustered else []
    blank = [""] * (int(with_se) + 2 * int(with_boot))
    no_cluster = [""] if clustered else []

    def band(c: PDPCurve, p: tuple[int, ...]) -> list[Any]:
        out: list[Any] = []
        if with_se:
            out.append("" if c.se is None else c.se[p])
        if with_boot:
            b = c.bootstrap
            out += ["", ""] if b is None else [b.lower[p], b.upper[p]]
        return out

    def rows() -> Any:
        for c in curves:
            name = "|".join(c.features)
            head = [name, _target(c.target)] + ([c.group["label"] if c.group else ""] if grouped else [])
            points = list(np.ndindex(*[len(g) for g in c.grid]))
            values = [[c.grid[d][p[d]] for d in range(c.ndim)] + [""] * (dims - c.ndim) for p in points]
            if c.average is not None:
                for p, vals in zip(points, values):
                    yield [
                        *head,
                        *[plain(v) for v in vals],
                        "average",
                        "",
                        c.average[p],
                        *band(c, p),
                        *no_cluster,
                    ]
            if c.individual is not None:
                labels = c.clusters.labels if c.clusters is not None else None
                for line, row in enumerate(c.rows if c.rows is not None else range(len(c.individual))):
                    cluster = ([int(labels[line])] if labels is not None else [""]) if clustered else []
                    for p, vals in zip(points, values):
                        yield [
                            *head,
                            *[plain(v) for v in vals],
                            "individual",
                            int(row),
                            c.individual[(line, *p)],
                            *blank,
                            *cluster,
                        ]
            if c.clusters is not None:
                for j, mean in enumerate(c.clusters.means):
                    for p, vals in zip(points, values):
                        yield [*head, *[plain(v) for v in vals], "cluster_mean", "", mean[p], *blank, j]

    return csv_bytes(header, rows())


def _target(t: Any) -> Any:
    return "" if t is None else t


def levels_text(levels: Sequence[Any], limit: int = 20) -> str:
    """Level names of a categorical axis, cut to about ``limit`` characters: 'mon, tue, …'."""
    text = ", ".join(label(v) for v in levels)
    if len(text) > limit:
        text = text[: limit - 1].rsplit(",", 1)[0] + ", …"
    return text


def _values(c: PDPCurve) -> np.ndarray | None:
    if c.average is not None:
        return c.average
    return c.individual.mean(axis=0) if c.individual is not None else None


def _key(target: Any) -> str:
    return repr(target)


def table(
    curves: Sequence[PDPCurve],
    *,
    title: str = "partial dependence",
    notes: Sequence[str] = (),
    n_rows: int | None = None,
) -> Table:
    """One row per curve: grid span, PD min / max / range, a sparkline, H² or rank.

    The sparklines of one-way curves share one scale (the smallest and largest PD shown), said in
    the caption, so a flat curve looks flat beside a steep one; ``notes`` go in the caption too.
    Categorical grids show their level names. Rows are in rank order when curves are ranked.
    """
    t = Table(title=title, title_justify="left", caption_justify="left")
    show_target = any(c.target is not None for c in curves)
    t.add_column("feature(s)", style="bold")
    if show_target:
        t.add_column("target")
    grouped = any(c.group is not None for c in curves)
    if grouped:  # `by`: the curve of all rows, then one per group
        column = next(c.group["column"] for c in curves if c.group is not None)
        header = column if column not in {"feature", "feature(s)", "target", "rows"} else f"by {column}"
        t.add_column(header, no_wrap=True)
        t.add_column("rows", justify="right", no_wrap=True)
    else:  # (grouped: the grids go in the caption, to keep the table narrow)
        t.add_column("grid", no_wrap=True)
    t.add_column("PD min", justify="right", no_wrap=True)
    t.add_column("PD max", justify="right", no_wrap=True)
    t.add_column("range", justify="right", no_wrap=True)
    with_se = any(c.se is not None for c in curves)
    if with_se:
        t.add_column("±SE", justify="right", no_wrap=True)
    t.add_column("curve", no_wrap=True)
    extra = any(c.h2 is not None or c.rank is not None for c in curves)
    if extra:
        t.add_column("rank / H²", justify="right", no_wrap=True)
    ranks = {(c.features, _key(c.target)): c.rank for c in curves if c.group is None}
    order = (
        sorted(curves, key=lambda c: (c.rank is None, c.rank or 0)) if any(c.rank for c in curves) else curves
    )
    if grouped and any(c.rank for c in curves):  # groups stay under their all-rows curve
        order = sorted(curves, key=lambda c: ranks.get((c.features, _key(c.target))) or 0)
    one_way = [v for c in curves if c.ndim == 1 and (v := _values(c)) is not None]
    finite = [v[np.isfinite(v)] for v in one_way]
    finite = [v for v in finite if v.size]
    lo_all = float(min(v.min() for v in finite)) if finite else 0.0
    hi_all = float(max(v.max() for v in finite)) if finite else 0.0
    grids: dict[str, str] = {}
    for c in order:
        values = _values(c)
        if values is None:
            continue
        curve: Any = ""
        if c.ndim == 1:
            g = c.grid[0]
            if c.categorical[0]:
                span = f"{levels_text(g)} ({len(g)})"
            else:
                span = f"{label(g[0])} … {label(g[-1])} ({len(g)})"
            curve = Spark(values, lo=lo_all, hi=hi_all)
        else:
            span = " × ".join(str(len(g)) for g in c.grid)
        arr = np.asarray(values, dtype=float)
        ok = arr[np.isfinite(arr)]  # NaN / inf from the model: undefined (engines/finite.py)
        lo, hi = (float(ok.min()), float(ok.max())) if ok.size else (np.nan, np.nan)
        cells: list[Any] = [c.name if c.group is None else ""]
        if show_target:
            cells.append("" if c.target is None or c.group is not None else str(c.target))
        if grouped:
            n = c.group["n_rows"] if c.group is not None else n_rows
            cells += ["all" if c.group is None else c.group["label"], "" if n is None else f"{n:,}"]
        span_text = fmt(hi - lo) if ok.size == arr.size else "undefined"
        if grouped and c.group is None:
            grids.setdefault(c.name, span)
        cells += [*([] if grouped else [span]), fmt(lo), fmt(hi), span_text]
        if with_se:
            cells.append(_largest_se(c))
        cells.append(curve)
        if extra:
            cells.append(
                f"#{c.rank}" if c.rank is not None else (f"H²={fmt(c.h2, 3)}" if c.h2 is not None else "")
            )
        t.add_row(*cells)
    caption = []
    if grouped:
        shown = "; ".join(f"{name} {span}" for name, span in grids.items())
        caption.append(f"groups: PD of each group's rows, on the grid of all rows: {shown}")
    for c in curves:
        if c.clusters is not None:
            sizes = ", ".join(f"#{j + 1}: {int(n):,}" for j, n in enumerate(c.clusters.sizes))
            what = c.name + ("" if c.target is None else f" ({c.target})")
            caption.append(f"{what}: ICE clusters (rows) {sizes}")
    if with_se:
        caption.append("±SE: the largest standard error of the curve's values (over its grid points)")
    if len(one_way) > 1:
        caption.append(f"curve: one scale for all rows, ▁ {fmt(lo_all)} … █ {fmt(hi_all)}")
    caption += list(notes)
    if caption:
        t.caption = "\n".join(caption)
    return t


def _largest_se(c: PDPCurve) -> str:
    if c.se is None:
        return ""
    se = np.asarray(c.se, dtype=float)
    ok = se[np.isfinite(se)]
    return fmt(float(ok.max())) if ok.size else "—"


def pair_counts(
    X: Any, names: Sequence[str], curves: Sequence[PDPCurve]
) -> dict[tuple[str, ...], np.ndarray]:
    """Rows of X in each (level a, level b) cell of every categorical pair's grid.

    Returns {(a, b): int array of shape (len(grid a), len(grid b))}; a cell with 0 rows is a
    combination the data never shows (its PD value is an extrapolation).
    """
    import pandas as pd

    out: dict[tuple[str, ...], np.ndarray] = {}
    for c in curves:
        if c.ndim != 2 or not all(c.categorical) or c.features in out:
            continue
        cols = []
        for f in c.features:
            col = X[f] if hasattr(X, "columns") else np.asarray(X)[:, list(names).index(f)]
            cols.append(pd.Series(np.asarray(col, dtype=object)).astype(str).to_numpy())
        ga = [str(v) for v in c.grid[0]]
        gb = [str(v) for v in c.grid[1]]
        table = pd.crosstab(cols[0], cols[1]).reindex(index=ga, columns=gb, fill_value=0)
        out[c.features] = table.to_numpy(dtype=int)
    return out


#: ICE lines kept in the results (JSON, CSV) when --ice-rows is not given: a seeded sample.
DEFAULT_ICE_ROWS = 1000
#: Bytes per stored value, measured on pdp.csv / pdp.json of the bikes sample (ICE of 500 and 1,000 rows).
CSV_BYTES_PER_VALUE = 58
JSON_BYTES_PER_VALUE = 32
#: Result files estimated above this many bytes are announced before computing.
LARGE_OUTPUT = 50 * 2**20


def parse_ice_rows(text: str | int | None) -> int | None:
    """'--ice-rows' as a row count; None for 'all' (every row). Default: DEFAULT_ICE_ROWS."""
    from inspectcli.errors import UsageError

    if text is None:
        return DEFAULT_ICE_ROWS
    if isinstance(text, int):
        value = text
    elif str(text).strip().lower() == "all":
        return None
    else:
        try:
            value = int(str(text).strip().replace(",", "").replace("_", ""))
        except ValueError as exc:
            raise UsageError(f"--ice-rows '{text}' is not a row count", "give N (e.g. 1000) or all") from exc
    if value < 1:
        raise UsageError(f"--ice-rows {value} must be at least 1", "give N (e.g. 1000) or all")
    return value


def ice_sample(n_rows: int, keep: int | None, seed: int | None) -> np.ndarray | None:
    """Positions (sorted) of the ICE lines kept: a seeded sample of ``keep`` of ``n_rows``, or None
    (every row) when ``keep`` is None or not smaller than ``n_rows``."""
    if keep is None or keep >= n_rows:
        return None
    return np.sort(np.random.RandomState(seed).choice(n_rows, size=keep, replace=False))


def estimate_output_bytes(
    grid_points: Sequence[int], n_targets: int, ice_lines: int, formats: Sequence[str]
) -> int:
    """About how many bytes pdp.json + pdp.csv take: one value per (grid point, target, line + 1)."""
    values = sum(grid_points) * n_targets * (ice_lines + 1)
    per = (CSV_BYTES_PER_VALUE if "csv" in formats else 0) + (
        JSON_BYTES_PER_VALUE if "json" in formats else 0
    )
    return values * per


def size_text(n_bytes: float) -> str:
    """'141 MB' (binary multiples, as --memory-budget reads them)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:,.0f} {unit}" if unit == "B" else f"{n_bytes:,.1f} {unit}".replace(".0 ", " ")
        n_bytes /= 1024
    return f"{n_bytes:,.0f} GB"


def size_note(
    estimator: Any,
    X: Any,
    names: Sequence[str],
    one_way: Sequence[str],
    pairs: Sequence[Sequence[str]],
    grid_resolution: int,
    custom: Mapping[str, Any],
    categorical: Sequence[str],
    classes: Sequence[Any] | None,
    ice_rows: np.ndarray | None,
    formats: Sequence[str] = ("json", "csv"),
) -> str | None:
    """A note, before computing, when the ICE results would make large files (else None)."""
    import pandas as pd

    from inspectcli.engines.grid import is_categorical_dtype
    from inspectcli.introspect import task_of

    def points(f: str) -> int:
        if f in custom:
            return len(custom[f])
        col = X[f] if hasattr(X, "columns") else np.asarray(X)[:, list(names).index(f)]
        values = pd.Series(np.asarray(col, dtype=object))
        if f in categorical or is_categorical_dtype(col):
            return int(values.nunique())
        return min(grid_resolution, int(values.nunique()))

    sizes = [points(f) for f in one_way] + [int(np.prod([points(f) for f in p])) for p in pairs]
    task = task_of(estimator)
    targets = len(classes) if classes else (len(task.classes or []) if task.kind == "multiclass" else 1)
    lines = X.shape[0] if ice_rows is None else len(ice_rows)
    size = estimate_output_bytes(sizes, max(targets, 1), lines, formats)
    if size <= LARGE_OUTPUT:
        return None
    return (
        f"ICE of {lines:,} rows on {sum(sizes):,} grid points: the result files will take about "
        f"{size_text(size)}; a smaller `ice_rows` keeps fewer rows"
    )
