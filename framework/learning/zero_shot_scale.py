"""The zero-shot scorer's cosines as route scores in [0, 1], fit on texts alone.

    scale = CosineScale.fit(prototypes, cosines, texts_digest=d)  # calibration texts
    scale.scores(cosines)     # rows x labels in [0, 1]: what the route certifies
    scale.centers             # per label: where "present" starts (the scorer's rule)

Cosines are not probabilities, and the route's candidate thresholds are a fixed grid
on 0..1 (framework.learning.certify.GRID). Each label's cosine is mapped by the
empirical CDF of that label's cosines over the calibration rows' texts: the share of
calibration texts at most as like the label. The map reads no reference label and is
monotone per label, so a threshold on the mapped score is a threshold on the cosine at
one of the calibration texts' cosines; given the texts, their labels are independent
draws and learn-then-test's exact binomial test is made as for the trained tier (the
edges depending on the calibration texts, not on their labels, is the one step past the
textbook procedure; docs/routing.md says so, and what was measured). Measured on the
dev split (benchmarks/zero_shot_route.py), it settles more rows than a softmax over the
labels at recall floor 0.5 (`kind="softmax"`, temperature 0.01, kept for the
benchmark's comparison; it settles a few more at recall floor 0.8).

Each label's center (the candidate "present" thresholds are at or above it, the
"absent" ones below) is the scorer's own rule through the same map: a label the
scorer gives (zero_shot.margin, the most like label) on a share s of the calibration
texts has its center at 1 - s, the mapped score above which about that share lies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from framework.learning.zero_shot import LabelPrototypes

__all__ = ["CosineScale", "ScaleKind"]

ScaleKind = Literal["cdf", "softmax"]
TEMPERATURE = 0.01  # the softmax's: the temperature e5 models are trained at


@dataclass(frozen=True)
class CosineScale:
    kind: ScaleKind
    ids: tuple[str, ...]
    sorted_cosines: Any  # labels x calibration rows, each label's cosines ascending
    centers: tuple[float, ...]
    digest: str  # of the calibration texts the scale is fit on, and its kind

    @classmethod
    def fit(
        cls,
        prototypes: LabelPrototypes,
        cosines: Any,
        *,
        texts_digest: str,
        margin: float = 0.0,
        kind: ScaleKind = "cdf",
    ) -> CosineScale:
        """From the calibration texts' cosines (rows x labels, in prototypes.ids order)."""
        import numpy as np

        c = np.asarray(cosines, dtype=float).reshape(-1, len(prototypes.ids))
        given = np.zeros(c.shape, dtype=bool)
        for n, row in enumerate(c):  # the scorer's own rule, row by row
            chosen = set(prototypes.labels_of(row, margin))
            given[n] = [label in chosen for label in prototypes.ids]
        share = given.mean(axis=0) if len(c) else np.zeros(len(prototypes.ids))
        centers = tuple(round(float(1 - s), 2) for s in share) if kind == "cdf" else None
        digest = hashlib.sha256(f"{kind}:{texts_digest}".encode()).hexdigest()[:16]
        return cls(
            kind,
            prototypes.ids,
            np.sort(c, axis=0).T,
            centers or tuple(0.5 for _ in prototypes.ids),
            digest,
        )

    def scores(self, cosines: Any) -> Any:
        """rows x labels in [0, 1]: each label's cosine through its map."""
        import numpy as np

        c = np.asarray(cosines, dtype=float).reshape(-1, len(self.ids))
        if self.kind == "softmax":
            z = (c - c.max(axis=1, keepdims=True)) / TEMPERATURE
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        # The empirical CDF is numpy's searchsorted over the sorted cosines (one line;
        # scikit-learn/statsmodels have no per-column ECDF worth a dependency here).
        rows = max(1, self.sorted_cosines.shape[1])
        mapped = [
            np.searchsorted(self.sorted_cosines[n], c[:, n], side="right") / rows
            for n in range(len(self.ids))
        ]
        return np.stack(mapped, axis=1) if mapped else np.zeros(c.shape)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": int(self.sorted_cosines.shape[1]),
            "digest": self.digest,
            "centers": dict(zip(self.ids, self.centers, strict=True)),
        }
