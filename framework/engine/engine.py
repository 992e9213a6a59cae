"""The engine: one item in, one validated Prediction out.

    engine = build_engine(config, transport, endpoint="http://127.0.0.1:8000/v1")
    prediction = await engine.classify_item(Item("n1", "NASA's probe reaches Europa"))

`classify_item` reads on one screen: fit the text; let each component look at the item
first (framework.engine.components: its embedding, the trained model, a cascade that may
decide the row, the examples to show); ask the strategy's questions of each chunk (the
Asker renders, compiles, sends through the transport, reads and re-asks); let each
component weigh the reading; decide the labels; let each component see the row (a route
may hand it to people). `build_engine` only wires: every part is built once from the
RunConfig, and nothing in a lower layer calls back up into the engine.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from framework.config.schema import RunConfig
from framework.engine.components import Component, ItemState, Parts, build_components
from framework.engine.conversation import Answer, Asker, Tally, Unanswered, gather_answers
from framework.engine.identity import run_identity
from framework.engine.offers import Offer, Offers
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
from framework.inputs.image_reader import ImageReader
from framework.inputs.images import ImageRefused
from framework.labels.decide import LabelDecider
from framework.labels.label_set import LabelKeys, LabelSet, choose_label_keys
from framework.labels.thresholds import Thresholds, load_thresholds
from framework.providers.compile import RequestPlan, make_plan
from framework.providers.profiles import (
    ModeChoice,
    ProviderProfile,
    choose_output_mode,
    profile_for,
)
from framework.providers.transports.base import Transport
from framework.providers.vision import check_vision, image_limits
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
    components: tuple[Component, ...] = ()  # beside the LLM, in the order they are called
    images: ImageReader | None = None  # reads a row's images (columns.image)
    offers: Offers | None = None  # the labels a question offers (a row's shortlist)

    async def classify_item(self, item: Item) -> Prediction:
        """Fit the text; read the images; the components, the LLM's answers and the
        components again; decide."""
        text, cut_from = self.text_fit.fit(item.text)
        if not text.strip() and not item.images:
            empty = self._empty_text(item)
            for component in self.components:  # a route says which tier it counts under
                empty = component.empty_text(empty)
            return empty
        state = ItemState(item, Tally(item.id, truncated_from=cut_from))
        if item.images and self.images is not None:
            try:
                # In a thread: decoding and downscaling a photo takes a while, and the calls
                # of other rows go on meanwhile (Pillow lets go of the GIL as it decodes).
                state.images = await asyncio.to_thread(self.images.read, item.images)
            except ImageRefused as refused:
                return state.tally.prediction((), "failed", error=str(refused), error_kind="image")
            state.extra["images"] = [image.describe() for image in state.images]
        try:
            for component in self.components:
                decided = await component.before(state)
                if decided is not None:  # e.g. a trained model sure of the row
                    return decided
            reading = await self._ask(text, state)
        except Unanswered as failure:
            failed = state.finish(state.tally.failed(failure))
            for component in self.components:
                failed = await component.failed(state, failed)
            return failed
        for component in self.components:
            reading = component.after(state, reading)
        decided = state.finish(self._decide(state.tally, reading))
        for component in self.components:
            decided = await component.decided(state, decided)
        return decided

    async def _ask(self, text: str, state: ItemState) -> Reading:
        """The reading of every chunk of the text, combined."""
        chunks = self.text_fit.chunks(text)
        offer = self.offers.of(state.offered) if self.offers else None
        readings = [await self._read(chunk, state, offer) for chunk in chunks]
        if len(readings) == 1:
            return readings[0]
        how = self.config.chunking.aggregate
        confidence = combine_chunks([r.confidence for r in readings], how)
        notes = tuple(dict.fromkeys(note for reading in readings for note in reading.notes))
        return Reading(confidence, notes=notes, chunks=len(chunks))

    async def _read(self, text: str, state: ItemState, offer: Offer | None) -> Reading:
        """Every question about a text (and every sample of it), asked at once, of the
        labels on offer (the taxonomy's, or the row's shortlist)."""
        strategy, asker = (offer.strategy, offer.asker) if offer else (self.strategy, self.asker)
        samples: list[int | None] = list(range(self.confidence.samples)) or [None]
        asks = [
            asker.ask(question, state.tally, sample, preface=state.preface, images=state.images)
            for question in strategy.questions(text)
            for sample in samples
        ]
        answers: list[Answer] = await gather_answers(asks)
        return read_answers(strategy, answers, self.confidence)

    def _decide(self, tally: Tally, reading: Reading) -> Prediction:
        """The labels of a reading: one answer's verdict as it stands (policy applied,
        nothing to weigh), else the thresholds over its per-label confidence."""
        if reading.verdict is not None:
            verdict = reading.verdict
            return tally.prediction(verdict.labels, "ok", repairs=verdict.repairs)
        decision = self.decider.decide(reading.confidence)
        weighed = reading.method is not None  # by a component: its confidence stands
        return tally.prediction(
            decision.labels,
            "ok",
            repairs=(*decision.repairs, *reading.notes),
            confidence=reading.confidence
            if weighed
            else self.confidence.recorded(reading.confidence),
            confidence_method=reading.method or self.confidence.method,
            review=bool(decision.uncertain),
            chunks=reading.chunks,
        )

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
    check_vision(config)  # images for a model that cannot see them: refused before any call
    output_mode = choose_output_mode(config.provider, config.model, _litellm_capability)
    labels = LabelSet.build(config.taxonomy, config.validation)
    label_keys = choose_label_keys(config.prompt.label_keys, len(labels.ids), profile.max_enum)
    labels = labels.asked_by_number(label_keys.by_index)
    confidence = choose_confidence(config, profile)
    make_offer = partial(
        _make_offer,
        config=config,
        profile=profile,
        output_mode=output_mode,
        confidence=confidence,
        endpoint=endpoint,
        transport=transport,
    )
    full = make_offer(labels)
    strategy, renderer, asker, plan = full.strategy, full.renderer, full.asker, full.asker.plan
    thresholds = load_thresholds(config)
    settings = config.thresholds
    decider = LabelDecider(
        labels, thresholds.values, default=settings.default, band=settings.abstain_band
    )
    components = build_components(Parts(config, labels, decider))
    identity = run_identity(config, prompt_digest=renderer.digest, output_mode=output_mode.mode)
    for component in components:  # only when used: a run without keeps its identity
        identity.update(component.identity())
    images = _image_reader(config)
    if images is not None:  # only when used: a text-only run keeps its identity
        identity.update(images.identity())
    text_fit = TextFit(config.prompt, config.chunking, plan.model)
    parts = (labels, label_keys, output_mode, strategy, renderer, plan, confidence, thresholds)
    offers = Offers(make_offer, full)  # a row's shortlist gets its own (zero_shot.use)
    return Engine(
        config, *parts, decider, text_fit, asker, identity, (*components,), images, offers
    )


def _make_offer(
    offered: LabelSet,
    *,
    config: RunConfig,
    profile: ProviderProfile,
    output_mode: ModeChoice,
    confidence: ConfidenceMethod,
    endpoint: str,
    transport: Transport,
) -> Offer:
    """The strategy, prompt, request plan and asker for the labels on offer: the
    taxonomy's, or a row's shortlist (framework.engine.offers)."""
    strategy = STRATEGIES[config.strategy.name](offered)
    plan = _request_plan(config, profile, output_mode, strategy, confidence, endpoint)
    renderer = PromptRenderer(
        config.prompt,
        offered,
        template=config.strategy.template,
        schema_in_prompt=json.dumps(plan.schema) if plan.mode == "prompted" else None,
        answer_form=strategy.answer_form,
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
    return Offer(offered, strategy, renderer, asker)


def _image_reader(config: RunConfig) -> ImageReader | None:
    """Reads rows' images for a run with columns.image: paths relative to the input file."""
    if config.columns.image is None:
        return None
    root = Path(config.input).expanduser().parent if config.input else Path.cwd()
    return ImageReader(root.resolve(), config.images, image_limits(config.provider.kind))


def _request_plan(  # noqa: PLR0917 (one call site, the order of build_engine's parts)
    config: RunConfig,
    profile: ProviderProfile,
    output_mode: ModeChoice,
    strategy: Strategy,
    confidence: ConfidenceMethod,
    endpoint: str,
) -> RequestPlan:
    """What every request of the run shares: model, sampling, output mode and schema."""
    model = config.model
    if config.strategy.max_tokens is not None:
        model = model.model_copy(update={"max_tokens": config.strategy.max_tokens})
    logprobs = config.strategy.top_logprobs if confidence.method == "logprobs" else None
    return make_plan(
        profile=profile,
        model=model,
        mode=output_mode.mode,
        schema=strategy.schema,
        identity=endpoint,
        top_logprobs=logprobs,
    )


def _litellm_capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    from framework.providers.capabilities import capability

    return capability(model, prefix)
