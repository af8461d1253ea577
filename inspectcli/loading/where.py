"""``--where EXPR``: a small row filter, compiled to a ``pyarrow.dataset`` expression.

Grammar (keywords are case-insensitive)::

    expr    := conj ("or" conj)*
    conj    := atom ("and" atom)*
    atom    := "(" expr ")" | "not" atom | name OP value | name ["not"] "in" "(" value ("," value)* ")"
    OP      := "==" | "=" | "!=" | "<" | "<=" | ">" | ">="
    name    := identifier (letters, digits, _ and .) | `any text in backquotes`
    value   := number | 'text' | "text" | true | false

Anything else is a usage error (exit 2) that points at the offending place. The same expression
filters every reader (Parquet / Arrow datasets through pyarrow's scanner, CSV and JSON Lines through
an Arrow table of the columns it names), so a segment is the same rows whichever way it is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inspectcli.errors import UsageError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<bq>`[^`]+`)
      | (?P<op>==|!=|<=|>=|=|<|>|\(|\)|,)
      | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.X,
)
_OPS = {"==": "==", "=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


@dataclass(frozen=True)
class Where:
    """A parsed ``--where``: its text, the columns it reads and the pyarrow expression."""

    text: str
    columns: tuple[str, ...]
    #: nested tuples: ("or" | "and", a, b), ("not", a), ("cmp", name, op, value), ("in", name, values)
    tree: Any

    def expression(self) -> Any:
        """The ``pyarrow.dataset.Expression`` of this filter."""
        return _compile(self.tree)


#: Bounds on a filter's size: the expression is evaluated recursively (here and by pyarrow, whose
#: evaluation of 20,000 chained comparisons overflowed its stack), so it is kept small.
MAX_COMPARISONS = 256
MAX_DEPTH = 32


def _too_big(text: str, what: str, pos: int) -> UsageError:
    shown = text if len(text) <= 60 else text[:57] + "…"
    return UsageError(
        f"`where` '{shown}' is too large: {what} (at character {pos + 1})",
        "write a shorter filter; list many values with `in (...)`",
    )


def _malformed(text: str, pos: int, what: str) -> UsageError:
    shown = text if len(text) <= 60 else text[:57] + "…"
    return UsageError(
        f"`where` '{shown}' is malformed: {what} at character {pos + 1}",
        "write e.g. `where=\"year >= 2024 and region in ('eu', 'us')\"`",
    )


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise _malformed(text, start, f"unexpected {text[start]!r}")
        start = m.start(m.lastgroup)  # type: ignore[arg-type]
        kind = m.lastgroup
        raw = m.group(kind)  # type: ignore[arg-type]
        if kind == "num":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            out.append(("value", value, start))
        elif kind == "str":
            out.append(("value", re.sub(r"\\(.)", r"\1", raw[1:-1]), start))
        elif kind == "bq":
            out.append(("name", raw[1:-1], start))
        elif kind == "op":
            out.append(("op", raw, start))
        else:
            low = raw.lower()
            if low in ("true", "false"):
                out.append(("value", low == "true", start))
            elif low in _KEYWORDS:
                out.append(("kw", low, start))
            else:
                out.append(("name", raw, start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.names: list[str] = []
        self.depth = 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any, int]:
        tok = self.peek()
        if tok is None:
            raise _malformed(self.text, len(self.text) - 1, "it ends too early")
        self.i += 1
        return tok

    def expect(self, kind: str, value: Any, what: str) -> None:
        tok = self.take()
        if tok[0] != kind or tok[1] != value:
            raise _malformed(self.text, tok[2], f"expected {what}")

    def parse(self) -> Any:
        if not self.toks:
            raise UsageError("`where` is empty", "write e.g. `where='year >= 2024'`")
        tree = self.expr()
        tok = self.peek()
        if tok is not None:
            raise _malformed(self.text, tok[2], f"unexpected {tok[1]!r}")
        return tree

    def _chain(self, keyword: str, operand: Any) -> Any:
        # operand (keyword operand)*, left-associative
        tree = operand()
        while (tok := self.peek()) is not None and tok[:2] == ("kw", keyword):
            self.take()
            tree = (keyword, tree, operand())
        return tree

    def expr(self) -> Any:
        return self._chain("or", self.conj)

    def conj(self) -> Any:
        return self._chain("and", self.atom)

    def atom(self) -> Any:
        kind, value, pos = self.take()
        if (kind, value) in (("op", "("), ("kw", "not")):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _too_big(self.text, f"parentheses and 'not' nested over {MAX_DEPTH} deep", pos)
            if value == "(":
                tree = self.expr()
                self.expect("op", ")", "')'")
            else:
                tree = ("not", self.atom())
            self.depth -= 1
            return tree
        if kind != "name":
            raise _malformed(self.text, pos, "expected a column name")
        self.names.append(value)
        if len(self.names) > MAX_COMPARISONS:
            raise _too_big(self.text, f"over {MAX_COMPARISONS} comparisons", pos)
        kind2, op, pos2 = self.take()
        negate = False
        if (kind2, op) == ("kw", "not"):
            negate = True
            kind2, op, pos2 = self.take()
            if (kind2, op) != ("kw", "in"):
                raise _malformed(self.text, pos2, "expected 'in' after 'not'")
        if (kind2, op) == ("kw", "in"):
            self.expect("op", "(", "'(' after 'in'")
            values = [self.value()]
            while (tok := self.peek()) is not None and tok[:2] == ("op", ","):
                self.take()
                values.append(self.value())
            self.expect("op", ")", "')' closing the list")
            tree: Any = ("in", value, tuple(values))
            return ("not", tree) if negate else tree
        if kind2 != "op" or op not in _OPS:
            raise _malformed(self.text, pos2, "expected a comparison (==, !=, <, <=, >, >=) or 'in'")
        return ("cmp", value, _OPS[op], self.value())

    def value(self) -> Any:
        kind, value, pos = self.take()
        if kind != "value":
            raise _malformed(self.text, pos, "expected a number, 'text', true or false")
        return value


def parse_where(text: str | None) -> Where | None:
    """Parse ``--where``; None when not given. Malformed text is a UsageError (exit 2)."""
    if text is None:
        return None
    parser = _Parser(text)
    tree = parser.parse()
    return Where(text, tuple(dict.fromkeys(parser.names)), tree)


def _compile(tree: Any) -> Any:
    import pyarrow.dataset as ds

    head = tree[0]
    if head == "or":
        return _compile(tree[1]) | _compile(tree[2])
    if head == "and":
        return _compile(tree[1]) & _compile(tree[2])
    if head == "not":
        return ~_compile(tree[1])
    if head == "in":
        return ds.field(tree[1]).isin(list(tree[2]))
    _, name, op, value = tree
    f = ds.field(name)
    return {
        "==": f == value,
        "!=": f != value,
        "<": f < value,
        "<=": f <= value,
        ">": f > value,
        ">=": f >= value,
    }[op]
