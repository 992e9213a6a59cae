"""The llm tier certified on a sample of calibration rows (framework.learning.route_llm),
on synthetic scores: a trained tier sure of some rows, an LLM right or wrong on the rest."""

from __future__ import annotations

import numpy as np

from framework.learning.certify import Floors, TierRules
from framework.learning.route_llm import (
    LlmSample,
    SampledTier,
    certify_with_llm,
    draw_sample,
    llm_rates,
    llm_scores,
    open_on_sample,
    sample_shortfalls,
)
from framework.learning.routing import certify_route

LABELS = ["a", "b"]
CENTERS = [0.5, 0.5]


def calibration(rows: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels, and trained scores sure (and right) on half of the rows only."""
    draw = np.random.default_rng(seed)
    gold = draw.random((rows, 2)) < 0.4
    sure = draw.random(rows) < 0.5
    unsure = 0.5 + draw.normal(0, 0.05, (rows, 2))
    scores = np.where(sure[:, None], np.where(gold, 0.97, 0.03), unsure)
    return gold, np.clip(scores, 0, 1)


def certify(
    scores: np.ndarray,
    sample: LlmSample,
    answers: dict[str, list[float]] | None,
    gold: np.ndarray,
    floors: Floors,
) -> list[TierRules]:
    """The trained tier alone before the LLM, then the llm tier."""
    return certify_with_llm(
        ["trained"], [scores], [CENTERS], sample, answers, gold, LABELS, CENTERS, floors, alpha=0.05
    )


def answers_for(
    sample_ids: tuple[str, ...], gold: np.ndarray, *, right: bool
) -> dict[str, list[float]]:
    by_id = {f"r{n}": n for n in range(len(gold))}
    said = {}
    for row_id in sample_ids:
        truth = gold[by_id[row_id]]
        said[row_id] = [0.95 if (value if right else not value) else 0.05 for value in truth]
    return said


def test_a_sample_is_drawn_the_same_for_the_same_seed_and_its_digest_says_which() -> None:
    ids = [f"r{n}" for n in range(100)]
    one, again, other = draw_sample(ids, 10, 0), draw_sample(ids, 10, 0), draw_sample(ids, 10, 1)
    assert one == again and len(one.ids) == 10 and list(one.indices) == sorted(one.indices)
    assert one.digest != other.digest and one.describe()["rows"] == 10


def test_without_rows_masks_certify_route_is_as_before() -> None:
    gold, scores = calibration()
    floors = Floors.uniform(LABELS, precision=0.8)
    plain = certify_route(["trained"], [scores], gold, LABELS, [CENTERS], floors, alpha=0.05)
    every = np.ones(len(gold), dtype=bool)
    masked = certify_route(
        ["trained"], [scores], gold, LABELS, [CENTERS], floors, alpha=0.05, rows=[every]
    )
    assert plain == masked


def test_an_llm_right_on_its_sample_is_certified_and_a_wrong_one_is_not() -> None:
    gold, scores = calibration()
    ids = [f"r{n}" for n in range(len(gold))]
    sample = draw_sample(ids, 600, 0)
    floors = Floors.uniform(LABELS, precision=0.8)
    before = certify(scores, sample, None, gold, floors)
    right = answers_for(sample.ids, gold, right=True)
    trained, llm = certify(scores, sample, right, gold, floors)
    assert before == [trained]  # the trained tier's rules do not wait for the LLM
    assert all(rule.hi is not None for rule in llm.rules)
    # its rules were learnt on the sampled rows the trained tier left open, only
    open_rows = (~trained.settled(scores[list(sample.indices)])).sum(axis=0)
    assert all(rule.accepted <= open_rows[n] for n, rule in enumerate(llm.rules))
    rates = llm_rates(
        [trained], llm, [scores], sample, right, gold, CENTERS, every_row_machine=False
    )
    assert all(rate["present"][0] == rate["present"][1] > 0 for rate in rates.values())
    wrong = answers_for(sample.ids, gold, right=False)
    _, refused = certify(scores, sample, wrong, gold, floors)
    assert all(rule.hi is None for rule in refused.rules)


def test_a_sample_too_small_for_the_floor_is_named_with_the_rows_that_would_do() -> None:
    gold, scores = calibration()
    ids = [f"r{n}" for n in range(len(gold))]
    floors = Floors.uniform(LABELS, precision=0.9)
    small = draw_sample(ids, 40, 0)
    route = certify(scores, small, None, gold, floors)
    short = sample_shortfalls(route, [scores], small, gold, floors, alpha=0.05)
    assert short and all(would > 40 for _, would in short)
    assert {found.label for found, _ in short} <= set(LABELS)
    large = draw_sample(ids, 1500, 0)
    assert sample_shortfalls(route, [scores], large, gold, floors, alpha=0.05) == []


def test_a_further_tier_is_certified_on_the_sampled_rows_the_llm_tier_leaves_open() -> None:
    gold, scores = calibration(3000)
    ids = [f"r{n}" for n in range(len(gold))]
    sample = draw_sample(ids, 1500, 0)
    floors = Floors.uniform(LABELS, precision=0.8)
    by_id = dict(zip(ids, range(len(ids)), strict=True))
    # an llm tier unsure of every other row (0.5: it settles none of them)
    said = answers_for(sample.ids, gold, right=True)
    llm_answers = {i: (v if by_id[i] % 2 else [0.5, 0.5]) for i, v in said.items()}

    def route_with(strong: dict[str, list[float]] | None) -> list[TierRules]:
        further = [SampledTier("strong", strong, CENTERS)]
        return certify_with_llm(
            ["trained"],
            [scores],
            [CENTERS],
            sample,
            llm_answers,
            gold,
            LABELS,
            CENTERS,
            floors,
            alpha=0.05,
            further=further,
        )

    trained, llm = route_with(None)  # before the further tier answered: the tiers before it
    open_ = open_on_sample(
        [trained, llm], [scores, llm_scores(sample, llm_answers, gold.shape)], sample
    ).any(axis=1)
    asked = [row_id for row_id, left in zip(sample.ids, open_, strict=True) if left]
    assert 0 < len(asked) < len(sample.ids)
    right = {i: [float(v) for v in gold[by_id[i]]] for i in asked}  # its labels, 1 or 0
    *same, strong = route_with(right)
    assert same == [trained, llm]  # a tier's rules do not depend on the tiers after it
    assert all(rule.hi is not None for rule in strong.rules)
    assert all(rule.accepted <= len(asked) for rule in strong.rules)
    wrong = {i: [1.0 - v for v in answer] for i, answer in right.items()}
    *_, refused = route_with(wrong)
    assert all(rule.hi is None for rule in refused.rules)
