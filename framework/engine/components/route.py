"""route.tiers: each row goes down the tiers until one settles every label.

    labelwise classify route.tiers=[trained,llm,human] quality.precision=0.8 \\
        trained.use=ensemble trained.pool=labeled.jsonl input=new.jsonl

The trained tier settles a label when the model's probability is at or above the
label's certified `hi` (present) or at or below its `lo` (absent); the thresholds are
certified on calibration rows (quality.calibration, or the trained model's pool, each
row scored by the model fit without it) by framework.learning.routing, so the floors
of quality.* hold with probability 1 - quality.alpha. A row it settles entirely is
written with `tier: trained` and no call. Otherwise:
- with an `llm` tier, the LLM is asked; the labels the trained tier settled keep its
  decision, the rest are decided by the LLM's answer fused with the model (as
  trained.use=ensemble); the row is `tier: llm`. The LLM tier is the route's last
  machine tier and its reference: it is not certified in a run (that needs its answers
  on the calibration rows; benchmarks/routing.py certifies one offline);
- with `human` next, the row is written with `tier: human`, no labels and `review`
  set, for people (labelwise review export);
- a failed LLM call fails the row (route.on_failure=wait: a rerun retries it), or,
  with on_failure=next and `human` after it, goes to people.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from framework.config.schema import RunConfig
from framework.digests import file_sha256
from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.components.trained import TrainedComponent, by_the_model
from framework.engine.readings import Reading
from framework.errors import ConfigError
from framework.learning.certify import Floors, TierRules, clopper_pearson, shortfalls
from framework.learning.route_estimate import calibration_rates
from framework.learning.route_words import TIER_NAMES
from framework.learning.routing import certify_route
from framework.learning.trained import TrainedModel
from framework.records import Item, Prediction

__all__ = ["TIER_WORDS", "RouteComponent", "floors_of"]

TIER_WORDS = TIER_NAMES


class RouteComponent(Component):
    name = "route"
    section = "route"
    # How the summary words a routed run's rows, by tier (Prediction.extra["tier"]).
    words_by_tier: ClassVar[dict[str, str]] = TIER_WORDS
    # How `labelwise plan` words the rows it decides without a call (decided_by).
    decides_as: ClassVar[dict[str, str]] = {
        "route.trained": TIER_WORDS["trained"] + " (no call)",
        "route.human": TIER_WORDS["human"],
    }

    def __init__(
        self, rules: TierRules, calibration: dict[str, Any], rates: dict[str, Any], parts: Parts
    ) -> None:
        self.rules, self.calibration, self.config = rules, calibration, parts.config
        self.rates = rates  # the trained tier's decisions on the calibration rows
        self.decider, self.labels = parts.decider, parts.labels
        self.tiers = parts.config.route.tiers

    @classmethod
    def build(cls, parts: Parts) -> RouteComponent | None:
        trained = parts.built.get("trained")
        if not parts.config.route.tiers or not isinstance(trained, TrainedComponent):
            return None
        assert trained.model is not None  # the schema refuses a distilled model
        labels = list(trained.model.labels)
        scores, gold, about = calibration_rows(parts.config, trained.model)
        floors = floors_of(parts.config, labels)
        quality = parts.config.quality
        tests = floors.tests()
        short = shortfalls(gold, labels, floors, alpha=quality.alpha / max(1, tests))
        if short:
            key = "quality.precision" if short[0].side == "precision" else "quality.recall"
            raise ConfigError(
                f"{key}: the calibration rows ({about['source']}) cannot certify it: "
                + "; ".join(s.words() for s in short)
                + "; give more labeled rows (quality.calibration=FILE) or a lower floor"
            )
        centers = [parts.decider.thresholds.get(label, 0.5) for label in labels]
        route = certify_route(
            ["trained"], [scores], gold, labels, [centers], floors, alpha=quality.alpha
        )
        every_row = "llm" in parts.config.route.tiers  # else only rows it settles entirely
        rates = calibration_rates(route[0], scores, gold, every_row_machine=every_row)
        settled = float(route[0].settled(scores).all(axis=1).mean())
        after = "llm" if every_row else "human"
        about = {**about, "share": {"trained": round(settled, 4), after: round(1 - settled, 4)}}
        return cls(route[0], about, rates, parts)

    def identity(self) -> dict[str, Any]:
        """The route, its target and calibration rows: another of any is another run."""
        quality = self.config.quality
        return {
            "route.tiers": list(self.tiers),
            "route.on_failure": self.config.route.on_failure,
            "quality.precision": quality.precision,
            "quality.recall": quality.recall,
            "quality.alpha": quality.alpha,
            "quality.calibration": self.calibration["sha256"],
        }

    def describe(self) -> dict[str, Any]:
        return {
            "route": {
                "tiers": list(self.tiers),
                "on_failure": self.config.route.on_failure,
                "quality": self.config.quality.model_dump(),
                "calibration": self.calibration,
                "certified": {"trained": self.rules.describe()},
                "expected": {"trained": _expected(self.rules, self.config.quality.alpha)},
                "rates": {"trained": self.rates},
                "reference": "llm: the last machine tier, not certified in a run",
                "method": "learn-then-test, fixed sequence, exact Clopper-Pearson bounds",
            }
        }

    async def before(self, state: ItemState) -> Prediction | None:
        """The row as the trained tier settles it, or on to the next tier."""
        assert state.scores is not None  # the trained component runs first
        row = [[state.scores[rule.label] for rule in self.rules.rules]]
        settled = self.rules.settled(row)[0]
        if settled.all():
            return _settled_by_trained(state, self.rules, self.decider)
        if "llm" not in self.tiers:
            return _to_people(state, state.item, "the trained tier is unsure")
        present = self.rules.present(row)[0]
        state.held["route"] = {
            rule.label: float(present[n]) for n, rule in enumerate(self.rules.rules) if settled[n]
        }
        settled_labels = [rule.label for n, rule in enumerate(self.rules.rules) if settled[n]]
        state.extra.update(tier="llm", path="llm", settled=settled_labels)
        return None

    def after(self, state: ItemState, reading: Reading) -> Reading:
        """The trained tier's settled labels stand; the LLM decides the rest."""
        held: dict[str, float] = state.held.get("route", {})
        if not held or reading.verdict is not None:
            return reading
        return replace(reading, confidence={**reading.confidence, **held})

    def failed(self, state: ItemState, prediction: Prediction) -> Prediction:
        """With on_failure=next and people after the LLM, a failed row goes to them."""
        if self.config.route.on_failure != "next" or "human" not in self.tiers:
            return prediction
        why = f"the llm tier failed: {prediction.error}"
        return _to_people(state, state.item, why, base=prediction)

    def empty_text(self, prediction: Prediction) -> Prediction:
        """An empty text is settled by the taxonomy's rule, no call: it counts under the
        trained tier, the route's first (and is left out of the quality estimate)."""
        extra = {**prediction.extra, "tier": "trained", "path": "trained", "empty_text": True}
        return replace(prediction, extra=extra)


