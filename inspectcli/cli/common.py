"""Steps every MODEL DATA command shares: load both, match them, report notes, write results."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.cli.console import UI
from inspectcli.engines.parallel import check_backend
from inspectcli.errors import UsageError, did_you_mean
from inspectcli.introspect import expected_features
from inspectcli.loading.data import Dataset, RowSample, open_data
from inspectcli.loading.match import Prepared, check_predicts, prepare
from inspectcli.loading.model import LoadedModel, load_model
from inspectcli.numbers import parse_finite
from inspectcli.results import check_out_dir, parse_formats, write_files


@dataclass
class RowPlan:
    """Rows a command needs, drawn from the data's row count before anything is read.

    ``draw(n_rows)`` gives positions (in the order the command uses them) or None for every row.
    """

    option: str
    seed: int | None
    draw: Callable[[int], np.ndarray | None]


@dataclass
class Inputs:
    model: LoadedModel
    data: Dataset
    prepared: Prepared


def load_inputs(
    ui: UI,
    model_path: Path | str,
    data_path: str,
    *,
    trust: list[str] | None,
    sha256: str | None,
    no_pickle: bool,
    strict: bool,
    target: str | None,
    sample_weight: str | None,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
    require_target: bool = False,
    infer_target: bool = False,
    probe: bool = True,
    where: str | None = None,
    rows: RowPlan | None = None,
) -> Inputs:
    """Load the model, read only the columns it needs, match them and try a first prediction."""
    with ui.status(f"loading {Path(model_path).name}"):
        model = load_model(
            model_path,
            trust=trust or (),
            sha256=sha256,
            allow_pickle=False if no_pickle else None,
            strict=strict,
        )
    for note in model.notes:
        ui.warn(note) if "scikit-learn" in note else ui.note(note)
    data, prepared = load_matched_data(
        ui,
        model.estimator,
        data_path,
        target=target,
        sample_weight=sample_weight,
        sep=sep,
        encoding=encoding,
        decimal=decimal,
        require_target=require_target,
        infer_target=infer_target,
        probe=probe,
        where=where,
        rows=rows,
    )
    return Inputs(model, data, prepared)


def load_matched_data(
    ui: UI,
    estimator: Any,
    data_path: str,
    *,
    target: str | None,
    sample_weight: str | None,
    sep: str | None,
    encoding: str | None,
    decimal: str | None,
    require_target: bool = False,
    infer_target: bool = False,
    probe: bool = True,
    where: str | None = None,
    rows: RowPlan | None = None,
) -> tuple[Dataset, Prepared]:
    """Read what ``estimator`` needs from DATA, match it and try a first prediction.

    Only the model's columns (plus target and weights) are read, of the rows ``--where`` keeps;
    with ``rows``, only the positions it draws from their count (Parquet / Arrow: only the row
    groups holding them).
    """
    names = expected_features(estimator)
    with ui.status(f"reading {Path(data_path).name if data_path != '-' else 'stdin'}"):
        source = open_data(data_path, sep=sep, encoding=encoding, decimal=decimal, where=where)
        columns = None
        if names is not None:
            columns = [*names, *(c for c in (target, sample_weight) if c)]
            if infer_target and target is None:
                others = [c for c in source.columns if c not in names and c != sample_weight]
                columns += others if len(others) == 1 else []
        # (with fewer than 2 rows, prepare() says so: an input error before any option about rows)
        positions = rows.draw(source.n_rows) if rows is not None and source.n_rows >= 2 else None
        data = source.read(columns, rows=positions)
    if rows is not None and positions is not None:
        data.sample = RowSample(rows.option, rows.seed, positions)
    for note in data.notes:
        ui.note(note)
    prepared = prepare(
        estimator,
        data,
        target=target,
        sample_weight=sample_weight,
        infer_target=infer_target,
        require_target=require_target,
    )
    if probe:
        with ui.status(f"checking that the model predicts on {data.name}"):
            check_predicts(estimator, prepared, data.name)  # (may add a note on numbers stored as text)
    for note in prepared.notes:
        ui.note(note)
    return data, prepared


def setup_command(
    *,
    quiet: bool,
    verbose: bool,
    json_out: bool,
    format: str,
    plot: bool,
    out: Path,
    backend: str,
    scheduler: str | None,
) -> tuple[UI, tuple[str, ...]]:
    """The checks every result-writing command makes first: (terminal UI, chosen file formats)."""
    ui = UI(quiet=quiet, verbose=verbose, json_mode=json_out)
    formats = parse_formats(format)
    if formats or plot:
        check_out_dir(out)
    check_backend(backend, scheduler)
    return ui, formats


def split_names(values: list[str] | None, *, strip: bool = True) -> list[str]:
    """Repeatable options that also accept comma-separated lists.

    With ``strip=False`` (column names) the pieces keep their spaces: ``' a'`` may be a column;
    :func:`check_feature` falls back to the stripped name when the exact one is not a feature.
    """
    out: list[str] = []
    for v in values or []:
        out.extend((p.strip() if strip else p) for p in v.split(",") if p.strip())
    return out


def parse_count_or_fraction(text: str | None, option: str, n: int) -> int | None:
    """'1000' -> 1000 rows, '0.25' -> a quarter of n; None -> None."""
    if text is None:
        return None
    value = parse_finite(text, option, "give a row count or a fraction")
    if value <= 0:
        raise UsageError(f"{option} {text} must be positive", "give a row count or a fraction")
    if "." in text or "e" in text.lower():
        if value > 1:
            raise UsageError(f"{option} {text}: a fraction must be at most 1", "e.g. 0.5, or a row count")
        return max(1, int(value * n))
    return min(int(value), n)


def check_feature(name: str, option: str, prep: Prepared, sample_weight: str | None) -> str:
    """``name`` when it is one of the model's features, else a usage error naming ``option``."""
    names = prep.feature_names
    if name in names:
        return name
    if name.strip() in names:  # '-f "a, b"': names are exact, the spaces after commas are not
        return name.strip()
    if name in (prep.target, sample_weight):
        raise UsageError(
            f"{option} '{name}' is the {'--target' if name == prep.target else '--sample-weight'} "
            "column, not a model input",
            "choose one of the model's features",
        )
    raise UsageError(
        f"{option}: unknown feature '{name}'{did_you_mean(name, names)}",
        f"features are: {', '.join(names[:15])}{', …' if len(names) > 15 else ''}",
    )


