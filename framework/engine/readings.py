"""From a text's answers to per-label confidence, and across chunks.

logprobs          the strategy reads each answer's token log-probabilities
self_consistency  the share of `samples` warm answers that hold each label
answer            no confidence: the answers themselves (1 or 0 a label)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from framework.config.schema import RunConfig
from framework.engine.confidence import vote_shares
from framework.engine.conversation import Answer
from framework.engine.strategies import Strategy
from framework.errors import ConfigError
from framework.labels.validate import Verdict
from framework.providers.profiles import ProviderProfile

__all__ = ["ConfidenceMethod", "Reading", "choose_confidence", "combine_chunks", "read_answers"]


@dataclass(frozen=True)
class ConfidenceMethod:
    method: Literal["logprobs", "self_consistency", "answer"]
    samples: int = 0  # answers drawn per question for self_consistency

    def recorded(self, confidence: Mapping[str, float]) -> dict[str, float] | None:
        """What a row records: real confidence, rounded; nothing for answer-only."""
        if self.method == "answer":
            return None
        return {label: round(value, 4) for label, value in confidence.items()}


@dataclass(frozen=True)
class Reading:
    """What the answers about one text say: confidence to weigh, or (for one answer
    of a one-call strategy, without confidence) a verdict that stands as it is."""

    confidence: dict[str, float]
    verdict: Verdict | None = None
    notes: tuple[str, ...] = field(default=())
    method: str | None = None  # what weighed it, when not the run's confidence (ensemble)
    chunks: int | None = None  # the chunks of a long text it combines


def choose_confidence(config: RunConfig, profile: ProviderProfile) -> ConfidenceMethod:
    setting, kind = config.strategy.confidence, config.provider.kind
    if setting == "logprobs" and not profile.logprobs:
        raise ConfigError(
            f"strategy.confidence: logprobs is not possible with provider {kind}, which returns "
            "no token log-probabilities; use self_consistency (or none)"
        )
    if setting == "auto":  # logprobs where they matter most, if they come cheap
        wants = config.strategy.name == "per_label" and profile.cheap_logprobs
        setting = "logprobs" if wants and profile.logprobs else "none"
    method: ConfidenceMethod = ConfidenceMethod(
        "answer" if setting == "none" else setting,
        config.strategy.samples if setting == "self_consistency" else 0,
    )
    thresholds = config.thresholds
    trained = config.trained.use != "off"  # its probabilities are a per-label confidence
    if method.method == "answer" and (thresholds.path or thresholds.per_label) and not trained:
        raise ConfigError(
            "thresholds: they need a per-label confidence, and this run has none; set "
            "strategy.confidence=logprobs or self_consistency, or trained.use=ensemble"
        )
    return method


def read_answers(
    strategy: Strategy, answers: Sequence[Answer], method: ConfidenceMethod
) -> Reading:
    offered = strategy.offered
    if method.method == "self_consistency":
        by_sample: dict[int | None, set[str]] = defaultdict(set)
        for answer in answers:
            by_sample[answer.sample].update(answer.verdict.labels)
        return Reading(vote_shares([sorted(s) for s in by_sample.values()], offered))
    if method.method == "answer":
        if len(answers) == 1:
            verdict = answers[0].verdict
            return Reading(_indicator(verdict.labels, offered), verdict=verdict)
        chosen = {label for answer in answers for label in answer.verdict.labels}
        return Reading(_indicator(chosen, offered))
    confidence: dict[str, float] = {}
    notes: list[str] = []
    for answer in answers:
        found = strategy.confidence(answer.question, answer.completion.logprobs, answer.verdict)
        if found is None:
            notes.append("no usable log-probabilities came back: the answer stands for confidence")
            topics = [answer.question.topic] if answer.question.topic else offered
            found = _indicator(answer.verdict.labels, topics)
        confidence.update(found)
    return Reading(confidence, notes=tuple(dict.fromkeys(notes)))


def combine_chunks(confidences: Sequence[Mapping[str, float]], how: str) -> dict[str, float]:
    """Per-label confidence over a text's chunks: the highest, or the mean."""
    labels = list(dict.fromkeys(label for c in confidences for label in c))
    if how == "mean":
        return {
            label: sum(c.get(label, 0.0) for c in confidences) / len(confidences)
            for label in labels
        }
    return {label: max(c.get(label, 0.0) for c in confidences) for label in labels}


def _indicator(chosen: set[str] | Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    return {label: 1.0 if label in chosen else 0.0 for label in labels}
