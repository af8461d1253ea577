"""What every command does with flags and results: split lists, write files, print the JSON."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inspectcli.cli.options import OutputFlags
from inspectcli.errors import UsageError


def split_names(values: list[str] | None, *, strip: bool = True) -> tuple[str, ...]:
    """Repeatable options that also accept comma-separated lists.

    With ``strip=False`` (column names) the pieces keep their spaces: ``' a'`` may be a column;
    ``check_feature`` falls back to the stripped name when the exact one is not a feature.
    """
    out: list[str] = []
    for v in values or []:
        out.extend((p.strip() if strip else p) for p in v.split(",") if p.strip())
    return tuple(out)


def parse_random_state(value: str | None) -> int:
    """'0' -> 0; 'none' -> a fresh seed drawn now (recorded in the results)."""
    from inspectcli.workflows._inputs import resolve_seed

    if value is None or value.strip().lower() in ("none", "random", ""):
        return resolve_seed(None)
    try:
        seed = int(value)
    except ValueError as exc:
        raise UsageError(f"--random-state '{value}' is not an integer", "give e.g. 0, or 'none'") from exc
    if not 0 <= seed < 2**32:
        raise UsageError(f"--random-state {seed} is out of range", "use 0 … 4294967295")
    return seed


def name_lists(
    values: list[str] | None, flag: str, needs: str, example: str, *, strip: bool = True
) -> dict[str, str]:
    """['NAME=a,b', …] -> {'NAME': 'a,b'}: --group, --order, --values (``strip``: the names)."""
    out: dict[str, str] = {}
    for item in values or []:
        if "=" not in item:
            raise UsageError(f"{flag} '{item}' needs {needs}", f"e.g. {example}")
        name, _, rest = item.partition("=")
        name = name.strip() if strip else name
        if not name.strip():
            raise UsageError(f"{flag} '{item}' has no name", f"e.g. {example}")
        if name in out:
            raise UsageError(f"{flag} '{name}' is given twice", f"give each {flag.lstrip('-')} once")
        out[name] = rest
    return out


def emit(
    ui: Any, out: Path, files: Mapping[str, bytes], *, json_bytes: bytes | None, json_stdout: bool
) -> None:
    """Write the rendered files, then print the JSON to stdout when asked."""
    from inspectcli.results import write_files

    written = write_files(out, files) if files else []
    if written:
        ui.note("wrote " + ", ".join(os.fspath(p) for p in written))
    if json_stdout and json_bytes is not None:
        ui.json(json_bytes)


def write_results(
    ui: Any,
    output: OutputFlags,
    formats: tuple[str, ...],
    base: str,
    document: dict[str, Any],
    *,
    csv: Any = None,
    png: Any = None,
    extra: Mapping[str, bytes] | None = None,
) -> None:
    """Write ``base``.json / .csv / .png (as --format and --plot ask) and print the JSON with --json.

    ``csv`` and ``png`` are callables, called only when their file is wanted.
    """
    from inspectcli.results import to_json_bytes

    json_bytes = to_json_bytes(document)
    files: dict[str, bytes] = {}
    if "json" in formats:
        files[f"{base}.json"] = json_bytes
    if "csv" in formats and csv is not None:
        files[f"{base}.csv"] = csv()
    if output.plot and png is not None:
        data = png()
        if data is not None:
            files[f"{base}.png"] = data
    if extra:
        files.update(extra)
    emit(ui, output.out, files, json_bytes=json_bytes, json_stdout=output.json_out)


def parse_pairs(
    values: list[str] | None, flag: str = "--pair", *, at_most: int | None = None
) -> tuple[tuple[str, ...], ...]:
    """``A,B`` (or ``A:B``) feature sets from a repeatable option; names are kept as written
    (``' a'`` may be a column: ``check_feature`` falls back to the stripped name)."""
    pairs = []
    for v in values or []:
        parts = tuple(p for p in v.replace(":", ",").split(",") if p.strip())
        if len(parts) < 2 or (at_most is not None and len(parts) > at_most):
            raise UsageError(f"{flag} '{v}' needs two features", f"write {flag} A,B")
        pairs.append(parts)
    return tuple(pairs)
