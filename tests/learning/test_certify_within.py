"""Each label's F1 within delta of a reference tier (framework.learning.certify_within),
on synthetic scores whose truth is known: calibrated scores (a row with score p has the
label with probability p) and a reference tier that is the truth with some cells flipped."""

from __future__ import annotations

import numpy as np
import pytest

from framework.learning.certify_within import (
    certify_within,
    deciding_all,
    gap_bound,
    rows_needed_within,
    within_shortfalls,
)
from framework.learning.routing import route_rows

LABELS = ["joy", "anger"]


def drawn(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, the reference's decisions (the truth, 10% of cells flipped) and the truth."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.6, 0.6, size=(rows, len(LABELS)))
    truth = rng.random(scores.shape) < scores
    reference = np.where(rng.random(truth.shape) < 0.1, ~truth, truth)
    return scores, reference, truth


def f1(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    tp = (pred & gold).sum(0)
    return 2 * tp / (pred.sum(0) + gold.sum(0))


def test_the_bound_is_the_f1_loss_of_the_harmful_flips_and_never_below_the_real_loss() -> None:
    gold = np.array([1] * 10 + [0] * 10, dtype=bool)
    reference = gold.copy()
    reference[[0, 10]] = [False, True]  # one miss, one false positive: TP 9, D 20
    routed = reference.copy()
    routed[[1, 2]] = False  # (a): two lost true positives
    routed[11] = True  # (b): one added false positive
    rows = len(gold)
    loss = f1(reference[:, None], gold[:, None])[0] - f1(routed[:, None], gold[:, None])[0]
    assert gap_bound(9 / rows, 20 / rows, 2 / rows, 1 / rows) == pytest.approx(loss)
    routed[0] = True  # a beneficial flip too: gains the missed true positive back
    gained = f1(reference[:, None], gold[:, None])[0] - f1(routed[:, None], gold[:, None])[0]
    assert gained < loss  # the bound ignores it, so it stays above the real loss


def test_the_certified_margins_keep_every_labels_f1_within_delta_on_fresh_rows() -> None:
    delta, alpha, reps, met, settled = 0.03, 0.1, 40, 0, 0
    for seed in range(reps):
        scores, reference, truth = drawn(3_000, seed)
        rules = certify_within(
            "cheap", scores, reference, truth, LABELS, [0.5, 0.5], delta=delta, alpha=alpha
        )
        fresh, fresh_reference, fresh_truth = drawn(40_000, 10_000 + seed)
        route = [rules, deciding_all("reference", LABELS, [0.5, 0.5])]
        routed = route_rows(route, [fresh, fresh_reference.astype(float)])
        assert (routed.tier < 2).all()  # the reference decides the rest: nothing for people
        gap = f1(fresh_reference, fresh_truth) - f1(routed.present, fresh_truth)
        met += bool((gap <= delta).all())
        settled += bool((routed.settled_by == 0).mean(axis=0).min() > 0.1)
    assert met >= (1 - alpha) * reps
    assert settled >= 0.9 * reps  # not vacuous: the cheap tier settles a good share of cells


def test_a_tier_that_is_always_wrong_settles_almost_nothing() -> None:
    """Its strictest margins settle no calibration cell, so they pass; the scan stops
    at the first margin whose wrong decisions the bound cannot afford."""
    scores, reference, truth = drawn(3_000, 1)
    rules = certify_within(
        "cheap", 1 - scores, reference, truth, LABELS, [0.5, 0.5], delta=0.03, alpha=0.05
    )
    for rule in rules.rules:
        assert rule.hi is not None and rule.hi >= 0.99
        assert rule.lo is not None and rule.lo <= 0.01
    fresh, _, _ = drawn(40_000, 2)
    assert rules.settled(1 - fresh).mean() < 0.01


def test_too_few_calibration_rows_certify_nothing_and_say_how_many_would() -> None:
    """A perfect cheap tier (scores 0 or 1, the truth) and a perfect reference: what
    limits the certificate is the count of rows alone, at the exact boundary."""
    alpha, delta = 0.05, 0.05
    truth = np.ones((1_000, 2), dtype=bool)  # both labels on every row
    d = 2.0  # D per row: the reference's present rows plus the truth's, 1 + 1
    need = rows_needed_within(delta, d, alpha / 4)  # alpha over 2 labels x 2 bounds
    assert need == 86  # 1 - (alpha / 4) ** (1 / 86) <= delta * d / 2 < ... ** (1 / 85)

    few = truth[: need - 1]
    rules = certify_within(
        "cheap", few.astype(float), few, few, LABELS, [0.5, 0.5], delta=delta, alpha=alpha
    )
    assert not rules.settled(few.astype(float)).any()
    found = within_shortfalls(few, few, LABELS, delta=delta, alpha=alpha)
    assert [(s.label, s.have, s.need) for s in found] == [("joy", 85, 86), ("anger", 85, 86)]
    assert found[0].words() == (
        "joy: 85 calibration rows with the reference's answers, 86 needed to certify its "
        "F1 within 0.05 (1 more)"
    )

    enough = truth[:need]
    rules = certify_within(
        "cheap", enough.astype(float), enough, enough, LABELS, [0.5, 0.5], delta=delta, alpha=alpha
    )
    assert rules.settled(enough.astype(float)).all()  # every cell settled present
    assert within_shortfalls(enough, enough, LABELS, delta=delta, alpha=alpha) == []


def test_a_label_no_row_has_is_never_settled() -> None:
    scores, reference, truth = drawn(2_000, 2)
    reference[:, 1] = truth[:, 1] = False
    rules = certify_within(
        "cheap", scores, reference, truth, LABELS, [0.5, 0.5], delta=0.05, alpha=0.05
    )
    assert rules.rules[1].hi is None and rules.rules[1].lo is None
    assert rules.rules[0].hi is not None
