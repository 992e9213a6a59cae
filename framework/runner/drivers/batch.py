"""run.mode=batch: a file's rows through provider batch jobs, in rounds.

    collect   the runner goes over the input as online; every request the cache cannot
              answer is written to a batch file (framework.providers.transports.batch)
              and its row waits (left out of the results, not lost)
    submit    each file is uploaded and a job created, each step recorded as it succeeds
              (framework.providers.batch.jobs), after looking at the provider for what
              a killed run had made already: nothing is ever submitted twice
    wait      the jobs are polled, the first look after batch.poll_interval, doubling up
              to batch.max_poll_interval; finished jobs' answers and errors are stored
    answer    the runner goes over the input again: the waiting rows' requests are
              answered from the jobs, validated as online, written to the results;
              re-asks go online (batch.reask=online) or into the next round's job

A run killed in any phase is resumed by the same command: the results journal skips
what is done, the batch record adopts the jobs in flight. batch.wait stops waiting
and leaves jobs running; the same command later collects them. The jobs a run
touched are also written to batch_jobs.json beside its results
(`labelwise batch status RUN_DIR`).

Each row is classified inside its bill (framework.providers.batch.payers): the job
answers it pays for are counted by the pass that writes it, once, in this run's record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from framework.config.schema import BatchSettings
from framework.engine.classifier import Classifier
from framework.errors import ConfigError, Deferred
from framework.records import Item
from framework.results import id_digest
from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.executors import InProcess, Outcome, Waiting
from framework.runner.rows import ResultSink, RowsInFlight
from framework.runner.totals import Note, RunTotals

if TYPE_CHECKING:  # imported by a batch run, not by every run that reads the table
    from framework.providers.batch.jobs import BatchJob, JobStore
    from framework.providers.batch.manifest import Manifest
    from framework.providers.batch.payers import Payers
    from framework.providers.transports.batch import BatchLayer

__all__ = ["BatchDriver"]

log = logging.getLogger("labelwise")

MAX_ROUNDS = 10  # collect, then at most this many follow-up rounds (re-asks in batch)


class BatchDriver(Driver):
    """run.mode=batch: the rows through provider batch jobs, in rounds (read again each)."""

    name = "batch"

    @classmethod
    def for_run(cls, classifier: Classifier) -> BatchDriver | None:
        return cls() if classifier.config.run.mode == "batch" else None

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        from framework.providers.batch.manifest import Manifest, manifest_path

        layer = classifier.batch
        if layer is None:
            raise ConfigError("run.mode=batch: the run's transport has no batch layer")
        settings, totals = classifier.config.batch, sink.totals
        path = manifest_path(sink.journal.path)
        manifest = Manifest(path, layer.store, layer.endpoint, classifier.config)
        deadline = None if settings.wait is None else time.monotonic() + settings.wait
        executor = BilledRows(classifier, layer.payers)
        waiting: set[int] | None = None  # the rows the next pass is for (None: every row)
        try:
            for number in range(MAX_ROUNDS + 1):
                layer.start_round(collect=number == 0 or settings.reask == "batch")
                executor.resend = 0
                waiting = await _one_round(executor, classifier, files, sink, layer, only=waiting)
                totals.resend = executor.resend
                made = layer.end_round()
                manifest.add(made)
                if made:
                    size = sum(job.requests for job in made)
                    log.info("batch: %d requests in %d new job files", size, len(made))
                running = layer.store.jobs(endpoint=layer.endpoint, active=True)
                if not waiting or not running:
                    break
                if not await wait_for_jobs(layer, running, settings, manifest, deadline):
                    break
                # What the jobs cost is now known and comes in with their rows.
                layer.committed_cost, layer.committed_tokens = 0.0, 0
        finally:
            layer.finish()
        totals.committed_cost, totals.committed_tokens = 0.0, 0
        manifest.write()

    def notes(self, totals: RunTotals, output: Path) -> list[Note]:
        """The rows not in the results yet: waiting for jobs, or to be sent again."""
        found: list[Note] = []
        waiting = totals.waiting - totals.resend
        if waiting > 0:
            found.append(
                (
                    logging.WARNING,
                    f"{waiting} rows wait for provider batch jobs (not in {output} yet): run "
                    "the same command again to collect them; labelwise batch status "
                    f"{output.parent} shows the jobs",
                )
            )
        if totals.resend:
            found.append(
                (
                    logging.WARNING,
                    f"{totals.resend} rows were not answered by their batch job (it expired "
                    f"or was cancelled; not in {output} yet): the next run of the same "
                    "command sends them in a new job",
                )
            )
        return found


class BilledRows(InProcess):
    """The engine in this process, each row inside its bill: the job answers a written
    row paid for are counted; a row that waits (Deferred by the batch layer: its outcome
    is Waiting) lets go of them for the pass that writes it. `resend` counts the rows
    that wait because their job ended without them."""

    def __init__(self, classifier: Classifier, payers: Payers) -> None:
        super().__init__(classifier)
        self.payers = payers
        self.resend = 0

    async def classify(self, item: Item) -> Outcome:
        written = False
        with self.payers.row() as bill:
            try:
                outcome: Outcome = await self.classifier.classify_item(item)
                written = True
            except Deferred as waits:
                outcome = Waiting(item.id, str(waits))
            finally:
                self.payers.row_done(bill, written=written)
        if not written and bill.resend and not bill.waits:
            self.resend += 1
        return outcome


async def _one_round(
    executor: InProcess,
    classifier: Classifier,
    files: RunFiles,
    sink: ResultSink,
    layer: BatchLayer,
    *,
    only: set[int] | None,
) -> set[int]:
    """One pass over the input (or over the rows in `only`, the ones waiting for jobs); the
    rows still waiting after it. A repeated id is counted and warned about once, in the
    first pass; rows left by a budget are not started, as online, and wait for no job."""
    totals = sink.totals
    before = (totals.duplicates, len(totals.warnings), totals.stopped_by)
    totals.waiting = 0
    if only is not None:
        # The rows a budget left in the first pass stay left; the ones waiting were let in
        # under it, and their answers, paid for, are written unless re-asks spend it.
        totals.stopped_by = None
    flight = RowsInFlight(executor, config=classifier.config, sink=sink)
    try:
        for row in files.read():
            if only is not None and id_digest(row.id) not in only:
                continue
            totals.committed_cost = layer.committed_cost
            totals.committed_tokens = layer.committed_tokens
            await flight.admit(row)
        await flight.drain(None)
    finally:
        await flight.abandon()
    if only is not None:
        totals.duplicates = before[0]
        del totals.warnings[before[1] :]
        totals.stopped_by = totals.stopped_by or before[2]
    return flight.waiting


async def wait_for_jobs(
    layer: BatchLayer,
    jobs: list[BatchJob],
    settings: BatchSettings,
    manifest: Manifest,
    deadline: float | None,
) -> bool:
    """Take every job to its end and store its answers; False when batch.wait ran out
    first (the jobs keep running at the provider)."""
    from framework.providers.batch.steps import drive_job

    pending, retry = list(jobs), layer.retry
    interval = settings.poll_interval
    while pending:
        still = []
        for job in pending:
            now = await drive_job(layer.api, layer.store, job, manifest.write, retry)
            if now.state == "read":
                layer.left.update(_unanswered(layer.store, now))
            else:
                still.append(now)
        pending = still
        if not pending:
            return True
        if deadline is not None and time.monotonic() + interval > deadline:
            names = ", ".join(f"{j.name} ({j.status})" for j in pending)
            log.warning(
                "batch.wait (%gs) is over; jobs still running: %s. Run the same command "
                "later to collect their answers (labelwise batch status shows them)",
                settings.wait,
                names,
            )
            return False
        await asyncio.sleep(interval)
        interval = min(interval * 2, settings.max_poll_interval)
    return True


def _unanswered(store: JobStore, job: BatchJob) -> set[str]:
    return {
        key
        for key in store.keys(job.name)
        if (found := store.outcome(key)) is not None and found.kind == "unanswered"
    }
