"""What a classify run will cost, before it is made (`labelwise plan`).

Every row's first request is rendered and compiled exactly as the run would,
its prompt tokens counted with the model's tokenizer, and looked up in the
response cache. Completion tokens are estimated from an answer of the usual
size (the gold label count when the input has gold labels) and bounded by
model.max_tokens. Re-asks are not predictable and come on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from framework.engine.classifier import Classifier
from framework.providers.litellm_api import count_tokens, price
from framework.records import Usage
from framework.runner.inputs import InputRow
from framework.runner.journal import id_digest

__all__ = ["RunEstimate", "estimate_run"]


@dataclass(frozen=True)
class RunEstimate:
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

    def lines(self) -> list[str]:
        mean = self.prompt_tokens // self.calls if self.calls else 0
        return [
            f"rows                {self.rows:,}: {self.to_call:,} to send, {self.already_done:,} "
            f"already in the output, {self.cached:,} answered from the cache, "
            f"{self.no_call:,} without a call (empty or unreadable)",
            f"calls               {self.calls:,} (before retries and re-asks)",
            f"prompt tokens       {self.prompt_tokens:,} "
            f"(mean {mean:,} a call, max {self.max_prompt_tokens:,})",
            f"completion tokens   ~{self.expected_completion_tokens:,} expected, "
            f"at most {self.max_completion_tokens:,}",
            self._cost_line(),
        ]

    def _cost_line(self) -> str:
        if self.expected_cost is None or self.max_cost is None:
            return (
                "cost                unknown: no price for this model (set "
                "model.input_cost_per_mtok and model.output_cost_per_mtok)"
            )
        return (
            f"cost                ~${self.expected_cost:,.4f} expected, at most "
            f"${self.max_cost:,.4f}; re-asks come on top"
        )


def estimate_run(
    classifier: Classifier, rows: Iterable[InputRow], done: set[int] | None = None
) -> RunEstimate:
    config = classifier.config
    model = classifier.request_plan.model
    done = done or set()
    counts = dict.fromkeys(("rows", "to_call", "calls", "done", "cached", "no_call"), 0)
    prompt_tokens = max_prompt = gold_labels = gold_rows = 0
    for row in rows:
        counts["rows"] += 1
        if id_digest(row.id) in done:
            counts["done"] += 1
            continue
        requests = classifier.first_requests(row.item.text) if row.item else []
        if not requests:
            counts["no_call"] += 1
            continue
        unanswered = [r for r in requests if r.key not in classifier.cache]
        if not unanswered:
            counts["cached"] += 1
            continue
        counts["to_call"] += 1
        counts["calls"] += len(unanswered)
        for request in unanswered:
            tokens = count_tokens(model, list(request.kwargs["messages"]))
            prompt_tokens += tokens
            max_prompt = max(max_prompt, tokens)
        if row.item is not None and row.item.gold is not None:
            gold_labels, gold_rows = gold_labels + len(row.item.gold), gold_rows + 1
    typical = max(1, round(gold_labels / gold_rows)) if gold_rows else 1
    answer = [{"role": "assistant", "content": classifier.strategy.example_answer(typical)}]
    max_tokens = int(classifier.request_plan.sampling.get("max_tokens", config.model.max_tokens))
    expected = min(count_tokens(model, answer), max_tokens) * counts["calls"]
    most = max_tokens * counts["calls"]
    return RunEstimate(
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
        expected_cost=price(config.provider, config.model, model, Usage(prompt_tokens, expected)),
        max_cost=price(config.provider, config.model, model, Usage(prompt_tokens, most)),
    )
