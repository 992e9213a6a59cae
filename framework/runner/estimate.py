"""What a classify run will cost, before it is made (`labelwise plan`).

The engine runs over every row exactly as in a run, over a transport that sends
nothing (framework.providers.transports.recording): each request it would send
is kept and its prompt tokens counted with the model's tokenizer; answers the
response cache holds are served from it, as a run would. Completion tokens are
estimated from an answer of the usual size (the gold label count when the input
has gold labels) and bounded by model.max_tokens. Re-asks are not predictable
and come on top.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from framework.config.schema import RunConfig
from framework.engine.classifier import Classifier
from framework.engine.components import decided_words
from framework.inputs.rows import InputRow
from framework.providers.compile import CompiledRequest
from framework.providers.pricing import batch_price, price
from framework.providers.profiles import PROFILES
from framework.providers.tokens import count_tokens
from framework.providers.transports.cache import ResponseCache
from framework.providers.transports.recording import RecordingTransport
from framework.records import Completion, Usage
from framework.results import id_digest
from framework.runner.image_estimate import count_images, image_note

__all__ = ["RunEstimate", "estimate_run"]


@dataclass(frozen=True)
class RunEstimate:
    model: str  # as litellm names it (its tokenizer counted the tokens)
    rows: int
    to_call: int
    calls: int
    already_done: int
    cached: int
    no_call: int
    prompt_tokens: int
    max_prompt_tokens: int
    expected_completion_tokens: int
    max_completion_tokens: int
    expected_cost: float | None
    max_cost: float | None
    # For a provider with a batch API: the same calls at its batch price.
    batch_cost: tuple[float | None, float | None, str] | None = None
    # Rows an engine component decides without a call, by the component's name.
    decided: dict[str, int] = field(default_factory=dict)
    # What a driver says of how it counted (a distillation's sample): (heading, text).
    notes: tuple[tuple[str, str], ...] = ()
    # Of prompt_tokens, those expected to be read from and written to the provider's
    # prompt cache (the prompt's shared prefix, on every call after the first), and the
    # tier the costs are at (provider.service_tier).
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    tier: str = "default"

    def scaled(self, sent: int, *, by: str, note: tuple[str, str]) -> RunEstimate:
        """The estimate when only `sent` of the rows to call are sent (the rest are
        decided by the component `by`), the calls, tokens and costs in proportion."""
        part = sent / self.to_call if self.to_call else 0.0

        def share(value: float | None) -> float | None:
            return None if value is None else value * part

        batch = self.batch_cost
        decided = {**self.decided, by: self.decided.get(by, 0) + self.to_call - sent}
        return replace(
            self,
            to_call=sent,
            calls=round(self.calls * part),
            prompt_tokens=round(self.prompt_tokens * part),
            cached_tokens=round(self.cached_tokens * part),
            cache_write_tokens=round(self.cache_write_tokens * part),
            expected_completion_tokens=round(self.expected_completion_tokens * part),
            max_completion_tokens=round(self.max_completion_tokens * part),
            expected_cost=share(self.expected_cost),
            max_cost=share(self.max_cost),
            batch_cost=None if batch is None else (share(batch[0]), share(batch[1]), batch[2]),
            decided=decided,
            notes=(*self.notes, note),
        )

    def lines(self) -> list[str]:
        mean = self.prompt_tokens // self.calls if self.calls else 0
        words = decided_words()
        decided = "".join(
            f", {rows:,} {words.get(name, f'decided by {name}')}"
            for name, rows in self.decided.items()
            if rows
        )
        return [
            f"rows                {self.rows:,}: {self.to_call:,} to send, {self.already_done:,} "
            f"already in the output, {self.cached:,} answered from the cache, "
            f"{self.no_call:,} without a call (empty or unreadable){decided}",
            f"calls               {self.calls:,} (before retries and re-asks)",
            f"prompt tokens       {self.prompt_tokens:,} "
            f"(mean {mean:,} a call, max {self.max_prompt_tokens:,})",
            f"completion tokens   ~{self.expected_completion_tokens:,} expected, "
            f"at most {self.max_completion_tokens:,}",
            *self._cache_line(),
            self.cost_line(),
            *self._batch_line(),
            *(f"{heading:<20}{text}" for heading, text in self.notes),
        ]

    def _batch_line(self) -> list[str]:
        if self.batch_cost is None:
            return []
        expected, most, source = self.batch_cost
        if expected is None or most is None:
            return ["batch cost          unknown (run.mode=batch): no price for this model"]
        return [
            f"batch cost          ~${expected:,.4f} expected, at most ${most:,.4f} with "
            f"run.mode=batch ({source}; answered within 24 h)"
        ]

    def _cache_line(self) -> list[str]:
        if not (self.cached_tokens or self.cache_write_tokens):
            return []
        return [
            f"prompt cache        ~{self.cached_tokens:,} prompt tokens read from the "
            f"provider's cache, ~{self.cache_write_tokens:,} written (the prompt's shared "
            "prefix, on every call after the first)"
        ]

    def cost_line(self) -> str:
        if self.expected_cost is None or self.max_cost is None:
            return (
                "cost                unknown: no price for this model (set "
                "model.input_cost_per_mtok and model.output_cost_per_mtok)"
            )
        tier = "" if self.tier == "default" else f" at the {self.tier} tier's price"
        return (
            f"cost                ~${self.expected_cost:,.4f} expected, at most "
            f"${self.max_cost:,.4f}{tier}; re-asks come on top"
        )


class _PlanTransport(RecordingTransport):
    """The bottom of a planning engine: an answer the cache holds is served from it (as a
    run would); every other request is recorded and accepted with a usual answer."""

    def __init__(self, cache: ResponseCache, answer: str) -> None:
        super().__init__(lambda _: Completion(answer, Usage(), 0.0))
        self.cache = cache
        self.cached = 0

    async def send(self, request: CompiledRequest) -> Completion:
        found = self.cache.get(request.key)
        if found is not None:
            self.cached += 1
            return found
        if _asks_again(request):  # re-asks are not predictable: only first asks count
            return self.answer(request)
        return await super().send(request)


def _asks_again(request: CompiledRequest) -> bool:
    """A re-ask carries the rejected answer (the usual answer may not fit a row whose
    labels were shortlisted, which a run's model would not give)."""
    return any(message.get("role") == "assistant" for message in request.kwargs["messages"])


def estimate_run(
    classifier: Classifier, rows: Iterable[InputRow], done: set[int] | None = None
) -> RunEstimate:
    """Run the engine over every row with a transport that sends nothing: the requests
    counted are the ones the run would send first, row by row (re-asks are not
    predictable). How the run's driver sends them (batch prices, a distillation's
    sample, a route's calibration phase) is its own count on top:
    choose_driver(classifier).estimate(estimate, classifier), as `labelwise plan` does."""
    return asyncio.run(_estimate(classifier, rows, done or set()))


async def _estimate(
    classifier: Classifier, rows: Iterable[InputRow], done: set[int]
) -> RunEstimate:
    config = classifier.config
    answer_like = classifier.example_answer(1)
    transport = _PlanTransport(classifier.cache, answer_like)
    planner = classifier.engine_over(transport)
    model = planner.plan.model
    counts = dict.fromkeys(("rows", "to_call", "calls", "done", "cached", "no_call"), 0)
    decided: dict[str, int] = {}
    prompt_tokens = max_prompt = gold_labels = gold_rows = images = 0
    for row in rows:
        counts["rows"] += 1
        if id_digest(row.id) in done:
            counts["done"] += 1
            continue
        transport.requests.clear()
        transport.cached = 0
        prediction = None if row.item is None else await planner.classify_item(row.item)
        if not transport.requests:
            if prediction is not None and prediction.decided_by is not None:
                decided[prediction.decided_by] = decided.get(prediction.decided_by, 0) + 1
            else:
                counts["cached" if transport.cached else "no_call"] += 1
            continue
        counts["to_call"] += 1
        counts["calls"] += len(transport.requests)
        images += count_images(transport.requests)
        for request in transport.requests:
            tokens = count_tokens(model, list(request.kwargs["messages"]))
            prompt_tokens += tokens
            max_prompt = max(max_prompt, tokens)
        if row.item is not None and row.item.gold is not None:
            gold_labels, gold_rows = gold_labels + len(row.item.gold), gold_rows + 1
    typical = max(1, round(gold_labels / gold_rows)) if gold_rows else 1
    answer = [{"role": "assistant", "content": classifier.example_answer(typical)}]
    max_tokens = int(planner.plan.sampling.get("max_tokens", config.model.max_tokens))
    expected = min(count_tokens(model, answer), max_tokens) * counts["calls"]
    most = max_tokens * counts["calls"]
    cached, written = _cache_estimate(classifier, model, counts["calls"])
    usage = Usage(prompt_tokens, expected, cached, written)
    estimate = RunEstimate(
        model=model,
        rows=counts["rows"],
        to_call=counts["to_call"],
        calls=counts["calls"],
        already_done=counts["done"],
        cached=counts["cached"],
        no_call=counts["no_call"],
        prompt_tokens=prompt_tokens,
        max_prompt_tokens=max_prompt,
        expected_completion_tokens=expected,
        max_completion_tokens=most,
        expected_cost=price(config.provider, config.model, model, usage),
        max_cost=price(config.provider, config.model, model, Usage(prompt_tokens, most)),
        batch_cost=_batch_cost(config, model, Usage(prompt_tokens, expected), most),
        decided=decided,
        cached_tokens=cached,
        cache_write_tokens=written,
        tier=config.provider.service_tier,
        notes=tuple(note for note in (image_note(config, model, images),) if note),
    )
    return estimate


# The shortest prefix the providers cache (OpenAI, Anthropic's Sonnet and Opus, Gemini
# Flash: 1,024 tokens; some models want more, which this estimate does not know).
CACHE_MIN_TOKENS = 1024


def _cache_estimate(classifier: Classifier, model: str, calls: int) -> tuple[int, int]:
    """Prompt tokens expected to be read from and written to the provider's prompt cache:
    the prompt's shared prefix (system message, instructions, taxonomy) on every call
    after the first, where the provider caches (Anthropic: only with prompt_caching=on,
    whose first call writes it)."""
    provider = classifier.config.provider
    style = PROFILES[provider.kind].prompt_cache
    if style is None or calls < 2 or (style == "breakpoint" and provider.prompt_caching != "on"):
        return 0, 0
    renderer = classifier.engine.renderer
    prefix = renderer.shared_prefix()
    if prefix is None:
        return 0, 0
    system = classifier.config.prompt.system
    shared = [{"role": "system", "content": system}] if system else []
    tokens = count_tokens(model, [*shared, {"role": "user", "content": prefix}])
    if tokens < CACHE_MIN_TOKENS:
        return 0, 0
    written = tokens if style == "breakpoint" else 0
    return tokens * (calls - 1), written


def _batch_cost(
    config: RunConfig, model: str, usage: Usage, most: int
) -> tuple[float | None, float | None, str] | None:
    """The same calls in provider batch jobs, where the provider has a batch API."""
    if PROFILES[config.provider.kind].batch_api is None:
        return None
    expected, source = batch_price(config.provider, config.model, model, usage)
    ceiling, _ = batch_price(config.provider, config.model, model, Usage(usage.prompt_tokens, most))
    return expected, ceiling, source
