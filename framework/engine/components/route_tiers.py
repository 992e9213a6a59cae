"""The machine tiers a route certifies before the LLM, in one table (route.tiers).

    calibration = read_calibration(config, labels)          # rows with reference labels
    tier = SCORED_TIERS["zero_shot"].build(parts, calibration)
    tier.calibration_scores, tier.centers                   # what the route certifies
    tier.row_scores(state)                                  # a row's scores, in [0, 1]

A scored tier gives, per label, a score in [0, 1] of each calibration row and of each
row of the run (from what its component found out about the row), and the center
that splits its "present" candidate thresholds from its "absent" ones:
- trained: the trained model's probabilities (the pool's rows cross-fitted when the
  calibration rows are the pool); centers: the run's thresholds;
- zero_shot: the zero-shot scorer's cosines to the label prototypes, mapped to [0, 1]
  by each label's empirical CDF over the calibration rows' texts
  (framework.learning.zero_shot_scale); centers: the scorer's own rule, mapped. The
  calibration texts are embedded through the run's embedder (so cached with the run's
  vectors). It learnt nothing from the rows: no cross-fitting is needed.
A new tier that settles labels without a call is one class here and one entry.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from framework.config.schema import RunConfig
from framework.digests import file_sha256
from framework.engine.components.base import ItemState, Parts
from framework.errors import ConfigError, ProviderError
from framework.providers.loop_clients import run_loop
from framework.records import Item

__all__ = ["SCORED_TIERS", "Calibration", "ScoredTier", "read_calibration"]

T = TypeVar("T")


@dataclass(frozen=True)
class Calibration:
    """The calibration rows: ids, texts, reference labels (rows x labels) and what the
    record says of them (source, rows, sha256)."""

    labels: list[str]
    ids: list[str]
    texts: list[str]
    gold: Any
    about: dict[str, Any]
    is_pool: bool  # the trained model's pool (its scores there are cross-fitted)


def read_calibration(config: RunConfig, labels: list[str]) -> Calibration:
    """quality.calibration, or the trained model's pool."""
    import numpy as np

    from framework.inputs.pools import read_labeled

    source = config.quality.calibration or config.trained.pool or ""
    key = "quality.calibration" if config.quality.calibration else "trained.pool"
    pool = read_labeled(Path(source), config.columns, set(labels))
    if pool.outside and config.quality.calibration:
        named = ", ".join(label for label, _ in pool.outside[:5])
        raise ConfigError(
            f"{key}: {source} has labels outside taxonomy {config.taxonomy.name} ({named}); "
            "calibration rows must be labeled with the taxonomy's labels"
        )
    if not pool.rows:
        raise ConfigError(f"{key}: {source} has no labeled rows to certify the route on")
    gold = np.array([[label in row[2] for label in labels] for row in pool.rows])
    about = {"source": source, "rows": len(pool.rows), "sha256": file_sha256(Path(source))}
    return Calibration(
        labels,
        [str(row[0]) for row in pool.rows],
        [row[1] for row in pool.rows],
        gold,
        about,
        config.quality.calibration is None,
    )


