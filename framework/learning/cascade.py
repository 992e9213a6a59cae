"""trained.use=cascade: which rows the trained model labels alone, and which go to the LLM.

    gate = cascade_gate(model, thresholds, config.cascade)
    gate.why_ask(item, probabilities)   # None: the model's labels stand; else the reason

A row is sent when some label's probability is within `band` of the label's
threshold (the model is unsure of it), or, with `min_similarity`, when the nearest
row of the pool shares too few of its words (the model is out of its depth). Without
a `band`, the band is the one that would send `llm_share` of the pool's own rows,
each scored by the model fit without it: the same scores a new row gets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from framework.config.schema import CascadeSettings
from framework.learning.trained import TrainedModel
from framework.records import Item

__all__ = ["CascadeGate", "cascade_gate"]


@dataclass(frozen=True)
class CascadeGate:
    model: TrainedModel
    thresholds: dict[str, float]
    band: float
    min_similarity: float | None
    pool_share: float  # of the pool's rows, the share the band sends to the LLM

    def why_ask(
        self, item: Item, probabilities: Mapping[str, float], vector: Any = None
    ) -> str | None:
        """Why the row goes to the LLM, or None (`vector`: the item's embedding, for a
        model that likens rows by embeddings)."""
        unsure = [
            label
            for label, threshold in self.thresholds.items()
            if abs(probabilities.get(label, 0.0) - threshold) < self.band
        ]
        if unsure:
            return "unsure of " + ", ".join(unsure)
        if self.min_similarity is not None:
            nearest = self.model.similarity(item, vector)
            if nearest < self.min_similarity:
                return f"unlike the pool (nearest row {nearest:.2f})"
        return None

    def describe(self) -> dict[str, Any]:
        """What the run's identity and record keep of it."""
        return {
            "band": round(self.band, 6),
            "pool_share": round(self.pool_share, 4),
            "min_similarity": self.min_similarity,
        }


def cascade_gate(
    model: TrainedModel, thresholds: Mapping[str, float], settings: CascadeSettings
) -> CascadeGate:
    import numpy as np

    chosen = {label: float(thresholds[label]) for label in model.labels}
    scores = np.asarray(model.pool_scores, dtype=float)
    margins = np.abs(scores - np.array([chosen[label] for label in model.labels])).min(axis=1)
    if settings.band is not None:
        band = settings.band
    else:  # the smallest band that sends llm_share of the pool's rows (margin < band)
        ordered = np.sort(margins)
        sent = math.ceil(settings.llm_share * len(ordered))
        band = float(ordered[sent]) if sent < len(ordered) else float(ordered[-1]) + 1e-9
    pool_share = float((margins < band).mean()) if len(margins) else 0.0
    return CascadeGate(model, chosen, band, settings.min_similarity, pool_share)
