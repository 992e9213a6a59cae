"""Labeling a DataFrame (pandas or polars): its rows through the run's driver, its labels
back as columns, row for row.

    import labelwise
    out = labelwise.classify(df, text="text", taxonomy="news")          # + a labels column
    out = labelwise.classify(df, columns="wide", overrides=["provider=openai"])

The frame's text column is read through Arrow, each row becomes an input row (its id:
the `id` column's value, else its position), and the rows run through the driver a
file run of the same config would use (framework.runner.drivers), into a results
journal (`output=`, else a temporary file). Results are matched back by id, so labels
land on their own row whatever the frame's index holds (duplicates too); a row whose
text is null or not a string is a failed row with the reason, never a shifted label.
A rerun is answered from the response cache (and, with output=, from the journal).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from framework.errors import InputError
from framework.inputs.rows import InputRow, row_from_record
from framework.records import Prediction
from framework.results import ResultRow, read_result_rows
from framework.runner.frame_columns import Frame, add_columns, text_values
from framework.runner.progress import Progress

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["classify_frame"]


def classify_frame(
    frame: Frame,
    *,
    text: str = "text",
    id: str | None = None,
    columns: Literal["list", "wide"] = "list",
    prefix: str = "",
    overrides: Sequence[str] = (),
    classifier: Classifier | None = None,
    progress: bool = True,
    **settings: Any,
) -> Frame:
    """The frame with `labels` (a list of label ids), `status` and `error` columns added;
    with columns="wide" also `label_<id>` (bool) and `confidence_<id>` (float, null
    without a confidence method) per label; `prefix` goes before each name. `settings`
    are config overrides by keyword (`taxonomy="news"`; a double underscore for a dot:
    `provider__api_base=URL`), after `overrides` (command-line style,
    `["provider.api_base=URL"]`). With `classifier`, that one labels (its config as
    built) and is left open."""
    from framework.engine.classifier import Classifier
    from framework.learning.prepare import prepare_run

    if columns not in ("list", "wide"):
        raise InputError(f"columns={columns!r}: choose 'list' or 'wide'")
    rows = _input_rows(frame, text, id)
    owned = classifier is None
    if classifier is None:
        said = [*overrides, *(f"{k.replace('__', '.')}={_value(v)}" for k, v in settings.items())]
        from framework.config.load import compose, load_run_config

        config = load_run_config(compose(said))
        prepare_run(config)
        classifier = Classifier(config)
    elif overrides or settings:
        raise InputError("give overrides or a classifier, not both: the classifier's config rules")
    try:  # on the classifier's own loop, where its throttle and connections live
        found = classifier._portal().run(_run(classifier, rows, progress))
    finally:
        if owned:
            classifier.close()
    labels = classifier.engine.labels.ids
    results = [found[row.id] for row in rows]
    return add_columns(frame, results, labels, wide=columns == "wide", prefix=prefix)


def _input_rows(frame: Frame, text: str, id_column: str | None) -> list[InputRow]:
    texts = text_values(frame, text)
    if id_column is None:
        ids = [str(n) for n in range(len(texts))]
    else:
        ids = [
            _an_id(value, n, id_column)
            for n, value in enumerate(text_values(frame, id_column, named_by="id"))
        ]
        seen: dict[str, int] = {}
        for n, row_id in enumerate(ids):
            if row_id in seen:
                raise InputError(
                    f"id column {id_column!r}: {row_id!r} at rows {seen[row_id]} and {n}; ids "
                    "must be unique (or leave id=None: rows are matched by position)"
                )
            seen[row_id] = n
    return [
        row_from_record({"id": row_id, "text": value}, n, where="row")
        for n, (row_id, value) in enumerate(zip(ids, texts, strict=True))
    ]


def _an_id(value: object, n: int, column: str) -> str:
    if value is None or value == "":
        raise InputError(f"id column {column!r}: row {n} has no id; every row needs one")
    return str(value)


async def _run(
    classifier: Classifier, rows: list[InputRow], progress: bool
) -> dict[str, ResultRow]:
    """Each row's result, by id: read from the journal the driver wrote."""
    from framework.runner.drivers import RunFiles, choose_driver
    from framework.runner.journal import journal_path
    from framework.runner.run import results_sink

    config = classifier.config
    with tempfile.TemporaryDirectory(prefix="labelwise-frame-") as scratch:
        output = Path(config.output) if config.output else Path(scratch) / "results.jsonl"
        journal = journal_path(output)
        files = RunFiles("<DataFrame>", output, lambda: rows)
        driver = choose_driver(classifier)
        shown = _progress(len(rows)) if progress else None
        with results_sink(classifier, journal, shown, None, (output,)) as sink:
            await driver.run(classifier, files, sink)
        found = {row.id: row for row in read_result_rows(journal)} if journal.exists() else {}
        why = sink.totals.stopped_by or "its answer is waiting for a provider batch job"
    for row in rows:  # a budget that stopped the run, a batch job not done: said per row
        if row.id not in found:
            failed = Prediction(
                row.id, (), "failed", 0, error=f"not labeled: {why}", error_kind="not_started"
            )
            found[row.id] = ResultRow.from_prediction(failed)
    return found


def _value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


class _Bar(Progress):
    """The run's progress as a tqdm bar (a widget in a notebook: tqdm.auto)."""

    def __init__(self, total: int, bar: Any) -> None:
        super().__init__(total, style="off")
        self.bar = bar

    def update(self, counts: Any, *, force: bool = False, note: str | None = None) -> None:
        done = counts.done + counts.resumed
        self.bar.update(done - self.bar.n)
        if counts.failed:
            self.bar.set_postfix(failed=counts.failed, refresh=False)

    def close(self, counts: Any) -> None:
        self.update(counts)
        self.bar.close()


def _progress(total: int) -> Progress:
    """tqdm's bar where tqdm is installed (the [dataframes] extra), else the run's own."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return Progress(total, style="auto")
    return _Bar(total, tqdm(total=total, unit="row", desc="labelwise"))
