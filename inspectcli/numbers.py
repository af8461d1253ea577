"""Numbers given on the command line: parsed once, where the option is read, and always finite.

``float()`` accepts 'nan', 'inf', '-Infinity' and '1e999' (inf); none of them is a row count, a
fraction, a percentile or a grid value, and letting one through turns a usage error into a
confusing failure deep inside a computation. Every option that takes a number goes through
:func:`parse_finite` (typed ``float`` options through the click type patched in cli/app.py).
"""

from __future__ import annotations

import math

from inspectcli.errors import UsageError


def is_finite_number(text: str) -> bool:
    """True when ``text`` parses as a finite float."""
    try:
        return math.isfinite(float(text))
    except (TypeError, ValueError, OverflowError):
        return False


def parse_finite(text: str, option: str, hint: str = "give a number") -> float:
    """``float(text)``, or a UsageError naming ``option`` when it is not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError) as exc:
        raise UsageError(f"{option} '{text}' is not a number", hint) from exc
    if not math.isfinite(value):
        raise UsageError(f"{option} '{text}' is not a finite number", hint)
    return value
