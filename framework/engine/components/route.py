"""route.tiers: each row goes down the tiers until one settles every label.

    labelwise classify route.tiers=[trained,llm,human] quality.precision=0.8 \\
        trained.use=ensemble trained.pool=labeled.jsonl input=new.jsonl

The scored tiers before the LLM (trained, zero_shot: their table is
framework.engine.components.route_tiers) settle a label when the tier's score is at or
above the label's certified `hi` (present) or at or below its `lo` (absent), the first
tier that settles it deciding; the thresholds are certified on calibration rows
(quality.calibration, or the trained model's pool, each row scored by the model fit
without it) by framework.learning.routing, so the floors of quality.* hold with
probability 1 - quality.alpha. A row they settle entirely is written with the tier of
the last of them it needed (`tier: trained` or `tier: zero_shot`) and no call; with
more than one scored tier, the row's `settled_by` says which tier settled each label.
Otherwise:
- with an `llm` tier, the LLM is asked; the labels the scored tiers settled keep their
  decision, the rest are decided by the LLM's answer fused with the model (as
  trained.use=ensemble); the row is `tier: llm`. Without quality.llm_rows the LLM
  tier is the route's last machine tier and its reference, not certified. With
  quality.llm_rows=N it is certified on its answers to N calibration rows, asked
  before any input row (framework.runner.drivers.route; route_llm.py): a row whose
  open labels it settles is `tier: llm`; with `human` after it, a row it does not
  settle goes to people, its labels left open named in `sent_because`;
- with further LLM tiers after the certified llm tier (route.llms), the labels it
  leaves open are asked of them (route_further.py): `tier: <their name>`;
- with `human` next, the row is written with `tier: human`, no labels and `review`
  set, for people (labelwise review export);
- a failed LLM call fails the row (route.on_failure=wait: a rerun retries it), or,
  with on_failure=next and `human` after it, goes to people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from framework.config.schema import RunConfig
from framework.engine.components.base import AsksItems, Component, ItemState, Parts
from framework.engine.components.route_further import (
    FurtherTier,
    Kept,
    ask_further,
    further_tiers,
)
from framework.engine.components.route_llm import LlmTier, is_calibrating, tier_after_llm
from framework.engine.components.route_record import (
    add_further_tiers,
    add_llm_tier,
    expected,
    floors_of,
)
from framework.engine.components.route_reference import (
    read_reference_rows,
    reference_labels,
    settling_nothing,
    too_few,
    within_llm,
)
from framework.engine.components.route_rows import confidence_of, settled_row, to_people
from framework.engine.components.route_tiers import SCORED_TIERS, ScoredTier, read_calibration
from framework.engine.readings import Reading
from framework.errors import ConfigError
from framework.learning.certify import Floors, TierRules, shortfalls
from framework.learning.route_estimate import route_rates
from framework.learning.route_words import TIER_NAMES
from framework.learning.routing import certify_route, route_rows
from framework.records import Prediction

__all__ = ["TIER_WORDS", "RouteComponent"]

TIER_WORDS = TIER_NAMES


class RouteComponent(Component):
    name = "route"
    section = "route"
    # How the summary words a routed run's rows, by tier (Prediction.extra["tier"]).
    words_by_tier: ClassVar[dict[str, str]] = TIER_WORDS
    # How `labelwise plan` words the rows it decides without a call (decided_by).
    decides_as: ClassVar[dict[str, str]] = {
        "route.trained": TIER_WORDS["trained"] + " (no call)",
        "route.zero_shot": TIER_WORDS["zero_shot"] + " (no call)",
        "route.human": TIER_WORDS["human"],
    }

    def __init__(
        self,
        scored: Sequence[ScoredTier],
        route: list[TierRules],
        calibration: dict[str, Any],
        rates: dict[str, Any],
        parts: Parts,
        *,
        llm: LlmTier | None = None,
        floors: Floors,
        further: list[FurtherTier] | None = None,
    ) -> None:
        self.floors = floors  # the target, per label (and the output's rows it is for)
        self.llm = llm  # quality.llm_rows: the llm tier certified in the run
        self.further: list[FurtherTier] = further or []  # route.llms, in the route's order
        self.scored, self.route = scored, route  # the tiers before the LLM, certified
        self.rules = route[0]
        self.calibration, self.config = calibration, parts.config
        self.rates = rates  # each scored tier's decisions on the calibration rows
        self.decider, self.labels = parts.decider, parts.labels
        self.tiers = parts.config.route.tiers
        self.names = [tier.name for tier in scored]

    @classmethod
    def build(cls, parts: Parts) -> RouteComponent | None:
        tiers = parts.config.route.tiers
        if not tiers:
            return None
        further = further_tiers(parts.config)  # a bad override: said first, no work done
        labels = list(parts.labels.ids)
        floors = floors_of(parts.config, labels)
        quality = parts.config.quality
        names = [tier for tier in tiers if tier in SCORED_TIERS]
        if quality.reference == "llm" or quality.f1_within is not None:
            return cls.after_the_phase(parts, labels, names)
        calibration = read_calibration(parts.config, labels)
        tests = floors.tests()
        short = shortfalls(calibration.gold, labels, floors, alpha=quality.alpha / max(1, tests))
        if short:
            key = "quality.precision" if short[0].side == "precision" else "quality.recall"
            raise ConfigError(
                f"{key}: the calibration rows ({calibration.about['source']}) cannot certify "
                "it: "
                + "; ".join(s.words() for s in short)
                + "; give more labeled rows (quality.calibration=FILE) or a lower floor"
            )
        scored = [SCORED_TIERS[name].build(parts, calibration) for name in names]
        scores = [tier.calibration_scores for tier in scored]
        gold = calibration.gold
        llm_centers = [parts.decider.thresholds.get(label, 0.5) for label in labels]
        llm = LlmTier.build(parts.config, calibration, scored, llm_centers, floors)
        route = (
            llm.scored_rules()  # alpha split over the llm tier too
            if llm is not None
            else certify_route(
                names,
                scores,
                gold,
                labels,
                [t.centers for t in scored],
                floors,
                alpha=quality.alpha,
            )
        )
        every_row = "llm" in tiers  # else only rows the scored tiers settle entirely
        rates = route_rates(route, scores, gold, every_row_machine=every_row)
        routed = route_rows(route, scores)
        share = {name: round(float((routed.tier == k).mean()), 4) for k, name in enumerate(names)}
        left = round(float((routed.tier == len(names)).mean()), 4)
        about = {**calibration.about, "share": {**share, "llm" if every_row else "human": left}}
        return cls(scored, route, about, rates, parts, llm=llm, floors=floors, further=further)

    @classmethod
    def after_the_phase(cls, parts: Parts, labels: list[str], names: list[str]) -> RouteComponent:
        """quality.reference=llm or quality.f1_within: the tiers before the LLM are
        certified on its answers to the sample, so they settle nothing until the
        calibration phase has them (certify)."""
        config = parts.config
        if config.quality.reference == "llm":
            calibration = read_reference_rows(config, labels)
        else:
            calibration = read_calibration(config, labels)
        scored = [SCORED_TIERS[name].build(parts, calibration) for name in names]
        llm_centers = [parts.decider.thresholds.get(label, 0.5) for label in labels]
        floors = floors_of(config, labels)
        llm = LlmTier.build(config, calibration, scored, llm_centers, floors)
        assert llm is not None  # the schema: both need quality.llm_rows
        route = settling_nothing(names, labels)
        return cls(scored, route, {**calibration.about}, {}, parts, llm=llm, floors=floors)

    def certify(self, answers: dict[str, list[float]]) -> None:
        """After the calibration phase: the llm tier certified on its answers; or the
        tiers before it certified against them: as the reference labels
        (quality.reference=llm), or as the F1 to stay within quality.f1_within of."""
        import numpy as np

        assert self.llm is not None
        quality = self.config.quality
        if quality.reference != "llm" and quality.f1_within is None:
            self.llm.certify(answers)
            return
        labels = list(self.llm.labels)
        said = reference_labels(answers, self.llm.sample.ids, self.llm.llm_centers)
        rows = list(self.llm.sample.indices)
        scores = [np.asarray(tier.calibration_scores)[rows] for tier in self.scored]
        centers = [tier.centers for tier in self.scored]
        if quality.f1_within is not None:
            gold = np.asarray(self.llm.gold)[rows]
            self.route = [
                within_llm(self.names[0], scores[0], said, gold, labels, centers[0], quality)
            ]
        else:
            gold = said
            floors, alpha = floors_of(self.config, labels), quality.alpha
            too_few(gold, labels, floors, alpha=alpha / max(1, floors.tests()), rows=len(gold))
            self.route = certify_route(
                self.names, scores, gold, labels, centers, floors, alpha=alpha
            )
        self.rules = self.route[0]
        self.rates = route_rates(self.route, scores, gold, every_row_machine=True)
        routed = route_rows(self.route, scores)
        share = {n: round(float((routed.tier == k).mean()), 4) for k, n in enumerate(self.names)}
        share["llm"] = round(float((routed.tier == len(self.names)).mean()), 4)
        self.calibration = {**self.calibration, "share": share}

    def companions(self) -> dict[str, RunConfig]:
        """The further LLM tiers' configs: the classifier builds one of each."""
        return {tier.key: tier.config for tier in self.further}

    def attach(self, name: str, asker: AsksItems) -> None:
        for tier in self.further:
            if tier.key == name:
                tier.asker = asker
                return
        super().attach(name, asker)

    def carry(self) -> Any:
        """The calibration phase's answers (the llm tier's and the further tiers'), from
        which a worker process's route certifies itself exactly as this one did."""
        if self.llm is None or self.llm.answers is None:
            return None
        return {"llm": dict(self.llm.answers), "further": dict(self.llm.further_answers)}

    def carried(self, state: Any) -> None:
        self.certify(state["llm"])
        for name in self.llm.further if self.llm is not None else ():
            self.certify_further(name, state["further"][name])

    def certify_further(self, name: str, answers: dict[str, list[float]]) -> None:
        """After the calibration phase: further tier `name` certified on its answers to
        the sampled rows the tiers before it leave open."""
        assert self.llm is not None  # a further tier needs quality.llm_rows (the schema)
        self.llm.certify_further(name, answers)

    def identity(self) -> dict[str, Any]:
        """The route, its target and calibration rows: another of any is another run."""
        quality = self.config.quality
        found = {
            "route.tiers": list(self.tiers),
            "route.on_failure": self.config.route.on_failure,
            "quality.precision": quality.precision,
            "quality.recall": quality.recall,
            "quality.alpha": quality.alpha,
            "quality.calibration": self.calibration["sha256"],
        }
        if quality.reference != "gold":  # only then: other runs keep their identity
            found["quality.reference"] = quality.reference
        if quality.f1_within is not None:
            found["quality.f1_within"] = quality.f1_within
        if quality.guarantee != "rate":  # only then: other runs keep their identity
            found["quality.guarantee"] = quality.guarantee
            found["quality.output_rows"] = self.floors.output_rows
        for tier in self.scored:  # e.g. the zero-shot tier's scale and prototypes
            found.update(tier.identity())
        if self.llm is not None:  # only with quality.llm_rows: other runs keep theirs
            found.update(self.llm.identity())
        for further in self.further:  # only with route.llms: other runs keep theirs
            found.update(further.identity())
        return found

    def describe(self) -> dict[str, Any]:
        alpha = self.config.quality.alpha
        described = {
            "tiers": list(self.tiers),
            "on_failure": self.config.route.on_failure,
            "quality": self.config.quality.model_dump(),
            "calibration": self.calibration,
            "certified": {rules.tier: rules.describe() for rules in self.route},
            "expected": {rules.tier: expected(rules, alpha) for rules in self.route},
            "rates": self.rates,
            "reference": "llm: the last machine tier, not certified in a run",
            "method": "learn-then-test, fixed sequence, exact Clopper-Pearson bounds",
        }
        if self.config.quality.guarantee == "realised":
            described["method"] = (
                "learn-then-test over one threshold path, on the rows decided by machine, "
                "predictive (a binomial draw of the output's decisions), exact "
                "Clopper-Pearson bounds (framework.learning.certify_realised)"
            )
        for tier in self.scored:
            if tier.describe():
                described[tier.name] = tier.describe()
        if self.llm is not None:
            add_llm_tier(described, self.llm, alpha, people=self._next_of_llm() == "human")
            if self.further:
                add_further_tiers(
                    described, self.llm, self.further, alpha, people="human" in self.tiers
                )
            elif self.config.quality.f1_within is not None:
                described["reference"] = (
                    f"llm: the tier before it is certified so that each label's F1 stays "
                    f"within {self.config.quality.f1_within} of the llm tier's, on its "
                    "answers to the sample (quality.f1_within); it decides what that tier "
                    "leaves open"
                )
            elif self.config.quality.reference == "llm":
                described["reference"] = (
                    "llm: its answers to the sample are the reference labels "
                    "(quality.reference=llm): the tiers before it are certified, and "
                    "estimated, as agreement with it, not with gold; it decides every "
                    "label they leave open"
                )
        return {"route": described}

    async def before(self, state: ItemState) -> Prediction | None:
        """The row as the scored tiers settle it, or on to the next tier."""
        if is_calibrating():  # a calibration row: asked, fused with its cross-fitted scores
            known = self.llm.scores_of(state.item.id) if self.llm is not None else None
            state.scores = known or state.scores
            return None
        settled_by: dict[str, str] = {}
        present: dict[str, float] = {}
        for tier, rules in zip(self.scored, self.route, strict=True):
            row = [tier.row_scores(state)]
            settled, said = rules.settled(row)[0], rules.present(row)[0]
            for n, rule in enumerate(rules.rules):
                if settled[n] and rule.label not in settled_by:
                    settled_by[rule.label], present[rule.label] = tier.name, float(said[n])
        by = {"settled_by": settled_by} if self.names != ["trained"] else {}
        if len(settled_by) == len(self.rules.rules):
            last = max(settled_by.values(), key=self.names.index)
            return settled_row(state, present, last, self.scored, self.decider, by)
        if "llm" not in self.tiers:
            first = self.names[0].replace("_", "-")
            why = f"the {first} tier is unsure" if len(self.names) == 1 else "the tiers are unsure"
            return to_people(state, state.item, why)
        state.held["route"] = present
        settled_labels = [rule.label for rule in self.rules.rules if rule.label in settled_by]
        state.extra.update(tier="llm", path="llm", settled=settled_labels, **by)
        return None

    def after(self, state: ItemState, reading: Reading) -> Reading:
        """The trained tier's settled labels stand; the LLM decides the rest."""
        held: dict[str, float] = state.held.get("route", {})
        if is_calibrating():
            return reading
        if self.llm is not None and self._next_of_llm() is not None:
            unsettled = self.llm.unsettled(confidence_of(reading, self.labels.ids), held)
            if unsettled:
                state.held["route.open"] = unsettled
        if not held or reading.verdict is not None:
            return reading
        return replace(reading, confidence={**reading.confidence, **held})

    async def decided(self, state: ItemState, prediction: Prediction) -> Prediction:
        """A row whose open labels the certified llm tier does not settle: to the
        further LLM tiers, else to people."""
        unsettled: list[str] = state.held.get("route.open") or []
        if not unsettled or is_calibrating():
            return prediction
        if self.further:
            said = set(prediction.labels)
            kept = {label: label in said for label in self.labels.ids if label not in unsettled}
            return await self._ask_further(state, prediction, kept)
        why = f"the llm tier is unsure of {', '.join(unsettled)}"
        return to_people(state, state.item, why, base=prediction)

    async def failed(self, state: ItemState, prediction: Prediction) -> Prediction:
        """With on_failure=next, a failed row goes to the next tier: the further LLM
        tiers (asked every label the tiers before the LLM left open), else people."""
        if is_calibrating():  # the phase fails instead (framework.runner.drivers.route)
            return prediction
        if self.config.route.on_failure != "next" or self._next_of_llm() is None:
            return prediction
        if self.further:
            held: dict[str, float] = state.held.get("route", {})
            kept = {label: score >= 0.5 for label, score in held.items()}  # settled 0 or 1
            return await self._ask_further(state, prediction, kept)
        why = f"the llm tier failed: {prediction.error}"
        return to_people(state, state.item, why, base=prediction)

    async def _ask_further(
        self, state: ItemState, prediction: Prediction, kept: dict[str, bool]
    ) -> Prediction:
        """The kept decisions stand, each under the tier that settled it; the further
        tiers decide the rest."""
        settled_by: dict[str, str] = dict(state.extra.get("settled_by") or {})
        for label in state.extra.get("settled") or ():
            settled_by.setdefault(label, self.names[0])
        who = {label: settled_by.get(label, "llm") for label in kept}
        return await ask_further(
            self.further,
            state,
            prediction,
            Kept(kept, who),
            self.labels.ids,
            on_failure=self.config.route.on_failure,
            people="human" in self.tiers,
            unsettled=self._further_unsettled,
        )

    def _further_unsettled(
        self, name: str, said: Mapping[str, float], open_: Sequence[str]
    ) -> list[str]:
        """The open labels further tier `name`'s certified rules leave unsettled."""
        return list(open_) if self.llm is None else self.llm.further_unsettled(name, said, open_)

    def _next_of_llm(self) -> str | None:
        return tier_after_llm(self.tiers)

    def empty_text(self, prediction: Prediction) -> Prediction:
        """An empty text is settled by the taxonomy's rule, no call: it counts under the
        trained tier, the route's first (and is left out of the quality estimate)."""
        first = self.names[0]
        extra = {**prediction.extra, "tier": first, "path": first, "empty_text": True}
        return replace(prediction, extra=extra)
