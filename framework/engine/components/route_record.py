"""What a route's record says and certifies against: the per-label floors of quality.*,
what each tier's decisions are expected to be worth, the llm tier's part of the section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from framework.config.schema import RunConfig
from framework.engine.components.route_further import FurtherTier
from framework.engine.components.route_llm import LlmTier
from framework.learning.certify import Floors, TierRules, clopper_pearson

__all__ = ["add_further_tiers", "add_llm_tier", "expected", "floors_of"]


def add_llm_tier(described: dict[str, Any], llm: LlmTier, alpha: float, *, people: bool) -> None:
    """quality.llm_rows: the llm tier's rules, rates, sample and phase in the section."""
    rules = llm.rules
    described["certified"]["llm"] = None if rules is None else rules.describe()
    described["expected"]["llm"] = None if rules is None else expected(rules, alpha)
    described["rates"] = {**described["rates"], "llm": llm.rates}
    described["llm"] = llm.describe()
    described["reference"] = "llm: certified on its answers to the sample (quality.llm_rows); " + (
        "rows it leaves unsettled go to people"
        if people
        else "the last machine tier, it also decides the labels it leaves unsettled"
    )


def add_further_tiers(
    described: dict[str, Any],
    llm: LlmTier,
    further: Sequence[FurtherTier],
    alpha: float,
    *,
    people: bool,
) -> None:
    """route.llms: each further tier's overrides, rules, rates and part of the phase."""
    for tier in further:
        rules = llm.further_rules.get(tier.name)
        described["certified"][tier.name] = None if rules is None else rules.describe()
        described["expected"][tier.name] = None if rules is None else expected(rules, alpha)
        described["rates"] = {**described["rates"], tier.name: llm.further_rates.get(tier.name)}
    described["further"] = {
        tier.name: {
            **tier.describe(),
            "certified": tier.name in llm.further_rules,
            "phase": llm.further_phase.get(tier.name),
        }
        for tier in further
    }
    last = further[-1].name
    described["reference"] = (
        f"{last}: the last LLM tier, certified on its answers to the sampled rows the tiers "
        "before it leave open; "
        + ("rows it leaves unsettled go to people" if people else "it decides what it leaves")
    )


def expected(rules: TierRules, alpha: float) -> dict[str, Any]:
    """Per label, what the tier's decisions are expected to be worth (its calibration
    rows, exact 1 - alpha intervals): the precision of its "present" decisions and the
    share of the label's rows it settles "absent" (misses)."""
    expected: dict[str, Any] = {}
    for rule in rules.rules:
        precision = None
        if rule.accepted:
            low, high = clopper_pearson(rule.correct, rule.accepted, alpha)
            precision = [round(rule.correct / rule.accepted, 4), round(low, 4), round(high, 4)]
        missed = None
        if rule.lo is not None and rule.positives:
            low, high = clopper_pearson(rule.missed, rule.positives, alpha)
            missed = [round(rule.missed / rule.positives, 4), round(low, 4), round(high, 4)]
        expected[rule.label] = {"precision": precision, "missed": missed}
    return expected


def floors_of(config: RunConfig, labels: list[str]) -> Floors:
    """quality.precision and quality.recall per label (recall null: the precision's),
    and what they hold for (quality.guarantee; realised: with the output's row count)."""
    quality = config.quality

    def per_label(floor: Any) -> dict[str, float | None]:
        if isinstance(floor, dict):
            return {label: floor.get(label) for label in labels}
        return dict.fromkeys(labels, floor)

    precision = per_label(quality.precision)
    recall = precision if quality.recall is None else per_label(quality.recall)
    if quality.guarantee == "rate":
        return Floors(precision, recall)
    return Floors(precision, recall, quality.guarantee, output_rows(config))


def output_rows(config: RunConfig) -> int:
    """quality.guarantee=realised: the rows the run labels. quality.output_rows, else
    the input's row count (sample.size when smaller): counted before any call, as the
    output's size is what the realised figures are a draw of; a format that cannot be
    counted cheaply asks for the key."""
    from framework.errors import ConfigError
    from framework.inputs.readers import count_rows

    if config.quality.output_rows is not None:
        return config.quality.output_rows
    counted = count_rows(config.input) if config.input else None
    if not counted:
        raise ConfigError(
            f"quality.output_rows: quality.guarantee=realised needs the rows the run labels "
            f"and the input ({config.input}) cannot be counted before the run; set "
            "quality.output_rows=N (a lower bound is safe)"
        )
    size = config.sample.size
    return counted if size is None else min(counted, size)
