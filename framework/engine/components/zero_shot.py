"""zero_shot.use=alone: the zero-shot scorer (framework.learning.zero_shot) labels every
row from the item's embedding and the taxonomy alone: no labeled row, no LLM call.

The label prototypes are embedded on the first row (through the run's embedder, so
they are cached like any text); their texts' digest joins the run's identity, so a
changed description or example does not resume under the old prototypes. Each row
keeps its cosines to every label (`sources.zero_shot`); they are not probabilities,
so the row has no confidence and the run's thresholds do not apply.
"""

from __future__ import annotations

import asyncio
from typing import Any

from framework.engine.components.base import Component, ItemState, Parts
from framework.labels.label_set import LabelSet
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
        if parts.config.zero_shot.use == "off":
            return None
        embedder = getattr(parts.built.get("embeddings"), "embedder", None)
        assert isinstance(embedder, Embedder), "zero_shot.use needs embeddings (the schema)"
        return cls(embedder, parts)

    def identity(self) -> dict[str, Any]:
        return {
            "zero_shot.use": self.settings.use,
            "zero_shot.margin": self.settings.margin,
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
        prototypes = await self._prototypes_of(self.labels)
        cosines = prototypes.similarities(state.vector)
        return Prediction(
            state.item.id,
            tuple(prototypes.labels(state.vector, self.settings.margin)),
            "ok",
            0,
            extra={"sources": {"zero_shot": {k: round(v, 4) for k, v in cosines.items()}}},
            decided_by="zero_shot",
        )

    async def _prototypes_of(self, labels: LabelSet) -> LabelPrototypes:
        async with self._lock:  # embedded once, by the first row that needs them
            if self._prototypes is None:
                texts = [text for group in label_texts(labels).values() for text in group]
                vectors = await self.embedder.embed(texts)
                self._prototypes = LabelPrototypes.build(labels, vectors)
            return self._prototypes
