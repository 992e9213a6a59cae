"""Asking one question until its answer is accepted: render, compile, call (from the
cache, or the provider through the throttle and retries), read, re-ask with the
problems quoted back, up to validation.max_retries.

    answer = await asker.ask(question, tally)   # an Answer, or Unanswered raised
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from framework.engine.prompt import PromptRenderer
from framework.engine.strategies import Question, Strategy
from framework.errors import ProviderError, RateLimited
from framework.labels.validate import Verdict
from framework.providers.compile import CompiledRequest, RequestPlan, compile_request
from framework.providers.transports.cache import ResponseCache
from framework.providers.transports.health import ProviderHealth
from framework.providers.transports.retry import call_with_retries
from framework.providers.transports.throttle import Throttle, read_quota
from framework.records import Completion, Message, Prediction, Usage

__all__ = ["Answer", "Asker", "Tally", "Unanswered"]


@dataclass(frozen=True)
class Answer:
    question: Question
    verdict: Verdict
    completion: Completion
    sample: int | None = None


class Unanswered(Exception):
    """No acceptable answer: out of re-asks, a policy that fails at once, or a call error.
    `kind` is the row's error_kind: the ProviderError's kind, or "invalid_answer"."""

    def __init__(self, reason: str, raw: str | None = None, kind: str = "invalid_answer") -> None:
        super().__init__(reason)
        self.reason, self.raw, self.kind = reason, raw, kind


@dataclass
class Tally:
    """What one item has cost so far, across questions, calls, retries and re-asks."""

    id: str
    truncated_from: int | None = None
    request_hash: str | None = None
    calls: int = 0
    cache_hits: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    issues: list[str] = field(default_factory=list)

    def add(self, completion: Completion, calls: int) -> None:
        """Count a completion; one from the cache cost nothing this time."""
        if completion.cached:
            self.cache_hits += 1
            return
        self.calls += calls
        self.usage += completion.usage
        if self.cost is not None:
            self.cost = None if completion.cost is None else self.cost + completion.cost

    def prediction(
        self, labels: tuple[str, ...], status: Literal["ok", "failed"], **fields: Any
    ) -> Prediction:
        return Prediction(
            self.id, labels, status, self.calls, self.usage, self.cost,
            issues=tuple(self.issues), truncated_from=self.truncated_from,
            request_hash=self.request_hash, cache_hits=self.cache_hits, **fields,
        )  # fmt: skip


Connect = Callable[[], Awaitable[Any]]


class Asker:
    def __init__(
        self,
        *,
        strategy: Strategy,
        renderer: PromptRenderer,
        plan: RequestPlan,
        cache: ResponseCache,
        throttle: Throttle,
        health: ProviderHealth,
        connect: Connect,
        max_retries: int,
        retry: Any,
        sample_temperature: float = 0.7,
        shared_prompts: bool = False,
    ) -> None:
        self.strategy, self.renderer, self.plan = strategy, renderer, plan
        self.cache, self.throttle, self._connect = cache, throttle, connect
        self.health = health
        self._max_retries, self._retry = max_retries, retry
        self._sample_temperature = sample_temperature
        # Questions about one text that share their prompt (per-label, samples) go to
        # one server, whose prompt cache then reuses it.
        self._shared_prompts = shared_prompts

    async def ask(self, question: Question, tally: Tally, sample: int | None = None) -> Answer:
        messages = self.renderer.render(question.text, topic=question.topic)
        plan = self.plan_for(sample)
        for answer_number in range(self._max_retries + 1):
            request = compile_request(messages, plan, sample=sample)
            tally.request_hash = tally.request_hash or request.key
            try:
                affinity = question.text if self._shared_prompts else None
                completion, calls = await self.call(request, affinity=affinity)
            except ProviderError as error:
                if error.fatal:
                    raise
                tally.calls += error.attempts
                raise Unanswered(str(error), kind=error.kind) from None
            tally.add(completion, calls)
            verdict = self.strategy.read(question, completion.text)
            if verdict.accepted:
                return Answer(question, verdict, completion, sample)
            tally.issues.extend(verdict.problems)
            if verdict.fatal or answer_number == self._max_retries:
                raise Unanswered(_reason(question, verdict), raw=completion.text)
            messages = self.renderer.reask(messages, completion.text or "", verdict.problems)
        raise AssertionError("unreachable: the loop returns or raises on its last answer")

    async def call(
        self, request: CompiledRequest, *, affinity: str | None = None
    ) -> tuple[Completion, int]:
        """The completion for a request, from the cache or the provider; and the calls made."""
        cached = self.cache.get(request.key)
        if cached is not None:
            return cached, 0
        client = await self._connect()
        estimate = _estimate_tokens(request, int(self.plan.sampling.get("max_tokens", 256)))

        async def attempt() -> Completion:
            self.health.check()  # a provider taken for down gets no more calls
            async with self.throttle.slot(estimate):
                try:
                    completion: Completion = await client.complete(request, affinity=affinity)
                except ProviderError as error:
                    if isinstance(error, RateLimited):
                        self.throttle.on_rate_limited(error.retry_after, read_quota(error.headers))
                    self.health.failed(error)
                    raise
            self.health.answered()
            self.throttle.on_success(estimate, completion.usage.total_tokens, completion.quota)
            return completion

        completion, calls = await call_with_retries(attempt, self._retry, self.throttle.rest)
        self.cache.put(request.key, completion)
        return completion, calls

    def plan_for(self, sample: int | None) -> RequestPlan:
        """A sampled answer (self-consistency) is drawn warm, with its own seed."""
        if sample is None:
            return self.plan
        sampling = {**self.plan.sampling, "temperature": self._sample_temperature}
        if "seed" in sampling:
            sampling["seed"] = int(sampling["seed"] or 0) + sample
        return replace(self.plan, sampling=sampling)


async def gather_answers(asks: Sequence[Awaitable[Answer]]) -> list[Answer]:
    """Every answer, or the first Unanswered once all have finished (no call left behind)."""
    results = await asyncio.gather(*asks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, Answer)]


def _reason(question: Question, verdict: Verdict) -> str:
    reason = "; ".join(verdict.problems)
    return f"asking about {question.topic!r}: {reason}" if question.topic else reason


def _estimate_tokens(request: CompiledRequest, max_tokens: int) -> int:
    """A call's tokens before it is made: about 4 characters a token, plus the answer."""
    messages: list[Message] = request.kwargs.get("messages", [])
    return sum(len(str(m.get("content", ""))) for m in messages) // 4 + max_tokens
