"""Evaluating ``--fail-if`` conditions on results: outcomes, the table, exit 1."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspectcli.errors import GateFailed, UsageError, did_you_mean
from inspectcli.gates.grammar import DIFF_IMPORTANCE, DIFF_PDP, SCORED, Condition, Gates, quote


@dataclass
class Outcome:
    """One evaluation of a condition: under one scorer or for one target."""

    condition: Condition
    scope: Any  # scorer name (importance, diff) or target: class label / output (pdp)
    subject: tuple[str, ...] | None  # the feature(s) the value belongs to
    value: float | None
    holds: bool

    def as_json(self) -> dict[str, Any]:
        c = self.condition
        curves = c.measure not in SCORED
        return {
            "condition": c.text,
            "measure": c.measure,
            "features": list(self.subject) if self.subject is not None else None,
            "scorer": None if curves else self.scope,
            "target": self.scope if curves else None,
            "op": c.op,
            "threshold": c.threshold,
            "value": self.value,
            "status": "fail" if self.holds else "pass",
        }


@dataclass
class GateReport:
    """The outcome of every condition; ``raise_if_failed`` turns held conditions into exit 1."""

    outcomes: list[Outcome]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.holds]

    @property
    def passed(self) -> bool:
        return not self.failed

    def as_json(self) -> dict[str, Any]:
        """The ``gates`` block of a result file."""
        return {
            "passed": self.passed,
            "n_failed": len({id(o.condition) for o in self.failed}),
            "conditions": [o.as_json() for o in self.outcomes],
        }

    def table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        from inspectcli.formatting import fmt

        n_cond = len({id(o.condition) for o in self.outcomes})
        n_bad = len({id(o.condition) for o in self.failed})
        title = (
            f"--fail-if: {n_bad} of {n_cond} condition(s) held — FAILED"
            if n_bad
            else f"--fail-if: none of {n_cond} condition(s) held — passed"
        )
        t = Table(title=title, title_justify="left")
        t.add_column("condition", style="bold")
        show_scope = any(o.scope is not None for o in self.outcomes)
        if show_scope:
            scored = {o.condition.measure in SCORED for o in self.outcomes if o.scope is not None}
            t.add_column("scorer / target" if len(scored) == 2 else "scorer" if True in scored else "target")
        t.add_column("feature(s)")
        t.add_column("value", justify="right")
        t.add_column("result")
        for o in self.outcomes:
            cells: list[Any] = [Text(o.condition.text)]  # Text: names with [brackets] are not markup
            if show_scope:
                cells.append(Text("" if o.scope is None else str(o.scope)))
            cells.append(Text(", ".join(o.subject) if o.subject else "—"))
            cells.append(fmt(o.value) if o.value is not None else "undefined")
            cells.append(Text("FAIL", style="bold red") if o.holds else Text("pass", style="green"))
            t.add_row(*cells)
        return t

    def raise_if_failed(self, hint: str = "the result files were written; see the conditions table") -> None:
        """Raise GateFailed (exit 1) naming the conditions that held, with their values."""
        from inspectcli.formatting import fmt

        bad = self.failed
        if not bad:
            return
        parts = []
        for o in bad:
            who = f"{', '.join(o.subject)} " if o.subject and o.condition.names is None else ""
            value = "undefined" if o.value is None else fmt(o.value)
            where = ""
            if o.scope is not None:
                where = f" ({o.scope})" if o.condition.measure in SCORED else f" (target {o.scope})"
            parts.append(f"'{o.condition.text}': {who}{value}{where}")
        n = len({id(o.condition) for o in bad})
        raise GateFailed(
            f"{n} `fail_if` condition{'s' if n > 1 else ''} held: {'; '.join(parts)}",
            hint,
        )


def _extreme(
    cond: Condition, values: Sequence[float | None], labels: Sequence[tuple[str, ...]]
) -> tuple[float | None, tuple[str, ...] | None]:
    """The value (and its owner) that decides an 'any feature' condition."""
    defined = [(v, lab) for v, lab in zip(values, labels) if _clean(v) is not None]
    if not defined:
        return None, None
    pick = max if cond.wants_max else min
    v, lab = pick(defined, key=lambda p: p[0])
    if not cond.holds(v) and len(defined) < len(values):  # an undefined value might hold
        undefined = next(lab for v, lab in zip(values, labels) if _clean(v) is None)
        return None, undefined
    return v, lab


def _clean(v: Any) -> float | None:
    """The value, or None when it is undefined (missing, NaN or infinite: a gate fails on it)."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _outcome(
    cond: Condition,
    scope: Any,
    values: Sequence[float | None],
    labels: Sequence[tuple[str, ...]],
) -> Outcome:
    if cond.names is None:
        value, subject = _extreme(cond, values, labels)
    else:
        [value], [subject] = values, labels
    value = _clean(value)
    return Outcome(cond, scope, subject, value, cond.holds(value))


