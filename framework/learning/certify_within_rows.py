"""Certified whole rows for "macro-F1 within delta of the reference tier".

    certificate = certify_within_rows("trained", scores, reference, gold, labels, centers,
                                      delta=0.02, alpha=0.05)
    certificate.rules       # TierRules: every label at the certified margin
    certificate.shortfall() # None, or how many more calibration rows would certify a row
    taken, labels_out = decide_rows(certificate, scores, reference_decisions)

The per-label certificate (framework.learning.certify_within) bounds every label's F1
gap, so a rare label needs many thousand calibration rows, and a cheap tier saves a
call only on rows whose every label it settles. This one certifies what the issue asks
and what saves money: the cheap tier decides a whole row (every label, present at score
>= the label's center c) when every label's score is at least m away from its center,
and the reference tier decides every label of every other row; macro-F1 of that output
is at most delta below the reference's with probability 1 - alpha.

The algebra (certify_within's docstring has the four kinds of changed cell): per label,
with a and b the rates per row of lost true positives (cheap absent, reference and gold
present) and added false positives (cheap present, reference and gold absent) on the
rows the cheap tier takes, d = D / n (reference present + gold present, per row) and F
the reference's F1,

    gap_l <= (a (2 - F) + b F) / (d - a + b) <= c_l / (1 - a / d),
    c_l = (a (2 - F) + b F) / d.

Each row therefore carries a loss X = (1 / L) sum_l ((2 - F_l) A_l + F_l B_l) / d_l (A_l,
B_l: the row is an (a) or (b) cell of label l), whose mean is (1 / L) sum_l c_l, and
which lies in [0, W] with W = (1 / L) sum_l max(2 - F_l, F_l) / d_l ((a) needs the
reference present, (b) absent: at most one of them per label and row). If E[X] < tau
then a_l / d_l <= L tau / (2 - F_l) =: rho_l for every label, so the macro gap is at most
E[X] / (1 - max rho) < delta when tau = delta / (1 + delta L / (2 - max F)).

Margins from 0.50 down to 0.00 by 0.01 are tested strictest first (fixed sequence, Learn
then Test: Angelopoulos, Bates, Candes, Jordan, Lei, 2021), each by the null "E[X] >=
tau" with the Hoeffding-Bentkus p-value of the calibration rows' mean loss (the one
Learn then Test and Bates et al., "Distribution-free, risk-controlling prediction sets",
2021, use for a bounded loss) at level alpha: one test per margin, no Bonferroni. The
scan stops at the first failure; the last passing margin is kept.

Approximations, said plainly: the reference's F_l and d_l (the loss's weights, and W)
enter at their calibration values, as in certify_within. A label with no row present
in the reference or gold (d = 0) has no finite weight: nothing is certified then.

The fewest rows that can pass, with no (a) or (b) event at all: the p-value of a zero
mean is (1 - tau / W) ** n, so n >= log(alpha) / log(1 - tau / W) (`rows_needed`).

Written here, not taken from a library: none of the well-kept ones tests a bounded
mean with Hoeffding-Bentkus for a threshold scan (scipy gives the binomial).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framework.learning.certify import LabelRule, TierRules
from framework.learning.certify_within import MARGINS

__all__ = ["RowsCertificate", "certify_within_rows", "decide_rows", "hoeffding_bentkus"]


@dataclass(frozen=True)
class RowsCertificate:
    """The cheap tier's margin (None: no row is certified) and what it rests on."""

    rules: TierRules
    centers: tuple[float, ...]
    margin: float | None
    target: float  # tau: the mean loss the test must show is below it
    loss_range: float  # W
    rows: int  # calibration rows
    need: int  # the fewest rows that could pass with no (a) or (b) event

    def shortfall(self) -> str | None:
        """None, or what more the calibration rows need to certify anything."""
        if self.rows >= self.need:
            return None
        return (
            f"{self.rows} calibration rows with the reference's answers, {self.need} needed "
            f"to certify any row ({self.need - self.rows} more)"
        )


