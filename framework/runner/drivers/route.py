"""quality.llm_rows: a routed run's first phase, the LLM's answers to a seeded sample of
calibration rows, then the input's rows through the driver chosen after this one.

    calibrate  each sampled calibration row is asked of the LLM as a routed input row
               would be (same prompt, strategy and transports, the response cache too),
               its reading fused with the trained model's cross-fitted scores; each
               answer is appended to <results>.route/calibration.jsonl as it comes, so
               a killed run resumes the phase without asking a row twice
    certify    the llm tier is certified on them (framework.engine.components.route_llm)
    further    each further LLM tier (route.llms) is asked the sampled rows the tiers
               before it leave open (kept in <results>.route/<tier>.jsonl), and is
               certified on its answers
    rest       the input's rows, routed through the certified tiers

A failed calibration call fails the phase (no tier is certified on missing answers):
the answers received are kept, and the same command asks only the rest. The phase runs
in this process, online: the certified rules live in this process's route.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.config.schema import BudgetSettings
from framework.engine.components import (
    LlmTier,
    RouteComponent,
    calibrating,
    companion_key,
    is_calibrating,
)
from framework.errors import LabelwiseError
from framework.inputs.rows import InputRow
from framework.records import Item, Prediction
from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.rows import ResultSink
from framework.runner.totals import Note, RunTotals, over_budget

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.estimate import RunEstimate

__all__ = ["CalibrationFailed", "RouteDriver", "calibration_file"]

log = logging.getLogger("labelwise")


class CalibrationFailed(LabelwiseError):
    """A calibration row's LLM call failed: the llm tier is not certified, no input row
    is asked; the answers received are kept for the rerun."""


def calibration_file(output: Path) -> Path:
    """Where a routed run keeps the LLM's calibration answers: <results>.route/."""
    return output.with_name(f"{output.stem}.route") / "calibration.jsonl"


def route_of(classifier: Classifier) -> RouteComponent | None:
    for component in classifier.components:
        if isinstance(component, RouteComponent):
            return component
    return None


def llm_tier_of(classifier: Classifier) -> LlmTier | None:
    route = route_of(classifier)
    return None if route is None else route.llm


