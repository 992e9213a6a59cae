"""A route's tiers, certified in turn, and what the output's quality is estimated to be.

    route = certify_route(["trained", "llm"], [trained_scores, llm_scores], gold, labels,
                          centers, floors, alpha=0.05)
    routed = route_rows(route, [trained_scores, llm_scores])  # each row's tier and labels
    estimate = estimate_quality(route, routed, calibration_routed, gold, alpha=0.05)

A label of a row is settled by the first tier whose certified thresholds settle it
(framework.learning.certify); a row is decided by the first tier after which every
label is settled (its `tier`), and a row no machine tier settles goes to people
(`human`, tier index len(route)). Tier k is certified, label by label, on the
calibration rows the tiers before it left that label unsettled on: the rows it will
see; each tier may miss (settle absent) a 1/T share of the recall floor's allowance of
all the calibration rows with the label. The total alpha is split evenly over every
test of every tier (Bonferroni), so the floors hold together for all labels and tiers
with probability 1 - alpha: every label's precision of each tier's "present"
decisions, and every label's recall of the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framework.learning.certify import (
    Floors,
    Routed,
    TierRules,
    certify_tier,
    predicted_hits,
    route_rows,
    rows_needed,
)

__all__ = ["LabelEstimate", "Routed", "certify_route", "estimate_quality", "route_rows"]


@dataclass(frozen=True)
class LabelEstimate:
    label: str
    precision: float | None
    precision_interval: tuple[float, float]
    recall: float | None
    recall_interval: tuple[float, float]


def certify_route(  # noqa: PLR0917 (one call site per caller; the procedure's inputs)
    tiers: Sequence[str],
    scores: Sequence[Any],
    gold: Any,
    labels: Sequence[str],
    centers: Sequence[Sequence[float]],
    floors: Floors,
    *,
    alpha: float,
    rows: Sequence[Any] | None = None,
) -> list[TierRules]:
    """Each machine tier's thresholds, certified on the calibration rows it would see.
    `rows`: per tier, the calibration rows it has scores on (a mask; None: all), as
    when the LLM tier answered only a sample of them (framework.learning.route_llm):
    each tier is certified on its rows the tiers before left open, its misses counted
    against the positives of its rows. With floors.guarantee "realised" the tiers are
    certified together for the output's realised figures instead
    (framework.learning.certify_realised; every tier scored on every row)."""
    import numpy as np

    if floors.guarantee == "realised":
        from framework.learning.certify_realised import certify_realised

        if rows is not None:
            raise ValueError("quality.guarantee=realised certifies tiers scored on every row")
        return certify_realised(tiers, scores, gold, labels, centers, floors, alpha=alpha)
    y = np.asarray(gold, dtype=bool)
    each = alpha / max(1, floors.tests() * len(tiers))
    masks = [
        np.ones(len(y), dtype=bool) if rows is None else np.asarray(mask, dtype=bool)
        for mask in (rows or [None] * len(tiers))
    ]
    counted = [[int(count) for count in y[mask].sum(axis=0)] for mask in masks]
    # the equal split of a miss allowance is decided on the fewest positives of any tier
    fewest = [min(tier[n] for tier in counted) for n in range(len(labels))]
    open_ = np.ones(y.shape, dtype=bool)  # labels no tier before has settled
    route = []
    last = len(tiers) - 1
    for at, (tier, tier_scores, tier_centers) in enumerate(
        zip(tiers, scores, centers, strict=True)
    ):
        p = np.asarray(tier_scores, dtype=float)
        positives = counted[at]  # misses count against all of them
        rules = []
        for n, label in enumerate(labels):
            share = _miss_share(floors.recall.get(label), fewest[n], at, last, each)
            seen = open_[:, n] & masks[at]
            one = certify_tier(
                tier,
                p[seen, n : n + 1],
                y[seen, n : n + 1],
                [label],
                [tier_centers[n]],
                floors=floors,
                alpha=each,
                positives=[positives[n]],
                share=share,
            )
            rules.append(one.rules[0])
        certified = TierRules(tier, tuple(rules))
        route.append(certified)
        open_ &= ~_settled_where_scored(certified, p)
    return route


def _settled_where_scored(rules: TierRules, scores: Any) -> Any:
    """rows x labels settled by the tier; a row it has no score on (NaN) is not."""
    import numpy as np

    p = np.asarray(scores, dtype=float)
    return rules.settled(np.nan_to_num(p, nan=0.5)) & ~np.isnan(p)


def _miss_share(floor: float | None, positives: int, at: int, last: int, alpha: float) -> float:
    """Tier `at`'s share of a label's miss allowance: an equal share, or, when the
    calibration rows with the label are too few to test an equal share, none for the
    tiers before the last and all of it for the last (decided by the count alone)."""
    if floor is None or last == 0:
        return 1.0
    if positives >= rows_needed(1 - (1 - floor) / (last + 1), alpha):
        return 1 / (last + 1)
    return 1.0 if at == last else 0.0


def estimate_quality(
    route: Sequence[TierRules], routed: Routed, calibration: Routed, gold: Any, *, alpha: float
) -> list[LabelEstimate]:
    """Per label, the machine-decided output's precision and recall. `calibration` is
    the calibration rows routed the same way (`gold`: their reference labels): each
    tier's rates are read on the calibration rows it decided, so they carry the same
    selection as the output (a row machine-decided only when every label is settled).
    The output's decisions of each tier are a binomial draw at those rates, so the
    intervals are predictive intervals of the realised figures (certify.predicted_hits),
    at alpha split over the tiers and the two rates."""
    import numpy as np

    each = alpha / max(1, 2 * len(route))
    y = np.asarray(gold, dtype=bool)
    machine, known = routed.tier < len(route), calibration.tier < len(route)
    estimates = []
    for n, rule_label in enumerate(r.label for r in route[0].rules):
        tp, fn = np.zeros(3), np.zeros(3)  # (estimate, low, high)
        decided_present = 0
        for k in range(len(route)):
            by_k = machine & (routed.settled_by[:, n] == k)
            ones = int((by_k & routed.present[:, n]).sum())
            zeros = int((by_k & ~routed.present[:, n]).sum())
            decided_present += ones
            seen = known & (calibration.settled_by[:, n] == k)
            said = seen & calibration.present[:, n]
            left = seen & ~calibration.present[:, n]
            tp += predicted_hits(int(y[said, n].sum()), int(said.sum()), ones, each)
            # the absent decisions that had the label nonetheless: misses
            fn += predicted_hits(int(y[left, n].sum()), int(left.sum()), zeros, each)
        estimates.append(_label_estimate(rule_label, tp, fn, decided_present))
    return estimates


def _label_estimate(label: str, tp: Any, fn: Any, decided_present: int) -> LabelEstimate:
    if decided_present:
        precision = float(tp[0] / decided_present)
        p_interval = (float(tp[1] / decided_present), float(tp[2] / decided_present))
    else:
        precision, p_interval = None, (0.0, 1.0)
    if tp[0] + fn[0] > 0:
        recall: float | None = float(tp[0] / (tp[0] + fn[0]))
        low = tp[1] / (tp[1] + fn[2]) if tp[1] + fn[2] > 0 else 0.0
        high = tp[2] / (tp[2] + fn[1]) if tp[2] + fn[1] > 0 else 1.0
        r_interval = (float(low), float(high))
    else:
        recall, r_interval = None, (0.0, 1.0)
    return LabelEstimate(label, precision, p_interval, recall, r_interval)
