"""The service's driver: a request's rows through the run's engine, bounded and on time.

    service = RowService(classifier, max_in_flight=512)
    answer = await service.classify(items, deadline_ms=30_000)   # or raises Refused

It runs rows on the same executor a file run uses (framework.runner.executors), over the
same Classifier: engine, response cache, throttle (run.concurrency, rate limits), budget
ledger and local model are those of a `labelwise classify` of the same config.

- Admission: at most `max_in_flight` rows at once; a request that would pass it is
  Refused(429) with a Retry-After, never queued.
- Deadline: rows not done by it are cancelled and answered as failed rows (error_kind
  "deadline"); when no row of the request finished, Refused(504).
- Provider outage: a provider taken for down (framework.providers.transports.health), or
  a request whose rows all failed to reach it, is Refused(503) with the reason; after
  `outage_pause` seconds one request is let through to try it again.
- Budget (budget.max_cost, budget.max_tokens, counted over the service's life): once
  reached, Refused(503) until restarted with a larger one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.errors import ProviderDown, ProviderError
from framework.labels.taxonomy import short_hash
from framework.records import Item, Prediction
from framework.results import ResultRow
from framework.runner.executors import InProcess
from framework.runner.rows import UNREACHABLE_KINDS
from framework.runner.totals import over_budget
from framework.serve.protocol import BadRequest
from framework.serve.stats import ServiceStats

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["Answer", "Refused", "RowService"]


class Refused(BadRequest):
    """A request the service cannot answer now (429, 503, 504); `retry_after` in seconds."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None) -> None:
        super().__init__(status, reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    rows: list[dict[str, Any]]


class RowService:
    def __init__(
        self,
        classifier: Classifier,
        *,
        max_in_flight: int,
        retry_after: float = 1.0,
        outage_pause: float = 5.0,
    ) -> None:
        self.classifier = classifier
        self.executor = InProcess(classifier)
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.outage_pause = outage_pause
        self.stats = ServiceStats()
        taxonomy = classifier.config.taxonomy
        self.stamp = {
            "taxonomy": f"{taxonomy.name}@{taxonomy.version}",
            "taxonomy_hash": short_hash(taxonomy),
        }
        self._down_until = 0.0
        self._down_reason = ""

    def labels(self) -> tuple[str, ...]:
        """The taxonomy's label ids, as the rows name them."""
        return self.classifier.engine.labels.ids

    async def classify(self, items: Sequence[Item], *, deadline_ms: int) -> Answer:
        self._admit(len(items))
        self.stats.in_flight += len(items)
        try:
            predictions = await self._run(items, deadline_ms / 1000)
        finally:
            self.stats.in_flight -= len(items)
        if all(p is None for p in predictions):
            raise Refused(504, f"no row finished within the deadline of {deadline_ms} ms")
        done = [p for p in predictions if p is not None]
        if all(p.error_kind in UNREACHABLE_KINDS for p in done):
            raise Refused(503, f"the provider is not answering: {done[0].error}", self.retry_after)
        rows = [self._row(item, p, deadline_ms) for item, p in zip(items, predictions, strict=True)]
        return Answer(rows)

    def _admit(self, rows: int) -> None:
        stats = self.stats
        if time.monotonic() < self._down_until:
            pause = self._down_until - time.monotonic()
            raise Refused(503, self._down_reason, retry_after=max(1.0, pause))
        if self._down_reason:  # the pause is over: try the provider again
            self._down_reason = ""
            self.classifier.health.reset()
        spent = over_budget(stats.totals, self.classifier.config.budget)
        if spent is not None:
            raise Refused(503, f"{spent}; restart the service with a larger budget")
        if stats.in_flight + rows > self.max_in_flight:
            raise Refused(
                429,
                f"{stats.in_flight} rows in flight, at most {self.max_in_flight}; retry after "
                f"{self.retry_after:g} s",
                self.retry_after,
            )

    async def _run(self, items: Sequence[Item], timeout: float) -> list[Prediction | None]:
        """Each item's prediction, or None for one cancelled at the deadline."""
        tasks = [asyncio.ensure_future(self.executor.classify(item)) for item in items]
        try:
            _, late = await asyncio.wait(tasks, timeout=timeout)
        finally:  # the deadline, or the client gone (the handler is cancelled)
            for task in tasks:
                task.cancel()
        if late:
            await asyncio.wait(late)
            self.stats.deadline_misses += len(late)
        found: list[Prediction | None] = []
        for task in tasks:
            if task in late or task.cancelled():
                found.append(None)
                continue
            failure = task.exception()
            if isinstance(failure, ProviderDown):
                self._taken_down(failure)
            if isinstance(failure, ProviderError):
                raise Refused(503, _first_sentences(str(failure)), self.retry_after)
            if failure is not None:
                raise failure
            prediction = task.result()
            assert isinstance(prediction, Prediction)  # InProcess never waits for a batch
            self.stats.totals.add(prediction)
            found.append(prediction)
        return found

    def _taken_down(self, failure: ProviderDown) -> None:
        if time.monotonic() >= self._down_until:
            self._down_until = time.monotonic() + self.outage_pause
            self._down_reason = _first_sentences(str(failure)) + (
                f"; the service tries it again in {self.outage_pause:g} s"
            )
        raise Refused(503, self._down_reason, self.outage_pause)

    def _row(self, item: Item, prediction: Prediction | None, deadline_ms: int) -> dict[str, Any]:
        if prediction is None:
            prediction = Prediction(
                item.id,
                (),
                "failed",
                0,
                error_kind="deadline",
                error=f"not finished within the deadline of {deadline_ms} ms; send it again "
                "(answers already made come from the cache) or with a longer deadline_ms",
            )
        return ResultRow.from_prediction(prediction).to_json() | self.stamp


def _first_sentences(text: str) -> str:
    """A provider error without a file run's advice ("The run stopped; ... rerun")."""
    return text.split(". The run stopped", maxsplit=1)[0]
