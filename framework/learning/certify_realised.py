"""quality.guarantee=realised: a precision floor that holds for the realised precision
of the rows a route decides by machine, not only for the rate behind them.

    floors = Floors.uniform(labels, precision=0.8, guarantee="realised", output_rows=5000)
    route = certify_realised(["trained"], [scores], gold, labels, [centers], floors, alpha=a)

The rate certificate (framework.learning.certify) bounds, per tier, label and side, the
precision of every decision a tier settles. A run's output differs in two ways: it keeps
a row for the machine only when every label is settled (a selection), and its realised
precision is that of a finite number of decisions, a draw around the rate. Here:

- the path: one number f per tier (0.01 to 1.00 by 0.01), every label's thresholds
  loosened together from the ends of the score range to its center c:
  hi = c + (1 - c)(1 - f) settles "present", lo = c f settles "absent". It is fixed
  before any reference label is seen.
- the selection: at each point the calibration rows are routed as a run routes its rows
  (framework.learning.routing.route_rows) and each label's precision is counted on the
  rows decided by machine only (every label settled).
- the draw: each of the run's output_rows rows is such a machine "present" decision
  with the calibration rows' rate (a binomial count m, bounded from below with
  certify.predicted_hits), and the realised precision of m decisions made at a rate p is
  a binomial draw too, at or above the floor with probability >= 1 - delta once
  p >= q(m), where P(Binomial(m, q) >= ceil(floor x m)) = 1 - delta (exact: a beta
  quantile). The rate is tested against the largest q over the counts the output may
  have (rate_for_output), not the floor: its exact one-sided Clopper-Pearson lower bound
  must reach it.
- the recall allowance stays a rate, on the same path and in the same test: the share
  of a label's calibration rows settled "absent" on machine-decided rows is at most
  1 - the recall floor (no draw: a realised recall of the output's few rows with a rare
  label would need far more calibration rows than a run has).
- the procedure: learn-then-test with a fixed sequence (Angelopoulos, Bates, Candes,
  Jordan, Lei, "Learn then Test", 2021), from the strictest point, stopping at the first
  failure. The null at a point is "some side's rate is below what it needs"; it is
  rejected only when every side's test rejects at alpha / 2 (an intersection-union
  test: no split over labels), so a wrong point is certified with probability at most
  alpha / 2. The draws get the other alpha / 2, split over the labels with a precision
  floor (Bonferroni). Together: every label's realised precision of the machine-decided
  output rows is at or above its floor, and its recall allowance holds as a rate, with
  probability >= 1 - alpha over the calibration rows and the output rows both.
  Each path is scanned from STARTS evenly spaced points (an unlucky early point ends
  one scan only) and, with several tiers, along two paths: all tiers at the same f,
  and the last tier first (the earlier ones settle nothing until it reaches f = 1,
  then they loosen); alpha / 2 is split evenly over the scans (a union bound) and the
  certified point deciding the most calibration rows by machine is kept.
- a label's "present" side whose machine-decided calls are fewer than START_FACTOR
  times what a perfect record needs is not settled at that point (counted on scores
  alone, so the path stays fixed; one early error cannot end the scan).

output_rows is the size of the run's output: a smaller output needs a higher rate
(its realised precision varies more), so a lower bound is safe when unsure. Written
here for the same reason as certify.py: no well-kept package does learn-then-test over
a route's selection (scipy gives the beta quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framework.learning.certify import (
    Floors,
    LabelRule,
    TierRules,
    predicted_hits,
    route_rows,
    rows_needed,
)

__all__ = ["certify_realised", "rate_for_output", "required_rate"]

STEPS = tuple(step / 100 for step in range(1, 101))  # f, strictest first
START_FACTOR = 4  # a side comes in once its calls are this many times the fewest
STARTS = 3


def required_rate(floor: float, count: int, delta: float) -> float:
    """The least rate p at which `count` decisions drawn at p reach a share `floor` of
    hits with probability 1 - delta: P(Binomial(count, p) >= c) = I_p(c, count - c + 1)
    (the regularised incomplete beta), so p is that beta's 1 - delta quantile."""
    from scipy.stats import beta

    need = math.ceil(floor * count - 1e-9)
    if need <= 0:
        return 0.0
    return float(beta.ppf(1 - delta, need, count - need + 1))


