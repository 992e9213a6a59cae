"""Classifying a file: stream rows in, keep `run.concurrency` rows in flight,
append each result as it completes, resume where a previous run stopped.

Every input id ends up in the results exactly once: ids already in the
results are skipped, a repeated id in the input is skipped with a warning, a
row that cannot be read is recorded as failed with its reason. Once a budget
is reached no new row is started; the rows left are counted, not lost: the
same command with a larger budget continues with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from framework.engine.classifier import Classifier
from framework.errors import InputError
from framework.labels.taxonomy import short_hash
from framework.runner.executors import executor_for, workers_for
from framework.runner.inputs import InputRow, is_uri, read_rows
from framework.runner.journal import ResultsJournal, export_results, journal_path
from framework.runner.progress import Progress
from framework.runner.rows import ResultSink, RowsInFlight
from framework.runner.sampling import sample_rows
from framework.runner.totals import RunTotals

__all__ = ["RunTotals", "classify_file", "classify_rows"]


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
    to `review`. run.executor=ray reads the input and classifies it on a Ray cluster
    (framework.runner.ray_executor); this process still writes every result."""
    output = Path(output_path)
    journal = journal_path(output)
    if not is_uri(input_path):
        refuse_overwriting_input(Path(input_path), output, journal)

    def read() -> Iterable[InputRow]:
        return input_rows(classifier, input_path)

    with results_sink(classifier, journal, progress, review, (output,)) as sink:
        if classifier.config.run.executor == "ray":
            from framework.runner.ray_executor import classify_on_ray

            classify_on_ray(classifier, str(input_path), sink)
        elif classifier.config.trained.distill.sample is not None:
            from framework.runner.distill import classify_distilled, distilled_folder

            folder = distilled_folder(output)
            await classify_distilled(classifier, read, sink, folder=folder, classify=classify_into)
        else:
            await classify_into(classifier, read, sink)
    totals = sink.totals
    export_results(journal, output)
    return totals


def input_rows(classifier: Classifier, input_path: str | Path) -> Iterable[InputRow]:
    """The rows of the input the run classifies (its sample, when sample.size is set)."""
    rows: Iterable[InputRow] = read_rows(input_path, classifier.config.columns)
    sample = classifier.config.sample
    if sample.size is not None:
        rows = sample_rows(rows, sample.size, sample.seed)
    return rows


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
    with results_sink(classifier, journal_file, progress, review, exports) as sink:
        await classify_online(classifier, rows, sink)
    return sink.totals


async def classify_into(
    classifier: Classifier, rows: Callable[[], Iterable[InputRow]], sink: ResultSink
) -> None:
    """The rows `rows()` yields into the sink: online, or through provider batch jobs
    (run.mode=batch, which reads them again each round)."""
    if classifier.config.run.mode == "batch":
        from framework.runner.batch_run import classify_in_batches

        await classify_in_batches(classifier, rows, sink)
    else:
        await classify_online(classifier, rows(), sink)


async def classify_online(
    classifier: Classifier, rows: Iterable[InputRow], sink: ResultSink
) -> None:
    """Each row through the run's executor, run.concurrency rows in flight."""
    workers = workers_for(classifier)
    sink.totals.executor = {"name": "local", "workers": workers}
    executor = executor_for(classifier, workers)
    batch = RowsInFlight(executor, config=classifier.config, sink=sink)
    try:
        for row in rows:
            await batch.admit(row)
        await batch.drain(None)
    finally:
        await batch.abandon()
        await executor.release()  # this loop's connections, the workers
        await classifier.release()


@contextmanager
def results_sink(
    classifier: Classifier,
    journal_file: Path,
    progress: Progress | None,
    review: str | Path | None,
    exports: tuple[Path, ...],
) -> Iterator[ResultSink]:
    """The run's journal (locked, resumed or refused: framework.runner.journal) and review
    file, open for the executor's results; the totals' clock and the progress display
    stop when it closes, however the run ends."""
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
        totals = RunTotals(retried=journal.dropped_failed, resumed_from=journal.resumed)
        try:
            yield ResultSink(journal, totals=totals, progress=progress, review=for_review)
        finally:
            totals.elapsed = time.perf_counter() - started
            if progress is not None:
                progress.close(totals)
