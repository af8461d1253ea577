"""The ``--fail-if`` grammar: conditions parsed (and their names checked) before any computation."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from inspectcli.errors import UsageError, did_you_mean

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

#: measure -> (kinds it belongs to, how many names: (min, max), allowed without a name)
MEASURES: dict[str, tuple[tuple[str, ...], tuple[int, int], bool]] = {
    "mean": (("importance",), (1, 1), True),
    "std": (("importance",), (1, 1), True),
    "low": (("importance",), (1, 1), True),
    "high": (("importance",), (1, 1), True),
    "rank": (("importance",), (1, 1), False),
    "range": (("pdp",), (1, 3), True),
    "h2": (("pdp", "interactions"), (2, 2), True),
    "change": (("diff",), (1, 1), True),
    "abs_change": (("diff",), (1, 1), True),
    "rank_change": (("diff",), (1, 1), True),
    "gap": (("diff",), (1, 1), True),
    "max_abs_diff": (("diff",), (1, 3), True),
    "mean_diff": (("diff",), (1, 3), True),
    "mean_abs_diff": (("diff",), (1, 3), True),
    "max_gap": (("diff",), (1, 3), True),
}
DIFF_IMPORTANCE = ("change", "abs_change", "rank_change", "gap")
DIFF_PDP = ("max_abs_diff", "mean_diff", "mean_abs_diff", "max_gap")
SCORED = ("mean", "std", "low", "high", "rank", *DIFF_IMPORTANCE)
KINDS = ("importance", "pdp", "diff", "interactions")

EXAMPLES = {
    "importance": 'e.g. "sex > 0.01", "rank(bmi) > 3", "low(r2:bmi) < 0.05", "mean < 0"',
    "pdp": 'e.g. "range(age) > 50", "h2(age,bmi) > 0.2", "range(proline, target=1) > 0.3"',
    "interactions": 'e.g. "h2(age,bmi) > 0.2", "h2 > 0.5", "h2(age,bmi, target=1) > 0.1"',
    "diff": 'e.g. "abs_change(age) > 0.05", "rank_change > 2", "gap > 0", "max_abs_diff(bmi) > 5", '
    '"max_gap(bmi) > 0"',
}
GRAMMAR_HINT = "see 'Use in CI' in the README for the grammar"

# --------------------------------------------------------------------------------------------
# parsing


@dataclass(frozen=True)
class Condition:
    """One parsed ``--fail-if`` condition."""

    text: str
    measure: str
    names: tuple[str, ...] | None  # None: any feature (or pair)
    op: str
    threshold: float
    scorer: str | None = None
    target: str | None = None
    group: str | None = None  # `by`: the group's curve (pdp range), by its label

    def holds(self, value: float | None) -> bool:
        """Whether the condition holds for ``value``; an undefined value counts as holding."""
        if value is None or math.isnan(value):
            return True
        return OPS[self.op](value, self.threshold)

    @property
    def wants_max(self) -> bool:
        return self.op in (">", ">=")


@dataclass
class Gates:
    """The conditions of one command; falsy when there are none."""

    kind: str
    conditions: list[Condition] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.conditions)

    def __iter__(self) -> Iterator[Condition]:
        return iter(self.conditions)

    def check_importance(
        self, names: Sequence[str], groups: Mapping[str, Sequence[str]] | None, scorers: Sequence[str] | None
    ) -> None:
        """Fail early (before computing) on names and scorers the run will not have.

        ``names``: the model's features; ``groups``: --group / cluster groups; ``scorers``: the
        scorer names the run will use (None when not known yet).
        """
        from inspectcli.engines.permutation import resolve_groups
        from inspectcli.gates.evaluate import resolve_importance

        rows, members = resolve_groups(names, groups)
        columns = [[names[j] for j in m] for m in members]
        for cond in self.conditions:
            resolve_importance(cond, rows, columns, scorers)

    def check_pdp(
        self,
        one_way: Sequence[str],
        pairs: Sequence[Sequence[str]],
        names: Sequence[str],
        kind: str,
        classes: Sequence[str] | None = None,
    ) -> None:
        """Fail early when a condition names a curve the run will not compute.

        ``classes``: the --class labels the run keeps, when given (target= must be one of them).
        """
        from inspectcli.gates.evaluate import match_curve_names

        sets = [(f,) for f in one_way] + [tuple(p) for p in pairs]
        for cond in self.conditions:
            if cond.target is not None and classes and cond.target not in [str(c) for c in classes]:
                raise UsageError(
                    f"`fail_if={quote(cond.text)}`: target={cond.target} is not among `classes` "
                    f"{', '.join(map(str, classes))}",
                    f"add `classes={cond.target}`",
                )
            if kind == "individual":
                raise UsageError(
                    f"`fail_if={quote(cond.text)}` needs the average curve (`kind=individual` has none)",
                    "use `kind=both`",
                )
            match_curve_names(cond, sets, names)


def parse_conditions(texts: Sequence[str], kind: str) -> Gates:
    """Parse ``--fail-if`` texts for a command (``importance``, ``pdp`` or ``diff``).

    Raises
    ------
    UsageError
        For a malformed condition, naming the offending token and its position.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return Gates(kind, [_Parser(text, kind).parse() for text in texts])


