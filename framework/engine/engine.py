"""The engine: one item in, one validated Prediction out.

    engine = build_engine(config, transport, endpoint="http://127.0.0.1:8000/v1")
    prediction = await engine.classify_item(Item("n1", "NASA's probe reaches Europa"))

`classify_item` reads on one screen: fit the text, split it into chunks, ask the
strategy's questions of each (the Asker renders, compiles, sends through the
transport, reads and re-asks), then turn the answers (or their confidence) into
labels. `build_engine` only wires: every part is built once from the RunConfig,
and nothing in a lower layer calls back up into the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from framework.config.schema import RunConfig
from framework.engine.cascade import CascadeGate, cascade_gate
from framework.engine.conversation import Answer, Asker, Tally, Unanswered, gather_answers
from framework.engine.examples import ExamplePicker, examples_settings, load_index
from framework.engine.identity import run_identity
from framework.engine.prompt import PromptRenderer
from framework.engine.readings import (
    ConfidenceMethod,
    Reading,
    choose_confidence,
    combine_chunks,
    read_answers,
)
from framework.engine.strategies import STRATEGIES, Strategy
from framework.engine.text_fit import TextFit
from framework.engine.trained import TrainedModel, fuse, load_model
from framework.errors import ProviderError
from framework.labels.decide import LabelDecider
from framework.labels.label_set import LabelKeys, LabelSet, choose_label_keys
from framework.labels.thresholds import Thresholds, load_thresholds
from framework.providers.compile import RequestPlan, make_plan
from framework.providers.embeddings import Embedder, embedding_identity
from framework.providers.profiles import ModeChoice, choose_output_mode, profile_for
from framework.providers.transports.base import Transport
from framework.records import Item, Prediction

__all__ = ["Engine", "build_engine"]


@dataclass(frozen=True)
class Engine:
    config: RunConfig
    labels: LabelSet
    label_keys: LabelKeys
    output_mode: ModeChoice
    strategy: Strategy
    renderer: PromptRenderer
    plan: RequestPlan
    confidence: ConfidenceMethod
    thresholds: Thresholds
    decider: LabelDecider
    text_fit: TextFit
    asker: Asker
    identity: dict[str, Any]  # what decides a row's labels (framework.engine.identity)
    trained: TrainedModel | None = None  # trained.use: ensemble, alone or cascade
    cascade: CascadeGate | None = None  # trained.use=cascade: the rows the model labels alone
    examples: ExamplePicker | None = None  # examples.selection: labeled rows in the prompt
    embedder: Embedder | None = None  # likeness or trained features by embeddings

    async def classify_item(self, item: Item) -> Prediction:
        """Fit the text, ask the strategy's questions of each chunk, decide the labels."""
        text, cut_from = self.text_fit.fit(item.text)
        if not text.strip():
            return self._empty_text(item)
        vector = None
        if self.embedder is not None:  # the text's embedding, for likeness or features
            try:
                vector = (await self.embedder.embed([item.text]))[0]
            except ProviderError as error:
                if error.fatal:
                    raise
                failure = Unanswered(f"embedding: {error}", kind=error.kind)
                return Tally(item.id, truncated_from=cut_from).failed(failure)
        model = None if self.trained is None else self.trained.probabilities(item, vector)
        if model is not None and self.config.trained.use == "alone":
            return self._by_trained(item, model)
        sent_because = None
        if self.cascade is not None and model is not None:  # the LLM only if it is unsure
            sent_because = self.cascade.why_ask(item, model, vector)
            if sent_because is None:
                return self._by_trained(item, model, path="trained")
        tally = Tally(item.id, truncated_from=cut_from)
        chunks = self.text_fit.chunks(text)
        preface = None if self.examples is None else self.examples.preface(item, vector)
        try:
            readings = [await self._read(chunk, tally, preface) for chunk in chunks]
        except Unanswered as failure:
            failed = tally.failed(failure)
            if self.cascade is None:
                return failed
            return replace(
                failed, extra={**failed.extra, "path": "llm", "sent_because": sent_because}
            )
        if len(readings) == 1 and readings[0].verdict is not None:
            verdict = readings[0].verdict  # one answer, policy applied, nothing to weigh
            if model is None:
                return tally.prediction(verdict.labels, "ok", repairs=verdict.repairs)
            answer = {label: float(label in verdict.labels) for label in self.labels.ids}
            return self._fused(tally, model, answer, verdict.repairs, sent_because)
        how = self.config.chunking.aggregate
        confidence = combine_chunks([r.confidence for r in readings], how)
        notes = tuple(dict.fromkeys(note for reading in readings for note in reading.notes))
        if model is not None:
            return self._fused(tally, model, confidence, notes, sent_because)
        decision = self.decider.decide(confidence)
        return tally.prediction(
            decision.labels,
            "ok",
            repairs=(*decision.repairs, *notes),
            confidence=self.confidence.recorded(confidence),
            confidence_method=self.confidence.method,
            review=bool(decision.uncertain),
            chunks=len(chunks) if len(chunks) > 1 else None,
        )

    def _fused(
        self,
        tally: Tally,
        model: dict[str, float],
        llm: dict[str, float],
        notes: tuple[str, ...],
        sent_because: str | None,
    ) -> Prediction:
        """trained.use=ensemble (and the LLM's rows of a cascade): the LLM's confidence
        (or its 0/1 answer) and the trained model's probabilities, fused per label; the
        thresholds decide. The row keeps each source's confidence beside the fused one."""
        fused = fuse(model, llm, self.config.trained.weight)
        decision = self.decider.decide(fused)
        extra: dict[str, Any] = {"sources": {"llm": _rounded(llm), "trained": _rounded(model)}}
        if self.cascade is not None:
            extra.update(path="llm", sent_because=sent_because)
        return tally.prediction(
            decision.labels,
            "ok",
            repairs=(*decision.repairs, *notes),
            confidence=fused,
            confidence_method="ensemble",
            review=bool(decision.uncertain),
            extra=extra,
        )

    def _by_trained(
        self, item: Item, model: dict[str, float], *, path: str | None = None
    ) -> Prediction:
        """trained.use=alone, and the rows a cascade's model is sure of: the trained
        model's probabilities decide; no call."""
        decision = self.decider.decide(model)
        extra: dict[str, Any] = {"sources": {"trained": _rounded(model)}}
        if path is not None:
            extra["path"] = path
        return Prediction(
            item.id,
            decision.labels,
            "ok",
            0,
            repairs=decision.repairs,
            confidence=_rounded(model),
            confidence_method="trained",
            review=bool(decision.uncertain),
            extra=extra,
        )

    async def _read(self, text: str, tally: Tally, preface: str | None) -> Reading:
        """Every question about a text (and every sample of it), asked at once."""
        samples: list[int | None] = list(range(self.confidence.samples)) or [None]
        asks = [
            self.asker.ask(question, tally, sample, preface=preface)
            for question in self.strategy.questions(text)
            for sample in samples
        ]
        answers: list[Answer] = await gather_answers(asks)
        return read_answers(self.strategy, answers, self.confidence)

    def _empty_text(self, item: Item) -> Prediction:
        taxonomy = self.config.taxonomy
        if taxonomy.none_label is not None:
            return Prediction(item.id, (taxonomy.none_label,), "ok", 0, repairs=("empty text",))
        if taxonomy.allow_empty:
            return Prediction(item.id, (), "ok", 0, repairs=("empty text",))
        return Prediction(
            item.id,
            (),
            "failed",
            0,
            error_kind="empty_text",
            error=f"the text is empty, and taxonomy {taxonomy.name} has no none_label and "
            "does not allow_empty, so no answer is right",
        )


