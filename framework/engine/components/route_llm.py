"""quality.llm_rows: the route's llm tier, certified on the LLM's answers to a seeded
sample of calibration rows (asked by framework.runner.drivers.route before any input
row; certified by framework.learning.route_llm).

    tier = LlmTier.build(config, calibration, scored_tiers, llm_centers, floors)
    with calibrating():                  # the route asks every row, decides none
        prediction = await classifier.classify_item(item)
    tier.certify({row_id: fused confidences})
    tier.settles(confidence)             # per label: the llm tier's decision stands
    tier.open_items("strong")            # a further tier: the sampled rows left open
    tier.certify_further("strong", {row_id: its labels as 1 or 0})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from framework.config.schema import RunConfig
from framework.engine.components.route_tiers import Calibration, ScoredTier
from framework.errors import ConfigError
from framework.learning.certify import Floors, TierRules
from framework.learning.route_llm import (
    LlmSample,
    SampledTier,
    certify_with_llm,
    draw_sample,
    llm_rates,
    llm_scores,
    open_on_sample,
    sample_shortfalls,
)
from framework.records import Item

__all__ = ["LlmTier", "calibrating", "is_calibrating", "tier_after_llm"]

# Set while the calibration phase asks its rows (in this task and the tasks it starts):
# the route then lets every row reach the LLM and decides none of them.
_CALIBRATING: ContextVar[bool] = ContextVar("labelwise_route_calibrating", default=False)


@contextmanager
def calibrating() -> Iterator[None]:
    token = _CALIBRATING.set(True)
    try:
        yield
    finally:
        _CALIBRATING.reset(token)


def is_calibrating() -> bool:
    return _CALIBRATING.get()


@dataclass
class LlmTier:
    """The sample the LLM answers, and once it has, the llm tier's certified rules."""

    sample: LlmSample
    texts: tuple[str, ...]  # the sampled rows' texts, in the sample's order
    names: tuple[str, ...]  # the scored tiers before it (trained, zero_shot)
    scores: tuple[Any, ...]  # their scores of every calibration row
    centers: tuple[tuple[float, ...], ...]  # and their centers
    trained_scores: Any  # the trained tier's (cross-fitted), what answers are fused with
    gold: Any
    labels: tuple[str, ...]
    llm_centers: tuple[float, ...]  # the run's thresholds: how a reading is decided
    floors: Floors
    alpha: float
    every_row: bool  # no people in the route: every row is decided by a machine tier
    further: tuple[str, ...] = ()  # the further LLM tiers after it (route.llms), in order
    rules: TierRules | None = None
    rates: dict[str, Any] | None = None
    phase: dict[str, Any] = field(default_factory=dict)  # the phase's calls and cost
    answers: Mapping[str, Sequence[float]] | None = None  # its answers to the sample
    # Each further tier's answers to the sampled rows it was asked, its certified rules,
    # its rates and its part of the phase.
    further_answers: dict[str, Mapping[str, Sequence[float]]] = field(default_factory=dict)
    further_rules: dict[str, TierRules] = field(default_factory=dict)
    further_rates: dict[str, Any] = field(default_factory=dict)
    further_phase: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        config: RunConfig,
        calibration: Calibration,
        scored: Sequence[ScoredTier],
        llm_centers: Sequence[float],
        floors: Floors,
    ) -> LlmTier | None:
        """None without quality.llm_rows; a ConfigError for a sample that cannot be
        drawn or cannot certify the target, before any call."""
        size, ids = config.quality.llm_rows, calibration.ids
        if not size:
            return None
        if size > len(ids):
            raise ConfigError(
                f"quality.llm_rows: {size} rows, but the calibration rows are {len(ids)}; "
                f"give at most {len(ids)} (or more labeled rows: quality.calibration=FILE)"
            )
        seed = config.model.seed if config.model.seed is not None else 0
        sample = draw_sample(ids, size, seed)
        by_name = {tier.name: tier for tier in scored}
        trained = by_name.get("trained")
        tier = cls(
            sample,
            tuple(calibration.texts[n] for n in sample.indices),
            tuple(by_name),
            tuple(t.calibration_scores for t in scored),
            tuple(tuple(t.centers) for t in scored),
            None if trained is None else trained.calibration_scores,
            calibration.gold,
            tuple(calibration.labels),
            tuple(llm_centers),
            floors,
            config.quality.alpha,
            # Its rates are read on every sampled row when no row goes to people; else on
            # the rows it settles entirely (with a further tier between it and people,
            # a part of the rows machines decide: an approximation said in the docs).
            every_row="human" not in config.route.tiers,
            further=tuple(t for t in config.route.tiers if t in config.route.llms),
        )
        if config.quality.reference == "llm" or config.quality.f1_within is not None:
            return tier  # the tiers before it are certified on its answers, after the phase
        short = sample_shortfalls(
            tier.scored_rules(),
            tier.scores,
            sample,
            tier.gold,
            floors,
            alpha=tier.alpha,
            later=len(tier.further),
        )
        if short:
            would = max(rows for _, rows in short)
            said = f"about {would} would" if would else "more rows would"
            open_rows = "sampled rows the tiers before it leave open"
            raise ConfigError(
                f"quality.llm_rows: a sample of {size} calibration rows cannot certify the "
                "llm tier's precision floor: "
                + "; ".join(s.words().replace("calibration rows", open_rows) for s, _ in short)
                + f"; {said} (quality.llm_rows=N, at most {len(ids)}), or a lower floor"
            )
        return tier

    def scored_rules(self) -> list[TierRules]:
        """The scored tiers' rules, certified with alpha split over them and this tier."""
        return self._certify(None)

    def _certify(self, answers: Mapping[str, Sequence[float]] | None) -> list[TierRules]:
        return certify_with_llm(
            self.names,
            self.scores,
            self.centers,
            self.sample,
            answers,
            self.gold,
            self.labels,
            self.llm_centers,
            self.floors,
            alpha=self.alpha,
            further=[
                SampledTier(name, self.further_answers.get(name), self.further_centers())
                for name in self.further
            ],
        )

    def items(self) -> list[Item]:
        """The sampled calibration rows, as the LLM is asked them."""
        return [Item(i, text) for i, text in zip(self.sample.ids, self.texts, strict=True)]

    def scores_of(self, row_id: str) -> dict[str, float] | None:
        """A sampled row's cross-fitted trained scores (what its answer is fused with)."""
        if self.trained_scores is None:
            return None
        for index, known in zip(self.sample.indices, self.sample.ids, strict=True):
            if known == row_id:
                row = self.trained_scores[index]
                return {label: float(row[n]) for n, label in enumerate(self.labels)}
        return None

    def certify(self, answers: Mapping[str, Sequence[float]]) -> None:
        """The llm tier's rules and its rates, from the fused confidences of every
        sampled row (in the labels' order)."""
        self.answers = answers
        *scored, llm = self._certify(answers)[: len(self.names) + 1]
        self.rules = llm
        self.rates = llm_rates(
            scored,
            llm,
            self.scores,
            self.sample,
            answers,
            self.gold,
            self.llm_centers,
            every_row_machine=self.every_row,
        )

    def unsettled(self, confidence: Mapping[str, float], held: Mapping[str, float]) -> list[str]:
        """The labels neither the scored tiers (`held`) nor this tier settles."""
        if self.rules is None:
            return []
        row = [[confidence.get(label, 0.0) for label in self.labels]]
        settled = self.rules.settled(row)[0]
        return [
            label for n, label in enumerate(self.labels) if label not in held and not settled[n]
        ]

    def further_centers(self) -> tuple[float, ...]:
        """A further tier's scores are its answer's labels, 1 or 0: 0.5 splits them."""
        return (0.5,) * len(self.labels)

    def open_items(self, name: str) -> list[Item]:
        """The sampled rows the tiers before further tier `name` leave a label open on
        (those before it certified: the llm tier, and the further tiers before it)."""
        at = self.further.index(name)
        route = self._certify(self.answers)[: len(self.names) + 1 + at]
        left = open_on_sample(route, [*self.scores, *_llm_side(self)[: 1 + at]], self.sample)
        return [item for item, open_ in zip(self.items(), left.any(axis=1), strict=True) if open_]

    def certify_further(self, name: str, answers: Mapping[str, Sequence[float]]) -> None:
        """Further tier `name`'s rules and rates, from its answers (labels as 1 or 0) to
        the sampled rows the tiers before it left open."""
        self.further_answers[name] = answers
        route = self._certify(self.answers)
        at = len(self.names) + 1 + self.further.index(name)
        self.further_rules[name] = route[at]
        scores = [*self.scores, *_llm_side(self)]
        self.further_rates[name] = llm_rates(
            route[:at],
            route[at],
            scores[:at],
            self.sample,
            answers,
            self.gold,
            self.further_centers(),
            every_row_machine=self.every_row,
        )

    def further_unsettled(
        self, name: str, said: Mapping[str, float], open_: Sequence[str]
    ) -> list[str]:
        """Of the `open_` labels, those further tier `name` does not settle with its
        answer (`said`: its labels as 1 or 0); all of them before it is certified."""
        rules = self.further_rules.get(name)
        if rules is None:
            return list(open_)
        row = [[said.get(label, 0.0) for label in self.labels]]
        settled = rules.settled(row)[0]
        return [label for n, label in enumerate(self.labels) if label in open_ and not settled[n]]

    def identity(self) -> dict[str, Any]:
        return {"quality.llm_rows": len(self.sample.ids), "quality.llm_sample": self.sample.digest}

    def describe(self) -> dict[str, Any]:
        return {"sample": self.sample.describe(), "phase": self.phase or None}


def tier_after_llm(tiers: Sequence[str]) -> str | None:
    """The tier after llm (a further LLM tier, or human); None when llm is last."""
    at = tiers.index("llm") + 1 if "llm" in tiers else len(tiers)
    return tiers[at] if at < len(tiers) else None


def _llm_side(tier: LlmTier) -> list[Any]:
    """The scores of the llm tier and of each further tier answered so far, on every
    calibration row (NaN where it was not asked)."""
    import numpy as np

    shape = np.asarray(tier.gold).shape
    found = [llm_scores(tier.sample, tier.answers or {}, shape)]
    for name in tier.further:
        if name not in tier.further_answers:
            break
        found.append(llm_scores(tier.sample, tier.further_answers[name], shape))
    return found
