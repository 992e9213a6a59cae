"""Certified acceptance for "each label's F1 within delta of the reference tier".

    rules = certify_within("trained", scores, reference, gold, labels, centers,
                           delta=0.02, alpha=0.05)
    rules.settled(scores)   # rows x labels: where the cheap tier's decision stands
    missing = within_shortfalls(reference, gold, labels, delta=0.02, alpha=0.05)

Named after certify.py, whose floors it sits beside: the same learn-then-test scan, for
another target. The route it certifies: a cheap tier settles some labels of some rows,
and the reference tier (the strongest machine tier, in a run the LLM) decides every
label the cheap tier leaves open. The calibration rows need both the gold labels and
the reference tier's decisions (`reference`, rows x labels of 0/1); the cheap tier's
per-label `scores` on them.

The algebra, per label. On the reference's decisions, TP, FP, FN against gold and
D = 2TP + FP + FN (= rows the reference says present + rows gold says present), so the
reference's F1 is F = 2TP / D. Replacing the reference's decision by the cheap tier's
on a settled cell changes the counts in one of four ways:
- (a) cheap absent, reference and gold present: a lost true positive, TP - 1, D - 1;
- (b) cheap present, reference and gold absent: an added false positive, D + 1;
- cheap absent, reference present, gold absent: a removed false positive, D - 1;
- cheap present, reference absent, gold present: a gained true positive, TP + 1, D + 1.
The last two only raise F1 (2(TP + x) / (D + x) grows with x since F1 <= 1 < 2), so,
ignoring them, with a and b the counts of (a) and (b),

    F1_routed >= 2(TP - a) / (D - a + b),
    F - F1_routed <= (a (2 - F) + b F) / (D - a + b)       (= the bound below),

which grows with a and with b (D >= 2TP). Written as rates per calibration row, a
label's gap is at most delta when the rates of (a) and (b) are small enough. Each
label gets a symmetric margin m around its center c: the cheap tier settles "present"
at score >= c + m and "absent" at score <= c - m. Margins from 0.50 down to 0.00 by 0.01
(fixed before any row is seen) are tested strictest first (fixed sequence, Learn then
Test: Angelopoulos, Bates, Candes, Jordan, Lei, 2021); each step bounds the rates of
(a) and (b) above with exact one-sided Clopper-Pearson bounds at alpha / (2 L) (L
labels: Bonferroni over labels x 2), puts them in the bound, and passes when it is at
most delta; the scan stops at the first failure and the last passing margin is kept.
So with probability at least 1 - alpha every label's F1 of the routed output is at
most delta below the reference's on new rows drawn like the calibration rows, and
macro-F1 (their mean) too.

An approximation, said plainly: the reference's TP and D enter at their calibration
values (rates TP / n and D / n), not bounded; on a few thousand rows they are known to a
few percent, much better than the rare events (a) and (b), whose bounds carry the
guarantee. Only rows whose reference decision is known count (in a run, the sampled
rows the LLM answered).

The limit this implies: even with no (a) or (b) event at all, the bound of a rate on n
rows is 1 - (alpha / 2L) ** (1 / n), and the gap bound is then 2 (that bound) / (D / n),
so a label is certifiable only on n >= log(alpha / 2L) / log(1 - delta D / 2n) rows:
rare labels (small D / n) need many (`within_shortfalls` says how many). A label with
no row present in the reference or gold (D = 0: its F1 undefined) is never settled.

Written here rather than taken from a library, like certify.py: no well-kept package
certifies an F1 gap between two labelers (scipy gives the exact binomial quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framework.learning.certify import LabelRule, TierRules, clopper_pearson

__all__ = [
    "WithinShortfall",
    "certify_within",
    "deciding_all",
    "gap_bound",
    "rows_needed_within",
    "within_shortfalls",
]

# The candidate margins, 0.50 down to 0.00 by 0.01: strictest first, fixed before any row.
MARGINS = tuple(round(step / 100, 2) for step in range(50, -1, -1))


@dataclass(frozen=True)
class WithinShortfall:
    """A label whose F1 gap no margin can certify on this many calibration rows."""

    label: str
    have: int
    need: int
    delta: float

    def words(self) -> str:
        return (
            f"{self.label}: {self.have} calibration rows with the reference's answers, "
            f"{self.need} needed to certify its F1 within {self.delta} "
            f"({self.need - self.have} more)"
        )


def _upper(k: int, n: int, alpha: float) -> float:
    """One-sided exact upper bound at level alpha."""
    return clopper_pearson(k, n, 2 * alpha)[1]


def gap_bound(tp: float, d: float, a: float, b: float) -> float:
    """The bound on F - F1_routed (the module docstring), all as rates per row."""
    if d <= 0:
        return math.inf
    reference = 2 * tp / d
    if tp - a <= 0:
        return reference  # routed F1 is at least 0
    return reference - 2 * (tp - a) / (d - a + b)


def rows_needed_within(delta: float, d: float, alpha: float) -> int:
    """The fewest rows on which a label whose D per row is `d` can pass with no (a) or
    (b) event at all (`alpha`: the level of each bound)."""
    if d <= 0:
        return 10**9
    allowed = delta * d / 2  # 2u / d <= delta
    if allowed >= 1:
        return 1
    return math.ceil(math.log(alpha) / math.log(1 - allowed) - 1e-9)


def certify_within(  # noqa: PLR0917 (the procedure's inputs, as certify_tier)
    tier: str,
    scores: Any,
    reference: Any,
    gold: Any,
    labels: Sequence[str],
    centers: Sequence[float],
    *,
    delta: float,
    alpha: float,
) -> TierRules:
    """The cheap tier's certified margins: each label's `hi` = c + m, `lo` = c - m at
    its last passing margin (None where no margin passes, or the side leaves [0, 1])."""
    import numpy as np

    p = np.asarray(scores, dtype=float).reshape(-1, len(labels))
    r = np.asarray(reference, dtype=bool).reshape(-1, len(labels))
    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    each = alpha / max(1, 2 * len(labels))
    rules = []
    for n, label in enumerate(labels):
        margin = _last_passing(p[:, n], r[:, n], y[:, n], centers[n], delta=delta, alpha=each)
        rules.append(_rule(label, p[:, n], y[:, n], centers[n], margin))
    return TierRules(tier, tuple(rules))


def _last_passing(
    p: Any, r: Any, y: Any, center: float, *, delta: float, alpha: float
) -> float | None:
    rows = len(p)
    tp, d = float((r & y).sum()) / max(rows, 1), float(r.sum() + y.sum()) / max(rows, 1)
    if rows == 0 or d <= 0:
        return None
    lost_tp, added_fp = r & y, ~r & ~y  # cells where (a) or (b) can happen
    chosen = None
    for margin in MARGINS:
        a = int((lost_tp & (p <= center - margin + 1e-12)).sum())
        b = int((added_fp & (p >= center + margin - 1e-12)).sum())
        bound = gap_bound(tp, d, _upper(a, rows, alpha), _upper(b, rows, alpha))
        if bound > delta:
            break
        chosen = margin
    return chosen


def _rule(label: str, p: Any, y: Any, center: float, margin: float | None) -> LabelRule:
    if margin is None:
        return LabelRule(label, None, None, positives=int(y.sum()))
    # on the grid's hundredths (0.57, not 0.5700000000000001), as certify's thresholds
    hi = round(center + margin, 6) if center + margin <= 1 + 1e-12 else None
    lo = round(center - margin, 6) if center - margin >= -1e-12 else None
    said = p >= (math.inf if hi is None else hi - 1e-12)
    left = p <= (-math.inf if lo is None else lo + 1e-12)
    return LabelRule(
        label,
        hi,
        lo,
        correct=int((said & y).sum()),
        accepted=int(said.sum()),
        missed=int((left & y).sum()),
        positives=int(y.sum()),
        absent=int(left.sum()),
    )


def deciding_all(tier: str, labels: Sequence[str], centers: Sequence[float]) -> TierRules:
    """The reference tier's rules in such a route: it settles every label it is asked
    (present at score >= the label's center), so route_rows sends no row to people."""
    return TierRules(
        tier, tuple(LabelRule(label, c, c) for label, c in zip(labels, centers, strict=True))
    )


def within_shortfalls(
    reference: Any, gold: Any, labels: Sequence[str], *, delta: float, alpha: float
) -> list[WithinShortfall]:
    """The labels no cheap tier can settle on these calibration rows, whatever its
    scores: too few rows for even a record with no (a) or (b) event to pass."""
    import numpy as np

    r = np.asarray(reference, dtype=bool).reshape(-1, len(labels))
    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    rows = len(r)
    each = alpha / max(1, 2 * len(labels))
    found = []
    for n, label in enumerate(labels):
        d = float(r[:, n].sum() + y[:, n].sum()) / max(rows, 1)
        if d > 0 and 2 * float((r[:, n] & y[:, n]).sum()) / max(rows, 1) / d <= delta:
            continue  # the reference's F1 is within delta of 0: anything passes
        need = rows_needed_within(delta, d, each)
        if rows < need:
            found.append(WithinShortfall(label, rows, need, delta))
    return found