def feature_column(X: Any, names: list[str], name: str) -> Any:
    """Column ``name`` of a DataFrame, or of an ndarray whose columns are ``names``."""
    return X[name] if hasattr(X, "columns") else X[:, names.index(name)]


@dataclass
class Rows:
    """The rows a command works on (``--subsample``)."""

    X: Any
    sample_weight: np.ndarray | None
    ids: np.ndarray  # positions in the data
    subsample: int | None  # rows drawn, None when all are used


def subsample_positions(subsample: str | None, n_rows: int, seed: int | None) -> np.ndarray | None:
    """Sorted positions of ``--subsample`` N | FRACTION rows of ``n_rows`` drawn with ``seed``, or None."""
    n_sub = parse_count_or_fraction(subsample, "--subsample", n_rows)
    if n_sub is None or n_sub >= n_rows:
        return None
    if n_sub < 2:
        raise UsageError(f"--subsample {subsample} leaves fewer than 2 rows", "ask for more rows")
    from sklearn.utils.random import sample_without_replacement

    # O(n_sub) time and memory for small fractions (a permutation of all n_rows is not).
    return np.sort(sample_without_replacement(n_rows, n_sub, random_state=np.random.RandomState(seed)))


def subsample_plan(subsample: str | None, seed: int | None) -> RowPlan | None:
    """Read only the ``--subsample`` rows (the same rows :func:`subsample_rows` would draw)."""
    if subsample is None:
        return None
    return RowPlan("--subsample", seed, lambda n: subsample_positions(subsample, n, seed))


def subsample_rows(
    ui: UI, prep: Prepared, subsample: str | None, seed: int | None, drawn: RowSample | None = None
) -> Rows:
    """All rows, or ``--subsample`` N | FRACTION of them drawn with ``seed`` (in data order).

    ``drawn``: the rows were drawn before reading (:func:`subsample_plan`), ``prep`` holds just them.
    """
    if drawn is not None:
        ids = np.asarray(drawn.positions)
        ui.note(
            f"using {len(ids):,} rows drawn from the data (--subsample, seed {seed}); only those were read"
        )
        return Rows(prep.X, prep.sample_weight, ids, len(ids))
    ids = subsample_positions(subsample, prep.n_rows, seed)
    if ids is None:
        return Rows(prep.X, prep.sample_weight, np.arange(prep.n_rows), None)
    n_sub = len(ids)
    X = prep.X.iloc[ids] if hasattr(prep.X, "iloc") else prep.X[ids]
    sw = prep.sample_weight[ids] if prep.sample_weight is not None else None
    ui.note(f"using {n_sub:,} of {prep.n_rows:,} rows (--subsample, seed {seed})")
    return Rows(X, sw, ids, n_sub)


def decile_marks(X: Any, names: list[str], features: Any) -> dict[str, np.ndarray]:
    """Deciles of each numeric feature, for the rug marks of PD / ALE plots."""
    marks = {}
    for f in features:
        col = feature_column(X, names, f)
        arr = pd.to_numeric(pd.Series(np.asarray(col)), errors="coerce").to_numpy(dtype=float)
        if np.isfinite(arr).any():
            marks[f] = np.nanpercentile(arr, np.arange(10, 100, 10))
    return marks


def parse_random_state(value: str | None) -> int | None:
    """'0' -> 0, 'none' -> a fresh seed drawn now (recorded in the results)."""
    if value is None or value.strip().lower() in ("none", "random", ""):
        return random.SystemRandom().randrange(2**31 - 1)
    try:
        seed = int(value)
    except ValueError as exc:
        raise UsageError(f"--random-state '{value}' is not an integer", "give e.g. 0, or 'none'") from exc
    if not 0 <= seed < 2**32:
        raise UsageError(f"--random-state {seed} is out of range", "use 0 … 4294967295")
    return seed


def emit(
    ui: UI,
    out: Path,
    files: Mapping[str, bytes],
    *,
    json_bytes: bytes | None,
    json_stdout: bool,
) -> None:
    """Write the rendered files, then print the JSON to stdout when asked."""
    written = write_files(out, files) if files else []
    if written:
        ui.note("wrote " + ", ".join(os.fspath(p) for p in written))
    if json_stdout and json_bytes is not None:
        ui.json(json_bytes)


def result_files(
    base: str,
    formats: tuple[str, ...],
    *,
    json_bytes: bytes,
    csv_data: bytes | None,
    png: bytes | None,
    extra: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if "json" in formats:
        files[f"{base}.json"] = json_bytes
    if "csv" in formats and csv_data is not None:
        files[f"{base}.csv"] = csv_data
    if png is not None:
        files[f"{base}.png"] = png
    if extra:
        files.update(extra)
    return files


def loaded_summary(inputs: Inputs) -> dict[str, Any]:
    return {"model": inputs.model.name, "data": inputs.data.name, "rows": inputs.prepared.n_rows}