_TOKEN = re.compile(
    r"\s*(?:(<=|>=|==|!=|[<>=(),:!])|('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|([^\s(),:=<>!'\"]+))"
)


@dataclass
class _Tok:
    kind: str  # op, punct, str, word, end
    text: str
    value: str
    pos: int  # 1-based character position


class _Parser:
    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind
        self.group: str | None = None
        self.toks = self._tokenize()
        self.i = 0

    # -- errors -----------------------------------------------------------------------------

    def fail(self, what: str, tok: _Tok | None = None, hint: str | None = None) -> UsageError:
        where = ""
        if tok is not None:
            where = ", at the end" if tok.kind == "end" else f", character {tok.pos}"
            what = what.replace("{tok}", "the end of it" if tok.kind == "end" else repr(tok.text))
        return UsageError(
            f"`fail_if={quote(self.text)}`{where}: {what}", hint or f"{EXAMPLES[self.kind]}; {GRAMMAR_HINT}"
        )

    # -- tokens -----------------------------------------------------------------------------

    def _tokenize(self) -> list[_Tok]:
        toks: list[_Tok] = []
        pos, text = 0, self.text
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                start = len(text) - len(text[pos:].lstrip())
                if text[start] in "'\"":
                    raise self.fail(
                        f"unterminated quote {text[start]!r}",
                        _Tok("str", text[start], "", start + 1),
                        "close the quoted name",
                    )
                raise self.fail("unexpected {tok}", _Tok("word", text[start], "", start + 1))
            start = m.start(m.lastindex or 0)
            if m.group(1):
                op = m.group(1)
                toks.append(_Tok("op" if op in OPS or op in ("==", "!=") else "punct", op, op, start + 1))
            elif m.group(2):
                raw = m.group(2)
                toks.append(_Tok("str", raw, re.sub(r"\\(.)", r"\1", raw[1:-1]), start + 1))
            else:
                toks.append(_Tok("word", m.group(3), m.group(3), start + 1))
            pos = m.end()
        toks.append(_Tok("end", "", "", len(text) + 1))
        return toks

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    # -- grammar ----------------------------------------------------------------------------

    def parse(self) -> Condition:
        if not self.text.strip():
            raise self.fail("the condition is empty")
        measure, names, scorer, target = self.operand()
        tok = self.take()
        if tok.kind != "op":
            raise self.fail("expected a comparison (<, <=, >, >=), found {tok}", tok)
        if tok.text not in OPS:
            raise self.fail(f"'{tok.text}' is not a comparison this grammar has", tok, "use <, <=, > or >=")
        op = tok.text
        num = self.take()
        threshold = _number(num.value) if num.kind == "word" else None
        if threshold is None:
            raise self.fail("expected a number after the comparison, found {tok}", num)
        end = self.take()
        if end.kind != "end":
            raise self.fail("unexpected {tok} after the number", end)
        return Condition(self.text.strip(), measure, names, op, threshold, scorer, target, self.group)

    def operand(self) -> tuple[str, tuple[str, ...] | None, str | None, str | None]:
        scorer = None
        if self.peek(1).text == ":" and self.peek(1).kind == "punct" and self.peek().kind in ("word", "str"):
            scorer = self.take().value
            self.take()
        tok = self.peek()
        if tok.kind == "word" and self.peek(1).text == "(" and self.peek(1).kind == "punct":
            measure = self.measure(self.take())
            self.take()  # (
            names, inner_scorer, target = self.args(measure)
            if inner_scorer is not None and scorer is not None:
                raise self.fail("the scorer is given twice", tok)
            scorer = scorer or inner_scorer
        elif tok.kind == "word" and tok.value in MEASURES and _number(tok.value) is None:
            measure = self.measure(self.take())
            if not MEASURES[measure][2]:
                raise self.fail(
                    f"{measure} needs a feature",
                    tok,
                    f"write e.g. {measure}(bmi) > 3; {GRAMMAR_HINT}",
                )
            names, target = None, None
        elif tok.kind in ("word", "str"):
            if self.kind != "importance":
                raise self.fail(
                    "{tok} is not a measure",
                    tok,
                    f"{self.kind} conditions name a measure: {EXAMPLES[self.kind]}",
                )
            if tok.kind == "word" and _number(tok.value) is not None:
                raise self.fail("expected a feature or measure before the comparison, found {tok}", tok)
            measure, names, target = "mean", (self.take().value,), None
        else:
            raise self.fail("expected a feature or measure, found {tok}", tok)
        if scorer is not None and self.kind in ("pdp", "interactions"):
            raise self.fail(
                f"'{scorer}:' qualifies a scorer, and pdp conditions have none",
                tok,
                "for one class of a classifier write e.g. range(proline, target=1)",
            )
        if scorer is not None and self.kind == "diff" and measure in DIFF_PDP:
            raise self.fail(f"{measure} compares PD curves, which have no scorer", tok)
        return measure, names, scorer, target

    def measure(self, tok: _Tok) -> str:
        name = tok.value
        if name not in MEASURES:
            mine = [m for m, (kinds, _, _) in MEASURES.items() if self.kind in kinds]
            raise self.fail(
                f"unknown measure {{tok}}{did_you_mean(name, mine)}",
                tok,
                f"{self.kind} measures are {', '.join(mine)}; {GRAMMAR_HINT}",
            )
        kinds = MEASURES[name][0]
        if self.kind not in kinds:
            mine = [m for m, (k, _, _) in MEASURES.items() if self.kind in k]
            raise self.fail(
                f"{name}() is a measure of {' and '.join(kinds)} results, not of {self.kind} ones",
                tok,
                f"{self.kind} measures are {', '.join(mine)}",
            )
        return name

    def args(self, measure: str) -> tuple[tuple[str, ...], str | None, str | None]:
        names: list[str] = []
        scorer = target = None
        lo, hi = MEASURES[measure][1]
        start = self.peek()
        while True:
            tok = self.take()
            if tok.kind == "word" and tok.value == "target" and self.peek().text == "=":
                self.take()
                val = self.take()
                if val.kind not in ("word", "str"):
                    raise self.fail("expected a class label or output after target=, found {tok}", val)
                if self.kind == "importance" or measure in DIFF_IMPORTANCE:
                    raise self.fail("target= selects a class of PD curves; importance has none", tok)
                if target is not None:
                    raise self.fail("target= is given twice", tok)
                target = val.value
            elif tok.kind == "word" and tok.value == "group" and self.peek().text == "=":
                self.take()
                val = self.take()
                if val.kind not in ("word", "str"):
                    raise self.fail("expected a group's label after group=, found {tok}", val)
                if self.kind != "pdp" or measure != "range":
                    raise self.fail("group= selects the curve of a group of rows (`by`): range() of pdp", tok)
                if self.group is not None:
                    raise self.fail("group= is given twice", tok)
                self.group = val.value
            elif tok.kind in ("word", "str"):
                if self.peek().text == ":" and self.peek().kind == "punct":
                    self.take()
                    name = self.take()
                    if name.kind not in ("word", "str"):
                        raise self.fail("expected a feature after the scorer, found {tok}", name)
                    if scorer is not None and scorer != tok.value:
                        raise self.fail("one condition can name one scorer", tok)
                    scorer = tok.value
                    names.append(name.value)
                else:
                    names.append(tok.value)
            else:
                raise self.fail("expected a feature name, found {tok}", tok)
            sep = self.take()
            if sep.text == ")" and sep.kind == "punct":
                break
            if sep.text != "," or sep.kind != "punct":
                raise self.fail("expected ',' or ')', found {tok}", sep)
        if not lo <= len(names) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(
                f"{measure}() takes {want} feature(s), got {len(names)}",
                start,
                f"e.g. {_example(measure)}; without a name it means any feature",
            )
        if scorer is not None and (self.kind in ("pdp", "interactions") or measure in DIFF_PDP):
            raise self.fail(f"{measure}() has no scorer; 'x:' qualifies importance measures only", start)
        return tuple(names), scorer, target


def quote(text: str) -> str:
    return f'"{text}"' if "'" in text and '"' not in text else f"'{text}'"


def _example(measure: str) -> str:
    if measure == "h2":
        return "h2(age,bmi) > 0.2"
    if measure in ("range", *DIFF_PDP):
        return f"{measure}(age) > 0.5"
    return f"{measure}(bmi) > 3"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or text.strip().lower().lstrip("+-") in ("inf", "infinity"):
        return None
    return value
