"""The zero-shot scorer (framework.learning.zero_shot), from the item's embedding and the
taxonomy alone (no labeled row):

    zero_shot.use=alone       labels every row itself: no LLM call
    zero_shot.use=shortlist   offers the row's LLM question only its zero_shot.top_k most
                              like labels (and the none label): for large taxonomies

The label prototypes are embedded on the first row (through the run's embedder, so
they are cached like any text); their texts' digest joins the run's identity, so a
changed description or example does not resume under the old prototypes. Each row
keeps its cosines to every label (`sources.zero_shot`); they are not probabilities,
so the row has no confidence and the run's thresholds do not apply.

A route naming the zero_shot tier (route.tiers=[zero_shot,llm,human]) turns the
scorer on with zero_shot.use=off: each row's cosines are kept for the route
(framework.engine.components.route_tiers), which decides what they settle.
"""

from __future__ import annotations

import asyncio
from typing import Any

from framework.engine.components.base import Component, ItemState, Parts
from framework.errors import ConfigError
from framework.learning.zero_shot import LabelPrototypes, label_texts, texts_digest
from framework.providers.embeddings import Embedder
from framework.records import Prediction

__all__ = ["ZeroShotComponent"]


class ZeroShotComponent(Component):
    name = "zero_shot"
    section = "zero_shot"
    decides = "labeled by the zero-shot scorer"

    def __init__(self, embedder: Embedder, parts: Parts) -> None:
        self.embedder, self.labels = embedder, parts.labels
        self.settings = parts.config.zero_shot
        self._prototypes: LabelPrototypes | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def build(cls, parts: Parts) -> ZeroShotComponent | None:
        settings = parts.config.zero_shot
        if settings.use == "off" and "zero_shot" not in parts.config.route.tiers:
            return None
        embedder = getattr(parts.built.get("embeddings"), "embedder", None)
        assert isinstance(embedder, Embedder), "zero_shot.use needs embeddings (the schema)"
        labels = parts.labels
        choices = len([label for label in labels.ids if label != labels.none])
        if settings.use == "shortlist" and settings.top_k >= choices:
            raise ConfigError(
                f"zero_shot.top_k: {settings.top_k} keeps every one of taxonomy "
                f"{labels.taxonomy.name}'s {choices} labels, so nothing is shortlisted; "
                f"set zero_shot.top_k below {choices}, or zero_shot.use=off"
            )
        return cls(embedder, parts)

    def identity(self) -> dict[str, Any]:
        if self.settings.use == "off":  # a route's zero-shot tier: the route says
            return {"zero_shot.prototypes": texts_digest(self.labels)}
        chosen = {"zero_shot.margin": self.settings.margin}
        if self.settings.use == "shortlist":
            chosen = {"zero_shot.top_k": self.settings.top_k}
        return {
            "zero_shot.use": self.settings.use,
            **chosen,
            "zero_shot.prototypes": texts_digest(self.labels),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "zero_shot": {
                **self.settings.model_dump(),
                "prototypes": texts_digest(self.labels),
                "from": "each label's name, description and taxonomy examples",
            }
        }

    async def before(self, state: ItemState) -> Prediction | None:
        prototypes = await self.prototypes()
        cosines = prototypes.similarities(state.vector)
        state.held["zero_shot"] = cosines  # a route's zero-shot tier reads them
        if self.settings.use == "off":  # on for a route's tier only
            return None
        if self.settings.use == "shortlist":
            shortlist = prototypes.shortlist(state.vector, self.settings.top_k)
            state.offered = self._with_ancestors(shortlist)
            state.extra["shortlist"] = list(state.offered)
            return None
        return Prediction(
            state.item.id,
            tuple(prototypes.labels(state.vector, self.settings.margin)),
            "ok",
            0,
            extra={"sources": {"zero_shot": {k: round(v, 4) for k, v in cosines.items()}}},
            decided_by="zero_shot",
        )

    def _with_ancestors(self, shortlist: list[str]) -> tuple[str, ...]:
        """The shortlist and the parents its labels imply (an answer may hold them)."""
        implied = {parent for label in shortlist for parent in self.labels.ancestors.get(label, ())}
        kept = {*shortlist, *implied}
        return tuple(label for label in self.labels.ids if label in kept)

    async def prototypes(self) -> LabelPrototypes:
        """The label prototypes, embedded once (by the first row, or by a route's
        zero-shot tier as it is certified before any row)."""
        if self._prototypes is not None:
            return self._prototypes
        async with self._lock:
            if self._prototypes is None:
                labels = self.labels
                texts = [text for group in label_texts(labels).values() for text in group]
                vectors = await self.embedder.embed(texts)
                self._prototypes = LabelPrototypes.build(labels, vectors)
            return self._prototypes
