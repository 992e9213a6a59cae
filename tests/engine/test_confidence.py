"""Per-label confidence from token log-probabilities and votes, and deciding by it."""

from __future__ import annotations

import math

import pytest

from framework.config.schema import TaxonomyConfig, ValidationConfig
from framework.engine.confidence import binary_probabilities, first_token_probabilities, vote_shares
from framework.labels.decide import LabelDecider
from framework.labels.label_set import LabelSet
from framework.records import TokenLogprob

L = math.log


def tokens(*items: tuple[str, float, tuple[tuple[str, float], ...]]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(t, lp, top) for t, lp, top in items)


def test_yes_probability_is_read_against_no_at_the_answer_token() -> None:
    answer = tokens(
        ('{"', L(1), ()),
        ("answer", L(1), ()),
        ('":"', L(1), ()),
        ("yes", L(0.6), (("yes", L(0.6)), ("no", L(0.2)), ("maybe", L(0.2)))),
        ('"}', L(1), ()),
    )
    assert binary_probabilities(answer, count=1, kind="yesno") == [pytest.approx(0.75)]


def test_booleans_are_read_in_order() -> None:
    answer = tokens(
        ('{"a":', L(1), ()),
        (" true", L(0.9), ((" true", L(0.9)), (" false", L(0.1)))),
        (',"b":', L(1), ()),
        (" false", L(0.7), ((" false", L(0.7)), (" true", L(0.3)))),
        ("}", L(1), ()),
    )
    assert binary_probabilities(answer, count=2) == [pytest.approx(0.9), pytest.approx(0.3)]
    assert binary_probabilities(answer, count=3) is None


def test_without_alternatives_the_token_itself_decides() -> None:
    assert binary_probabilities(tokens(("no", L(0.9), ())), count=1, kind="yesno") == [0.0]


def test_a_label_in_an_array_gets_the_probability_of_its_first_token() -> None:
    answer = tokens(
        ('{"labels": ["', L(1), ()),
        ("sp", L(0.8), ()),
        ("ace", L(1), ()),
        ('", "', L(1), ()),
        ("climate", L(0.5), ()),
        ('"]}', L(1), ()),
    )
    found = first_token_probabilities(answer, ["space", "climate", "none"])
    assert found == {"space": pytest.approx(0.8), "climate": pytest.approx(0.5)}


def test_vote_shares() -> None:
    shares = vote_shares([["a"], ["a", "b"], [], ["a"]], ["a", "b", "c"])
    assert shares == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert vote_shares([], ["a"]) == {"a": 0.0}


TAXONOMY = TaxonomyConfig.model_validate(
    {
        "name": "t",
        "version": "1",
        "none_label": "none",
        "labels": {"a": {}, "b": {"parent": "p"}, "p": {}, "low": {}, "high": {}, "none": {}},
        "exclusive": {"level": ["low", "high"]},
    }
)


def decide(confidence: dict[str, float], **kw):  # type: ignore[no-untyped-def]
    policy = kw.pop("policy", ValidationConfig())
    thresholds = kw.pop("thresholds", {})
    return LabelDecider(LabelSet.build(TAXONOMY, policy), thresholds, **kw).decide(confidence)


@pytest.mark.parametrize(
    ("confidence", "kwargs", "labels", "repair"),
    [
        ({"a": 0.9, "b": 0.2}, {}, ("a",), None),
        ({"a": 0.4}, {"thresholds": {"a": 0.3}}, ("a",), None),
        ({"a": 0.4}, {"default": 0.3}, ("a",), None),
        ({"a": 0.2}, {}, ("none",), None),
        ({"a": 0.8, "none": 0.6}, {}, ("a",), "removed 'none'"),
        ({"a": 0.6, "none": 0.9}, {}, ("none",), "kept 'none' alone"),
        # measured against their own thresholds: a is 0.2 over, none only 0.05
        (
            {"a": 0.3, "none": 0.9},
            {"thresholds": {"a": 0.1, "none": 0.85}},
            ("a",),
            "removed 'none'",
        ),
        (
            {"low": 0.5, "high": 0.9},
            {"thresholds": {"low": 0.1, "high": 0.8}},
            ("low",),
            "dropped 'high'",
        ),
        ({"low": 0.7, "high": 0.9}, {}, ("high",), "dropped 'low': 'high' is more confident"),
        ({"b": 0.8}, {}, ("b", "p"), None),
        ({"b": 0.8}, {"policy": ValidationConfig(hierarchy="as_is")}, ("b",), None),
        (
            {"a": 0.9, "p": 0.8, "low": 0.7},
            {"policy": ValidationConfig(max_labels=2)},
            ("a", "p"),
            "kept the 2 most",
        ),
    ],
)
def test_decisions_keep_the_policy_by_confidence(confidence, kwargs, labels, repair) -> None:  # type: ignore[no-untyped-def]
    decision = decide(confidence, **kwargs)
    assert decision.labels == labels
    if repair:
        assert any(repair in r for r in decision.repairs), decision.repairs


def test_a_taxonomy_without_none_takes_the_most_confident_label() -> None:
    plain = TaxonomyConfig.model_validate(
        {"name": "t", "version": "1", "labels": {"x": {}, "y": {}}}
    )
    decision = LabelDecider(LabelSet.build(plain, ValidationConfig()), {}).decide(
        {"x": 0.1, "y": 0.3}
    )
    assert decision.labels == ("y",) and "added y" in decision.repairs[0]


def test_the_abstain_band_marks_confidence_near_a_threshold() -> None:
    assert decide({"a": 0.52}, band=0.05).uncertain == ("a",)
    assert decide({"a": 0.9}, band=0.05).uncertain == ()
