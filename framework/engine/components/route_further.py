"""A route's further LLM tiers (route.llms): asked, in the route's order, the labels
the tiers before them leave open.

    route.tiers=[trained,llm,strong,human]
    route.llms={strong: [provider=openai, model=gpt-4o-mini]}

The llm tier is certified on its answers to quality.llm_rows calibration rows (a
further tier needs it: an uncertified llm tier decides every label it is asked, and
leaves nothing open). A row whose labels it does not all settle is asked of the first
further tier, which answers from the text alone with its own provider, model and
transports (its own classifier: framework.engine.classifier builds it from the
component's companions()). Its answer decides the open labels; the labels the tiers
before it settled keep their decision. The row is written with the further tier's
name as its `tier`, `settled_by` naming the tier of every label, and the calls, tokens
and cost of both tiers. A further tier is not certified in a run: it is the route's
reference, as the llm tier is without quality.llm_rows.

A further tier's failed call fails the row (route.on_failure=wait: a rerun asks it
again, the llm tier's answer coming from the response cache), or, with
on_failure=next, goes to the next further tier, then to people when the route names
them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from framework.config.schema import RunConfig
from framework.config.tier_config import TIER_SECTIONS, tier_config
from framework.engine.components.base import AsksItems, ItemState
from framework.engine.components.route_rows import to_people
from framework.records import Prediction

__all__ = ["FurtherTier", "Kept", "ask_further", "further_tiers"]


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

    def identity(self) -> dict[str, Any]:
        """Its overrides and what they make of the sections that ask the LLM (another
        option file behind the same override is another tier)."""
        sections = {key: getattr(self.config, key).model_dump(mode="json") for key in TIER_SECTIONS}
        return {
            f"route.llms.{self.name}": {
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
            "certified": False,
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
) -> Prediction:
    """The row with its open labels (those `kept` has no decision of) decided by the
    first further tier that answers."""
    spent = base
    errors: list[str] = []
    for tier in tiers:
        assert tier.asker is not None, "the classifier attaches every further tier"
        answer = await tier.asker.classify_item(state.item)
        spent = _with_spending(spent, answer, tier.name)
        if answer.ok:
            return _decided(spent, answer, tier.name, kept, labels)
        errors.append(f"the {tier.name} tier failed: {answer.error}")
        if on_failure != "next":
            return replace(
                spent,
                labels=(),
                status="failed",
                error=errors[-1],
                error_kind=answer.error_kind,
                extra={**spent.extra, "tier": tier.name, "path": tier.name},
            )
    if people:
        return to_people(state, state.item, "; ".join(errors), base=spent)
    return replace(spent, labels=(), status="failed", error="; ".join(errors))


def _decided(
    base: Prediction, answer: Prediction, name: str, kept: Kept, labels: Sequence[str]
) -> Prediction:
    said, stands = set(answer.labels), kept.decisions
    chosen = tuple(label for label in labels if stands.get(label, label in said))
    theirs = answer.confidence or {label: float(label in said) for label in labels}
    ours = base.confidence or {label: float(decision) for label, decision in stands.items()}
    confidence = {
        label: float(ours.get(label, stands[label])) if label in stands else float(theirs[label])
        for label in labels
    }
    settled_by = {label: kept.by.get(label, name) if label in stands else name for label in labels}
    extra = {**base.extra, "tier": name, "path": name, "settled_by": settled_by}
    return replace(
        base,
        labels=chosen,
        status="ok",
        error=None,
        error_kind=None,
        confidence=confidence,
        confidence_method="route",
        review=answer.review,
        extra=extra,
    )


def _with_spending(row: Prediction, answer: Prediction, name: str) -> Prediction:
    """The row with the further tier's calls, tokens and cost added (the ledger sums
    rows: the run's totals and budget.* count both tiers), and each tier's part in
    `spent_by_tier` ({tier: [cost, tokens]}: what budget.tiers caps)."""
    cost = None if row.cost is None or answer.cost is None else row.cost + answer.cost
    parts = dict(row.extra.get("spent_by_tier") or {"llm": tier_spend(row)})
    parts[name] = tier_spend(answer)
    return replace(
        row,
        attempts=row.attempts + answer.attempts,
        usage=row.usage + answer.usage,
        cost=cost,
        cache_hits=row.cache_hits + answer.cache_hits,
        extra={**row.extra, "spent_by_tier": parts},
    )


def tier_spend(prediction: Prediction) -> list[float | int | None]:
    """[cost, tokens] of a prediction's calls (no cost without a call: a cached answer)."""
    cost = prediction.cost if prediction.attempts else 0.0
    return [cost, prediction.usage.total_tokens]