def _settled_by_trained(state: ItemState, rules: TierRules, decider: Any) -> Prediction:
    """The row the trained tier settles entirely: its labels those at or above `hi`."""
    scores = state.scores or {}
    present = rules.present([[scores[rule.label] for rule in rules.rules]])[0]
    decided = {rule.label: float(present[n]) for n, rule in enumerate(rules.rules)}
    prediction = by_the_model(replace(state, scores=decided), decider, path="trained")
    sources = {"trained": _rounded(scores)}
    extra = {**prediction.extra, "sources": sources, "tier": "trained"}
    return replace(
        prediction,
        confidence=_rounded(scores),
        extra=extra,
        review=False,
        decided_by="route.trained",
    )


def _to_people(
    state: ItemState, item: Item, why: str, *, base: Prediction | None = None
) -> Prediction:
    extra = {**state.extra, "tier": "human", "path": "human", "sent_because": why}
    if base is None:
        return Prediction(item.id, (), "ok", 0, review=True, extra=extra, decided_by="route.human")
    kept = {"tier", "path", "sent_because"}
    return replace(
        base,
        labels=(),
        status="ok",
        error=None,
        error_kind=None,
        review=True,
        extra={**{k: v for k, v in base.extra.items() if k not in kept}, **extra},
    )


def _expected(rules: TierRules, alpha: float) -> dict[str, Any]:
    """Per label, what the tier's decisions are expected to be worth (its calibration
    rows, exact 1 - alpha intervals): the precision of its "present" decisions and the
    share of the label's rows it settles "absent" (misses)."""
    expected: dict[str, Any] = {}
    for rule in rules.rules:
        precision = None
        if rule.accepted:
            low, high = clopper_pearson(rule.correct, rule.accepted, alpha)
            precision = [round(rule.correct / rule.accepted, 4), round(low, 4), round(high, 4)]
        missed = None
        if rule.lo is not None and rule.positives:
            low, high = clopper_pearson(rule.missed, rule.positives, alpha)
            missed = [round(rule.missed / rule.positives, 4), round(low, 4), round(high, 4)]
        expected[rule.label] = {"precision": precision, "missed": missed}
    return expected


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in scores.items()}


def floors_of(config: RunConfig, labels: list[str]) -> Floors:
    """quality.precision and quality.recall per label (recall null: the precision's)."""
    quality = config.quality

    def per_label(floor: Any) -> dict[str, float | None]:
        if isinstance(floor, dict):
            return {label: floor.get(label) for label in labels}
        return dict.fromkeys(labels, floor)

    precision = per_label(quality.precision)
    recall = precision if quality.recall is None else per_label(quality.recall)
    return Floors(precision, recall)


def calibration_rows(config: RunConfig, model: TrainedModel) -> tuple[Any, Any, dict[str, Any]]:
    """The trained tier's scores and the reference labels of the calibration rows, and
    what the record says of them: quality.calibration, or the pool cross-fitted."""
    import numpy as np

    from framework.inputs.pools import read_labeled

    labels = list(model.labels)
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
    from_pool = model.pool_scores is not None and len(model.pool_scores) == len(pool.rows)
    if config.quality.calibration is None and from_pool:
        scores = np.asarray(model.pool_scores)  # cross-fitted, in the pool's order
    elif model.embedded:
        raise ConfigError(
            "quality.calibration: rows other than the pool are scored from TF-IDF features "
            "only for now; use trained.features=tfidf, or leave quality.calibration unset"
        )
    else:
        scores = np.array(
            [
                [model.probabilities(Item(i, text))[label] for label in labels]
                for i, text, _ in pool.rows
            ]
        )
    about = {"source": source, "rows": len(pool.rows), "sha256": file_sha256(Path(source))}
    return scores, gold, about
