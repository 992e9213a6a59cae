"""`labelwise classify input=FILE [output=FILE] [overrides]`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from framework.cli.commands.hydra_app import run_hydra_app
from framework.results import REPORT_FILE, REPORT_HTML_FILE

if TYPE_CHECKING:
    from framework.runner.totals import RunTotals

__all__ = ["run"]

log = logging.getLogger("labelwise")


def run(argv: list[str]) -> int:
    return run_hydra_app(classify_job, argv, "classify")


def classify_job(cfg: DictConfig) -> None:
    from framework.evaluation.job import run_job
    from framework.evaluation.report import headline
    from framework.secrets import scrub_secrets

    run_dir, overrides, sweep_dir = hydra_folders()
    scrub_secrets(cfg, overrides, run_dir, sweep_dir)  # Hydra saved command-line keys in clear
    outcome = run_job(cfg, run_dir=run_dir, overrides=overrides)
    log_summary(outcome.totals, outcome.output)
    html = run_dir / REPORT_HTML_FILE
    if outcome.metrics is not None:
        report = run_dir / REPORT_FILE
        log.info("%s -> %s (open it in a browser) and %s", headline(outcome.metrics), html, report)
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
    from framework.engine.components import path_words, tier_words
    from framework.learning.route_words import tier_said

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
    ]
    if totals.by_tier:  # a routed run: its rows by tier, not by the cascade's paths
        words = tier_words()  # a further LLM tier (route.llms) has the name the route gave it
        named = [*words, *(tier for tier in totals.by_tier if tier not in words)]
        counts += [(totals.by_tier.get(tier, 0), tier_said(tier)) for tier in named]
    else:
        counts += [(totals.by_path.get(path, 0), words) for path, words in path_words().items()]
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
