"""`labelwise plan input=FILE [output=FILE] [overrides]`: the calls, tokens and cost
a classify run with the same arguments would take, without making a call."""

from __future__ import annotations

from pathlib import Path

from framework.errors import ConfigError

__all__ = ["run"]


def run(argv: list[str]) -> int:
    from framework.classifier import Classifier
    from framework.config.load import compose, load_run_config
    from framework.estimate import estimate_run
    from framework.inputs import read_rows
    from framework.results import ResultsJournal, journal_path

    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    config = load_run_config(compose(argv))
    if not config.input:
        raise ConfigError("input: required; name the file to plan for: labelwise plan input=FILE")
    done: set[int] = set()
    if config.output:
        journal = journal_path(Path(config.output))
        if journal.exists():
            with ResultsJournal(journal) as existing:
                done = existing.done
    classifier = Classifier(config)
    try:
        estimate = estimate_run(classifier, read_rows(config.input, config.columns), done)
    finally:
        classifier.close()
    mode = classifier.output_mode
    print(f"plan for {config.input} on {classifier.request_plan.model} (output mode {mode.mode})")
    for line in estimate.lines():
        print("  " + line)
    return 0
