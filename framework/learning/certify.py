"""Certified acceptance thresholds: which labels a tier of a route may settle alone.

    floors = Floors.uniform(labels, precision=0.8)
    rules = certify_tier("trained", scores, gold, labels, centers, floors=floors, alpha=a)
    rules.settled(scores)     # rows x labels: True where the tier's decision stands
    rules.present(scores)     # rows x labels: the decision (score >= the label's center)

For one tier, on calibration rows whose reference labels are known (`gold`, rows x
labels of 0/1) and the tier's per-label scores on them (`scores`), each label gets two
thresholds: `hi` (a score at or above it settles "present") and `lo` (at or below it
settles "absent"); scores between them are left to the next tier.

- present side: among calibration rows with score >= hi, the share that truly have the
  label (the precision of the accepted "present" decisions) must be at least the
  label's precision floor;
- absent side: among the calibration rows that truly have the label, the share with
  score <= lo (positives the tier would settle as absent: misses) must be at most
  `share` of 1 - the label's recall floor. In a route, each of T machine tiers gets
  1/T of that allowance, counted against all the calibration rows with the label, so
  the misses of all tiers together keep the whole output's recall at the floor.

How the thresholds are chosen (the guarantee): learn-then-test with a fixed sequence
(Angelopoulos, Bates, Candes, Jordan, Lei, "Learn then Test: Calibrating Predictive
Algorithms to Achieve Risk Control", 2021): candidates on a fixed grid are tested from
the most conservative to the least, each with an exact one-sided Clopper-Pearson bound
(the binomial's exact interval) at level `alpha`, and the scan stops at the first
candidate that fails; the last passing one is kept. This is the procedure BARGAIN
(DocETL, SIGMOD 2026) uses for a proxy model's threshold on a yes/no operator; here it
runs per label and per side. The caller splits its total alpha over every test it runs
(Bonferroni: labels x sides x tiers), so with probability at least 1 - alpha every
certified side of every label meets its floor on new rows drawn like the calibration
rows. Candidates whose accepted rows are too few for even a perfect record to pass are
skipped (they depend on the scores only, not on the reference labels, so skipping them
keeps the guarantee; see `rows_needed`).

Written here rather than taken from a library: no well-kept package implements
learn-then-test for per-label thresholds (scipy gives the exact binomial quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Floors",
    "LabelRule",
    "Routed",
    "Shortfall",
    "TierRules",
    "certify_tier",
    "clopper_pearson",
    "predicted_hits",
    "route_rows",
    "rows_needed",
    "shortfalls",
]

# The candidate thresholds, 0.00 to 1.00 by 0.01: fixed before any row is seen.
GRID = tuple(round(step / 100, 2) for step in range(101))
# The present side's scan starts once this many times the fewest rows are accepted.
START_FACTOR = 4


@dataclass(frozen=True)
class Floors:
    """Per label: the precision floor of "present" decisions and the recall floor of
    "absent" ones (None: that side is not targeted, so never settled by a tier).
    `guarantee`: what they hold for: "rate" (the rate of every decision a tier
    settles, this module) or "realised" (the realised figures of the rows a route
    decides by machine, in an output of `output_rows` rows:
    framework.learning.certify_realised)."""

    precision: Mapping[str, float | None]
    recall: Mapping[str, float | None]
    guarantee: str = "rate"
    output_rows: int | None = None

    @classmethod
    def uniform(
        cls,
        labels: Sequence[str],
        *,
        precision: float | None,
        recall: float | None = None,
        guarantee: str = "rate",
        output_rows: int | None = None,
    ) -> Floors:
        return cls(
            dict.fromkeys(labels, precision),
            dict.fromkeys(labels, recall),
            guarantee,
            output_rows,
        )

    def tests(self) -> int:
        """How many sides are tested per tier (what alpha is split over)."""
        sides = [*self.precision.values(), *self.recall.values()]
        return sum(floor is not None for floor in sides)


@dataclass(frozen=True)
class LabelRule:
    """One label's acceptance for one tier, with the calibration counts behind it."""

    label: str
    hi: float | None  # score >= hi settles present; None: never
    lo: float | None  # score <= lo settles absent; None: never
    correct: int = 0  # present side at hi: calibration rows accepted that have the label
    accepted: int = 0  # present side at hi: calibration rows accepted
    missed: int = 0  # absent side at lo: rows with the label the tier settles absent
    positives: int = 0  # absent side: calibration rows with the label
    absent: int = 0  # absent side at lo: calibration rows the tier settles absent

    def describe(self) -> dict[str, Any]:
        return {
            "hi": self.hi,
            "lo": self.lo,
            "present": [self.correct, self.accepted],
            "missed": [self.missed, self.positives],
            "absent": self.absent,
        }


