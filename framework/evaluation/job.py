"""One classify run, recorded and scored: what `labelwise classify`, `labelwise reproduce`
and each of `labelwise tune`'s recipes run, in this process.

    outcome = run_job(cfg, run_dir=folder, overrides=overrides)
    outcome.totals, outcome.metrics, outcome.record

It builds what the run loads (the trained model, the examples index: framework.learning.
prepare), opens the classifier, writes record.json ("running", then "finished" or why
not: framework.runner.recorder), classifies the input through the run's driver
(framework.runner.run) and, when the input has gold labels, scores it (metrics.json,
report.md; report.html always).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from framework.errors import ConfigError
from framework.integrations import RunInfo, observers_for
from framework.providers.loop_clients import run_loop
from framework.results import RESULTS_FILE, REVIEW_FILE

if TYPE_CHECKING:
    from framework.evaluation.metrics import Metrics
    from framework.run_record import RunRecord
    from framework.runner.totals import RunTotals

__all__ = ["JobOutcome", "run_job"]

log = logging.getLogger("labelwise")


@dataclass(frozen=True)
class JobOutcome:
    totals: RunTotals
    metrics: Metrics | None
    record: RunRecord
    output: Path


def run_job(
    cfg: DictConfig,
    *,
    run_dir: Path,
    overrides: list[str],
    progress: bool = True,
    describe: dict[str, Any] | None = None,
) -> JobOutcome:
    """Classify the composed config's input into its output (or run_dir/results.jsonl);
    `describe` adds keys to its record (a reproduction names the run it reproduces)."""
    from framework.config.load import load_run_config
    from framework.engine.classifier import Classifier
    from framework.evaluation.report import score_run
    from framework.inputs.readers import count_rows
    from framework.learning.prepare import prepare_run
    from framework.learning.route_words import estimate_line
    from framework.run_record import merge_sections
    from framework.runner.progress import Progress
    from framework.runner.recorder import RunRecorder
    from framework.runner.run import classify_file

    config = load_run_config(cfg)
    if not config.input:
        raise ConfigError(
            "input: required; name the file to classify: labelwise classify input=FILE"
        )
    output = Path(config.output) if config.output else run_dir / RESULTS_FILE
    observers = observers_for(config)
    observers.warm()  # tracking starts its MLflow worker now: its import overlaps the run
    prepare_run(config)  # the trained model and the examples index, on first use
    with Classifier(config, observers=observers) as classifier:
        asks = classifier.describe()
        mode, transport = asks["output_mode"], asks["transport"]
        log.info(
            "output mode %s (%s); transport %s (%s)",
            mode["mode"],
            mode["reason"],
            transport["name"],
            transport["reason"],
        )
        recorder = RunRecorder(cfg, classifier, run_dir=run_dir, output=output, overrides=overrides)
        for key, value in (describe or {}).items():
            setattr(recorder.record, key, value)
        # Tracking and tracing watch the whole run; they are told once record.json is final.
        with classifier.observers.run(RunInfo(run_dir, config)), recorder:
            rows = count_rows(config.input)
            if rows is not None and config.sample.size is not None:
                rows = min(rows, config.sample.size)
            style = config.run.progress if progress else "off"
            shown = Progress(rows, style=style, interval=config.run.progress_interval)
            review = run_dir / REVIEW_FILE if config.thresholds.abstain_band else None
            totals = run_loop(
                classify_file(classifier, config.input, output, progress=shown, review=review)
            )
            estimate = route_estimate(classifier.sections().get("route"), output)
            if estimate is not None:  # a routed run: the estimated quality of its output
                merge_sections(totals.record, {"route": {"estimate": estimate}})
                log.info(estimate_line(estimate))
            # given gold: metrics.json, report.md; report.html always
            metrics = score_run(config, output, run_dir, estimate=estimate)
            recorder.finish(totals, metrics.summary() if metrics is not None else None)
    return JobOutcome(totals, metrics, recorder.record, output)


def route_estimate(route: dict[str, Any] | None, output: Path) -> dict[str, Any] | None:
    """record.json route.estimate of a routed run's whole output (resumed rows too)."""
    if not route:
        return None
    from framework.learning.route_estimate import estimate_results
    from framework.runner.journal import journal_path

    return estimate_results(route, journal_path(output))
