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


def validate(doc: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` matches the schema of its ``kind``.

    Needs the ``jsonschema`` package (in the dev extra).
    """
    import jsonschema

    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind not in KINDS:
        raise jsonschema.ValidationError(f"no schema for a document of kind {kind!r}")
    jsonschema.Draft202012Validator(load_schema(kind)).validate(doc)
