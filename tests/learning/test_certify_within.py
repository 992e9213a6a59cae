"""Each label's F1 (framework.learning.certify_within) or macro-F1 of whole rows
(framework.learning.certify_within_rows) within delta of a reference tier, on synthetic
rows whose truth is known: a label is present with probability q; the cheap tier's score
is q made overconfident (its logit times 1.5, so its sure decisions are wrong more often
than they say); the reference tier is the truth with 2% of cells flipped, so the cheap
tier's decisions cost F1 and the certificate has to hold that cost under delta."""

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
from framework.learning.certify_within_rows import (
    certify_within_rows,
    decide_rows,
    hoeffding_bentkus,
)
from framework.learning.routing import route_rows

LABELS = ["joy", "anger"]


def tiers(q: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cheap tier's scores, the reference's decisions and the truth, for rates q."""
    truth = rng.random(q.shape) < q
    scores = 1 / (1 + np.exp(-1.5 * np.log(q / (1 - q))))
    reference = np.where(rng.random(truth.shape) < 0.02, ~truth, truth)
    return scores, reference, truth


def drawn(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tiers(rng.beta(0.6, 0.6, size=(rows, len(LABELS))), rng)


def f1(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    tp = (pred & gold).sum(0)
    found: np.ndarray = 2 * tp / (pred.sum(0) + gold.sum(0))
    return found


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
    delta, alpha, reps, met, settled, costly = 0.03, 0.1, 40, 0, 0, 0
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
        costly += bool((gap > 0).all())
    assert met >= (1 - alpha) * reps
    assert settled >= 0.9 * reps  # not vacuous: the cheap tier settles a good share of cells
    assert costly >= 0.9 * reps  # and its decisions do cost F1: the bound is what holds it


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


# Whole rows, macro-F1 (framework.learning.certify_within_rows)

THREE = ["joy", "anger", "fear"]


def drawn_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three labels, fear rarer (its rates skewed low)."""
    rng = np.random.default_rng(seed)
    return tiers(rng.beta([0.6, 0.6, 0.3], [0.6, 0.6, 1.5], size=(rows, 3)), rng)


def test_the_hoeffding_bentkus_p_value_is_valid_at_the_null() -> None:
    assert hoeffding_bentkus(0.0, 0.1, 30) == pytest.approx(0.9**30)
    assert hoeffding_bentkus(0.2, 0.1, 30) == 1.0
    rng = np.random.default_rng(0)
    losses = rng.random((4_000, 200)) < 0.05  # the expected loss is exactly the target
    rejected = np.mean([hoeffding_bentkus(float(row.mean()), 0.05, 200) <= 0.1 for row in losses])
    assert rejected <= 0.1


def test_certified_rows_keep_macro_f1_within_delta_on_fresh_rows() -> None:
    delta, alpha, reps, met, taken, costly = 0.03, 0.1, 40, 0, 0, 0
    for seed in range(reps):
        scores, reference, truth = drawn_rows(3_000, seed)
        certificate = certify_within_rows(
            "cheap", scores, reference, truth, THREE, [0.5] * 3, delta=delta, alpha=alpha
        )
        fresh, fresh_reference, fresh_truth = drawn_rows(60_000, 10_000 + seed)
        rows, decided = decide_rows(certificate, fresh, fresh_reference)
        gap = f1(fresh_reference, fresh_truth).mean() - f1(decided, fresh_truth).mean()
        met += bool(gap <= delta)
        taken += bool(rows.mean() > 0.05)
        costly += bool(gap > 0)
    assert met >= (1 - alpha) * reps
    assert taken >= 0.9 * reps  # not vacuous: the cheap tier decides a share of the rows
    assert costly >= 0.9 * reps  # and its decisions do cost F1: the bound is what holds it


def test_the_reference_decides_every_label_of_the_rows_the_cheap_tier_does_not_take() -> None:
    scores, reference, truth = drawn_rows(3_000, 1)
    certificate = certify_within_rows(
        "cheap", scores, reference, truth, THREE, [0.5] * 3, delta=0.05, alpha=0.05
    )
    assert certificate.margin is not None
    rows, decided = decide_rows(certificate, scores, reference)
    sure = np.abs(scores - 0.5).min(axis=1) >= certificate.margin - 1e-12
    assert (rows == sure).all()
    assert (decided[rows] == (scores[rows] >= 0.5)).all()
    assert (decided[~rows] == reference[~rows]).all()
    assert [rule.hi for rule in certificate.rules.rules] == [0.5 + certificate.margin] * 3


def test_too_few_rows_certify_no_row_and_say_how_many_would() -> None:
    """A perfect cheap tier and reference, both labels on every row: d = 2, F = 1, each
    loss weight 1 / (2 L), W = 1 / 2, tau = delta / (1 + delta L): only the count of
    rows limits the certificate, and it passes from exactly `need` rows on."""
    truth = np.ones((100, 2), dtype=bool)
    scores = truth.astype(float)
    alpha, delta = 0.05, 0.05
    few = certify_within_rows(
        "cheap", scores[:31], truth[:31], truth[:31], LABELS, [0.5] * 2, delta=delta, alpha=alpha
    )
    assert few.margin is None and few.need == 32  # (1 - tau / W) ** 32 <= alpha < ... ** 31
    assert not few.rules.settled(scores).any()
    assert few.shortfall() == (
        "31 calibration rows with the reference's answers, 32 needed to certify any row (1 more)"
    )
    enough = certify_within_rows(
        "cheap", scores[:32], truth[:32], truth[:32], LABELS, [0.5] * 2, delta=delta, alpha=alpha
    )
    assert enough.margin == 0.0 and enough.shortfall() is None


def test_a_label_no_calibration_row_has_certifies_no_row() -> None:
    scores, reference, truth = drawn_rows(2_000, 3)
    reference[:, 2] = truth[:, 2] = False
    certificate = certify_within_rows(
        "cheap", scores, reference, truth, THREE, [0.5] * 3, delta=0.05, alpha=0.05
    )
    assert certificate.margin is None
    assert not decide_rows(certificate, scores, reference)[0].any()