@dataclass(frozen=True)
class TierRules:
    tier: str
    rules: tuple[LabelRule, ...]

    def settled(self, scores: Any) -> Any:
        """rows x labels, True where the tier's decision of the label stands."""
        import numpy as np

        p = np.asarray(scores, dtype=float)
        hi = np.array([math.inf if r.hi is None else r.hi for r in self.rules])
        lo = np.array([-math.inf if r.lo is None else r.lo for r in self.rules])
        return (p >= hi - 1e-12) | (p <= lo + 1e-12)

    def present(self, scores: Any) -> Any:
        """rows x labels, the tier's decision where it is settled (score >= hi)."""
        import numpy as np

        p = np.asarray(scores, dtype=float)
        hi = np.array([math.inf if r.hi is None else r.hi for r in self.rules])
        return p >= hi - 1e-12

    def describe(self) -> dict[str, Any]:
        return {rule.label: rule.describe() for rule in self.rules}


@dataclass(frozen=True)
class Shortfall:
    """A floor the calibration rows cannot support: too few rows with the label."""

    label: str
    side: str  # "precision" or "recall"
    have: int
    need: int

    def words(self) -> str:
        return (
            f"{self.label}: {self.have} calibration rows have it, {self.need} needed to "
            f"certify its {self.side} floor ({self.need - self.have} more)"
        )


def clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """The exact two-sided 1 - alpha interval of a binomial proportion k / n."""
    from scipy.stats import beta

    if n == 0:
        return 0.0, 1.0
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def predicted_hits(k: int, n: int, count: int, alpha: float) -> tuple[float, float, float]:
    """Of `count` new decisions made at the rate k / n seen on calibration rows: the
    expected number that are hits, and a 1 - alpha predictive interval of the realised
    number. The rate's exact interval (at alpha / 2) and the binomial draw of the new
    decisions at its ends (alpha / 4 each side) together: the realised figures of a
    run are a draw, so an interval of the rate alone is too narrow for them."""
    from scipy.stats import binom

    if count == 0:
        return 0.0, 0.0, 0.0
    if n == 0:  # no calibration row behind it: anything may happen
        return count / 2, 0.0, float(count)
    low, high = clopper_pearson(k, n, alpha / 2)
    least = float(binom.ppf(alpha / 4, count, low))
    most = float(binom.isf(alpha / 4, count, high))
    return count * k / n, least, min(float(count), most)


def _lower(k: int, n: int, alpha: float) -> float:
    """One-sided exact lower bound at level alpha."""
    return clopper_pearson(k, n, 2 * alpha)[0]


def rows_needed(floor: float, alpha: float) -> int:
    """The fewest rows, all correct, whose one-sided lower bound reaches `floor`:
    alpha ** (1 / n) >= floor."""
    if floor <= 0:
        return 1
    if floor >= 1:
        return 10**9  # a floor of 1 is never certified by finitely many rows
    return math.ceil(math.log(alpha) / math.log(floor) - 1e-9)


def certify_tier(
    tier: str,
    scores: Any,
    gold: Any,
    labels: Sequence[str],
    centers: Sequence[float],
    *,
    floors: Floors,
    alpha: float,
    positives: Sequence[int] | None = None,
    share: float = 1.0,
) -> TierRules:
    """Each label's certified thresholds for a tier (`alpha`: the level of each test;
    `positives`: per label, the rows with it that misses count against, by default
    those of `gold`; `share`: this tier's share of each label's miss allowance)."""
    import numpy as np

    p = np.asarray(scores, dtype=float).reshape(-1, len(labels))
    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    rules = []
    for n, label in enumerate(labels):
        at = (p[:, n], y[:, n], centers[n])
        hi, correct, accepted = _present_side(*at, floors.precision.get(label), alpha=alpha)
        against = int(y[:, n].sum()) if positives is None else positives[n]
        floor = floors.recall.get(label)
        ceiling = None if floor is None else (1.0 - floor) * share
        lo, missed, against = _absent_side(*at, ceiling, against, alpha=alpha)
        absent = 0 if lo is None else int((p[:, n] <= lo + 1e-12).sum())
        rules.append(LabelRule(label, hi, lo, correct, accepted, missed, against, absent))
    return TierRules(tier, tuple(rules))


