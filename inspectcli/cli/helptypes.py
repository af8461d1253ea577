"""Help text without Typer's type placeholders (``<bool>``, ``<list[str]>``, ``<str>``).

Recent Typer versions print a parameter's Python type beside every option that has no metavar:
``--centered <bool>`` reads as if the flag took a value, ``<list[str]>`` is Python, not usage.
Flags get no placeholder; other values get a plain upper-case word (TEXT, PATH, N).
"""

from __future__ import annotations

from typing import Any

_WORDS = {"str": "TEXT", "path": "PATH", "int": "N", "float": "NUMBER", "file": "FILE", "directory": "DIR"}


def plain_type(param: Any, shown: str | None) -> str | None:
    """What to show in the type column for ``param`` instead of Typer's ``shown``."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if not shown or not (shown.startswith("<") and shown.endswith(">")):
        return shown
    inner = shown[1:-1]
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    return _WORDS.get(inner, inner.upper())


def install() -> None:
    """Patch Typer's option and argument classes (idempotent)."""
    import typer.core

    for cls in (typer.core.TyperOption, typer.core.TyperArgument):
        original = cls.display_type_rich
        if getattr(original, "_plain", False):
            continue

        def display_type_rich(self: Any, ctx: Any, _original: Any = original) -> str | None:
            return plain_type(self, _original(self, ctx))

        display_type_rich._plain = True  # type: ignore[attr-defined]
        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]