def hoeffding_bentkus(mean: float, target: float, rows: int) -> float:
    """The p-value of "the expected loss >= target" for `rows` losses in [0, 1] whose
    mean is `mean`: min(exp(-n h(mean, target)), e P(Binomial(n, target) <= n mean))."""
    from scipy.stats import binom

    if mean >= target:
        return 1.0
    if target >= 1:  # every loss is below it
        return 0.0
    kl = (1 - mean) * math.log((1 - mean) / (1 - target))
    if mean > 0:
        kl += mean * math.log(mean / target)
    bentkus = math.e * float(binom.cdf(math.ceil(rows * mean - 1e-9), rows, target))
    return min(math.exp(-rows * kl), bentkus)


def certify_within_rows(  # noqa: PLR0917 (the procedure's inputs, as certify_within)
    tier: str,
    scores: Any,
    reference: Any,
    gold: Any,
    labels: Sequence[str],
    centers: Sequence[float],
    *,
    delta: float,
    alpha: float,
) -> RowsCertificate:
    """The largest-reach margin certified (see the module docstring)."""
    import numpy as np

    p = np.asarray(scores, dtype=float).reshape(-1, len(labels))
    r = np.asarray(reference, dtype=bool).reshape(-1, len(labels))
    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    c = np.asarray(centers, dtype=float)
    rows = len(p)
    d = (r.sum(axis=0) + y.sum(axis=0)) / max(rows, 1)
    if rows == 0 or (d <= 0).any():
        nothing = _rules(tier, labels, c, None)
        return RowsCertificate(nothing, tuple(c), None, 0.0, math.inf, rows, 10**9)
    f1 = 2 * (r & y).sum(axis=0) / max(rows, 1) / d
    weight_a, weight_b = (2 - f1) / (len(labels) * d), f1 / (len(labels) * d)
    spread = float(np.maximum(weight_a, weight_b).sum())
    target = delta / (1 + delta * len(labels) / (2 - float(f1.max())))
    share = target / spread
    need = 1 if share >= 1 else math.ceil(math.log(alpha) / math.log(1 - share) - 1e-9)
    sure = np.abs(p - c).min(axis=1)
    present = p >= c - 1e-12
    chosen = None
    for margin in MARGINS:
        taken = (sure >= margin - 1e-12)[:, None]
        lost = taken & r & y & ~present  # (a)
        added = taken & ~r & ~y & present  # (b)
        loss = (lost * weight_a + added * weight_b).sum(axis=1) / spread
        if hoeffding_bentkus(float(loss.mean()), share, rows) > alpha:
            break
        chosen = margin
    rules = _rules(tier, labels, c, chosen)
    return RowsCertificate(rules, tuple(c), chosen, target, spread, rows, need)


def _rules(tier: str, labels: Sequence[str], centers: Any, margin: float | None) -> TierRules:
    """Every label at the same margin (its `hi` / `lo` are where a label is settled;
    the tier decides a row only when all are: `decide_rows`)."""
    if margin is None:
        return TierRules(tier, tuple(LabelRule(label, None, None) for label in labels))
    return TierRules(
        tier,
        tuple(
            LabelRule(label, float(center) + margin, float(center) - margin)
            for label, center in zip(labels, centers, strict=True)
        ),
    )


def decide_rows(certificate: RowsCertificate, scores: Any, reference: Any) -> tuple[Any, Any]:
    """(rows the cheap tier decides, every row's labels): the cheap tier's decision at
    each label's center on the rows whose every label it settles, the reference's on
    the others."""
    import numpy as np

    p = np.asarray(scores, dtype=float)
    taken = certificate.rules.settled(p).all(axis=1)
    mine = p >= np.asarray(certificate.centers) - 1e-12
    return taken, np.where(taken[:, None], mine, np.asarray(reference, dtype=bool))
