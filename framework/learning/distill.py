"""distill: a trained model taught by the LLM's answers, for an input without gold.

    teacher = Teacher(config, folder, earlier=results_rows)  # answers a killed run wrote
    teacher.learn(row_id, labels)          # each answer the LLM gives
    pool = teacher.pool(rows)              # the rows of those the LLM answered, with its labels
    taught = teacher.fit(pool, after=N)    # the config whose trained model is fit on them

Each fit's pool (the LLM's answers, as JSONL with the run's columns) is written whole to
`folder` (pool-0.jsonl, pool-1.jsonl, ...); its model is fit on it and kept in the cache
folder by the pool's hash, so a run that fits on the same answers again (a resumed one)
loads it instead. A fit depends only on answers in the results, so a resumed run fits
the same models. Each fit is recorded (rows, the pool's and the model's sha256, what the
LLM never said) for record.json; the distillation driver (framework.runner.drivers.
distill) runs the phases: the sample through the LLM, then the rest through the model.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from framework.config.run_settings import DistillSettings
from framework.config.schema import RunConfig
from framework.digests import file_sha256
from framework.errors import ConfigError
from framework.inputs.rows import InputRow
from framework.labels.taxonomy import label_ids
from framework.learning.prepare import fit_and_save
from framework.learning.trained_file import artifact_path
from framework.results import ResultRow, id_digest

__all__ = ["PoolRow", "Teacher"]

log = logging.getLogger("labelwise")

PoolRow = tuple[str, str, tuple[str, ...]]


class Teacher:
    """The LLM's answers of a distilled run, and the models fit on them."""

    def __init__(self, config: RunConfig, folder: Path, earlier: Iterable[ResultRow] = ()) -> None:
        self.config, self.folder = config, folder
        self.answers: dict[int, tuple[str, ...]] = {}
        self.fits: list[dict[str, Any]] = []
        self.fitted_on = 0  # rows of the pool the last fit learnt from
        for row in earlier:  # the answers an earlier (killed) run wrote: learnt from too
            if row.status == "ok" and row.extra.get("path") == "llm":
                self.learn(row.id, tuple(row.labels))

    def learn(self, row_id: str, labels: tuple[str, ...]) -> None:
        """An answer the LLM gave."""
        self.answers[id_digest(row_id)] = labels

    def pool(self, rows: Iterable[InputRow]) -> list[PoolRow]:
        """The rows the LLM answered, with its labels: what the model learns from."""
        return [
            (row.item.id, row.item.text, self.answers[digest])
            for row in rows
            if row.item is not None and (digest := id_digest(row.id)) in self.answers
        ]

    def fit(self, pool: list[PoolRow], *, after_rows: int) -> RunConfig:
        """The run's config taught by the pool: its trained model fit on it (or loaded,
        when fit on the same answers before); the fit is recorded."""
        folds = self.config.trained.folds
        if len(pool) < 2 * folds:
            raise ConfigError(
                f"distill.sample: the LLM answered {len(pool)} rows of the sample, "
                f"too few to fit the model on ({2 * folds} at least with trained.folds="
                f"{folds}); failed rows have their reasons in the results: rerun with "
                "run.retry_failed=true, or draw a larger sample"
            )
        started = time.perf_counter()
        number, self.fitted_on = len(self.fits), len(pool)
        pool_file = self._write_pool(pool, number)
        taught = taught_by(self.config, pool_file)
        labels = label_ids(taught.taxonomy)
        artifact = artifact_path(taught, labels)
        absent = sorted(set(labels) - {label for _, _, given in pool for label in given})
        if not artifact.is_file():
            fit_and_save(taught, pool, artifact, every_label=False)
        seconds = time.perf_counter() - started
        self.fits.append(
            {
                "after_rows": after_rows,  # of the input past the sample
                "rows": len(pool),
                "pool": str(pool_file.resolve()),
                "pool_sha256": file_sha256(pool_file),
                "artifact": str(artifact.resolve()),
                "artifact_sha256": file_sha256(artifact),
                "labels_never_given": absent,
                "cascade": None,  # the driver adds the gate the model came with
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
        return taught

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


def taught_by(config: RunConfig, pool: Path) -> RunConfig:
    """The run's config with the distilled pool as its trained model's pool; the LLM's
    answers stand on its rows (weight 0: the fused confidence is the LLM's)."""
    trained = config.trained.model_copy(update={"pool": str(pool), "weight": 0.0})
    return config.model_copy(update={"trained": trained, "distill": DistillSettings()})