def rate_for_output(floor: float, calls: int, rows: int, output: int, delta: float) -> float:
    """The rate a side needs so that its realised share in the output reaches `floor`
    with probability 1 - delta, its count there unknown: `calls` of `rows` calibration
    rows are such decisions, so the output's count is a binomial draw too. Half of delta
    bounds that count from below (certify.predicted_hits: the rate's exact interval and
    the draw), half the realised share at every count from there up. required_rate
    falls with the count but wiggles with the rounding of floor x m, so its largest
    value is taken over a window above the least count, 4 sqrt(m) + 20 counts wide
    (a bound chosen, not proven: beyond it the fall outweighs the wiggle's 1 / m)."""
    import numpy as np
    from scipy.stats import beta

    _, least, most = predicted_hits(calls, rows, output, delta / 2)
    low = max(1, math.floor(least))
    high = max(low, min(math.ceil(most), low + 4 * math.ceil(math.sqrt(low)) + 20))
    counts = np.arange(low, high + 1)
    need = np.maximum(1, np.ceil(floor * counts - 1e-9))
    return float(beta.ppf(1 - delta / 2, need, counts - need + 1).max())


@dataclass(frozen=True)
class _Side:
    """One label side at one f: its calibration counts and the test's verdict."""

    hits: int
    calls: int
    rate_needed: float
    label: int | None = None  # a precision side's label (its index); None: recall

    def passes(self, alpha: float) -> bool:
        from scipy.stats import beta

        if self.calls == 0:
            return True  # no decision of this side is made: nothing to hold
        if self.hits == 0:
            return False
        low = float(beta.ppf(alpha, self.hits, self.calls - self.hits + 1))
        return low >= self.rate_needed


