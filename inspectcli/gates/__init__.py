"""`--fail-if` conditions: a small grammar, checked before any computation, evaluated on results.

A condition is ``OPERAND OP NUMBER`` with OP one of ``<  <=  >  >=``. The operand is a *measure*
of a feature (or group, or pair), written ``measure(name)``; a name may be qualified by a scorer
(``r2:bmi``) and quoted when it holds spaces or punctuation (``'mean radius'``). A measure written
without a name (``mean < 0``) means *some* feature: the condition holds when it holds for at least
one of them, and the value shown is the extreme one (the smallest for ``<``/``<=``, the largest
for ``>``/``>=``) with the feature it belongs to. A condition with several scorers (or classes) is
evaluated for each, and holds when it holds for any. A value that is undefined (NaN) counts as
holding: a gate never passes because it could not be computed.

Measures, by command::

    importance   mean(x) (also plain x), std(x), low(x), high(x), rank(x)
    pdp          range(x[, y…][, target=T]), h2(x, y[, target=T])
    diff         change(x), abs_change(x), rank_change(x), gap(x)         (importance files)
                 max_abs_diff(x…), mean_diff(x…), mean_abs_diff(x…),     (pdp files)
                 max_gap(x…) (0 when every change is within the two runs' bands)

``low``/``high`` are ``mean ∓ 2·std/√n_repeats``; ``rank`` is 1 for the most important. The
README's "Use in CI" section is the user-facing description of the same grammar.
"""

from inspectcli.gates.evaluate import GateReport, Outcome, evaluate_diff, evaluate_importance, evaluate_pdp
from inspectcli.gates.grammar import MEASURES, Condition, Gates, parse_conditions

__all__ = [
    "MEASURES",
    "Condition",
    "GateReport",
    "Gates",
    "Outcome",
    "evaluate_diff",
    "evaluate_importance",
    "evaluate_pdp",
    "parse_conditions",
]
