"""Notes on the statistical traps of permutation importance (scikit-learn user guide, 5.2).

Each hint is one sentence a reader of the results should see: printed as a note on stderr and kept
in the JSON ``notes``. They never change a number; they say when the numbers answer a different
question than the one a user is likely asking.

- A perfect or near-perfect baseline score usually means the model is scored on the data it was
  fitted on: importance then measures what the model memorised, and the features it did not need
  to memorise show "0 ± 0" (5.2.1: "features that are deemed of low importance for a bad model
  (low cross-validation score) could be very important for a good model" and its converse).
- Strongly correlated features share their importance: permuting one alone leaves the model the
  other's copy of the information, so both look unimportant (5.2.3); grouping them fixes that.
- A constant target makes every score trivially the same: importance says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.engines.grid import plain
from inspectcli.formatting import fmt

#: |Spearman ρ| at or above which two features are called strongly correlated.
STRONG_CORRELATION = 0.8
#: Scores whose best value is 1 (a baseline at or above NEAR_PERFECT of it is "near-perfect").
_BEST_IS_ONE = (
    "accuracy",
    "balanced_accuracy",
    "r2",
    "explained_variance",
    "roc_auc",
    "average_precision",
    "f1",
    "precision",
    "recall",
    "jaccard",
    "matthews_corrcoef",
    "top_k_accuracy",
    "d2_",
)
NEAR_PERFECT = 0.995
MAX_PAIRS = 5


def _best_is_one(scorer: str) -> bool:
    return any(scorer == s or scorer.startswith(s) for s in _BEST_IS_ONE)


def perfect_baseline_notes(result: Any, data_name: str) -> list[str]:
    """A note per scorer whose baseline on ``data_name`` is perfect or near-perfect.

    Parameters
    ----------
    result : PermutationImportance (its ``scorers`` carry ``scorer``, ``baseline_score`` and
        ``importances`` of shape (n_features, n_repeats)).
    data_name : the dataset's name, as the notes show it.
    """
    notes = []
    for block in result.scorers:
        base = block.baseline_score
        if base is None or not np.isfinite(base):
            continue
        if block.scorer.startswith("neg_"):
            perfect = abs(base) <= 1e-12
        elif _best_is_one(block.scorer) or block.scorer == "score":
            perfect = base >= NEAR_PERFECT
        else:
            continue
        if not perfect:
            continue
        zeros = int(np.sum(np.all(np.asarray(block.importances) == 0, axis=1)))
        what = f"; {zeros} of {len(result.features)} features show 0 ± 0" if zeros else ""
        notes.append(
            f"baseline {block.scorer} is {fmt(base)} on {data_name}, (near-)perfect{what}: on the data "
            "a model was fitted on, importance shows what it memorised, not what generalises — "
            "give held-out data, or add `compare=TEST_DATA`"
        )
    return notes


def correlated_pairs(
    X: Any, names: Sequence[str], threshold: float = STRONG_CORRELATION
) -> list[tuple[str, str, float]]:
    """Pairs of numeric features with |Spearman ρ| >= ``threshold``, strongest first."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X), columns=list(names))
    frame = frame.set_axis(list(names), axis=1)
    numeric = [
        c
        for c in names
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and not isinstance(frame[c].dtype, pd.CategoricalDtype)
    ]
    if len(numeric) < 2:
        return []
    # Column by column into one array (as np.corrcoef would copy it), then np.cov's steps in
    # place: DataFrame.rank stacked the columns and ranked them with 2-D temporaries (about four
    # copies of the data: +342 MB on 1,000,000 x 10 float64), for the same numbers.
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    for c in numeric:
        keep &= frame[c].notna().to_numpy()
    n_keep = int(keep.sum())
    if n_keep < 3:
        return []
    ranks = np.empty((n_keep, len(numeric)), dtype=np.float64)
    every = n_keep == n
    for j, c in enumerate(numeric):
        r = frame[c].rank().to_numpy(dtype=float)
        ranks[:, j] = r if every else r[keep]
        del r
    corr = _corrcoef_columns(ranks)
    pairs = []
    for i in range(len(numeric)):
        for j in range(i + 1, len(numeric)):
            if abs(corr[i, j]) >= threshold:
                pairs.append((numeric[i], numeric[j], float(corr[i, j])))
    return sorted(pairs, key=lambda p: -abs(p[2]))


def _corrcoef_columns(x: np.ndarray) -> np.ndarray:
    """``np.corrcoef(x, rowvar=False)`` with NaN read as 0, overwriting ``x`` (shape (n, k)):
    the same operations in the same order (bit for bit), without np.cov's copy of ``x``."""
    X = x.T
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.average(X, axis=1)
        X -= avg[:, None]
        c = np.dot(X, X.T.conj())
        c *= np.true_divide(1, X.shape[1] - 1)
        c = c.squeeze()
        d = np.diag(c)
        stddev = np.sqrt(d.real)
        c /= stddev[:, None]
        c /= stddev[None, :]
    np.clip(c.real, -1, 1, out=c.real)
    return np.nan_to_num(np.atleast_2d(c), nan=0.0)


def correlation_note(pairs: Sequence[tuple[str, str, float]]) -> str | None:
    """The note for strongly correlated pairs (when no --cluster-threshold groups them)."""
    if not pairs:
        return None
    shown = ", ".join(f"{a}–{b} (ρ {r:.2f})" for a, b, r in pairs[:MAX_PAIRS])
    more = f" and {len(pairs) - MAX_PAIRS} more" if len(pairs) > MAX_PAIRS else ""
    return (
        f"strongly correlated features (|Spearman ρ| ≥ {STRONG_CORRELATION}): {shown}{more}; permuting one "
        "alone leaves its partner's copy of the information, so both can look unimportant — group "
        "them with `cluster_threshold=0.5` (or `groups`)"
    )


def constant_target_note(y: Any, target: str | None) -> str | None:
    """A note when every row has the same target value."""
    values = pd.Series(np.asarray(y).reshape(-1)).dropna()
    if values.empty or values.nunique() > 1:
        return None
    name = f"'{target}'" if target else "the target"
    return (
        f"{name} is constant (every row is {plain(values.iloc[0])!r}): every score is the same whatever the "
        "features, so importance says nothing — give data where the target varies"
    )


def data_notes(
    X: Any,
    names: Sequence[str],
    y: Any,
    target: str | None,
    *,
    clustered: bool,
    groups: Sequence[Sequence[str]] = (),
) -> list[str]:
    """Notes known before computing: a constant target; correlated pairs nobody grouped.

    ``clustered``: --cluster-threshold was given (it groups correlated features itself).
    ``groups``: the --group column lists; a pair inside one of them is already permuted together.
    """
    notes = []
    constant = constant_target_note(y, target)
    if constant:
        notes.append(constant)
    if not clustered:
        together = [set(g) for g in groups]
        pairs = [p for p in correlated_pairs(X, names) if not any({p[0], p[1]} <= g for g in together)]
        note = correlation_note(pairs)
        if note:
            notes.append(note)
    return notes
