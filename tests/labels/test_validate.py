"""The validation policy, one row per odd answer a model can give."""

from __future__ import annotations

from typing import Any

import pytest

from framework.config.schema import LabelSpec, TaxonomyConfig, ValidationConfig
from framework.labels.label_set import LabelSet
from framework.labels.validate import AnswerValidator

NEWS = TaxonomyConfig(
    name="news",
    version="1",
    labels=[
        LabelSpec(id="space", aliases=["astronomy"]),
        LabelSpec(id="science"),
        LabelSpec(id="technology", aliases=["tech"]),
        LabelSpec(id="climate"),
        LabelSpec(id="none"),
    ],
    none_label="none",
)
STRICT = ValidationConfig(on_unknown_label="retry", dedupe=False, none_exclusive="retry")
LENIENT = ValidationConfig(on_unknown_label="drop", dedupe=True, none_exclusive="drop_none")
FAIL = ValidationConfig(on_unknown_label="fail")


def check(
    answer: str | None, policy: ValidationConfig = STRICT, taxonomy: TaxonomyConfig = NEWS
) -> Any:
    return AnswerValidator(LabelSet.build(taxonomy, policy)).check(answer)


# (answer, policy, accepted labels or None, a fragment of the problem or repair)
CASES = [
    ('{"labels": ["space"]}', STRICT, ("space",), None),
    ('{"labels": ["space", "science"]}', STRICT, ("space", "science"), None),
    ('{"labels": ["Space", "SCIENCE"]}', STRICT, ("space", "science"), "read 'Space' as 'space'"),
    ('{"labels": [" space "]}', STRICT, ("space",), None),
    ('{"labels": ["astronomy"]}', STRICT, ("space",), "read 'astronomy' as 'space'"),
    ('{"labels": ["Tech"]}', STRICT, ("technology",), "read 'Tech' as 'technology'"),
    ('{"labels": ["space", "not-a-label", "space"]}', STRICT, None, "'not-a-label' is not one"),
    ('{"labels": ["space", "not-a-label", "space"]}', LENIENT, ("space",), "dropped 'not-a-label'"),
    ('{"labels": ["space", "space"]}', STRICT, None, "listed more than once"),
    ('{"labels": ["space", "space"]}', LENIENT, ("space",), "merged repeats"),
    ('{"labels": ["not-a-label"]}', FAIL, None, "'not-a-label' is not one"),
    ('{"labels": ["none", "space"]}', STRICT, None, "'none' cannot stand beside"),
    ('{"labels": ["none", "space"]}', LENIENT, ("space",), "removed 'none'"),
    ('{"labels": ["none"]}', STRICT, ("none",), None),
    ('{"labels": []}', STRICT, ("none",), "read an empty answer as 'none'"),
    ('{"labels": ["bogus"]}', LENIENT, ("none",), "dropped 'bogus'"),
    ('{"labels": "space"}', STRICT, None, "must be a JSON object"),
    ('{"label": ["space"]}', STRICT, None, "'labels' is a required property"),
    ('{"labels": [1, 2]}', STRICT, None, "is not of type 'string'"),
    ('["space", "climate"]', STRICT, ("space", "climate"), "bare list"),
    ('{"labels": ["space"', STRICT, None, "not valid JSON"),
    ("space, science", STRICT, None, "not valid JSON"),
    ("", STRICT, None, "the answer was empty"),
    (None, STRICT, None, "the answer was empty"),
    ('Sure! ```json\n{"labels": ["climate"]}\n```', STRICT, ("climate",), "surrounding text"),
    ('Here you go: {"labels": ["science"]} Hope it helps', STRICT, ("science",), "surrounding"),
    ('{"labels": ["space"], "reason": "about rockets"}', STRICT, ("space",), None),
]


@pytest.mark.parametrize(("answer", "policy", "labels", "note"), CASES)
def test_answer(
    answer: str | None, policy: ValidationConfig, labels: tuple[str, ...] | None, note: str | None
) -> None:
    verdict = check(answer, policy)
    if labels is None:
        assert not verdict.accepted
        assert verdict.labels == ()
        assert any(note in problem for problem in verdict.problems), verdict.problems
    else:
        assert verdict.accepted, verdict.problems
        assert verdict.labels == labels
        if note:
            assert any(note in repair for repair in verdict.repairs), verdict.repairs


def test_unknown_label_with_fail_policy_is_fatal() -> None:
    verdict = check('{"labels": ["space", "bogus"]}', FAIL)
    assert verdict.fatal and not verdict.accepted


def test_max_labels_is_enforced() -> None:
    policy = ValidationConfig(max_labels=2)
    verdict = check('{"labels": ["space", "science", "climate"]}', policy)
    assert not verdict.accepted
    assert "at most 2" in verdict.problems[0]


def test_min_labels_does_not_reject_none_alone() -> None:
    policy = ValidationConfig(min_labels=2)
    assert check('{"labels": ["none"]}', policy).labels == ("none",)
    assert "at least 2" in check('{"labels": ["space"]}', policy).problems[0]


def test_without_a_none_policy_an_empty_answer_is_rejected() -> None:
    tickets = TaxonomyConfig(name="t", version="1", labels=[LabelSpec(id="A"), LabelSpec(id="B")])
    verdict = check('{"labels": []}', STRICT, tickets)
    assert not verdict.accepted
    assert "no label was given" in verdict.problems[0]


