"""A zero-shot scorer: how like each label a text is, from the taxonomy alone.

    scorer = LabelPrototypes.build(label_set, vectors)  # vectors: of label_texts, in order
    scorer.similarities(vector)                        # {label: cosine}
    scorer.labels(vector, margin=0.0)                  # the most like label, and any within margin

Each label's prototype is the mean of the embeddings of its name, its description and
its taxonomy examples, at unit length; a text's similarity to a label is the cosine of
its embedding and the prototype. Nothing is fit on labeled rows. Measured on the
GoEmotions-Ekman dev split with multilingual-e5-small (benchmarks/zero_shot.py), the
most like label alone beats giving every label within a margin, so the margin is 0
unless set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framework.labels.label_set import LabelSet

__all__ = ["LabelPrototypes", "label_texts", "texts_digest"]


def label_texts(labels: LabelSet) -> dict[str, list[str]]:
    """Per label, the texts its prototype is the mean of."""
    found = {}
    for spec in labels.specs:
        texts = [spec.name or spec.id]
        texts += [spec.description] if spec.description else []
        texts += list(spec.examples)
        found[spec.id] = texts
    return found


def texts_digest(labels: LabelSet) -> str:
    """What the prototypes are made of, hashed (the run's identity keeps it)."""
    texts = label_texts(labels)
    return hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LabelPrototypes:
    ids: tuple[str, ...]
    vectors: Any  # labels x dimensions, unit length
    none: str | None
    digest: str  # of the texts the prototypes are made of

    @classmethod
    def build(cls, labels: LabelSet, vectors: Sequence[Any]) -> LabelPrototypes:
        """From the vectors of every text of label_texts(labels), label by label in order."""
        import numpy as np

        texts = label_texts(labels)
        prototypes, start = [], 0
        for label in labels.ids:
            end = start + len(texts[label])
            mean = np.asarray(vectors[start:end], dtype=float).mean(axis=0)
            prototypes.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            start = end
        return cls(tuple(labels.ids), np.vstack(prototypes), labels.none, texts_digest(labels))

    def similarities(self, vector: Any) -> dict[str, float]:
        import numpy as np

        cosines = self.vectors @ np.asarray(vector, dtype=float)
        return {label: float(c) for label, c in zip(self.ids, cosines, strict=True)}

    def labels(self, vector: Any, margin: float = 0.0) -> list[str]:
        """The most like label and every label within `margin` of it; the none label
        only alone (when it is the most like)."""
        return self.labels_of(list(self.similarities(vector).values()), margin)

    def labels_of(self, cosines: Any, margin: float = 0.0) -> list[str]:
        """labels(), from the text's cosines to each label (in `ids` order)."""
        similarities = {label: float(c) for label, c in zip(self.ids, cosines, strict=True)}
        best = max(similarities, key=lambda label: similarities[label])
        if best == self.none:
            return [best]
        top = similarities[best]
        return [
            label
            for label in self.ids
            if label != self.none and similarities[label] >= top - margin
        ]

    def shortlist(self, vector: Any, top_k: int) -> list[str]:
        """The `top_k` most like labels (the none label aside) and the none label, in
        taxonomy order: what a large taxonomy's LLM question offers (zero_shot.use)."""
        similarities = self.similarities(vector)
        ranked = sorted(
            (label for label in self.ids if label != self.none),
            key=lambda label: -similarities[label],
        )
        kept = {*ranked[:top_k], *([self.none] if self.none else [])}
        return [label for label in self.ids if label in kept]