# -- importance -------------------------------------------------------------------------------


def resolve_importance(
    cond: Condition, rows: Sequence[str], columns: Sequence[Sequence[str]], scorers: Sequence[str] | None
) -> tuple[list[str] | None, int | None]:
    """(scorers to evaluate, row index or None for 'any'), or a UsageError."""
    names = cond.names
    scorer = cond.scorer
    if scorer is not None and scorers is not None and scorer not in scorers:
        joined = f"{scorer}:{names[0]}" if names else None
        if joined is not None and joined in rows:  # a feature whose name holds a colon
            return None, list(rows).index(joined)
        raise UsageError(
            f"`fail_if={quote(cond.text)}`: the run has no scorer '{scorer}'{did_you_mean(scorer, scorers)}",
            f"scorers of this run: {', '.join(scorers)} (add one with `scoring`)",
        )
    chosen = [scorer] if scorer is not None else None
    if names is None:
        return chosen, None
    name = names[0]
    if name in rows:
        return chosen, list(rows).index(name)
    for row, cols in zip(rows, columns):
        if name in cols and row != name:
            raise UsageError(
                f"`fail_if={quote(cond.text)}`: '{name}' is permuted together with "
                f"{', '.join(c for c in cols if c != name)} as the group '{row}'",
                f"gate on the group: write '{row}' instead of '{name}'",
            )
    raise UsageError(
        f"`fail_if={quote(cond.text)}`: unknown feature '{name}'{did_you_mean(name, rows)}",
        f"features and groups: {', '.join(list(rows)[:15])}{', …' if len(rows) > 15 else ''}",
    )


def evaluate_importance(gates: Gates, result: Any) -> GateReport:
    """Evaluate importance conditions on a ``PermutationImportance`` result (main data only)."""
    scorer_names = [s.scorer for s in result.scorers]
    outcomes = []
    for cond in gates:
        chosen, row = resolve_importance(cond, result.features, result.columns, scorer_names)
        for block in result.scorers:
            if chosen is not None and block.scorer not in chosen:
                continue
            low, high = block.noise_band()
            values = {
                "mean": block.importances_mean,
                "std": block.importances_std,
                "low": low,
                "high": high,
                "rank": block.ranks().astype(float),
            }[cond.measure]
            idx = range(len(result.features)) if row is None else [row]
            outcomes.append(
                _outcome(
                    cond,
                    block.scorer,
                    [float(values[i]) for i in idx],
                    [(result.features[i],) for i in idx],
                )
            )
    return GateReport(outcomes)


# -- pdp --------------------------------------------------------------------------------------


def match_curve_names(cond: Condition, sets: Sequence[tuple[str, ...]], names: Sequence[str]) -> None:
    if cond.names is None:
        if cond.measure == "h2" and not any(len(s) == 2 for s in sets):
            raise UsageError(
                f"`fail_if={quote(cond.text)}` needs a pair of features", "ask for one with `pair=A,B`"
            )
        if cond.measure == "range" and not any(len(s) == 1 for s in sets):
            raise UsageError(
                f"`fail_if={quote(cond.text)}` needs one-way curves", "ask for them with `features=FEATURE`"
            )
        return
    for n in cond.names:
        if n not in names:
            raise UsageError(
                f"`fail_if={quote(cond.text)}`: unknown feature '{n}'{did_you_mean(n, names)}",
                f"features are: {', '.join(list(names)[:15])}{', …' if len(names) > 15 else ''}",
            )
    wanted = tuple(cond.names)
    if any(_same_features(s, wanted) for s in sets):
        return
    if len(wanted) == 1:
        raise UsageError(
            f"`fail_if={quote(cond.text)}`: the run computes no curve of '{wanted[0]}'",
            f"add `features={wanted[0]}`",
        )
    raise UsageError(
        f"`fail_if={quote(cond.text)}`: the run computes no pair {','.join(wanted)}",
        f"add `pair={','.join(wanted)}`",
    )


def _same_features(a: Sequence[str], b: Sequence[str]) -> bool:
    """A pair's curve, whichever order its features are named in (H² and range are symmetric)."""
    return len(a) == len(b) and sorted(a) == sorted(b)


def evaluate_pdp(gates: Gates, curves: Sequence[Any]) -> GateReport:
    """Evaluate pdp conditions on ``PDPCurve`` objects (range: max − min of the PD; h2: H²).

    With ``by``, a condition looks at the curves of all rows, or at one group's with ``group=``.
    """
    every = curves
    curves = [c for c in every if getattr(c, "group", None) is None]
    sets = list(dict.fromkeys(tuple(c.features) for c in curves))
    names = list(dict.fromkeys(f for c in curves for f in c.features))
    outcomes = []
    for cond in gates:
        curves = _of_group(cond, every)
        match_curve_names(cond, sets, names)
        targets = _pick_targets(cond, list(dict.fromkeys(c.target for c in curves)))
        for t in targets:
            values, labels = [], []
            for c in curves:
                if c.target != t:
                    continue
                if cond.names is not None and not _same_features(c.features, cond.names):
                    continue
                if cond.measure == "h2":
                    if len(c.features) != 2:
                        continue
                    values.append(c.h2)
                else:
                    if cond.names is None and len(c.features) != 1:
                        continue
                    values.append(_spread(c))
                labels.append(tuple(c.features))
            if values:
                outcomes.append(_outcome(cond, t, values, labels))
    return GateReport(outcomes)


