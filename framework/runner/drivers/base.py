"""What drives a file's rows through the engine and into the results, once each.

    driver = choose_driver(classifier)               # framework.runner.drivers
    await driver.run(classifier, files, sink)        # every outcome written to the sink once
    totals.notes = driver.notes(totals, output)      # its lines of the end-of-run summary

A Driver reads the run's input (RunFiles: its path, and a way to read its rows again),
classifies its rows (in this process, in worker processes, on a Ray cluster, through
provider batch jobs) and writes each outcome to the ResultSink (framework.runner.rows),
which journals it, counts it and shows the progress. What else a driver knows of its
run it says through the totals: its sections of record.json (`totals.record`), and the
summary lines `notes` returns. `estimate` adjusts what `labelwise plan` counted, where
the driver sends fewer calls than the engine would on every row (distillation).

A driver that `wraps` (distillation) runs its phases through the driver chosen after
it; the table (framework.runner.drivers.DRIVERS) is read in order, and the first driver
whose `for_run` takes the run, after any wrapping ones, runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from framework.inputs.rows import InputRow
from framework.runner.rows import ResultSink
from framework.runner.totals import Note, RunTotals

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.estimate import RunEstimate

__all__ = ["Driver", "RunFiles"]


@dataclass(frozen=True)
class RunFiles:
    """A run's files: its input (a path, or an object-store URI for Ray), where its
    results go, and a way to read its rows, again on each call (batch rounds and
    distillation phases go over them more than once)."""

    input: str
    output: Path
    read: Callable[[], Iterable[InputRow]]

    def only(self, rows: Iterable[InputRow]) -> RunFiles:
        """The same run's files, the rows narrowed to some (a distillation phase)."""
        return RunFiles(self.input, self.output, lambda: rows)


class Driver:
    """One way of running a file's rows; see the module's docstring."""

    name: ClassVar[str]
    wraps: ClassVar[bool] = False  # runs its phases through the driver chosen after it

    inner: Driver | None = None  # a wrapping driver's: the one that runs its phases

    @classmethod
    def for_run(cls, classifier: Classifier) -> Driver | None:
        """This driver for the classifier's run, or None when it does not take it."""
        return None

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        raise NotImplementedError

    def notes(self, totals: RunTotals, output: Path) -> list[Note]:
        """Its lines of the end-of-run summary (level, text); the inner driver's too."""
        return [] if self.inner is None else self.inner.notes(totals, output)

    def estimate(self, estimate: RunEstimate, classifier: Classifier) -> RunEstimate:
        """`labelwise plan`'s count, as this driver would send the calls."""
        return estimate if self.inner is None else self.inner.estimate(estimate, classifier)
