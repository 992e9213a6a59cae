"""The rows of a run in flight: each input row is skipped (done before, or a repeat),
recorded (unreadable), or started on the executor, exactly once; finished rows are
written to the journal as they come back.

Rows in flight are run.concurrency, not counting rows whose call waits out a back-off
(they hold no call, so others use the wire meanwhile). Once a budget is reached no
new row starts; the rows left are counted, not lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from framework.config.schema import RunConfig
from framework.inputs.rows import InputRow
from framework.records import Item, Prediction
from framework.results import ResultRow, id_digest
from framework.runner.executors import Executor, Outcome, Waiting
from framework.runner.journal import ResultsJournal
from framework.runner.progress import Progress
from framework.runner.totals import RunTotals, over_budget

__all__ = ["UNREACHABLE_KINDS", "ResultSink", "RowsInFlight", "unreadable"]


# Failed rows of these kinds may be the first signs of a provider going down: they are
# held back until some call comes back (then they are real failures and written), and
# left undone if the provider is taken for down (framework.providers.transports.health).
UNREACHABLE_KINDS = frozenset({"unreachable", "timeout", "server_error"})
# Rows waiting out a back-off hold no call; the runner starts others meanwhile, up to
# this many rows in flight for each call in flight.
_ROWS_PER_CALL = 8


def unreadable(row: InputRow) -> Prediction:
    """The failed row of an input row that cannot be an item, with the reader's reason."""
    return Prediction(row.id, (), "failed", 0, error=row.error, error_kind="unreadable")


class ResultSink:
    """Where a finished row goes, whichever executor classified it: the journal, the review
    file (rows in the abstain band, with their text), the totals and the progress display."""

    def __init__(
        self,
        journal: ResultsJournal,
        *,
        totals: RunTotals,
        progress: Progress | None,
        review: ResultsJournal | None,
    ) -> None:
        self.journal = journal
        self.totals = totals
        self.progress = progress
        self.review = review
        # Sees each row before it is written and may add to it (the distillation driver).
        self.amend: Callable[[Prediction, Item | None], Prediction] | None = None

    def write(self, prediction: Prediction, item: Item | None, note: str | None = None) -> None:
        if self.amend is not None:
            prediction = self.amend(prediction, item)
        result = ResultRow.from_prediction(
            prediction, gold=item.gold if item is not None else None
        ).to_json()
        self.journal.append(result)
        if prediction.review and self.review is not None and item is not None:
            self.review.append({**result, "text": item.text})
        self.totals.add(prediction)
        if self.progress is not None:
            self.progress.update(self.totals, note=note)


class RowsInFlight:
    """Rows in flight: each input row is skipped, recorded or started here, exactly once."""

    def __init__(
        self,
        executor: Executor,
        *,
        config: RunConfig,
        sink: ResultSink,
    ) -> None:
        self.executor = executor
        self.budget = config.budget
        self.sink = sink
        self.journal = sink.journal
        self.totals = sink.totals
        self.limit = config.run.concurrency
        self.queued: set[int] = set()
        self.pending: set[asyncio.Task[tuple[InputRow, Outcome]]] = set()
        # Finished tasks arrive here one by one: O(1) a row, where asyncio.wait
        # over every pending task would cost O(rows in flight) a row.
        self.finished: deque[asyncio.Task[tuple[InputRow, Outcome]]] = deque()
        self.wakeup = asyncio.Event()
        executor.on_rest(self.wakeup.set)
        self.held: list[tuple[InputRow, Prediction, int]] = []
        self.waiting: set[int] = set()  # rows not done yet: Waiting for a batch job

    async def admit(self, row: InputRow) -> None:
        totals, digest = self.totals, id_digest(row.id)
        if digest in self.journal.done:
            totals.resumed += 1
            return
        if digest in self.queued:
            totals.duplicates += 1
            totals.warnings.append(f"line {row.line}: id {row.id!r} repeats; skipped")
            return
        await self.drain(self.limit - 1)  # first, so the budget sees what finished
        if totals.stopped_by is None:
            totals.stopped_by = over_budget(totals, self.budget)
        if totals.stopped_by is not None:
            totals.not_started += 1
            return
        self.queued.add(digest)
        if row.item is None:
            totals.warnings.append(row.error or f"line {row.line} cannot be read")
            self.record(row, unreadable(row))
        else:
            task = asyncio.create_task(self.classify(row))
            task.add_done_callback(self._finished)
            self.pending.add(task)

    def _finished(self, task: asyncio.Task[tuple[InputRow, Outcome]]) -> None:
        self.finished.append(task)
        self.wakeup.set()

    async def classify(self, row: InputRow) -> tuple[InputRow, Outcome]:
        assert row.item is not None
        return row, await self.executor.classify(row.item)

    def record(self, row: InputRow, prediction: Outcome) -> None:
        if isinstance(prediction, Waiting):  # not done yet: counted, written later
            self.totals.waiting += 1
            self.waiting.add(id_digest(row.id))
            return
        if prediction.error_kind in UNREACHABLE_KINDS:
            self.held.append((row, prediction, self.executor.answered))
            return
        self.write(row, prediction)
        self.release_held(every=False)

    def release_held(self, *, every: bool) -> None:
        """Write the held failures that some later completion proved real (or all of them)."""
        answered = self.executor.answered
        keep = []
        for row, prediction, mark in self.held:
            if every or answered > mark:
                self.write(row, prediction)
            else:
                keep.append((row, prediction, mark))
        self.held = keep

    def write(self, row: InputRow, prediction: Prediction) -> None:
        self.sink.write(prediction, row.item, note=self.executor.note())

    async def drain(self, until: int | None) -> None:
        """Record finished rows until at most `until` rows are in flight, not counting rows
        that wait out a back-off (up to _ROWS_PER_CALL rows a call); None: until all are."""
        while True:
            while self.finished:
                task = self.finished.popleft()
                self.pending.discard(task)
                if task.cancelled():
                    continue
                failure = task.exception()
                if failure is not None:
                    raise failure  # a fatal provider error: every other row would fail too
                self.record(*task.result())
            if self._room(until):
                break
            self.wakeup.clear()
            if not self.finished:
                await self.wakeup.wait()
        if until is None:
            self.release_held(every=True)

    def _room(self, until: int | None) -> bool:
        if until is None:
            return not self.pending
        if len(self.pending) >= _ROWS_PER_CALL * self.limit:
            return False
        return len(self.pending) - self.executor.resting <= until

    async def abandon(self) -> None:
        """Cancel rows still in flight (they are not recorded, so a rerun does them)."""
        for task in self.pending:
            task.cancel()
        await asyncio.gather(*self.pending, return_exceptions=True)
        self.executor.on_rest(None)