def build_engine(config: RunConfig, transport: Transport, *, endpoint: str = "") -> Engine:
    """Wire an engine for a run; `endpoint` names what else decides an answer (the server
    of an OpenAI-compatible endpoint, the local model file's sha256), for the cache key."""
    profile = profile_for(config.provider.kind, config.model.name)
    output_mode = choose_output_mode(config.provider, config.model, _litellm_capability)
    labels = LabelSet.build(config.taxonomy, config.validation)
    label_keys = choose_label_keys(config.prompt.label_keys, len(labels.ids), profile.max_enum)
    labels = labels.asked_by_number(label_keys.by_index)
    strategy = STRATEGIES[config.strategy.name](labels)
    confidence = choose_confidence(config, profile)
    model = config.model
    if config.strategy.max_tokens is not None:
        model = model.model_copy(update={"max_tokens": config.strategy.max_tokens})
    logprobs = config.strategy.top_logprobs if confidence.method == "logprobs" else None
    plan = make_plan(
        profile=profile,
        model=model,
        mode=output_mode.mode,
        schema=strategy.schema,
        identity=endpoint,
        top_logprobs=logprobs,
    )
    renderer = PromptRenderer(
        config.prompt,
        labels,
        template=config.strategy.template,
        schema_in_prompt=json.dumps(plan.schema) if plan.mode == "prompted" else None,
        answer_form=strategy.answer_form,
    )
    thresholds = load_thresholds(config)
    decider = LabelDecider(
        labels,
        thresholds.values,
        default=config.thresholds.default,
        band=config.thresholds.abstain_band,
    )
    asker = Asker(
        strategy,
        renderer,
        plan,
        transport,
        config.validation.max_retries,
        sample_temperature=config.strategy.sample_temperature,
        shared_prompts=config.strategy.name == "per_label" or confidence.samples > 0,
    )
    trained = _load_trained(config, labels)
    identity = run_identity(config, prompt_digest=renderer.digest, output_mode=output_mode.mode)
    examples = None
    if config.examples.selection != "none":  # which rows the prompts show, by their pool
        index = load_index(config)
        examples = ExamplePicker(index, config.examples, labels)
        # Only when used: a run without examples keeps the identity it had before them.
        settings = examples_settings(config.examples)
        identity.update({f"examples.{k}": v for k, v in settings.items()})
        identity.update(
            {"examples.pool_sha256": index.pool_sha256, "examples.digest": examples.digest}
        )
    gate = None
    if trained is not None:  # which model decides with the LLM (or alone), by its pool
        identity.update({f"trained.{k}": v for k, v in trained.describe().items()})
        identity.update(
            {"trained.use": config.trained.use, "trained.weight": config.trained.weight}
        )
    if config.trained.distill.sample is not None:  # a model the LLM teaches during the run
        identity.update(_distillation_identity(config))
    embedder = Embedder.for_run(config)
    if embedder is not None:  # which vectors rank the examples or feed the model
        identity.update(
            {f"embeddings.{k}": v for k, v in embedding_identity(config.embeddings).items()}
        )
    if trained is not None and config.trained.use == "cascade":
        gate = cascade_gate(trained, decider.thresholds, config.cascade)
        identity.update({f"cascade.{k}": v for k, v in gate.describe().items()})
    return Engine(
        config,
        labels,
        label_keys,
        output_mode,
        strategy,
        renderer,
        plan,
        confidence,
        thresholds,
        decider,
        TextFit(config.prompt, config.chunking, plan.model),
        asker,
        identity,
        trained,
        gate,
        examples,
        embedder,
    )


def _rounded(confidence: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in confidence.items()}


def _distillation_identity(config: RunConfig) -> dict[str, Any]:
    """What decides a distilled run's labels before its model exists: how the sample is
    drawn, how the model is fit and refit, and the cascade's settings (the fits' hashes
    depend on the LLM's answers and go to record.json instead)."""
    trained = config.trained
    found = {
        "trained.use": trained.use,
        "trained.folds": trained.folds,
        "trained.C": trained.C,
        **{f"trained.distill.{k}": v for k, v in trained.distill.model_dump().items()},
    }
    if trained.use == "cascade":
        found.update({f"cascade.{k}": v for k, v in config.cascade.model_dump().items()})
    return found


def _load_trained(config: RunConfig, labels: LabelSet) -> TrainedModel | None:
    """The run's trained model (trained.use), fit before by the runner; none yet for a
    distilled one (framework.runner.distill swaps it in once fit)."""
    if config.trained.use == "off" or config.trained.distill.sample is not None:
        return None
    return load_model(config, labels.ids)  # refused if of other labels or another pool


def _litellm_capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    from framework.providers.capabilities import capability

    return capability(model, prefix)
