"""What a classify run will cost, before it is made (`labelwise plan`).

Every row's first request is rendered and compiled exactly as the run would,
its prompt tokens counted with the model's tokenizer, and looked up in the
response cache. Completion tokens are estimated from an answer of the usual
size (the gold label count when the input has gold labels) and bounded by
model.max_tokens. Re-asks are not predictable and come on top.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from framework.classifier import Classifier
from framework.client import count_tokens, price
from framework.inputs import InputRow
from framework.records import Usage
from framework.results import id_digest
from framework.taxonomy import label_ids

__all__ = ["RunEstimate", "estimate_run"]


@dataclass(frozen=True)
class RunEstimate:
    rows: int
    to_call: int
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
        mean = self.prompt_tokens // self.to_call if self.to_call else 0

        return [
            f"rows                {self.rows:,}: {self.to_call:,} to send, {self.already_done:,} "
            f"already in the output, {self.cached:,} answered from the cache, "
            f"{self.no_call:,} without a call (empty or unreadable)",
            f"prompt tokens       {self.prompt_tokens:,} "
            f"(mean {mean:,}, max {self.max_prompt_tokens:,})",
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
    counts = {"rows": 0, "to_call": 0, "done": 0, "cached": 0, "no_call": 0}
    prompt_tokens = max_prompt = gold_labels = gold_rows = 0
    for row in rows:
        counts["rows"] += 1
        if id_digest(row.id) in done:
            counts["done"] += 1
            continue
        request = classifier.first_request(row.item.text) if row.item else None
        if request is None:
            counts["no_call"] += 1
            continue
        if request.key in classifier.cache:
            counts["cached"] += 1
            continue
        counts["to_call"] += 1
        tokens = count_tokens(model, list(request.kwargs["messages"]))
        prompt_tokens += tokens
        max_prompt = max(max_prompt, tokens)
        if row.item is not None and row.item.gold is not None:
            gold_labels, gold_rows = gold_labels + len(row.item.gold), gold_rows + 1
    typical = max(1, round(gold_labels / gold_rows)) if gold_rows else 1
    ids = label_ids(config.taxonomy)
    answer = [{"role": "assistant", "content": json.dumps({"labels": list(ids[:typical])})}]
    per_answer = min(count_tokens(model, answer), config.model.max_tokens)
    expected = per_answer * counts["to_call"]
    most = config.model.max_tokens * counts["to_call"]
    return RunEstimate(
        rows=counts["rows"],
        to_call=counts["to_call"],
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
