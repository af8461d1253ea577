"""Numbers given on the command line: parsed once, where the option is read, and always finite.

``float()`` accepts 'nan', 'inf', '-Infinity' and '1e999' (inf); none of them is a row count, a
fraction, a percentile or a grid value, and letting one through turns a usage error into a
confusing failure deep inside a computation. Every option that takes a number goes through
:func:`parse_finite` (typed ``float`` options through the click type patched in cli/app.py).
"""

from __future__ import annotations

import math
import re

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


#: Size units: decimal (KB, MB, GB, TB; a bare k/m/g/t too) and binary (KiB, MiB, GiB, TiB).
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "kib": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
}


def parse_size(text: str | int, *, param: str, minimum: int = 1) -> int:
    """A size in bytes: '512MB' -> 512_000_000, '2GiB' -> 2_147_483_648, '1.5g', or a whole number.

    Raises a UsageError naming ``param`` when ``text`` is not a size or is below ``minimum``.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _UNITS:
            raise UsageError(f"`{param}='{text}'` is not a size", "write e.g. 512MB, 2GB or 1.5GiB")
        value = int(float(m.group(1)) * _UNITS[unit])
    if value < minimum:
        shown = "1 MB" if minimum == 10**6 else f"{minimum:,} byte{'s' if minimum > 1 else ''}"
        raise UsageError(f"`{param}='{text}'` is below {shown}", f"give at least {shown}")
    return value