def certify_realised(  # noqa: PLR0917 (the same inputs as routing.certify_route)
    tiers: Sequence[str],
    scores: Sequence[Any],
    gold: Any,
    labels: Sequence[str],
    centers: Sequence[Sequence[float]],
    floors: Floors,
    *,
    alpha: float,
) -> list[TierRules]:
    """Each tier's thresholds for quality.guarantee=realised (the module's procedure)."""
    import numpy as np

    if floors.output_rows is None or floors.output_rows < 1:
        raise ValueError("quality.guarantee=realised needs the output's row count")
    y = np.asarray(gold, dtype=bool).reshape(-1, len(labels))
    p = [np.asarray(s, dtype=float).reshape(-1, len(labels)) for s in scores]
    path = _Path(p, centers, floors)
    sides = max(1, sum(f is not None for f in floors.precision.values()))
    draw = alpha / 2 / sides
    paths = [[(f,) * len(tiers) for f in STEPS]]
    if len(tiers) > 1:  # the last tier first, then the earlier ones
        last = [(0.0,) * (len(tiers) - 1) + (f,) for f in STEPS]
        paths.append(last + [(f,) * (len(tiers) - 1) + (1.0,) for f in STEPS])
    # each path scanned from STARTS evenly spaced points: an unlucky early point ends
    # one scan only
    runs = [whole[len(whole) * s // STARTS :] for whole in paths for s in range(STARTS)]
    best: tuple[int, list[TierRules]] = (-1, path.nothing(tiers, labels))
    test = alpha / 2 / len(runs)
    for run in runs:
        found = _scan(run, path, y, labels, tiers, test=test, draw=draw)
        if found is not None and found[0] > best[0]:
            best = found
    return best[1]


class _Path:
    """Each tier's thresholds at a point of the path (one f per tier)."""

    def __init__(self, p: list[Any], centers: Sequence[Sequence[float]], floors: Floors) -> None:
        self.p, self.centers, self.floors = p, centers, floors

    def thresholds(
        self, point: tuple[float, ...], labels: Sequence[str], dropped: set[int]
    ) -> list[list[tuple[float | None, float | None]]]:
        found = []
        for k, f in enumerate(point):
            tier: list[tuple[float | None, float | None]] = []
            for n, label in enumerate(labels):
                center = float(self.centers[k][n])
                hi = center + (1 - center) * (1 - f)
                lo = min(center * f, center - 1e-9)
                keep_hi = (
                    f > 0 and n not in dropped and self.floors.precision.get(label) is not None
                )
                keep_lo = f > 0 and self.floors.recall.get(label) is not None
                tier.append((hi if keep_hi else None, lo if keep_lo else None))
            found.append(tier)
        return found

    @staticmethod
    def nothing(tiers: Sequence[str], labels: Sequence[str]) -> list[TierRules]:
        return [
            TierRules(t, tuple(LabelRule(label, None, None) for label in labels)) for t in tiers
        ]


def _rules(
    tiers: Sequence[str], labels: Sequence[str], at: list[list[tuple[float | None, float | None]]]
) -> list[TierRules]:
    return [
        TierRules(tier, tuple(LabelRule(label, *at[k][n]) for n, label in enumerate(labels)))
        for k, tier in enumerate(tiers)
    ]


def _scan(
    run: list[tuple[float, ...]],
    path: _Path,
    y: Any,
    labels: Sequence[str],
    tiers: Sequence[str],
    *,
    test: float,
    draw: float,
) -> tuple[int, list[TierRules]] | None:
    """The fixed sequence along one run of the path: the last point every side passes
    before the first that fails, with the rows it decides by machine."""
    chosen: tuple[int, list[TierRules]] | None = None
    for point in run:
        route, machine, sides = _at_point(point, path, y, labels, tiers, test=test, draw=draw)
        if not all(side.passes(test) for side in sides):
            break
        chosen = (int(machine.sum()), _with_counts(route, y, machine, path.p))
    return chosen


def _at_point(
    point: tuple[float, ...],
    path: _Path,
    y: Any,
    labels: Sequence[str],
    tiers: Sequence[str],
    *,
    test: float,
    draw: float,
) -> tuple[list[TierRules], Any, list[_Side]]:
    """The route at one point, its machine-decided rows and its sides. A label's
    "present" side whose machine-decided calls are fewer than START_FACTOR times what a
    perfect record needs is not settled at this point (again until none is): that counts
    scores alone, never labels, so the path stays fixed before the labels are seen, and
    one early error cannot end the scan (as certify.py's start)."""

    rows = len(y)
    output = path.floors.output_rows or rows
    dropped: set[int] = set()
    while True:
        route = _rules(tiers, labels, path.thresholds(point, labels, dropped))
        routed = route_rows(route, path.p)
        machine = routed.tier < len(tiers)
        sides: list[_Side] = []
        for n, label in enumerate(labels):
            floor = path.floors.precision.get(label)
            if floor is None or n in dropped:
                continue
            said = machine & routed.present[:, n]
            calls = int(said.sum())
            needed = rate_for_output(floor, calls, rows, output, draw) if calls else 1.0
            sides.append(_Side(int(y[said, n].sum()), calls, needed, n))
        short = {
            side.label
            for side in sides
            if side.label is not None
            and side.calls < START_FACTOR * rows_needed(side.rate_needed, test)
        }
        if not short:
            break
        dropped |= short  # none at all included: then no "present" decision is made
    for n, label in enumerate(labels):
        floor = path.floors.recall.get(label)
        if floor is None:
            continue
        # the recall allowance: as a rate (the share of the label's rows settled absent
        # on machine-decided rows), on the same path and in the same test
        positives = int(y[:, n].sum())
        missed = int((machine & ~routed.present[:, n] & y[:, n]).sum())
        sides.append(_Side(positives - missed, positives, floor))
    return route, machine, sides


def _with_counts(route: list[TierRules], y: Any, machine: Any, p: list[Any]) -> list[TierRules]:
    """The rules with each tier's calibration counts on the machine-decided rows."""
    import numpy as np

    routed = route_rows(route, p)
    counted = []
    for k, rules in enumerate(route):
        filled = []
        for n, rule in enumerate(rules.rules):
            by_k = machine & (routed.settled_by[:, n] == k)
            said = by_k & routed.present[:, n]
            left = by_k & ~routed.present[:, n]
            filled.append(
                LabelRule(
                    rule.label,
                    rule.hi,
                    rule.lo,
                    correct=int(y[said, n].sum()),
                    accepted=int(said.sum()),
                    missed=int(y[left, n].sum()),
                    positives=int(y[:, n].sum()),
                    absent=int(np.count_nonzero(left)),
                )
            )
        counted.append(TierRules(rules.tier, tuple(filled)))
    return counted
