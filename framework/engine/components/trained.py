"""trained.use: the trained model's probabilities beside the LLM (ensemble: fused with its
reading, per label, `trained.weight` of the model's), or instead of it (alone: the
model decides every row, no call). With distill.sample there is no model yet: the
distillation driver fits one on the LLM's answers and the engine is rebuilt with it;
until then the distillation's settings are what the run's identity keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from framework.digests import file_sha256
from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.readings import Reading
from framework.labels.decide import LabelDecider
from framework.learning.trained import TrainedModel, fuse, load_model
from framework.learning.trained_file import artifact_path
from framework.records import Prediction

__all__ = ["TrainedComponent", "by_the_model"]


class TrainedComponent(Component):
    name = "trained"
    section = "trained"
    decides = "labeled by the trained model"

    def __init__(self, model: TrainedModel | None, parts: Parts) -> None:
        self.model, self.config = model, parts.config
        self.decider, self.labels = parts.decider, parts.labels

    @classmethod
    def build(cls, parts: Parts) -> TrainedComponent | None:
        trained = parts.config.trained
        if trained.use == "off":
            return None
        if parts.config.distill.sample is not None:  # fit during the run, on the LLM's answers
            return cls(None, parts)
        return cls(load_model(parts.config, parts.labels.ids), parts)

    def identity(self) -> dict[str, Any]:
        """Which model decides with the LLM (or alone), by its pool; before a distilled
        model exists, how it will be taught."""
        trained = self.config.trained
        if self.model is None:
            return _distillation_identity(self.config)
        # The vectors' model is in the identity already (the embeddings component's keys):
        # kept out here, so runs from before models named it resume.
        described = self.model.describe()
        found = {f"trained.{k}": v for k, v in described.items() if k != "embedding"}
        return {**found, "trained.use": trained.use, "trained.weight": trained.weight}

    def describe(self) -> dict[str, Any]:
        """The model that labels with the LLM (or alone), by its files' hashes."""
        config, trained = self.config, self.config.trained
        if self.model is None:  # the driver adds each fit (record.json trained.distill)
            cascade = config.cascade.model_dump() if trained.use == "cascade" else None
            return {"trained": {"use": trained.use, "distill": None, "cascade": cascade}}
        artifact = artifact_path(config, self.model.labels)
        return {
            "trained": {
                "use": trained.use,
                "weight": trained.weight if trained.use == "ensemble" else None,
                "pool": str(Path(trained.pool or "").resolve()),
                "artifact": str(artifact.resolve()),
                "artifact_sha256": file_sha256(artifact),
                **self.model.describe(),
                "cascade": None,
            }
        }

    async def before(self, state: ItemState) -> Prediction | None:
        if self.model is None:
            return None
        state.scores = self.model.probabilities(state.item, state.vector)
        if self.config.trained.use == "alone":
            return by_the_model(state, self.decider)
        return None

    def after(self, state: ItemState, reading: Reading) -> Reading:
        """The LLM's confidence (or its 0/1 answer) and the model's probabilities, fused
        per label; the row keeps each source's confidence beside the fused one."""
        if state.scores is None:
            return reading
        if reading.verdict is not None:  # one answer, no confidence: its labels are 1
            llm = {label: float(label in reading.verdict.labels) for label in self.labels.ids}
            notes = reading.verdict.repairs
        else:
            llm, notes = reading.confidence, reading.notes
        sources = {"llm": _rounded(llm), "trained": _rounded(state.scores)}
        state.extra = {"sources": sources, **state.extra}
        fused = fuse(state.scores, llm, self.config.trained.weight)
        return Reading(fused, notes=notes, method="ensemble")


def by_the_model(state: ItemState, decider: LabelDecider, *, path: str | None = None) -> Prediction:
    """The row the trained model's probabilities decide alone: no call."""
    assert state.scores is not None
    decision = decider.decide(state.scores)
    extra: dict[str, Any] = {"sources": {"trained": _rounded(state.scores)}}
    if path is not None:
        extra["path"] = path
    return Prediction(
        state.item.id,
        decision.labels,
        "ok",
        0,
        repairs=decision.repairs,
        confidence=_rounded(state.scores),
        confidence_method="trained",
        review=bool(decision.uncertain),
        extra=extra,
        decided_by="trained",
    )


def _rounded(confidence: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in confidence.items()}


def _distillation_identity(config: Any) -> dict[str, Any]:
    """What decides a distilled run's labels before its model exists: how the sample is
    drawn, how the model is fit and refit, and the cascade's settings (the fits' hashes
    depend on the LLM's answers and go to record.json instead)."""
    trained = config.trained
    found = {
        "trained.use": trained.use,
        "trained.folds": trained.folds,
        "trained.C": trained.C,
        **{f"trained.distill.{k}": v for k, v in config.distill.model_dump().items()},
    }
    if trained.use == "cascade":
        found.update({f"cascade.{k}": v for k, v in config.cascade.model_dump().items()})
    return found
