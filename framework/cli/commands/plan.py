"""`labelwise plan input=FILE [output=FILE] [overrides]`: the calls, tokens and cost
a classify run with the same arguments would take, without making a call."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError

if TYPE_CHECKING:
    from framework.inputs.rows import InputRow
    from framework.runner.estimate import RunEstimate

__all__ = ["run"]


def run(argv: list[str]) -> int:
    from framework.config.load import compose, load_run_config
    from framework.engine.classifier import Classifier
    from framework.inputs.readers import read_rows
    from framework.inputs.sampling import sample_rows
    from framework.learning.prepare import prepare_run
    from framework.runner.drivers import choose_driver
    from framework.runner.estimate import estimate_run
    from framework.runner.journal import journal_path, read_done

    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    config = load_run_config(compose(argv))
    if not config.input:
        raise ConfigError("input: required; name the file to plan for: labelwise plan input=FILE")
    done: set[int] = set()
    if config.output:  # read without claiming it: a run may be writing it now
        done = read_done(journal_path(Path(config.output)))
    rows: Iterable[InputRow] = read_rows(config.input, config.columns)
    if config.sample.size is not None:  # the rows the run would classify, not the whole file
        rows = sample_rows(rows, config.sample.size, config.sample.seed)
    prepare_run(config)
    classifier = Classifier(config)
    try:
        estimate = estimate_run(classifier, rows, done)
        estimate = choose_driver(classifier).estimate(estimate, classifier)  # as it sends them
        route = classifier.sections().get("route")
    finally:
        classifier.close()
    mode = classifier.describe()["output_mode"]["mode"]
    print(f"plan for {config.input} on {estimate.model} (output mode {mode})")
    for line in estimate.lines():
        print("  " + line)
    if route:  # a routed run: its rows by tier, the cost of each and the guarantee
        for line in route_lines(route, estimate):
            print("  " + line)
    return 0


def route_lines(route: dict[str, Any], estimate: RunEstimate) -> list[str]:
    from framework.learning.route_words import plan_lines

    counts = {
        "trained": estimate.decided.get("route.trained", 0),
        "zero_shot": estimate.decided.get("route.zero_shot", 0),
        "llm": estimate.to_call + estimate.cached,
        "human": estimate.decided.get("route.human", 0),
    }
    cost = estimate.cost_line().split("  ", 1)[-1].strip()
    batch = estimate.batch_cost
    if batch is not None and batch[0] is not None:
        cost += f"; ~${batch[0]:,.4f} with run.mode=batch"
    return plan_lines(route, counts, cost)
