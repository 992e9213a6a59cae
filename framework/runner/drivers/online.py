"""Online runs: each row's calls made now, run.concurrency rows in flight, in this
process (OnlineDriver) or in run.workers worker processes (WorkersDriver: this process
still reads the input and writes every result, framework.runner.workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.executors import Executor, InProcess, workers_for
from framework.runner.rows import ResultSink, RowsInFlight

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["OnlineDriver", "WorkersDriver", "run_rows"]


class OnlineDriver(Driver):
    """Every row through the engine in this process."""

    name = "local"

    @classmethod
    def for_run(cls, classifier: Classifier) -> OnlineDriver:
        return cls()

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        sink.totals.record["executor"] = {"name": "local", "workers": 1}
        await run_rows(InProcess(classifier), classifier, files, sink)


class WorkersDriver(Driver):
    """run.workers: every row through the engine of one of N worker processes."""

    name = "workers"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    @classmethod
    def for_run(cls, classifier: Classifier) -> WorkersDriver | None:
        workers = workers_for(classifier)
        return cls(workers) if workers > 1 else None

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        from framework.runner.workers import WorkerPool

        sink.totals.record["executor"] = {"name": "local", "workers": self.workers}
        pool = WorkerPool(classifier.config, self.workers, classifier.carry())
        await run_rows(pool, classifier, files, sink)


async def run_rows(
    executor: Executor, classifier: Classifier, files: RunFiles, sink: ResultSink
) -> None:
    """The input's rows through an executor, run.concurrency rows in flight."""
    flight = RowsInFlight(executor, config=classifier.config, sink=sink)
    try:
        for row in files.read():
            await flight.admit(row)
        await flight.drain(None)
    finally:
        await flight.abandon()
        await executor.release()  # this loop's connections, the workers
        await classifier.release()
