"""Classifying a file: stream rows in, keep `run.concurrency` rows in flight,
append each result as it completes, resume where a previous run stopped.

Every input id ends up in the results exactly once: ids already in the
results are skipped, a repeated id in the input is skipped with a warning, a
row that cannot be read is recorded as failed with its reason. Once a budget
is reached no new row is started; the rows left are counted, not lost: the
same command with a larger budget continues with them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from framework.config.schema import BudgetSettings
from framework.engine.classifier import Classifier
from framework.errors import InputError
from framework.labels.taxonomy import short_hash
from framework.records import Prediction, Usage
from framework.results import ResultRow, id_digest
from framework.runner.inputs import InputRow, read_rows
from framework.runner.journal import ResultsJournal, Resumed, export_results, journal_path
from framework.runner.progress import Progress
from framework.runner.sampling import sample_rows

__all__ = ["RunTotals", "classify_file", "classify_rows"]


@dataclass
class RunTotals:
    """The ledger of a run: rows, calls (retries and re-asks included), tokens, cost."""

    ok: int = 0
    failed: int = 0
    resumed: int = 0
    retried: int = 0  # rows that had failed before, classified again (run.retry_failed)
    duplicates: int = 0
    not_started: int = 0
    calls: int = 0
    cache_hits: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    elapsed: float = 0.0
    stopped_by: str | None = None
    resumed_from: Resumed | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def add(self, prediction: Prediction) -> None:
        if prediction.ok:
            self.ok += 1
        else:
            self.failed += 1
        self.calls += prediction.attempts
        self.cache_hits += prediction.cache_hits
        self.usage += prediction.usage
        if self.cost is not None and prediction.attempts:
            self.cost = None if prediction.cost is None else self.cost + prediction.cost


def over_budget(totals: RunTotals, budget: BudgetSettings) -> str | None:
    """Why no new row may start, or None."""
    if budget.max_cost is not None and totals.cost is not None and totals.cost >= budget.max_cost:
        return f"budget.max_cost (${budget.max_cost:g}) reached: ${totals.cost:.4f} spent"
    if budget.max_tokens is not None and totals.usage.total_tokens >= budget.max_tokens:
        return f"budget.max_tokens ({budget.max_tokens:,}) reached"
    return None


async def classify_file(
    classifier: Classifier,
    input_path: str | Path,
    output_path: str | Path,
    *,
    progress: Progress | None = None,
    review: str | Path | None = None,
) -> RunTotals:
    """Classify every row of an input file into a JSONL, CSV or Parquet output; rows
    marked for review (thresholds.abstain_band) are also written, with their text,
    to `review`."""
    output = Path(output_path)
    journal = journal_path(output)
    refuse_overwriting_input(Path(input_path), output, journal)
    rows: Iterable[InputRow] = read_rows(input_path, classifier.config.columns)
    sample = classifier.config.sample
    if sample.size is not None:
        rows = sample_rows(rows, sample.size, sample.seed)
    totals = await classify_rows(
        classifier, rows, journal, progress=progress, review=review, exports=(output,)
    )
    export_results(journal, output)
    return totals


def refuse_overwriting_input(source: Path, *outputs: Path) -> None:
    """InputError when an output (or its journal) is the input file, by any path or link."""
    for output in outputs:
        if _same_file(source, output):
            raise InputError(
                f"output={output} is the input file ({source}); writing results there would "
                "destroy the input: choose another output="
            )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


async def classify_rows(
    classifier: Classifier,
    rows: Iterable[InputRow],
    journal_file: Path,
    *,
    progress: Progress | None = None,
    review: str | Path | None = None,
    exports: tuple[Path, ...] = (),
) -> RunTotals:
    """Classify rows into a JSONL journal, resuming from the ids it already holds."""
    started = time.perf_counter()
    config = classifier.config
    taxonomy = config.taxonomy
    stamp = (f"{taxonomy.name}@{taxonomy.version}", short_hash(taxonomy))
    reviews = ResultsJournal(review, taxonomy=stamp) if review else nullcontext(None)
    journal = ResultsJournal(
        journal_file,
        taxonomy=stamp,
        retry_failed=config.run.retry_failed,
        identity=classifier.identity,
        resume=config.run.resume,
        also_move=exports,
    )
    with journal, reviews as for_review:
        batch = _Batch(classifier, journal, progress, for_review)
        batch.totals.retried = journal.dropped_failed
        batch.totals.resumed_from = journal.resumed
        try:
            for row in rows:
                await batch.admit(row)
            await batch.drain(None)
        finally:
            await batch.abandon()
            await classifier.release()  # this loop's connections; the classifier lives on
            batch.totals.elapsed = time.perf_counter() - started
            if progress is not None:
                progress.close(batch.totals)
    return batch.totals


# Failed rows of these kinds may be the first signs of a provider going down: they are
# held back until some call comes back (then they are real failures and written), and
# left undone if the provider is taken for down (framework.providers.transports.health).
_UNREACHABLE_KINDS = frozenset({"unreachable", "timeout", "server_error"})
# Rows waiting out a back-off hold no call; the runner starts others meanwhile, up to
# this many rows in flight for each call in flight.
_ROWS_PER_CALL = 8


class _Batch:
    """Rows in flight: each input row is skipped, recorded or started here, exactly once."""

    def __init__(
        self,
        classifier: Classifier,
        journal: ResultsJournal,
        progress: Progress | None,
        review: ResultsJournal | None,
    ) -> None:
        self.classifier = classifier
        self.journal = journal
        self.progress = progress
        self.review = review
        self.totals = RunTotals()
        self.limit = classifier.config.run.concurrency
        self.throttle = classifier.throttle
        self.health = classifier.health
        self.queued: set[int] = set()
        self.pending: set[asyncio.Task[tuple[InputRow, Prediction]]] = set()
        # Finished tasks arrive here one by one: O(1) a row, where asyncio.wait
        # over every pending task would cost O(rows in flight) a row.
        self.finished: deque[asyncio.Task[tuple[InputRow, Prediction]]] = deque()
        self.wakeup = asyncio.Event()
        self.throttle.on_rest = self.wakeup.set
        self.held: list[tuple[InputRow, Prediction, int]] = []

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
            totals.stopped_by = over_budget(totals, self.classifier.config.budget)
        if totals.stopped_by is not None:
            totals.not_started += 1
            return
        self.queued.add(digest)
        if row.item is None:
            totals.warnings.append(row.error or f"line {row.line} cannot be read")
            failed = Prediction(row.id, (), "failed", 0, error=row.error, error_kind="unreadable")
            self.record(row, failed)
        else:
            task = asyncio.create_task(self.classify(row))
            task.add_done_callback(self._finished)
            self.pending.add(task)

    def _finished(self, task: asyncio.Task[tuple[InputRow, Prediction]]) -> None:
        self.finished.append(task)
        self.wakeup.set()

    async def classify(self, row: InputRow) -> tuple[InputRow, Prediction]:
        assert row.item is not None
        return row, await self.classifier.classify_item(row.item)

    def record(self, row: InputRow, prediction: Prediction) -> None:
        if prediction.error_kind in _UNREACHABLE_KINDS:
            self.held.append((row, prediction, self.health.completions))
            return
        self.write(row, prediction)
        self.release_held(every=False)

    def release_held(self, *, every: bool) -> None:
        """Write the held failures that some later completion proved real (or all of them)."""
        answered = self.health.completions
        keep = []
        for row, prediction, mark in self.held:
            if every or answered > mark:
                self.write(row, prediction)
            else:
                keep.append((row, prediction, mark))
        self.held = keep

    def write(self, row: InputRow, prediction: Prediction) -> None:
        gold = row.item.gold if row.item is not None else None
        result = ResultRow.from_prediction(prediction, gold=gold).to_json()
        self.journal.append(result)
        if prediction.review and self.review is not None and row.item is not None:
            self.review.append({**result, "text": row.item.text})
        self.totals.add(prediction)
        if self.progress is not None:
            self.progress.update(self.totals, note=self.throttle.describe())

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
        return len(self.pending) - self.throttle.resting <= until

    async def abandon(self) -> None:
        """Cancel rows still in flight (they are not recorded, so a rerun does them)."""
        for task in self.pending:
            task.cancel()
        await asyncio.gather(*self.pending, return_exceptions=True)
        self.throttle.on_rest = None