class RouteDriver(Driver):
    """The calibration sample through the LLM, the llm tier certified, then the rest."""

    name = "route"
    wraps = True
    phase: dict[str, Any] | None = None  # the calibration phase's calls and cost
    further_notes: tuple[Note, ...] = ()  # what the further tiers' part of it was

    @classmethod
    def for_run(cls, classifier: Classifier) -> RouteDriver | None:
        if is_calibrating() or llm_tier_of(classifier) is None:
            return None
        return cls()

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        assert self.inner is not None
        tier = llm_tier_of(classifier)
        assert tier is not None
        route = route_of(classifier)
        assert route is not None
        # The phase is asked online, also in a batch run (its answers are needed now):
        # through an online classifier of the same config, its calls at the online price.
        asking = classifier if classifier.config.run.mode != "batch" else _online(classifier)
        try:
            answers = await ask_sample(asking, tier, calibration_file(files.output), sink.totals)
        finally:
            self.phase = tier.phase
            if asking is not classifier:
                await asking.aclose()
        route.certify(answers)
        for name in tier.further:  # each asked what the tiers before it leave open
            kept = calibration_file(files.output).with_name(f"{name}.jsonl")
            asked = Asked(
                classifier.config.budget, tier.labels, tier.further_phase.setdefault(name, {}), name
            )
            said = await ask_rows(
                classifier.companions[companion_key(name)],
                tier.open_items(name),
                kept,
                sink.totals,
                asked,
            )
            route.certify_further(name, said)
            self.further_notes = (
                *self.further_notes,
                (logging.INFO, _phase_words(name, asked.phase)),
            )
        await self.inner.run(classifier, files, sink)

    def notes(self, totals: RunTotals, output: Path) -> list[Note]:
        phase = self.phase
        found = super().notes(totals, output)
        if not phase:
            return found
        cost = "unknown cost" if phase["cost"] is None else f"${phase['cost']:.4f}"
        said = (
            f"route: the llm tier was certified on {phase['rows']} calibration rows "
            f"({phase['calls']} calls, {phase['cached']} answers from before, {cost}; "
            "record.json route.llm)"
        )
        return [(logging.INFO, said), *self.further_notes, *found]

    def estimate(self, estimate: RunEstimate, classifier: Classifier) -> RunEstimate:
        """The phase's calls, tokens and cost on a line of their own (counted as the
        plan counts the input's rows)."""
        from dataclasses import replace

        from framework.runner.estimate import estimate_run

        tier = llm_tier_of(classifier)
        found = super().estimate(estimate, classifier)
        if tier is None:
            return found
        rows = [InputRow(n + 1, item.id, item) for n, item in enumerate(tier.items())]
        with calibrating():
            phase = estimate_run(classifier, rows)
        cost = "unknown cost" if phase.expected_cost is None else f"~${phase.expected_cost:.4f}"
        said = (
            f"{len(rows):,} calibration rows first (quality.llm_rows): {phase.calls:,} calls, "
            f"{phase.prompt_tokens:,} prompt tokens, ~{phase.expected_completion_tokens:,} "
            f"completion tokens, {cost}; {phase.cached:,} answered from the cache"
        )
        notes = [("llm tier phase", said)]
        for name in tier.further:  # the further LLM tiers
            companion = classifier.companions[companion_key(name)]
            asked = estimate_run(companion, rows)
            each = None if asked.expected_cost is None else asked.expected_cost / len(rows)
            most = found.to_call + found.cached
            cost = (
                "unknown cost"
                if each is None
                else f"~${each:.6f} a row (on the calibration sample), at most ~${each * most:.4f}"
            )
            notes.append(
                (
                    f"{name} tier",
                    f"asked the rows the llm tier leaves unsettled, at most {most:,}: {cost}; "
                    f"first, at most {len(rows):,} calibration rows (those the tiers before "
                    f"it leave open); {asked.model}",
                )
            )
        return replace(found, notes=(*found.notes, *notes))


async def ask_sample(
    classifier: Classifier, tier: LlmTier, path: Path, totals: RunTotals | None = None
) -> dict[str, list[float]]:
    """Every sampled row's fused confidences (ask_rows for the llm tier)."""
    asked = Asked(classifier.config.budget, tier.labels, tier.phase, "llm")
    return await ask_rows(classifier, tier.items(), path, totals, asked)


@dataclass(frozen=True)
class Asked:
    """What the phase asks a tier with: the run's budget (budget.*, with its caps per
    tier), the labels' order, the record of its part of the phase (filled in), and
    the tier's name (its spend counts under budget.tiers.<name>; a further tier's
    scores are its answer's labels, 1 or 0)."""

    budget: BudgetSettings
    labels: tuple[str, ...]
    phase: dict[str, Any]
    tier: str


