"""Classifying a file: open its results (resumed where a previous run stopped), let the
run's driver (framework.runner.drivers) classify its rows, append each result as it
completes.

Every input id ends up in the results exactly once: ids already in the
results are skipped, a repeated id in the input is skipped with a warning, a
row that cannot be read is recorded as failed with its reason. Once a budget
is reached no new row is started; the rows left are counted, not lost: the
same command with a larger budget continues with them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from framework.engine.classifier import Classifier
from framework.errors import InputError
from framework.inputs.readers import is_uri, read_rows
from framework.inputs.rows import InputRow
from framework.inputs.sampling import sample_rows
from framework.labels.taxonomy import short_hash
from framework.runner.costs import account_costs
from framework.runner.drivers import RunFiles, choose_driver
from framework.runner.journal import ResultsJournal, export_results, journal_path
from framework.runner.progress import Progress
from framework.runner.rows import ResultSink
from framework.runner.totals import RunTotals

__all__ = ["RunTotals", "classify_file", "input_rows", "results_sink"]


async def classify_file(
    classifier: Classifier,
    input_path: str | Path,
    output_path: str | Path,
    *,
    progress: Progress | None = None,
    review: str | Path | None = None,
) -> RunTotals:
    """Classify every row of an input file into a JSONL, CSV or Parquet output, through
    the run's driver (framework.runner.drivers: in process, worker processes, a Ray
    cluster, provider batch jobs, distillation's phases); rows marked for review
    (thresholds.abstain_band) are also written, with their text, to `review`."""
    output = Path(output_path)
    journal = journal_path(output)
    if not is_uri(input_path):
        refuse_overwriting_input(Path(input_path), output, journal)
    files = RunFiles(str(input_path), output, lambda: input_rows(classifier, input_path))
    driver = choose_driver(classifier)
    with results_sink(classifier, journal, progress, review, (output,)) as sink:
        await driver.run(classifier, files, sink)
    totals = sink.totals
    totals.notes = driver.notes(totals, output)
    account_costs(classifier, totals)  # what the prompt cache saved, the tier's fallback
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
