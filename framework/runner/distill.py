"""trained.distill: a trained model taught by the LLM, for an input without gold.

    await classify_distilled(classifier, rows, sink, folder=..., classify=classify_into)

    sample  the LLM labels `trained.distill.sample` rows of the input, drawn with its seed
            (framework.runner.sampling), written to the results like any row (path "llm",
            sent_because "distillation sample")
    fit     the sample's answers become a pool (pool-0.jsonl in `folder`); the trained
            model is fit on it and kept in the cache folder, named by the pool's hash
    rest    the other rows, in rounds of `refit_every` input rows (one round without it):
            the cascade labels what the model is sure of and asks the LLM the rest (with
            trained.use=alone the model labels them all); after each round the model is
            fit again on the sample and every answer the LLM gave since (pool-1.jsonl, ...)

The LLM's answers stand on the rows sent to it: a model taught by the LLM does not
overrule it. A fit depends only on answers in the results (the answers of rows done by
an earlier, killed run are read back from the results file), so a resumed run fits the
same models and writes every id once. Each fit (rows, the pool's and the model's sha256,
the cascade's band) goes to record.json through the run's totals.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from framework.config.run_settings import DistillSettings
from framework.config.schema import RunConfig
from framework.digests import file_sha256
from framework.engine.classifier import Classifier
from framework.engine.trained import artifact_path
from framework.errors import ConfigError
from framework.labels.taxonomy import label_ids
from framework.records import Item, Prediction
from framework.results import id_digest, read_result_rows
from framework.runner.inputs import InputRow
from framework.runner.rows import ResultSink
from framework.runner.sampling import sample_rows
from framework.runner.trained import fit_and_save

__all__ = ["SAMPLE_REASON", "classify_distilled", "distilled_folder"]

log = logging.getLogger("labelwise")

SAMPLE_REASON = "distillation sample"

Rows = Callable[[], Iterable[InputRow]]
Classify = Callable[[Classifier, Rows, ResultSink], Awaitable[object]]
PoolRow = tuple[str, str, tuple[str, ...]]


def distilled_folder(output: Path) -> Path:
    """Where a distilled run keeps its pools: beside its results (results.distilled/)."""
    return output.with_name(f"{output.stem}.distilled")


async def classify_distilled(
    classifier: Classifier, rows: Rows, sink: ResultSink, *, folder: Path, classify: Classify
) -> None:
    """The sample through the LLM, then the rest through the model fit on its answers."""
    distiller = _Distiller(classifier, sink, folder)
    config, sink.amend = classifier.config, distiller.amend
    try:
        await distiller.run(rows, classify)
    finally:
        sink.amend = None
        sink.totals.distillation = distiller.summary()
        if classifier.config is not config:  # as it was: the next run distills anew
            classifier.use_trained_model(config)


@dataclasses.dataclass
class _Distiller:
    classifier: Classifier
    sink: ResultSink
    folder: Path
    answers: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    fits: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    in_sample: bool = False
    sampled: int = 0
    past_sample: int = 0  # rows of the input past the sample, in the rounds run so far
    fitted_on: int = 0  # rows of the pool the last fit learnt from
    # Ids of the rows of the sample and of rounds already run, and the input lines
    # counted as their repeats (a row of a later phase with such an id is skipped).
    earlier: set[int] = dataclasses.field(default_factory=set)
    repeats: set[int] = dataclasses.field(default_factory=set)

    def __post_init__(self) -> None:
        self.config: RunConfig = self.classifier.config
        self.settings: DistillSettings = self.config.trained.distill
        # Answers an earlier (killed) run wrote: a resumed run learns from them too.
        for row in read_result_rows(self.sink.journal.path):
            if row.status == "ok" and row.extra.get("path") == "llm":
                self.answers[id_digest(row.id)] = tuple(row.labels)

    def amend(self, prediction: Prediction, item: Item | None) -> Prediction:
        """Tag the sample's rows and the model's; keep every answer of the LLM's."""
        if self.in_sample and prediction.error_kind != "unreadable":
            extra = {**prediction.extra, "path": "llm", "sent_because": SAMPLE_REASON}
            prediction = dataclasses.replace(prediction, extra=extra)
        elif prediction.confidence_method == "trained" and "path" not in prediction.extra:
            extra = {**prediction.extra, "path": "trained"}  # trained.use=alone
            prediction = dataclasses.replace(prediction, extra=extra)
        if prediction.ok and prediction.extra.get("path") == "llm":
            self.answers[id_digest(prediction.id)] = prediction.labels
        return prediction

    async def run(self, rows: Rows, classify: Classify) -> None:
        totals = self.sink.totals
        sample = sample_rows(rows(), self.settings.sample or 0, self.settings.seed)
        self.sampled = len(sample)
        lines = {row.line for row in sample}
        self.earlier = {id_digest(row.id) for row in sample}
        log.info("distillation: the LLM labels a sample of %d rows first", len(sample))
        self.in_sample = True
        await classify(self.classifier, lambda: sample, self.sink)
        self.in_sample = False
        if totals.waiting:
            totals.warnings.append(
                f"{totals.waiting} rows of the distillation sample wait for batch jobs; the "
                "other rows are labeled once the model is fit on their answers: run the same "
                "command again"
            )
            return
        pool = self._answered(sample)
        size = self.settings.refit_every
        if size is None:  # one round over the rest, streamed (read again by batch rounds)
            if totals.stopped_by is None:  # a budget reached: no row to fit a model for
                self._fit(pool)
            await classify(self.classifier, lambda: self._rest(rows, lines), self.sink)
            return
        rest = self._rest(rows, lines)
        while round_rows := list(islice(rest, size)):
            if totals.stopped_by is None and len(pool) > self.fitted_on:  # new answers
                self._fit(pool)
            await classify(self.classifier, _again(round_rows), self.sink)
            self.past_sample += len(round_rows)
            self.earlier.update(id_digest(row.id) for row in round_rows)
            pool = pool + self._answered(round_rows)

    def _rest(self, rows: Rows, sample_lines: set[int]) -> Iterator[InputRow]:
        """The input without the sample; a row whose id an earlier phase had is a repeat."""
        totals = self.sink.totals
        for row in rows():
            if row.line in sample_lines:
                continue
            if id_digest(row.id) in self.earlier:
                if row.line not in self.repeats:
                    self.repeats.add(row.line)
                    totals.duplicates += 1
                    totals.warnings.append(f"line {row.line}: id {row.id!r} repeats; skipped")
                continue
            yield row

    def _answered(self, rows: Iterable[InputRow]) -> list[PoolRow]:
        """The rows the LLM answered, with its labels: what the model learns from."""
        return [
            (row.item.id, row.item.text, self.answers[digest])
            for row in rows
            if row.item is not None and (digest := id_digest(row.id)) in self.answers
        ]

    def _fit(self, pool: list[PoolRow]) -> None:
        """Fit the model on the pool (or load the one fit on the same answers before) and
        label with it from now on."""
        folds = self.config.trained.folds
        if len(pool) < 2 * folds:
            raise ConfigError(
                f"trained.distill.sample: the LLM answered {len(pool)} rows of the sample, "
                f"too few to fit the model on ({2 * folds} at least with trained.folds="
                f"{folds}); failed rows have their reasons in the results: rerun with "
                "run.retry_failed=true, or draw a larger sample"
            )
        started = time.perf_counter()
        number, self.fitted_on = len(self.fits), len(pool)
        pool_file = self._write_pool(pool, number)
        config = _taught_by(self.config, pool_file)
        labels = label_ids(config.taxonomy)
        artifact = artifact_path(config, labels)
        absent = sorted(set(labels) - {label for _, _, given in pool for label in given})
        if not artifact.is_file():
            fit_and_save(config, pool, artifact, every_label=False)
        self.classifier.use_trained_model(config)
        gate = self.classifier.engine.cascade
        seconds = time.perf_counter() - started
        self.fits.append(
            {
                "after_rows": self.past_sample,  # of the input past the sample
                "rows": len(pool),
                "pool": str(pool_file.resolve()),
                "pool_sha256": file_sha256(pool_file),
                "artifact": str(artifact.resolve()),
                "artifact_sha256": file_sha256(artifact),
                "labels_never_given": absent,
                "cascade": None if gate is None else gate.describe(),
                "seconds": round(seconds, 2),
            }
        )
        log.info(
            "distillation: model %d fit on %d LLM answers in %.1f s%s",
            number,
            len(pool),
            seconds,
            f" (the LLM gave no row {', '.join(absent)}: the model never predicts it)"
            if absent
            else "",
        )

    def _write_pool(self, pool: list[PoolRow], number: int) -> Path:
        """The pool as JSONL with the run's columns, written whole before it is used."""
        columns = self.config.columns
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"pool-{number}.jsonl"
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for row_id, text, labels in pool:
                row = {columns.id: row_id, columns.text: text, columns.labels: list(labels)}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        temporary.replace(path)
        return path

    def summary(self) -> dict[str, Any]:
        return {
            **self.settings.model_dump(),
            "sampled": self.sampled,
            "folder": str(self.folder.resolve()),
            "fits": self.fits,
        }


def _again(rows: list[InputRow]) -> Rows:
    return lambda: rows


def _taught_by(config: RunConfig, pool: Path) -> RunConfig:
    """The run's config with the distilled pool as its trained model's pool; the LLM's
    answers stand on its rows (weight 0: the fused confidence is the LLM's)."""
    trained = config.trained.model_copy(
        update={"pool": str(pool), "distill": DistillSettings(), "weight": 0.0}
    )
    return config.model_copy(update={"trained": trained})
