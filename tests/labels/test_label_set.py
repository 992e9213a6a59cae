"""The LabelSet: each label rule written once, and its hand-written schema check agreeing
with the JSON-schema validator of the same schema on every answer tried."""

from __future__ import annotations

import random

import pytest
from jsonschema import Draft202012Validator

from framework.config.load import compose, load_run_config
from framework.config.schema import ValidationConfig
from framework.labels.label_set import LabelSet


@pytest.mark.parametrize("taxonomy", ["news", "support_tickets", "goemotions_ekman"])
@pytest.mark.parametrize(
    "policy",
    [
        ValidationConfig(),
        ValidationConfig(max_labels=2),
        ValidationConfig(min_labels=2),
        ValidationConfig(hierarchy="leaves_only"),
    ],
)
def test_breaks_schema_agrees_with_jsonschema(taxonomy: str, policy: ValidationConfig) -> None:
    config = load_run_config(compose([f"taxonomy={taxonomy}"]))
    labels = LabelSet.build(config.taxonomy, policy)
    validator = Draft202012Validator(labels.schema(by_id=True))
    pool = [*labels.ids, "not-a-label", *labels.ids[:2]]
    rng = random.Random(0)
    for _ in range(2000):
        answer = [rng.choice(pool) for _ in range(rng.randint(0, 5))]
        by_hand = labels.breaks_schema(answer)
        by_schema = next(validator.iter_errors({"labels": answer}), None)
        assert (by_hand is None) == (by_schema is None), (answer, by_hand, by_schema)


def test_bounds_rules_and_spellings_are_read_from_the_taxonomy_and_policy() -> None:
    config = load_run_config(compose(["taxonomy=news"]))
    labels = LabelSet.build(config.taxonomy, ValidationConfig(max_labels=2))
    assert labels.none == "none" and labels.most == 2 and labels.least == 1
    assert labels.resolve("SPACE") == ("space", "read 'SPACE' as 'space'")
    assert labels.resolve("space") == ("space", None)
    assert labels.resolve("astrology") == (None, None)
    assert labels.none_beside_others(["none", "space"]) and not labels.none_beside_others(["none"])
    numbered = labels.asked_by_number()
    assert numbered.resolve(0) == (labels.ids[0], None) and numbered.key(labels.ids[1]) == 1
    assert numbered.schema()["properties"]["labels"]["items"]["type"] == "integer"
    assert numbered.schema(by_id=True)["properties"]["labels"]["items"]["enum"] == list(labels.ids)