def test_allow_empty_accepts_an_empty_answer() -> None:
    taxonomy = TaxonomyConfig(name="t", version="1", labels=[LabelSpec(id="A")], allow_empty=True)
    verdict = check('{"labels": []}', STRICT, taxonomy)
    assert verdict.accepted and verdict.labels == ()


def test_case_normalisation_can_be_turned_off() -> None:
    policy = ValidationConfig(normalize_case=False)
    assert not check('{"labels": ["SPACE"]}', policy).accepted


def test_aliases_can_be_turned_off() -> None:
    policy = ValidationConfig(normalize_aliases=False)
    assert not check('{"labels": ["astronomy"]}', policy).accepted


def test_no_accepted_answer_holds_a_label_outside_the_taxonomy() -> None:
    ids = {label.id for label in NEWS.labels}
    for answer, policy, _, _ in CASES:
        verdict = check(answer, policy)
        assert set(verdict.labels) <= ids
        assert not ("none" in verdict.labels and len(verdict.labels) > 1)


TREE = TaxonomyConfig.model_validate(
    {
        "name": "tickets",
        "version": "2",
        "labels": {
            "BILLING": {},
            "REFUND": {"parent": "BILLING", "aliases": ["money back"]},
            "INVOICE": {"parent": "BILLING"},
            "LOW": {},
            "HIGH": {},
            "OLD_REFUND": {"deprecated": True, "replaced_by": "REFUND", "aliases": ["chargeback"]},
            "OTHER": {},
        },
        "none_label": "OTHER",
        "exclusive": {"urgency": ["LOW", "HIGH"]},
    }
)

# (answer, policy, accepted labels or None, a fragment of the problem or repair)
TREE_CASES = [
    (
        '{"labels": ["REFUND"]}',
        STRICT,
        ("REFUND", "BILLING"),
        "added 'BILLING', the parent of 'REFUND'",
    ),
    ('{"labels": ["REFUND", "BILLING"]}', STRICT, ("REFUND", "BILLING"), None),
    ('{"labels": ["money back"]}', STRICT, ("REFUND", "BILLING"), "read 'money back' as 'REFUND'"),
    (
        '{"labels": ["OLD_REFUND"]}',
        STRICT,
        ("REFUND", "BILLING"),
        "deprecated 'OLD_REFUND' as its replacement 'REFUND'",
    ),
    ('{"labels": ["Chargeback"]}', STRICT, ("REFUND", "BILLING"), "deprecated 'OLD_REFUND'"),
    (
        '{"labels": ["LOW", "HIGH"]}',
        STRICT,
        None,
        "'LOW', 'HIGH' exclude each other (group 'urgency')",
    ),
    ('{"labels": ["LOW", "HIGH"]}', LENIENT, None, "exclude each other"),
    ('{"labels": ["HIGH", "INVOICE"]}', STRICT, ("HIGH", "INVOICE", "BILLING"), None),
    (
        '{"labels": ["BILLING"]}',
        ValidationConfig(hierarchy="leaves_only"),
        None,
        "'BILLING' is a category, not a label",
    ),
    (
        '{"labels": ["BILLING", "REFUND"]}',
        ValidationConfig(hierarchy="leaves_only", on_unknown_label="drop"),
        ("REFUND",),
        "dropped 'BILLING', a category",
    ),
    ('{"labels": ["REFUND"]}', ValidationConfig(hierarchy="as_is"), ("REFUND",), None),
]


@pytest.mark.parametrize(("answer", "policy", "labels", "note"), TREE_CASES)
def test_taxonomy_semantics(
    answer: str, policy: ValidationConfig, labels: tuple[str, ...] | None, note: str | None
) -> None:
    verdict = check(answer, policy, TREE)
    if labels is None:
        assert not verdict.accepted and any(note in p for p in verdict.problems), verdict.problems
    else:
        assert verdict.accepted, verdict.problems
        assert verdict.labels == labels
        if note:
            assert any(note in r for r in verdict.repairs), verdict.repairs


@pytest.mark.parametrize(
    ("answer", "labels", "problem"),
    [
        ('{"labels": [1, 3]}', ("REFUND", "LOW", "BILLING"), None),
        ('{"labels": ["1", "4"]}', ("REFUND", "HIGH", "BILLING"), None),
        ('{"labels": [99]}', None, "99 is not one of the labels"),
        ('{"labels": ["REFUND"]}', ("REFUND", "BILLING"), None),
    ],
)
def test_answers_by_number_map_to_the_offered_labels(
    answer: str, labels: tuple[str, ...] | None, problem: str | None
) -> None:
    verdict = AnswerValidator(LabelSet.build(TREE, STRICT).asked_by_number()).check(answer)
    if labels is None:
        assert not verdict.accepted and problem in verdict.problems[0]
    else:
        assert verdict.labels == labels, verdict.problems


def test_deprecated_labels_are_not_offered() -> None:
    from framework.labels.label_set import LabelSet

    enum = LabelSet.build(TREE, STRICT).schema()["properties"]["labels"]["items"]["enum"]
    assert "OLD_REFUND" not in enum and "REFUND" in enum
