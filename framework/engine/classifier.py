"""The engine: one item in, one validated Prediction out.

    clf = Classifier.from_config(overrides=["provider=openai", "model=gpt-4o-mini"])
    clf.classify("NASA launches a probe to Europa").labels   # ('space',)

Everything a run shares (output mode, strategy, schema, prompt renderer,
request plan, confidence method, thresholds) is built once from a RunConfig.
`classify_item` then reads on one screen: fit the text, split it into chunks,
ask the strategy's questions of each, turn answers (or confidence) into labels.
No Hydra globals are involved: `from_config` composes without them, and
`Classifier(run_config)` takes a config built any other way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from framework.config.load import compose, load_run_config
from framework.config.schema import RunConfig
from framework.engine.conversation import Answer, Asker, Tally, Unanswered, gather_answers
from framework.engine.identity import run_identity
from framework.engine.loop import BackgroundLoop
from framework.engine.prompt import PromptRenderer
from framework.engine.readings import (
    ConfidenceMethod,
    Reading,
    choose_confidence,
    combine_chunks,
    read_answers,
)
from framework.engine.strategies import STRATEGIES
from framework.engine.text_fit import TextBudget
from framework.errors import ConfigError
from framework.labels.decide import LabelDecider
from framework.labels.taxonomy import choose_label_keys, offered_labels
from framework.labels.thresholds import load_thresholds
from framework.providers.compile import CompiledRequest, compile_request, make_plan
from framework.providers.credentials import resolve_api_key
from framework.providers.profiles import PROFILES, ModeChoice, choose_output_mode
from framework.providers.transports.cache import ResponseCache
from framework.providers.transports.health import ProviderHealth
from framework.providers.transports.throttle import Throttle
from framework.records import Item, Prediction

if TYPE_CHECKING:
    from framework.providers.litellm_api import LitellmClient
    from framework.providers.local.models import ModelFile
    from framework.providers.local.server import LocalServer

__all__ = ["Classifier"]


class Classifier:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        profile = PROFILES[config.provider.kind]
        self.output_mode: ModeChoice = choose_output_mode(
            config.provider, config.model, _litellm_capability
        )
        offered = offered_labels(config.taxonomy, config.validation)
        self.label_keys = choose_label_keys(
            config.prompt.label_keys, len(offered), profile.max_enum
        )
        self.strategy = STRATEGIES[config.strategy.name](
            config.taxonomy, config.validation, by_index=self.label_keys.by_index
        )
        self.confidence: ConfidenceMethod = choose_confidence(config, profile)
        resolve_api_key(config.provider)  # a missing key is a ConfigError now, not per row
        _check_budget_is_priced(config)
        self.schema = self.strategy.schema
        model = config.model
        if config.strategy.max_tokens is not None:
            model = model.model_copy(update={"max_tokens": config.strategy.max_tokens})
        plan = make_plan(
            profile=profile, model=model, mode=self.output_mode.mode, schema=self.schema,
            top_logprobs=(
                config.strategy.top_logprobs if self.confidence.method == "logprobs" else None
            ),
        )  # fmt: skip
        in_prompt = json.dumps(plan.schema) if plan.mode == "prompted" else None
        self.renderer = PromptRenderer(
            config.prompt, config.taxonomy, config.validation, template=config.strategy.template,
            schema_in_prompt=in_prompt, by_index=self.label_keys.by_index,
            answer_form=self.strategy.answer_form,
        )  # fmt: skip
        self.thresholds = load_thresholds(config)
        self.decider = LabelDecider(
            config.taxonomy, config.validation, self.thresholds.values,
            default=config.thresholds.default, band=config.thresholds.abstain_band,
        )  # fmt: skip
        # Last, as it may hash a large model file: what decides answers beyond the request.
        self._model_file = _local_model_file(config)
        self.request_plan = replace(plan, identity=self._identity())
        # What decides a row's labels: a resume refuses a results file made under another.
        self.identity = run_identity(
            config, prompt_digest=self.renderer.digest, output_mode=self.output_mode.mode
        )
        self.budget = TextBudget(config.prompt, config.chunking, self.request_plan.model)
        self.cache = ResponseCache(config.cache.path, config.cache.mode)
        self.throttle = Throttle(
            config.run.concurrency,
            requests_per_minute=config.run.requests_per_minute,
            tokens_per_minute=config.run.tokens_per_minute,
        )
        self.health = ProviderHealth(
            config.run.max_unreachable_calls or max(10, 2 * config.run.concurrency),
            config.provider.kind,
            diagnose=lambda: self._server.died() if self._server is not None else None,
        )
        self.asker = Asker(
            strategy=self.strategy, renderer=self.renderer, plan=self.request_plan,
            cache=self.cache, throttle=self.throttle, health=self.health, connect=self._connect,
            max_retries=config.validation.max_retries, retry=config.run.retry,
            sample_temperature=config.strategy.sample_temperature,
            shared_prompts=config.strategy.name == "per_label" or self.confidence.samples > 0,
        )  # fmt: skip
        self._client: LitellmClient | None = None
        self._server: LocalServer | None = None
        self._start_lock = asyncio.Lock()
        self._loop: BackgroundLoop | None = None

    @classmethod
    def from_config(
        cls, overrides: Sequence[str] = (), *, config_dir: str | Path | None = None
    ) -> Classifier:
        """Compose conf/ (or `config_dir`) with command-line style overrides."""
        directory = Path(config_dir).resolve() if config_dir is not None else None
        return cls(load_run_config(compose(overrides, config_dir=directory)))

    # -- the synchronous API -------------------------------------------------

    def classify(self, text: str, *, id: str = "0") -> Prediction:
        return self._portal().run(self.aclassify(text, id=id))

    def classify_many(self, texts: Iterable[str | Item]) -> list[Prediction]:
        """Predictions in input order; strings get ids "0", "1", ..."""
        return self._portal().run(self.aclassify_many(texts))

    def close(self) -> None:
        """Stop the local model server, if one was started, and the private loop."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.cache.close()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the asynchronous API ------------------------------------------------

    async def aclassify(self, text: str, *, id: str = "0") -> Prediction:
        return await self.classify_item(Item(id=id, text=text))

    async def aclassify_many(self, texts: Iterable[str | Item]) -> list[Prediction]:
        items = [t if isinstance(t, Item) else Item(str(n), t) for n, t in enumerate(texts)]
        limit = asyncio.Semaphore(self.config.run.concurrency)

        async def one(item: Item) -> Prediction:
            async with limit:
                return await self.classify_item(item)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(item)) for item in items]
        except ExceptionGroup as failed:  # a fatal error: the others were cancelled
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    async def classify_item(self, item: Item) -> Prediction:
        """Fit the text, ask the strategy's questions of each chunk, decide the labels."""
        text, cut_from = self.budget.fit(item.text)
        if not text.strip():
            return self._empty_text(item)
        tally = Tally(item.id, truncated_from=cut_from)
        chunks = self.budget.chunks(text)
        try:
            readings = [await self._ask_all(chunk, tally) for chunk in chunks]
        except Unanswered as failure:
            return tally.prediction(
                (), "failed", error=failure.reason, raw=failure.raw, error_kind=failure.kind
            )
        if len(readings) == 1 and readings[0].verdict is not None:
            verdict = readings[0].verdict  # one answer, policy applied, nothing to weigh
            return tally.prediction(verdict.labels, "ok", repairs=verdict.repairs)
        confidence = combine_chunks(
            [r.confidence for r in readings], self.config.chunking.aggregate
        )
        decision = self.decider.decide(confidence)
        notes = tuple(dict.fromkeys(note for reading in readings for note in reading.notes))
        return tally.prediction(
            decision.labels, "ok", repairs=(*decision.repairs, *notes),
            confidence=self.confidence.recorded(confidence),
            confidence_method=self.confidence.method, review=bool(decision.uncertain),
            chunks=len(chunks) if len(chunks) > 1 else None,
        )  # fmt: skip

    # -- the pieces ------------------------------------------------------------

    async def _ask_all(self, text: str, tally: Tally) -> Reading:
        """Every question about a text (and every sample of it), asked at once."""
        questions = self.strategy.questions(text)
        samples: list[int | None] = list(range(self.confidence.samples)) or [None]
        asks = [self.asker.ask(q, tally, sample) for q in questions for sample in samples]
        answers: list[Answer] = await gather_answers(asks)
        return read_answers(self.strategy, answers, self.confidence)

    def first_requests(self, text: str) -> list[CompiledRequest]:
        """The requests a text's classification starts with (one per question, chunk and
        sample; re-asks come after them); none for an empty text."""
        fitted, _ = self.budget.fit(text)
        if not fitted.strip():
            return []
        samples: list[int | None] = list(range(self.confidence.samples)) or [None]
        return [
            compile_request(
                self.renderer.render(q.text, topic=q.topic),
                self.asker.plan_for(sample),
                sample=sample,
            )
            for chunk in self.budget.chunks(fitted)
            for q in self.strategy.questions(chunk)
            for sample in samples
        ]

    def first_request(self, text: str) -> CompiledRequest | None:
        """The first of first_requests, or None for an empty text."""
        requests = self.first_requests(text)
        return requests[0] if requests else None

    async def _connect(self) -> LitellmClient:
        if self._client is not None:
            return self._client
        async with self._start_lock:
            if self._client is None:
                from framework.providers.litellm_api import LitellmClient

                api_bases: list[str] = []
                if self._model_file is not None:
                    api_bases = await asyncio.to_thread(self._start_local_server)
                self._client = LitellmClient(
                    self.config.provider, self.config.model, api_bases=api_bases
                )
        return self._client

    def _start_local_server(self) -> list[str]:
        from framework.providers.local.server import LocalServer

        assert self._model_file is not None
        settings = self.config.provider.local
        self._server = LocalServer(
            self._model_file, settings, alias=self.config.model.name,
            logprobs=settings.logprobs or self.confidence.method == "logprobs",
        )  # fmt: skip
        self._server.start()
        return self._server.urls

    def _empty_text(self, item: Item) -> Prediction:
        taxonomy = self.config.taxonomy
        if taxonomy.none_label is not None:
            return Prediction(item.id, (taxonomy.none_label,), "ok", 0, repairs=("empty text",))
        if taxonomy.allow_empty:
            return Prediction(item.id, (), "ok", 0, repairs=("empty text",))
        return Prediction(
            item.id, (), "failed", 0, error_kind="empty_text",
            error=f"the text is empty, and taxonomy {taxonomy.name} has no none_label and "
            "does not allow_empty, so no answer is right",
        )  # fmt: skip

    def _identity(self) -> str:
        if self._model_file is not None:
            return f"gguf:{self._model_file.sha256}"
        return self.config.provider.api_base or ""

    def _portal(self) -> BackgroundLoop:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop


def _check_budget_is_priced(config: RunConfig) -> None:
    """budget.max_cost needs a price; without one it would be ignored without a word."""
    if config.budget.max_cost is None:
        return
    from framework.providers.litellm_api import price
    from framework.records import Usage

    profile = PROFILES[config.provider.kind]
    litellm_model = f"{profile.litellm_prefix}/{config.model.name}"
    if price(config.provider, config.model, litellm_model, Usage(1000, 1000)) is None:
        raise ConfigError(
            f"budget.max_cost: the price of {config.model.name!r} on {config.provider.kind} is "
            "unknown, so spending cannot be counted; give it with model.input_cost_per_mtok=... "
            "and model.output_cost_per_mtok=... (USD per million tokens), or cap tokens with "
            "budget.max_tokens instead"
        )


def _litellm_capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    from framework.providers.litellm_api import capability

    return capability(model, prefix)


def _local_model_file(config: RunConfig) -> ModelFile | None:
    if config.provider.kind != "local" or config.model.gguf is None:
        return None
    from framework.providers.local.models import resolve_model_file

    return resolve_model_file(config.model.gguf, name=config.model.name)
