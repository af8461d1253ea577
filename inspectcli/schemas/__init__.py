"""The JSON Schemas of the result files (``inspect schema KIND`` prints them).

The ``*.json`` files beside this module are the published schemas; each pins ``schema_version``
to :data:`inspectcli.results.SCHEMA_VERSION`, which changes whenever the format of a file does.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from inspectcli.errors import UsageError, did_you_mean

KINDS = ("pdp", "importance", "interactions", "diff", "info", "ale", "coefficients")


def load_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the result files of ``kind``."""
    if kind not in KINDS:
        raise UsageError(
            f"no schema for '{kind}'{did_you_mean(kind, KINDS)}", f"choose one of {', '.join(KINDS)}"
        )
    text = resources.files(__name__).joinpath(f"{kind}.json").read_text(encoding="utf-8")
    return json.loads(text)


def check_result(doc: Any, *, what: str, kinds: tuple[str, ...] = KINDS) -> None:
    """An InputError naming ``what`` and the JSON path unless ``doc`` is a valid result file.

    Validates against the published schema of the document's ``kind`` (files of an older
    ``schema_version`` against the current layout, without its version pin); used on every file
    a command reads back (``inspect diff``), so a hand-edited file is refused before it is compared.
    """
    import jsonschema

    from inspectcli.errors import InputError, clip
    from inspectcli.results import SCHEMA_VERSION

    hint = f"give a {' or '.join(f'{k}.json' for k in kinds)} written by inspect (see `inspect schema KIND`)"
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in kinds:
        found = "not a JSON object" if not isinstance(doc, dict) else f"of kind {clip(repr(kind), 40)}"
        raise InputError(f"{what} is {found}, not an inspectcli {' or '.join(kinds)} result", hint)
    schema = load_schema(kind)
    version = doc.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION:
        schema["properties"]["schema_version"] = {"type": "integer", "minimum": 1}
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    except RecursionError:
        raise InputError(f"{what} is nested too deeply to be a {kind} result", hint) from None
    if error is not None:
        raise InputError(
            f"{what} does not match the published {kind} schema at {error.json_path}: "
            f"{clip(error.message, 160)}",
            hint,
        )


def validate(doc: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` matches the schema of its ``kind``.

    Needs the ``jsonschema`` package (in the dev extra).
    """
    import jsonschema

    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in KINDS:
        raise jsonschema.ValidationError(f"no schema for a document of kind {kind!r}")
    jsonschema.Draft202012Validator(load_schema(kind)).validate(doc)
