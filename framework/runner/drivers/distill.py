"""distill.sample: the phases of a run whose trained model the LLM teaches, each run
through the driver chosen after this one (online, or provider batch jobs).

    sample  the LLM labels `distill.sample` rows of the input, drawn with its seed
            (framework.inputs.sampling), written to the results like any row (path "llm",
            sent_because "distillation sample")
    fit     the sample's answers become a pool and the trained model is fit on it
            (framework.learning.distill: the Teacher); the engine labels with it from now on
    rest    the other rows, in rounds of `refit_every` input rows (one round without it):
            the cascade labels what the model is sure of and asks the LLM the rest (with
            trained.use=alone the model labels them all); after each round the model is
            fit again on the sample and every answer the LLM gave since

The LLM's answers stand on the rows sent to it: a model taught by the LLM does not
overrule it. A fit depends only on answers in the results (the answers of rows done by
an earlier, killed run are read back from the results file), so a resumed run fits the
same models and writes every id once. Each fit goes to record.json (trained.distill).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.inputs.rows import InputRow
from framework.inputs.sampling import sample_rows
from framework.learning.distill import Teacher
from framework.records import Item, Prediction
from framework.results import id_digest, read_result_rows
from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.rows import ResultSink
from framework.runner.totals import Note, RunTotals

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.estimate import RunEstimate

__all__ = ["SAMPLE_REASON", "DistillDriver", "distilled_folder"]

log = logging.getLogger("labelwise")

SAMPLE_REASON = "distillation sample"


def distilled_folder(output: Path) -> Path:
    """Where a distilled run keeps its pools: beside its results (results.distilled/)."""
    return output.with_name(f"{output.stem}.distilled")


class DistillDriver(Driver):
    """The sample through the LLM, then the rest through the model fit on its answers."""

    name = "distill"
    wraps = True

    @classmethod
    def for_run(cls, classifier: Classifier) -> DistillDriver | None:
        return cls() if classifier.config.distill.sample is not None else None

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        assert self.inner is not None
        phases = _Phases(classifier, sink, files, self.inner)
        config, sink.amend = classifier.config, phases.amend
        try:
            await phases.run()
        finally:
            sink.amend = None
            distill = phases.summary()
            sink.totals.record.setdefault("trained", {})["distill"] = distill
            if classifier.config is not config:  # as it was: the next run distills anew
                classifier.use_trained_model(config)

    def notes(self, totals: RunTotals, output: Path) -> list[Note]:
        distill = totals.record.get("trained", {}).get("distill")
        found = super().notes(totals, output)
        if not distill or not distill["fits"]:
            return found
        last = distill["fits"][-1]
        band = (last["cascade"] or {}).get("band")
        band_said = f", cascade band {band:.3f}" if band is not None else ""
        said = (
            f"distillation: the LLM labeled a sample of {distill['sampled']} rows; the model "
            f"was fit {len(distill['fits'])} time(s), last on {last['rows']} LLM answers"
            f"{band_said} (pools and models: record.json trained.distill)"
        )
        return [(logging.INFO, said), *found]

    def estimate(self, estimate: RunEstimate, classifier: Classifier) -> RunEstimate:
        """The planning engine asked the LLM of every row; a run asks it of the sample,
        then (cascade) of about cascade.llm_share of the rest: the share the band sends of
        the sample's own rows, which is only known once the LLM has answered them."""
        config = classifier.config
        share = config.cascade.llm_share if config.trained.use == "cascade" else 0.0
        sample = min(config.distill.sample or 0, estimate.to_call)
        rest = estimate.to_call - sample
        how = (
            f"about {share:.0%} of the other {rest:,} (cascade.llm_share; the band is set on "
            "the sample's answers, so the share sent may differ)"
            if share
            else f"the model taught by its answers labels the other {rest:,}"
        )
        said = f"the LLM labels a sample of {sample:,} rows, then {how}"
        sent = sample + round(share * rest)
        return estimate.scaled(sent, by="trained", note=("distillation", said))