def _of_group(cond: Condition, curves: Sequence[Any]) -> list[Any]:
    """The curves of all rows, or those of the group ``group=`` names (by its label)."""
    if cond.group is None:
        return [c for c in curves if getattr(c, "group", None) is None]
    labels = list(dict.fromkeys(c.group["label"] for c in curves if getattr(c, "group", None)))
    if not labels:
        raise UsageError(
            f"`fail_if={quote(cond.text)}`: group= names a group of rows, and this run has none",
            "group the rows with `by`",
        )
    if cond.group not in labels:
        raise UsageError(
            f"`fail_if={quote(cond.text)}`: no group '{cond.group}'{did_you_mean(cond.group, labels)}",
            f"groups: {', '.join(labels[:12])}",
        )
    return [c for c in curves if getattr(c, "group", None) and c.group["label"] == cond.group]


def _pick_targets(cond: Condition, targets: list[Any]) -> list[Any]:
    """Every target of the curves, or the one ``target=`` names (compared as text)."""
    if cond.target is None:
        return targets
    found = [t for t in targets if str(t) == cond.target]
    if not found:
        shown = [str(t) for t in targets if t is not None]
        raise UsageError(
            f"`fail_if={quote(cond.text)}`: no curve has target {cond.target!r}"
            + did_you_mean(cond.target, shown),
            f"targets of these curves: {', '.join(shown)}" if shown else "these curves have one output",
        )
    return found


def _spread(curve: Any) -> float | None:
    avg = curve.average
    if avg is None:
        return None
    arr = np.asarray(avg, dtype=float)
    if not np.isfinite(arr).all():  # one undefined point makes the range undefined
        return None
    return float(arr.max() - arr.min())


# -- diff -------------------------------------------------------------------------------------


def evaluate_diff(gates: Gates, diff: Any) -> GateReport:
    """Evaluate diff conditions on an ``inspectcli.compare.Diff``."""
    outcomes = []
    for cond in gates:
        if diff.of == "importance":
            if cond.measure in DIFF_PDP:
                raise UsageError(
                    f"`fail_if={quote(cond.text)}`: {cond.measure} compares PD curves, not importances",
                    f"importance diffs gate on {', '.join(DIFF_IMPORTANCE)}",
                )
            blocks = diff.scorers
            scorer_names = [b.scorer for b in blocks]
            rows = [f.feature for f in blocks[0].features] if blocks else []
            cols = [f.columns for f in blocks[0].features] if blocks else []
            chosen, row = resolve_importance(cond, rows, cols, scorer_names)
            for b in blocks:
                if chosen is not None and b.scorer not in chosen:
                    continue
                feats = b.features if row is None else [b.features[row]]
                values = [getattr(f, cond.measure) for f in feats]
                outcomes.append(_outcome(cond, b.scorer, values, [(f.feature,) for f in feats]))
        else:
            if cond.measure not in DIFF_PDP:
                raise UsageError(
                    f"`fail_if={quote(cond.text)}`: {cond.measure} compares importances, not PD curves",
                    f"pdp diffs gate on {', '.join(DIFF_PDP)}",
                )
            curves = [c for c in diff.curves if getattr(c, "group", None) is None]  # `by`: all rows
            sets = list(dict.fromkeys(tuple(c.features) for c in curves))
            names = list(dict.fromkeys(f for c in curves for f in c.features))
            if cond.names is not None and not any(_same_features(s, cond.names) for s in sets):
                unknown = [n for n in cond.names if n not in names]
                what = (
                    f"unknown feature '{unknown[0]}'{did_you_mean(unknown[0], names)}"
                    if unknown
                    else f"no curve of {','.join(cond.names)}"
                )
                raise UsageError(
                    f"`fail_if={quote(cond.text)}`: {what} in these files",
                    f"their curves: {', '.join(','.join(s) for s in sets)}",
                )
            targets = _pick_targets(cond, list(dict.fromkeys(c.target for c in curves)))
            for t in targets:
                chosen_curves = [
                    c
                    for c in curves
                    if c.target == t and (cond.names is None or _same_features(c.features, cond.names))
                ]
                if chosen_curves:
                    outcomes.append(
                        _outcome(
                            cond,
                            t,
                            [getattr(c, cond.measure) for c in chosen_curves],
                            [tuple(c.features) for c in chosen_curves],
                        )
                    )
    return GateReport(outcomes)
