"""Steps every MODEL DATA command shares: load both, match them, report notes, write results."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspectcli.cli.console import UI
from inspectcli.errors import UsageError
from inspectcli.introspect import expected_features
from inspectcli.loading.data import Dataset, load_dataset
from inspectcli.loading.match import Prepared, check_predicts, prepare
from inspectcli.loading.model import LoadedModel, load_model
from inspectcli.results import write_files


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
) -> Inputs:
    """Load the model, read only the columns it needs, match them and try a first prediction."""
    model = load_model(
        model_path, trust=trust or (), sha256=sha256, allow_pickle=False if no_pickle else None, strict=strict
    )
    for note in model.notes:
        ui.warn(note) if "scikit-learn" in note else ui.note(note)
    names = expected_features(model.estimator)
    columns = None
    if names is not None and not infer_target:
        columns = [*names, *(c for c in (target, sample_weight) if c)]
    data = load_dataset(data_path, columns=columns, sep=sep, encoding=encoding, decimal=decimal)
    for note in data.notes:
        ui.note(note)
    prepared = prepare(
        model.estimator,
        data,
        target=target,
        sample_weight=sample_weight,
        infer_target=infer_target,
        require_target=require_target,
    )
    for note in prepared.notes:
        ui.note(note)
    if probe:
        check_predicts(model.estimator, prepared, data.name)
    return Inputs(model, data, prepared)


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
