"""trained.use=cascade: the trained model labels the rows it is sure of; the others go to
the LLM (and are fused with the model, as in ensemble). Every row says its path:
"trained" (no call) or "llm", with why it was sent."""

from __future__ import annotations

from typing import Any, ClassVar

from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.components.trained import TrainedComponent, by_the_model
from framework.learning.cascade import CascadeGate, cascade_gate
from framework.records import Prediction

__all__ = ["CascadeComponent"]


class CascadeComponent(Component):
    name = "cascade"
    paths: ClassVar[dict[str, str]] = {
        "trained": "labeled by the trained model alone",
        "llm": "sent to the LLM by the cascade",
    }

    def __init__(self, gate: CascadeGate, parts: Parts) -> None:
        self.gate, self.config, self.decider = gate, parts.config, parts.decider

    @classmethod
    def build(cls, parts: Parts) -> CascadeComponent | None:
        trained = parts.built.get("trained")
        if parts.config.trained.use != "cascade" or not isinstance(trained, TrainedComponent):
            return None
        if trained.model is None:  # distilled: the gate comes with the model
            return None
        gate = cascade_gate(trained.model, parts.decider.thresholds, parts.config.cascade)
        return cls(gate, parts)

    def identity(self) -> dict[str, Any]:
        return {f"cascade.{key}": value for key, value in self.gate.describe().items()}

    def describe(self) -> dict[str, Any]:
        """The band and the pool's share it sends (record.json trained.cascade)."""
        about = {**self.gate.describe(), "llm_share": self.config.cascade.llm_share}
        return {"trained": {"cascade": about}}

    async def before(self, state: ItemState) -> Prediction | None:
        """The LLM only if the model is unsure (or the text unlike its pool)."""
        if state.scores is None:
            return None
        sent_because = self.gate.why_ask(state.item, state.scores, state.vector)
        if sent_because is None:
            return by_the_model(state, self.decider, path="trained")
        state.extra.update(path="llm", sent_because=sent_because)
        return None
