"""A route's further LLM tiers (route.llms): asked, in the route's order, the labels
the tiers before them leave open.

    route.tiers=[trained,llm,strong,human]
    route.llms={strong: {provider: openai, model: gpt-4o-mini}}

The llm tier is certified on its answers to quality.llm_rows calibration rows (a
further tier needs it: an uncertified llm tier decides every label it is asked, and
leaves nothing open); each further tier is then certified on its answers to the
sampled rows the tiers before it leave open (framework.runner.drivers.route,
framework.engine.components.route_llm). A row whose labels the llm tier does not all
settle is asked of the first further tier, which answers from the text alone with its
own provider, model and transports (its own classifier: framework.engine.classifier
builds it from the component's companions()). It settles the open labels its rules
allow (the last machine tier, with no people after it, all of them); the labels the
tiers before it settled keep their decision. A row it finishes is written with its
name as the `tier`, `settled_by` naming the tier of every label, and the calls, tokens
and cost of every tier asked (`spent_by_tier` splits them). What it leaves goes to the
next further tier, then to people.

A further tier's failed call fails the row (route.on_failure=wait: a rerun asks it
again, the llm tier's answer coming from the response cache), or, with
on_failure=next, goes to the next further tier, then to people when the route names
them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from framework.config.schema import RunConfig
from framework.config.tier_config import TIER_SECTIONS, tier_config
from framework.engine.components.base import AsksItems, ItemState
from framework.engine.components.route_rows import to_people
from framework.records import Prediction

__all__ = ["FurtherTier", "Kept", "ask_further", "companion_key", "further_tiers"]


def companion_key(name: str) -> str:
    """The key that defines further tier `name`, and its classifier's in
    Classifier.companions: route.llms.<name>."""
    return f"route.llms.{name}"


@dataclass(frozen=True)
class Kept:
    """The decisions that stand on a row a further tier is asked (label: present), and
    the tier that settled each."""

    decisions: Mapping[str, bool]
    by: Mapping[str, str]


@dataclass
class FurtherTier:
    """One further LLM tier: its name, overrides and config, and, once the classifier
    holds it, what asks it."""

    name: str
    overrides: tuple[str, ...]
    config: RunConfig
    asker: AsksItems | None = None

    @property
    def key(self) -> str:
        """The config key that defines it (what its errors name)."""
        return companion_key(self.name)

    def identity(self) -> dict[str, Any]:
        """Its overrides and what they make of the sections that ask the LLM (another
        option file behind the same override is another tier)."""
        sections = {key: getattr(self.config, key).model_dump(mode="json") for key in TIER_SECTIONS}
        return {
            self.key: {
                "overrides": list(self.overrides),
                "sha256": hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest(),
            }
        }

    def describe(self) -> dict[str, Any]:
        return {
            "overrides": list(self.overrides),
            "provider": self.config.provider.kind,
            "model": self.config.model.name,
            "strategy": self.config.strategy.name,
        }


def further_tiers(config: RunConfig) -> list[FurtherTier]:
    """The further LLM tiers the route names, in its order (exit 2 for a bad override)."""
    named = config.route.llms
    return [
        FurtherTier(name, tuple(named[name]), tier_config(config, name, named[name]))
        for name in config.route.tiers
        if name in named
    ]


async def ask_further(
    tiers: Sequence[FurtherTier],
    state: ItemState,
    base: Prediction,
    kept: Kept,
    labels: Sequence[str],
    *,
    on_failure: str,
    people: bool,
    unsettled: Callable[[str, Mapping[str, float], Sequence[str]], list[str]],
) -> Prediction:
    """The row with its open labels (those `kept` has no decision of) decided by the
    further tiers in turn: each settles what its certified rules allow (`unsettled`
    names the rest); the last machine tier, with no people after it, decides all."""
    spent = base
    decisions, by = dict(kept.decisions), dict(kept.by)
    why: list[str] = []
    for at, tier in enumerate(tiers):
        assert tier.asker is not None, "the classifier attaches every further tier"
        open_ = [label for label in labels if label not in decisions]
        answer = await tier.asker.classify_item(state.item)
        spent = _with_spending(spent, answer, tier.name)
        if not answer.ok:
            why.append(f"the {tier.name} tier failed: {answer.error}")
            if on_failure != "next":
                extra = {**spent.extra, "tier": tier.name, "path": tier.name}
                return replace(
                    spent,
                    labels=(),
                    status="failed",
                    error=why[-1],
                    error_kind=answer.error_kind,
                    extra=extra,
                )
            continue
        said = {label: float(label in answer.labels) for label in labels}
        last_machine = at == len(tiers) - 1 and not people
        left = [] if last_machine else unsettled(tier.name, said, open_)
        for label in open_:
            if label not in left:
                decisions[label], by[label] = label in answer.labels, tier.name
        if not left:
            return _decided(spent, tier.name, Kept(decisions, by), labels, answer.review)
        why = [f"the {tier.name} tier is unsure of {', '.join(left)}"]
    if people:
        return to_people(state, state.item, "; ".join(why), base=spent)
    return replace(spent, labels=(), status="failed", error="; ".join(why))


def _decided(
    base: Prediction, name: str, kept: Kept, labels: Sequence[str], review: bool
) -> Prediction:
    """The row as the tiers decided it (`kept`: every label's decision and its tier):
    the confidence of a label a tier before the further ones decided, else 1 or 0."""
    stands, ours = kept.decisions, base.confidence or {}
    before = {"trained", "zero_shot", "llm"}
    confidence = {
        label: float(ours[label])
        if kept.by[label] in before and label in ours
        else float(stands[label])
        for label in labels
    }
    extra = {**base.extra, "tier": name, "path": name, "settled_by": dict(kept.by)}
    return replace(
        base,
        labels=tuple(label for label in labels if stands[label]),
        status="ok",
        error=None,
        error_kind=None,
        confidence=confidence,
        confidence_method="route",
        review=review,
        extra=extra,
    )


def _with_spending(row: Prediction, answer: Prediction, name: str) -> Prediction:
    """The row with the further tier's calls, tokens and cost added (the ledger sums
    rows: the run's totals and budget.* count both tiers), and each tier's part in
    `spent_by_tier` ({tier: [cost, tokens]}: what budget.tiers caps)."""
    cost = None if row.cost is None or answer.cost is None else row.cost + answer.cost
    parts = dict(row.extra.get("spent_by_tier") or {"llm": row.spent})
    parts[name] = answer.spent
    return replace(
        row,
        attempts=row.attempts + answer.attempts,
        usage=row.usage + answer.usage,
        cost=cost,
        cache_hits=row.cache_hits + answer.cache_hits,
        extra={**row.extra, "spent_by_tier": parts},
    )
