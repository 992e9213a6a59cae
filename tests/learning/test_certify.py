"""Certified thresholds (framework.learning.certify) and a route of tiers
(framework.learning.routing), on synthetic scores whose truth is known: calibrated
scores, where a row with score p has the label with probability p."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from framework.learning.certify import (
    Floors,
    certify_tier,
    clopper_pearson,
    rows_needed,
    shortfalls,
)
from framework.learning.routing import certify_route, estimate_quality, route_rows

LABELS = ["joy", "anger"]


def calibrated(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores spread over [0, 1]; the label is present with probability = the score."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.6, 0.6, size=(rows, len(LABELS)))
    return scores, rng.random(scores.shape) < scores


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (47, 120)])
def test_the_interval_is_the_exact_binomial_one(k: int, n: int) -> None:
    exact = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
    assert clopper_pearson(k, n, 0.1) == pytest.approx((exact.low, exact.high))


def test_rows_needed_is_the_fewest_perfect_rows_that_pass() -> None:
    need = rows_needed(0.8, 0.05)
    assert need == 14
    assert clopper_pearson(need, need, 0.1)[0] >= 0.8 > clopper_pearson(need - 1, need - 1, 0.1)[0]


def test_certified_precision_holds_on_new_rows_in_nearly_every_repetition() -> None:
    floors = Floors.uniform(LABELS, precision=0.8, recall=0.8)
    alpha, met, certified, reps = 0.1, 0, 0, 60
    for seed in range(reps):
        scores, gold = calibrated(400, seed)
        rules = certify_tier("t", scores, gold, LABELS, [0.5, 0.5], floors=floors, alpha=alpha)
        fresh, truth = calibrated(20_000, 10_000 + seed)
        present = rules.present(fresh)
        precisions = [
            truth[present[:, n], n].mean() for n in range(len(LABELS)) if present[:, n].any()
        ]
        met += all(p >= 0.8 for p in precisions)
        certified += all(rule.hi is not None and rule.hi >= 0.5 for rule in rules.rules)
    assert met >= (1 - alpha) * reps
    assert certified >= 0.9 * reps  # the floor is reachable: most calibrations certify it


def test_the_absent_side_misses_at_most_the_recall_floor_allows() -> None:
    scores, gold = calibrated(2_000, 1)
    floors = Floors.uniform(LABELS, precision=None, recall=0.9)
    rules = certify_tier("t", scores, gold, LABELS, [0.5, 0.5], floors=floors, alpha=0.05)
    fresh, truth = calibrated(50_000, 2)
    settled_absent = rules.settled(fresh) & ~rules.present(fresh)
    for n, rule in enumerate(rules.rules):
        assert rule.hi is None  # no precision floor: never settled present
        assert rule.lo is not None and rule.lo < 0.5
        missed = (settled_absent[:, n] & truth[:, n]).sum() / truth[:, n].sum()
        assert missed <= 0.1


def test_a_tier_that_is_never_right_settles_nothing_present() -> None:
    scores, gold = calibrated(500, 3)
    floors = Floors.uniform(LABELS, precision=0.8)
    rules = certify_tier("t", 1 - scores, gold, LABELS, [0.5, 0.5], floors=floors, alpha=0.05)
    assert not rules.settled(1 - scores).any()
    assert all(rule.hi is None and rule.lo is None for rule in rules.rules)


def test_too_few_rows_with_a_label_are_named_with_how_many_more() -> None:
    gold = np.zeros((100, 2), dtype=bool)
    gold[:5, 1] = True  # anger on 5 rows
    gold[:, 0] = True
    found = shortfalls(gold, LABELS, Floors.uniform(LABELS, precision=0.8), alpha=0.05)
    assert [(s.label, s.side, s.have, s.need) for s in found] == [("anger", "precision", 5, 14)]
    assert found[0].words() == (
        "anger: 5 calibration rows have it, 14 needed to certify its precision floor (9 more)"
    )


def test_a_route_sends_what_no_tier_settles_to_people_and_estimates_its_quality() -> None:
    floors = Floors.uniform(LABELS, precision=0.8, recall=0.8)
    scores, gold = calibrated(3_000, 4)
    rng = np.random.default_rng(5)
    strong = np.where(rng.random(gold.shape) < 0.95, gold, ~gold).astype(float)
    strong = 0.5 * strong + 0.5 * scores  # a strong tier's answer fused with the model's
    centers = [[0.5, 0.5], [0.5, 0.5]]
    route = certify_route(
        ["trained", "llm"], [scores, strong], gold, LABELS, centers, floors, alpha=0.05
    )

    fresh, truth = calibrated(20_000, 6)
    fresh_strong = np.where(rng.random(truth.shape) < 0.95, truth, ~truth).astype(float)
    routed = route_rows(route, [fresh, 0.5 * fresh_strong + 0.5 * fresh])
    shares = np.bincount(routed.tier, minlength=3) / len(fresh)
    assert shares[0] > 0.05 and shares[1] > 0.05 and shares[2] < 0.2
    assert not routed.present[routed.tier == 2].any()  # people's rows: no machine labels

    machine = routed.tier < 2
    calibration = route_rows(route, [scores, strong])
    estimates = estimate_quality(route, routed, calibration, gold, alpha=0.05)
    for n, estimate in enumerate(estimates):
        decided = routed.present[machine, n]
        realised_p = truth[machine, n][decided].mean()
        realised_r = decided[truth[machine, n]].mean()
        assert realised_p >= 0.8
        assert estimate.precision_interval[0] <= realised_p <= estimate.precision_interval[1]
        assert estimate.recall_interval[0] <= realised_r <= estimate.recall_interval[1]


def test_a_small_runs_estimate_is_a_predictive_interval_of_its_realised_precision() -> None:
    """Many calibration rows pin the rate down (0.85 +- 0.01); a run of 20 present
    decisions is a draw at that rate, so its realised precision may well be 0.65. The
    estimate's interval must hold it: an interval of the rate alone would not."""
    rows, labels = 20_000, ["joy"]
    scores = np.full((rows, 1), 0.95)
    gold = (np.arange(rows) < int(rows * 0.85))[:, None]
    floors = Floors.uniform(labels, precision=0.8)
    route = certify_route(["trained"], [scores], gold, labels, [[0.5]], floors, alpha=0.05)
    assert route[0].rules[0].hi is not None  # "present" certified: 0.85 > 0.8

    run = np.full((20, 1), 0.95)
    truth = np.arange(20) < 13  # the run's draw: 13 of its 20 rows have joy
    routed = route_rows(route, [run])
    calibration = route_rows(route, [scores])
    (joy,) = estimate_quality(route, routed, calibration, gold, alpha=0.05)
    realised = truth[routed.present[:, 0]].mean()
    assert realised == pytest.approx(0.65)
    low, high = joy.precision_interval
    assert low <= realised <= high
    assert high - low < 0.5  # still says something
