"""How a routed row is written: settled by the tiers before the LLM, or left to people
(framework.engine.components.route decides which)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from framework.engine.components.base import ItemState
from framework.engine.components.route_tiers import ScoredTier
from framework.engine.components.trained import by_the_model
from framework.engine.readings import Reading
from framework.records import Item, Prediction

__all__ = ["confidence_of", "settled_row", "to_people"]


def settled_row(  # noqa: PLR0917 (one call site)
    state: ItemState,
    present: dict[str, float],
    tier: str,
    scored: Sequence[ScoredTier],
    decider: Any,
    by: dict[str, Any],
) -> Prediction:
    """The row the scored tiers settle entirely: each label as the first tier that
    settles it decided; `tier`: the last of them (the row's tier)."""
    prediction = by_the_model(replace(state, scores=present), decider, path=tier)
    sources = {name: value for one in scored for name, value in one.sources(state).items()}
    extra = {**prediction.extra, "sources": sources, "tier": tier, **by}
    # A row the trained tier settles alone keeps its probabilities (as before tiers
    # were a table); otherwise the settled 0/1 decisions (cosines are no confidence).
    trained = tier == "trained"
    return replace(
        prediction,
        confidence=sources["trained"] if trained else prediction.confidence,
        confidence_method="trained" if trained else "route",
        extra=extra,
        review=False,
        decided_by=f"route.{tier}",
    )


def to_people(
    state: ItemState, item: Item, why: str, *, base: Prediction | None = None
) -> Prediction:
    extra = {**state.extra, "tier": "human", "path": "human", "sent_because": why}
    if base is None:
        return Prediction(item.id, (), "ok", 0, review=True, extra=extra, decided_by="route.human")
    kept = {"tier", "path", "sent_because"}
    return replace(
        base,
        labels=(),
        status="ok",
        error=None,
        error_kind=None,
        review=True,
        extra={**{k: v for k, v in base.extra.items() if k not in kept}, **extra},
    )


def confidence_of(reading: Reading, labels: Sequence[str]) -> dict[str, float]:
    """A reading's per-label confidence; one answer's verdict: its labels 1, others 0."""
    if reading.verdict is None:
        return reading.confidence
    return {label: float(label in reading.verdict.labels) for label in labels}


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in scores.items()}
