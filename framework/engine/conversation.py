"""Asking one question until its answer is accepted: render, compile, send, read, and
re-ask with the problems quoted back, up to validation.max_retries.

    answer = await asker.ask(question, tally)   # an Answer, or Unanswered raised

The transport below decides how the request is answered (the cache, retries, the
throttle, the provider); the Tally counts what that cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from framework.engine.prompt import PromptRenderer
from framework.engine.strategies import Question, Strategy
from framework.errors import ProviderError
from framework.inputs.images import PreparedImage
from framework.labels.validate import Verdict
from framework.providers.compile import RequestPlan, compile_request
from framework.providers.transports.base import Transport
from framework.records import Completion, Prediction, Usage

__all__ = ["Answer", "Asker", "Tally", "Unanswered", "gather_answers"]


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

    def add(self, completion: Completion) -> None:
        """Count a completion; one from the cache cost nothing this time."""
        if completion.cached:
            self.cache_hits += 1
            return
        self.calls += completion.attempts
        self.usage += completion.usage
        if self.cost is not None:
            self.cost = None if completion.cost is None else self.cost + completion.cost

    def prediction(
        self, labels: tuple[str, ...], status: Literal["ok", "failed"], **fields: Any
    ) -> Prediction:
        return Prediction(
            self.id,
            labels,
            status,
            self.calls,
            self.usage,
            self.cost,
            issues=tuple(self.issues),
            truncated_from=self.truncated_from,
            request_hash=self.request_hash,
            cache_hits=self.cache_hits,
            **fields,
        )

    def failed(self, failure: Unanswered) -> Prediction:
        return self.prediction(
            (), "failed", error=failure.reason, raw=failure.raw, error_kind=failure.kind
        )


@dataclass(frozen=True)
class Asker:
    strategy: Strategy
    renderer: PromptRenderer
    plan: RequestPlan
    transport: Transport
    max_retries: int
    sample_temperature: float = 0.7
    # Questions about one text that share their prompt (per-label, samples) go to one
    # server, whose prompt cache then reuses it.
    shared_prompts: bool = False

    async def ask(
        self,
        question: Question,
        tally: Tally,
        sample: int | None = None,
        *,
        preface: str | None = None,
        images: Sequence[PreparedImage] = (),
    ) -> Answer:
        """`preface`: what goes ahead of the prompt (the item's labeled examples); `images`
        go in the prompt as image parts."""
        messages = self.renderer.render(question.text, topic=question.topic, preface=preface)
        plan = self.plan_for(sample)
        affinity = question.text if self.shared_prompts else None
        for answer_number in range(self.max_retries + 1):
            request = compile_request(
                messages,
                plan,
                sample=sample,
                affinity=affinity,
                images=images,
                digests=[image.sha256 for image in images],
            )
            tally.request_hash = tally.request_hash or request.key
            try:
                completion = await self.transport.send(request)
            except ProviderError as error:
                if error.fatal:
                    raise
                tally.calls += error.attempts
                raise Unanswered(str(error), kind=error.kind) from None
            tally.add(completion)
            verdict = self.strategy.read(question, completion.text)
            if verdict.accepted:
                return Answer(question, verdict, completion, sample)
            tally.issues.extend(verdict.problems)
            if verdict.fatal or answer_number == self.max_retries:
                raise Unanswered(_reason(question, verdict), raw=completion.text)
            messages = self.renderer.reask(messages, completion.text or "", verdict.problems)
        raise AssertionError("unreachable: the loop returns or raises on its last answer")

    def plan_for(self, sample: int | None) -> RequestPlan:
        """A sampled answer (self-consistency) is drawn warm, with its own seed."""
        if sample is None:
            return self.plan
        sampling = {**self.plan.sampling, "temperature": self.sample_temperature}
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