def _present_side(
    p: Any, y: Any, center: float, floor: float | None, *, alpha: float
) -> tuple[float | None, int, int]:
    if floor is None:
        return None, 0, 0
    # The scan starts where the accepted rows are enough for one error not to end it:
    # `start` depends on the scores only, never on the reference labels, so the fixed
    # sequence (and its guarantee) is unchanged by where it starts.
    need = rows_needed(floor, alpha)
    above = int((p >= center - 1e-12).sum())
    start = START_FACTOR * need if above >= START_FACTOR * need else need
    chosen: tuple[float | None, int, int] = (None, 0, 0)
    for hi in sorted((t for t in GRID if t >= center), reverse=True):  # strictest first
        accepted = p >= hi - 1e-12
        n = int(accepted.sum())
        if n < start:  # untestable yet: not a failure
            continue
        k = int(y[accepted].sum())
        if _lower(k, n, alpha) < floor:
            break
        chosen = (hi, k, n)
    return chosen


def _absent_side(
    p: Any, y: Any, center: float, ceiling: float | None, positives: int, *, alpha: float
) -> tuple[float | None, int, int]:
    if ceiling is None or ceiling <= 0:
        return None, 0, positives
    if positives < rows_needed(1.0 - ceiling, alpha):
        return None, 0, positives
    chosen: tuple[float | None, int, int] = (None, 0, positives)
    for lo in sorted(t for t in GRID if t < center):  # strictest (lowest) first
        missed = int((y & (p <= lo + 1e-12)).sum())
        # the share of positives settled absent, at most the ceiling with confidence
        if 1.0 - _lower(positives - missed, positives, alpha) > ceiling:
            break
        chosen = (lo, missed, positives)
    return chosen


def shortfalls(
    gold: Any, labels: Sequence[str], floors: Floors, *, alpha: float, tiers: int = 1
) -> list[Shortfall]:
    """The floors no tier can certify on these calibration rows, whatever its scores:
    fewer rows have the label than a perfect record would need (`tiers`: the machine
    tiers sharing each label's miss allowance)."""
    import numpy as np

    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    found = []
    for n, label in enumerate(labels):
        have = int(y[:, n].sum())
        precision, recall = floors.precision.get(label), floors.recall.get(label)
        needs = [
            ("precision", None if precision is None else rows_needed(precision, alpha)),
            ("recall", None if recall is None else rows_needed(1 - (1 - recall) / tiers, alpha)),
        ]
        for side, need in needs:
            if need is not None and have < need:
                found.append(Shortfall(label, side, have, need))
    return found


@dataclass(frozen=True)
class Routed:
    """Where route_rows sends each row and who settled each label."""

    tier: Any  # per row: the index of the tier that decided it (len(route): people)
    present: Any  # rows x labels: the machine decision (False on people's rows)
    settled_by: Any  # rows x labels: the tier that settled each label (len(route): none)


def route_rows(route: Sequence[TierRules], scores: Sequence[Any]) -> Routed:
    """Where each row's labels are settled, tier by tier; rows left over go to people."""
    import numpy as np

    first = np.asarray(scores[0], dtype=float)
    people = len(route)
    settled_by = np.full(first.shape, people)
    present = np.zeros(first.shape, dtype=bool)
    for k, rules in enumerate(route):
        p = np.asarray(scores[k], dtype=float)
        fresh = (settled_by == people) & rules.settled(p)
        settled_by[fresh] = k
        present[fresh] = rules.present(p)[fresh]
    done = (settled_by < people).all(axis=1)
    tier = np.where(done, settled_by.max(axis=1), people)
    present[~done] = False
    return Routed(tier, present, settled_by)
