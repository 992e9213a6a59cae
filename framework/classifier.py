"""The engine: one item in, one validated Prediction out.

    clf = Classifier.from_config(overrides=["provider=openai", "model=gpt-4o-mini"])
    clf.classify("NASA launches a probe to Europa").labels   # ('space',)

Everything a run shares (output mode, schema, validator, prompt renderer,
request plan) is built once in __init__ from a RunConfig; `_classify` then
reads on one screen: fit the text, render, compile, call, validate, re-ask.
No Hydra globals are involved: `from_config` composes without them, and
`Classifier(run_config)` takes a config built any other way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from framework.cache import ResponseCache
from framework.compile import CompiledRequest, compile_request, make_plan
from framework.config.load import compose, load_run_config
from framework.config.schema import RunConfig
from framework.credentials import resolve_api_key
from framework.errors import ProviderError
from framework.loop import BackgroundLoop
from framework.profiles import PROFILES, ModeChoice, choose_output_mode
from framework.prompt import PromptRenderer
from framework.records import Completion, Item, Prediction, Usage
from framework.retry import call_with_retries
from framework.taxonomy import output_schema
from framework.throttle import Throttle
from framework.validate import AnswerValidator

if TYPE_CHECKING:
    from framework.client import LitellmClient
    from framework.local.models import ModelFile
    from framework.local.server import LocalServer

__all__ = ["Classifier"]


class Classifier:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        profile = PROFILES[config.provider.kind]
        self.output_mode: ModeChoice = choose_output_mode(
            config.provider, config.model, _litellm_capability
        )
        resolve_api_key(config.provider)  # a missing key is a ConfigError now, not per row
        self.schema = output_schema(config.taxonomy, config.validation)
        self._validator = AnswerValidator(config.taxonomy, config.validation, self.schema)
        plan = make_plan(
            profile=profile, model=config.model, mode=self.output_mode.mode, schema=self.schema
        )
        in_prompt = json.dumps(plan.schema) if plan.mode == "prompted" else None
        self.renderer = PromptRenderer(
            config.prompt, config.taxonomy, config.validation, schema_in_prompt=in_prompt
        )
        # Last, as it may hash a large model file: what decides answers beyond the request.
        self._model_file = _local_model_file(config)
        self.request_plan = replace(plan, identity=self._identity())
        self.cache = ResponseCache(config.cache.path, config.cache.mode)
        self.throttle = Throttle(
            config.run.concurrency,
            requests_per_minute=config.run.requests_per_minute,
            tokens_per_minute=config.run.tokens_per_minute,
        )
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

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
        return [task.result() for task in tasks]

    def first_request(self, text: str) -> CompiledRequest | None:
        """The request a text's classification starts with; None for an empty text."""
        fitted, _ = self._fit(text)
        if not fitted.strip():
            return None
        return compile_request(self.renderer.render(fitted), self.request_plan)

    async def classify_item(self, item: Item) -> Prediction:
        """Render, compile, call, validate; re-ask with the problems until accepted or out."""
        text, cut_from = self._fit(item.text)
        if not text.strip():
            return self._empty_text(item)
        messages = self.renderer.render(text)
        tally = _Tally(item.id, truncated_from=cut_from)
        for answer_number in range(self.config.validation.max_retries + 1):
            request = compile_request(messages, self.request_plan)
            tally.request_hash = tally.request_hash or request.key
            try:
                completion, calls = await self._call(request)
            except ProviderError as error:
                if error.fatal:
                    raise
                tally.calls += error.attempts
                return tally.failed(str(error))
            tally.add(completion, calls)
            verdict = self._validator.check(completion.text)
            if verdict.accepted:
                return tally.ok(verdict.labels, verdict.repairs)
            tally.issues.extend(verdict.problems)
            if verdict.fatal or answer_number == self.config.validation.max_retries:
                return tally.failed("; ".join(verdict.problems), raw=completion.text)
            messages = self.renderer.reask(messages, completion.text or "", verdict.problems)
        raise AssertionError("unreachable: the loop returns on its last answer")

    # -- the pieces ------------------------------------------------------------

    async def _call(self, request: CompiledRequest) -> tuple[Completion, int]:
        """The completion for a request, from the cache or the provider; and the calls made."""
        cached = self.cache.get(request.key)
        if cached is not None:
            return cached, 0
        client = await self._connect()
        estimate = _estimate_tokens(request, self.config.model.max_tokens)

        async def attempt() -> Completion:
            async with self.throttle.slot(estimate):
                try:
                    completion = await client.complete(request)
                except ProviderError as error:
                    if error.status == 429:
                        self.throttle.on_rate_limited(error.retry_after)
                    raise
            self.throttle.on_success(estimate, completion.usage.total_tokens)
            return completion

        completion, calls = await call_with_retries(attempt, self.config.run.retry)
        self.cache.put(request.key, completion)
        return completion, calls

    async def _connect(self) -> LitellmClient:
        if self._client is not None:
            return self._client
        async with self._start_lock:
            if self._client is None:
                from framework.client import LitellmClient

                api_bases: list[str] = []
                if self._model_file is not None:
                    api_bases = await asyncio.to_thread(self._start_local_server)
                self._client = LitellmClient(
                    self.config.provider, self.config.model, api_bases=api_bases
                )
        return self._client

    def _start_local_server(self) -> list[str]:
        from framework.local.server import LocalServer

        assert self._model_file is not None
        self._server = LocalServer(
            self._model_file, self.config.provider.local, alias=self.config.model.name
        )
        self._server.start()
        return self._server.urls

    def _fit(self, text: str) -> tuple[str, int | None]:
        """The text within the configured character and token budgets, and its length if cut."""
        prompt = self.config.prompt
        cut_from = None
        if prompt.max_text_chars is not None and len(text) > prompt.max_text_chars:
            cut_from, text = len(text), text[: prompt.max_text_chars]
        if prompt.max_text_tokens is not None:
            from framework.client import truncate_to_tokens

            fitted, tokens = truncate_to_tokens(
                self.request_plan.model, text, prompt.max_text_tokens
            )
            if tokens > prompt.max_text_tokens:
                cut_from, text = cut_from or len(text), fitted
        return text, cut_from

    def _empty_text(self, item: Item) -> Prediction:
        taxonomy = self.config.taxonomy
        if taxonomy.none_label is not None:
            return Prediction(item.id, (taxonomy.none_label,), "ok", 0, repairs=("empty text",))
        if taxonomy.allow_empty:
            return Prediction(item.id, (), "ok", 0, repairs=("empty text",))
        return Prediction(
            item.id, (), "failed", 0,
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


@dataclass
class _Tally:
    """What one item has cost so far, across calls, retries and re-asks."""

    id: str
    truncated_from: int | None = None
    request_hash: str | None = None
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    issues: list[str] = field(default_factory=list)

    cache_hits: int = 0

    def add(self, completion: Completion, calls: int) -> None:
        """Count a completion; one from the cache cost nothing this time."""
        if completion.cached:
            self.cache_hits += 1
            return
        self.calls += calls
        self.usage += completion.usage
        if self.cost is not None:
            self.cost = None if completion.cost is None else self.cost + completion.cost

    def ok(self, labels: tuple[str, ...], repairs: tuple[str, ...]) -> Prediction:
        return self._prediction(labels, "ok", repairs=repairs)

    def failed(self, reason: str, *, raw: str | None = None) -> Prediction:
        return self._prediction((), "failed", error=reason, raw=raw)

    def _prediction(
        self, labels: tuple[str, ...], status: Literal["ok", "failed"], **fields: Any
    ) -> Prediction:
        return Prediction(
            self.id, labels, status, self.calls, self.usage, self.cost,
            issues=tuple(self.issues), truncated_from=self.truncated_from,
            request_hash=self.request_hash, cache_hits=self.cache_hits, **fields,
        )  # fmt: skip


def _estimate_tokens(request: CompiledRequest, max_tokens: int) -> int:
    """A call's tokens before it is made: about 4 characters a token, plus the answer."""
    messages = request.kwargs.get("messages", [])
    return sum(len(str(m.get("content", ""))) for m in messages) // 4 + max_tokens


def _litellm_capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    from framework.client import capability

    return capability(model, prefix)


def _local_model_file(config: RunConfig) -> ModelFile | None:
    if config.provider.kind != "local" or config.model.gguf is None:
        return None
    from framework.local.models import resolve_model_file

    return resolve_model_file(config.model.gguf, name=config.model.name)