@dataclasses.dataclass
class _Phases:
    classifier: Classifier
    sink: ResultSink
    files: RunFiles
    inner: Driver
    in_sample: bool = False
    sampled: int = 0
    past_sample: int = 0  # rows of the input past the sample, in the rounds run so far
    # Ids of the rows of the sample and of rounds already run, and the input lines
    # counted as their repeats (a row of a later phase with such an id is skipped).
    earlier: set[int] = dataclasses.field(default_factory=set)
    repeats: set[int] = dataclasses.field(default_factory=set)

    def __post_init__(self) -> None:
        self.config = self.classifier.config
        self.settings = self.config.distill
        self.folder = distilled_folder(self.files.output)
        written = read_result_rows(self.sink.journal.path)
        self.teacher = Teacher(self.config, self.folder, earlier=written)

    def amend(self, prediction: Prediction, item: Item | None) -> Prediction:
        """Tag the sample's rows and the model's; keep every answer of the LLM's."""
        if self.in_sample and prediction.error_kind != "unreadable":
            extra = {**prediction.extra, "path": "llm", "sent_because": SAMPLE_REASON}
            prediction = dataclasses.replace(prediction, extra=extra)
        elif prediction.confidence_method == "trained" and "path" not in prediction.extra:
            extra = {**prediction.extra, "path": "trained"}  # trained.use=alone
            prediction = dataclasses.replace(prediction, extra=extra)
        if prediction.ok and prediction.extra.get("path") == "llm":
            self.teacher.learn(prediction.id, prediction.labels)
        return prediction

    async def run(self) -> None:
        totals = self.sink.totals
        sample = sample_rows(self.files.read(), self.settings.sample or 0, self.settings.seed)
        self.sampled = len(sample)
        lines = {row.line for row in sample}
        self.earlier = {id_digest(row.id) for row in sample}
        log.info("distillation: the LLM labels a sample of %d rows first", len(sample))
        self.in_sample = True
        await self._phase(sample)
        self.in_sample = False
        if totals.waiting:
            totals.warnings.append(
                f"{totals.waiting} rows of the distillation sample wait for batch jobs; the "
                "other rows are labeled once the model is fit on their answers: run the same "
                "command again"
            )
            return
        pool = self.teacher.pool(sample)
        size = self.settings.refit_every
        if size is None:  # one round over the rest, streamed (read again by batch rounds)
            if totals.stopped_by is None:  # a budget reached: no row to fit a model for
                self._fit(pool)
            await self.inner.run(self.classifier, self._rest_files(lines), self.sink)
            return
        rest = self._rest(lines)
        while round_rows := list(islice(rest, size)):
            if totals.stopped_by is None and len(pool) > self.teacher.fitted_on:  # new answers
                self._fit(pool)
            await self._phase(round_rows)
            self.past_sample += len(round_rows)
            self.earlier.update(id_digest(row.id) for row in round_rows)
            pool = pool + self.teacher.pool(round_rows)

    async def _phase(self, rows: list[InputRow]) -> None:
        await self.inner.run(self.classifier, self.files.only(rows), self.sink)

    def _rest_files(self, sample_lines: set[int]) -> RunFiles:
        return dataclasses.replace(self.files, read=lambda: self._rest(sample_lines))

    def _rest(self, sample_lines: set[int]) -> Iterator[InputRow]:
        """The input without the sample; a row whose id an earlier phase had is a repeat."""
        totals = self.sink.totals
        for row in self.files.read():
            if row.line in sample_lines:
                continue
            if id_digest(row.id) in self.earlier:
                if row.line not in self.repeats:
                    self.repeats.add(row.line)
                    totals.duplicates += 1
                    totals.warnings.append(f"line {row.line}: id {row.id!r} repeats; skipped")
                continue
            yield row

    def _fit(self, pool: list[tuple[str, str, tuple[str, ...]]]) -> None:
        """Fit the model on the pool and label with it from now on."""
        taught = self.teacher.fit(pool, after_rows=self.past_sample)
        self.classifier.use_trained_model(taught)
        trained = self.classifier.sections().get("trained") or {}
        self.teacher.fits[-1]["cascade"] = trained.get("cascade")  # the gate it came with

    def summary(self) -> dict[str, Any]:
        return {
            **self.settings.model_dump(),
            "sampled": self.sampled,
            "folder": str(self.folder.resolve()),
            "fits": self.teacher.fits,
        }
