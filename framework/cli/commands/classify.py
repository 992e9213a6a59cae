"""`labelwise classify input=FILE [output=FILE] [overrides]`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from framework.cli.commands.hydra_app import run_hydra_app
from framework.errors import ConfigError
from framework.results import REPORT_FILE, REPORT_HTML_FILE, RESULTS_FILE, REVIEW_FILE

if TYPE_CHECKING:
    from framework.runner.totals import RunTotals

__all__ = ["run"]

log = logging.getLogger("labelwise")


def run(argv: list[str]) -> int:
    return run_hydra_app(classify_job, argv, "classify")


def classify_job(cfg: DictConfig) -> None:
    from framework.config.load import load_run_config
    from framework.engine.classifier import Classifier
    from framework.evaluation.report import headline, score_run
    from framework.inputs.readers import count_rows
    from framework.learning.prepare import prepare_run
    from framework.runner.progress import Progress
    from framework.runner.run import classify_file
    from framework.runner.run_record import RunRecorder, scrub_secrets

    run_dir, overrides, sweep_dir = hydra_folders()
    scrub_secrets(cfg, overrides, run_dir, sweep_dir)  # Hydra saved command-line keys in clear
    config = load_run_config(cfg)
    if not config.input:
        raise ConfigError(
            "input: required; name the file to classify: labelwise classify input=FILE"
        )
    output = Path(config.output) if config.output else run_dir / RESULTS_FILE
    prepare_run(config)  # the trained model and the examples index, on first use
    with (
        Classifier(config) as classifier,
        RunRecorder(cfg, classifier, run_dir=run_dir, output=output, overrides=overrides) as record,
    ):
        asks = classifier.describe()
        mode, transport = asks["output_mode"], asks["transport"]
        log.info(
            "output mode %s (%s); transport %s (%s)",
            mode["mode"],
            mode["reason"],
            transport["name"],
            transport["reason"],
        )
        rows = count_rows(config.input)
        if rows is not None and config.sample.size is not None:
            rows = min(rows, config.sample.size)
        progress = Progress(rows, style=config.run.progress, interval=config.run.progress_interval)
        review = run_dir / REVIEW_FILE if config.thresholds.abstain_band else None
        totals = asyncio.run(
            classify_file(classifier, config.input, output, progress=progress, review=review)
        )
        metrics = score_run(config, output, run_dir)  # metrics.json and report.md, given gold
        record.finish(totals, metrics.summary() if metrics is not None else None)
    log_summary(totals, output)
    html = run_dir / REPORT_HTML_FILE
    if metrics is not None:
        report = run_dir / REPORT_FILE
        log.info("%s -> %s (open it in a browser) and %s", headline(metrics), html, report)
    elif html.is_file():
        log.info("report: %s (labels predicted, confidence, failed rows; no gold to score)", html)


def hydra_folders() -> tuple[Path, list[str], Path | None]:
    """This job's run folder, its command-line overrides, and the sweep folder of a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    sweep = Path(hydra.sweep.dir) if hydra.mode == RunMode.MULTIRUN else None
    return Path(hydra.runtime.output_dir), list(hydra.overrides.task), sweep


def log_summary(totals: RunTotals, output: Path) -> None:
    """The end-of-run summary: what was done, what it cost, what the driver has to say
    (rows waiting for batch jobs, a distillation's fits) and how to go on."""
    from framework.engine.components import path_words

    _log_resumed(totals, output)
    if totals.done + totals.resumed + totals.not_started + totals.duplicates + totals.waiting == 0:
        log.info("0 rows: the input is empty")
        return
    for warning in totals.warnings[:5]:
        log.warning(warning)
    if len(totals.warnings) > 5:
        log.warning("... and %d more warnings", len(totals.warnings) - 5)
    cost = "unknown" if totals.cost is None else f"${totals.cost:.4f}"
    counts = [
        (totals.resumed, "already done"),
        (totals.retried, "failed before and tried again"),
        (totals.cache_hits, "answers from cache"),
        *((totals.by_path.get(path, 0), words) for path, words in path_words().items()),
    ]
    extra = "".join(f", {count} {what}" for count, what in counts if count)
    log.info(
        "%d rows in %.1f s: %d ok, %d failed%s; %d calls, %d tokens, cost %s -> %s",
        totals.done,
        totals.elapsed,
        totals.ok,
        totals.failed,
        extra,
        totals.calls,
        totals.usage.total_tokens,
        cost,
        output,
    )
    for level, note in totals.notes:
        log.log(level, note)
    if totals.stopped_by:
        log.warning(
            "%s; %d rows not started: run the same command with a larger budget to continue",
            totals.stopped_by,
            totals.not_started,
        )
    if totals.failed:
        log.info(
            "%d rows failed (each with its reason in %s); to classify them again, run "
            "the same command with run.retry_failed=true",
            totals.failed,
            output,
        )


def _log_resumed(totals: RunTotals, output: Path) -> None:
    resumed = totals.resumed_from
    if resumed is not None and resumed.forced:
        log.warning(
            "run.resume=force: %s already held %d rows made by a different config (%s)",
            output,
            resumed.rows,
            "; ".join(resumed.differences),
        )
    if resumed is not None and resumed.moved_aside:
        log.info(
            "run.resume=never: the earlier results were moved to %s; a new file was started",
            output.with_name(resumed.moved_aside),
        )
