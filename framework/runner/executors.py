"""Where the engine runs for a file's rows: this process, or worker processes.

    executor = executor_for(classifier, workers_for(classifier))   # run.workers
    prediction = await executor.classify(item)

The runner (framework.runner.rows) feeds an executor rows and writes what comes
back; it reads from the executor only what pacing needs: how many calls came back
so far (`answered`, which tells a failure of a provider going down from a real
one), how many calls wait out a back-off (`resting`), and why calls are slower
than they could be (`note`). A new executor implements these five members.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from framework.config.run_settings import usable_cores
from framework.records import Item, Prediction

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["Executor", "InProcess", "Outcome", "Waiting", "executor_for", "workers_for"]

log = logging.getLogger("labelwise")


@dataclass(frozen=True)
class Waiting:
    """The outcome of a row that is not done yet: its requests wait for a provider batch
    job (framework.runner.drivers.batch). It is counted, not written; a later pass or
    run writes it once its answers are in."""

    id: str
    why: str = ""


Outcome = Prediction | Waiting  # what an executor gives back for one row


class Executor(Protocol):
    async def classify(self, item: Item) -> Outcome: ...

    @property
    def answered(self) -> int: ...

    @property
    def resting(self) -> int: ...

    def note(self) -> str | None: ...

    def on_rest(self, wake: Callable[[], None] | None) -> None: ...

    async def release(self) -> None: ...


class InProcess:
    """The engine of the classifier given, in this process and event loop."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    async def classify(self, item: Item) -> Outcome:
        return await self.classifier.classify_item(item)

    @property
    def answered(self) -> int:
        return self.classifier.health.completions

    @property
    def resting(self) -> int:
        return self.classifier.throttle.resting

    def note(self) -> str | None:
        return self.classifier.throttle.describe()

    def on_rest(self, wake: Callable[[], None] | None) -> None:
        self.classifier.throttle.on_rest = wake

    async def release(self) -> None:
        await self.classifier.release()


def workers_for(classifier: Classifier) -> int:
    """run.workers, or for auto the number measured to help: none past this process on
    2 cores (benchmarks/throughput.py: a second worker there only competes for the cores
    with the first), none for the embedded model (its servers use every core already)
    or a route whose llm tier is certified in the run (framework.runner.drivers.route),
    one per two further cores up to 8 elsewhere. Never more than run.concurrency: a
    worker keeps at least one call in flight, and one more would have none to make (the
    config refuses more than most_workers(); the pool starts no more than the rows use)."""
    run = classifier.config.run
    setting = run.workers
    if setting != "auto":
        if int(setting) > run.concurrency:
            log.warning(
                "run.workers=%s with run.concurrency=%s: %s workers (each keeps at least "
                "one call in flight; raise run.concurrency for more)",
                setting,
                run.concurrency,
                run.concurrency,
            )
        return min(int(setting), run.concurrency)
    if classifier.embedded_model or classifier.config.quality.llm_rows:
        return 1  # (llm_rows: the llm tier's certified rules live in this process)
    cores = usable_cores()
    return min(run.concurrency, max(1, min(8, (cores - 1) // 2 + 1)) if cores > 2 else 1)


def executor_for(classifier: Classifier, workers: int) -> Executor:
    """The executor of `workers` processes (framework.runner.workers), or this one."""
    if workers <= 1:
        return InProcess(classifier)
    from framework.runner.workers import WorkerPool

    return WorkerPool(classifier.config, workers)