class ScoredTier:
    """One machine tier before the LLM: its scores of the calibration rows and of a row."""

    name: ClassVar[str]
    calibration_scores: Any  # calibration rows x labels, in [0, 1]
    centers: list[float]

    def row_scores(self, state: ItemState) -> list[float]:
        raise NotImplementedError

    def sources(self, state: ItemState) -> dict[str, dict[str, float]]:
        """What a row it settles keeps of what the tier saw (results' `sources`)."""
        return {}

    def identity(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {}


class TrainedTier(ScoredTier):
    name = "trained"

    def __init__(self, parts: Parts, calibration: Calibration) -> None:
        import numpy as np

        from framework.engine.components.trained import TrainedComponent

        trained = parts.built.get("trained")
        assert isinstance(trained, TrainedComponent) and trained.model is not None  # schema
        model, labels = trained.model, calibration.labels
        order = [list(model.labels).index(label) for label in labels]
        from_pool = model.pool_scores is not None and len(model.pool_scores) == len(calibration.ids)
        if calibration.is_pool and from_pool:
            scores = np.asarray(model.pool_scores)[:, order]  # cross-fitted, pool order
        elif model.embedded:
            raise ConfigError(
                "quality.calibration: rows other than the pool are scored from TF-IDF "
                "features only for now; use trained.features=tfidf, or leave "
                "quality.calibration unset"
            )
        else:
            scores = np.array(
                [
                    [model.probabilities(Item(i, text))[label] for label in labels]
                    for i, text in zip(calibration.ids, calibration.texts, strict=True)
                ]
            )
        self.labels = labels
        self.calibration_scores = scores
        self.centers = [parts.decider.thresholds.get(label, 0.5) for label in labels]

    @classmethod
    def build(cls, parts: Parts, calibration: Calibration) -> TrainedTier:
        return cls(parts, calibration)

    def row_scores(self, state: ItemState) -> list[float]:
        assert state.scores is not None  # the trained component runs first
        return [state.scores[label] for label in self.labels]

    def sources(self, state: ItemState) -> dict[str, dict[str, float]]:
        return {"trained": _rounded(state.scores or {})}


class ZeroShotTier(ScoredTier):
    name = "zero_shot"

    def __init__(self, parts: Parts, calibration: Calibration) -> None:
        import numpy as np

        from framework.engine.components.zero_shot import ZeroShotComponent
        from framework.learning.zero_shot_scale import CosineScale

        scorer = parts.built.get("zero_shot")
        assert isinstance(scorer, ZeroShotComponent)  # built for a route naming the tier
        self.labels = calibration.labels
        prototypes = _now(scorer.prototypes())
        try:
            vectors = _now(scorer.embedder.embed(calibration.texts))
        except ProviderError as error:
            raise ConfigError(
                f"embeddings.model: the embedding model could not embed the calibration rows "
                f"({error}); check embeddings.model and its server"
            ) from None
        assert list(prototypes.ids) == self.labels  # both the taxonomy's, in its order
        cosines = np.asarray(vectors, dtype=float) @ prototypes.vectors.T
        texts = hashlib.sha256(json.dumps(calibration.texts).encode()).hexdigest()
        self.scale = CosineScale.fit(
            prototypes,
            cosines,
            texts_digest=texts,
            margin=parts.config.zero_shot.margin,
        )
        self.prototypes_digest = prototypes.digest
        self.calibration_scores = self.scale.scores(cosines)
        self.centers = list(self.scale.centers)

    @classmethod
    def build(cls, parts: Parts, calibration: Calibration) -> ZeroShotTier:
        return cls(parts, calibration)

    def row_scores(self, state: ItemState) -> list[float]:
        cosines = state.held["zero_shot"]  # the zero-shot component runs first
        mapped = self.scale.scores([[cosines[label] for label in self.labels]])[0]
        return [float(value) for value in mapped]

    def sources(self, state: ItemState) -> dict[str, dict[str, float]]:
        return {"zero_shot": _rounded(state.held.get("zero_shot", {}))}

    def identity(self) -> dict[str, Any]:
        """The scale's data (the calibration texts) and the prototypes' texts."""
        return {
            "route.zero_shot.scale": self.scale.digest,
            "route.zero_shot.prototypes": self.prototypes_digest,
        }

    def describe(self) -> dict[str, Any]:
        return {"scale": self.scale.describe(), "prototypes": self.prototypes_digest}


# The tiers a route certifies before the LLM, by name (route.tiers), cheapest first.
SCORED_TIERS: dict[str, type[TrainedTier] | type[ZeroShotTier]] = {
    "trained": TrainedTier,
    "zero_shot": ZeroShotTier,
}


def _now(work: Coroutine[Any, Any, T]) -> T:
    """An async step run to its end from synchronous code (a route is built before the
    first row; in a thread of its own when an event loop already runs here)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_loop(work)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_loop, work).result()


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {label: round(float(value), 4) for label, value in values.items()}