async def ask_rows(
    classifier: Classifier,
    items: list[Item],
    path: Path,
    totals: RunTotals | None,
    asked: Asked,
) -> dict[str, list[float]]:
    """Each row's scores: those kept in `path` by an earlier run of the same identity,
    the others asked now (each appended as it comes). Their calls, tokens and cost go
    to the run's ledger (`totals`) and count under budget.*: a budget the phase reaches
    stops it before the next call, and no input row starts."""
    stamp = _answers_key(classifier.identity)
    answers = _kept(path, stamp, {item.id for item in items})
    todo = [item for item in items if item.id not in answers]
    if todo:
        log.info(
            "route: the %s tier answers %d calibration rows first (quality.llm_rows)",
            asked.tier,
            len(todo),
        )
    limit = asyncio.Semaphore(classifier.config.run.concurrency)
    failed: list[Prediction] = []
    stopped: list[str] = []  # rows not asked: the budget was reached
    budget = asked.budget
    spent: dict[str, Any] = {"calls": 0, "cost": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        if out.tell() and not path.read_bytes().endswith(b"\n"):
            out.write("\n")  # after a line cut by a kill

        async def one(item: Any) -> None:
            async with limit:
                if totals is not None and over_budget(totals, budget) is not None:
                    stopped.append(item.id)
                    return
                prediction = await classifier.classify_item(item)
            _spend(spent, prediction)
            if totals is not None:
                totals.spend(prediction, tier=asked.tier)
            if not prediction.ok:
                failed.append(prediction)
                return
            if asked.tier == "llm":
                scores = _scores(prediction, asked.labels)
            else:  # a further tier: its answer's labels (framework.learning.route_llm)
                scores = [float(label in prediction.labels) for label in asked.labels]
            answers[item.id] = scores
            out.write(json.dumps({"id": item.id, "key": stamp, "scores": scores}) + "\n")
            out.flush()

        try:
            with calibrating():
                async with asyncio.TaskGroup() as group:
                    for item in todo:
                        group.create_task(one(item))
        except ExceptionGroup as fatal:  # a bad key, a model that does not exist
            raise fatal.exceptions[0] from None
    asked.phase.update(
        rows=len(items), cached=len(items) - len(todo), **spent, file=str(path.resolve())
    )
    if stopped and totals is not None:
        why = over_budget(totals, budget)
        raise CalibrationFailed(
            f"quality.llm_rows: {why} during the calibration phase, {len(stopped)} of "
            f"{len(todo)} calibration rows not asked of the {asked.tier} tier; it is not "
            "certified and no input row was asked; raise budget.* or lower "
            "quality.llm_rows, then run the same command again (the answers received are "
            "kept)"
        )
    if failed:
        first = failed[0]
        raise CalibrationFailed(
            f"quality.llm_rows: {len(failed)} of {len(todo)} calibration calls of the "
            f"{asked.tier} tier failed (row {first.id}: {first.error}); it is not certified "
            "and no input row was asked; run the same command again (the answers received "
            "are kept)"
        )
    return answers


def _online(classifier: Classifier) -> Classifier:
    """The run's classifier as an online one (a batch run's calibration phase)."""
    from framework.engine.classifier import Classifier

    config = classifier.config
    online = config.model_copy(update={"run": config.run.model_copy(update={"mode": "online"})})
    return Classifier(online, observers=classifier.observers)


def _phase_words(name: str, phase: dict[str, Any]) -> str:
    cost = "unknown cost" if phase["cost"] is None else f"${phase['cost']:.4f}"
    return (
        f"route: the {name} tier was certified on the {phase['rows']} sampled rows the tiers "
        f"before it left open ({phase['calls']} calls, {phase['cached']} answers from before, "
        f"{cost}; record.json route.further.{name})"
    )


def _answers_key(identity: dict[str, Any]) -> str:
    """What an answer kept in the file depends on: the run's identity but the route's
    and the target's (the calibration rows' file stays: another file, other texts)."""
    kept = {
        key: value
        for key, value in identity.items()
        if not key.startswith(("route.", "quality.")) or key == "quality.calibration"
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _kept(path: Path, stamp: str, ids: set[str]) -> dict[str, list[float]]:
    """The answers an earlier run of this identity kept (a cut last line is dropped)."""
    kept: dict[str, list[float]] = {}
    if not path.exists():
        return kept
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if row.get("key") == stamp and row.get("id") in ids:
            kept[str(row["id"])] = [float(v) for v in row["scores"]]
    return kept


def _scores(prediction: Prediction, labels: tuple[str, ...]) -> list[float]:
    """A row's per-label confidence (fused with the trained model's), or, without a
    confidence (one answer, no trained tier), its labels as 1 and the others 0."""
    confidence = prediction.confidence
    if confidence is None:
        return [float(label in prediction.labels) for label in labels]
    return [float(confidence.get(label, label in prediction.labels)) for label in labels]


def _spend(spent: dict[str, Any], prediction: Prediction) -> None:
    spent["calls"] += prediction.attempts
    spent["prompt_tokens"] += prediction.usage.prompt_tokens
    spent["completion_tokens"] += prediction.usage.completion_tokens
    if spent["cost"] is not None:
        spent["cost"] = None if prediction.cost is None else spent["cost"] + prediction.cost
