"""The batch runner: budgets, progress, fatal errors, and exactly-once output."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

from framework import Classifier, ProviderError
from framework.runner.progress import Progress
from framework.runner.run import classify_file
from framework.testing import Reply, StubServer
from tests.support import read_jsonl, stub_overrides, write_jsonl


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


def inputs(tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"r{k}", "text": f"text number {k}"} for k in range(n)]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def run(classifier: Classifier, source: Path, output: Path, **kw):  # type: ignore[no-untyped-def]
    return asyncio.run(classify_file(classifier, source, output, **kw))


def test_max_cost_stops_new_rows_and_counts_the_rest(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space")  # 10 + 5 tokens a call
    overrides = stub_overrides(
        stub,
        "+model.input_cost_per_mtok=1000",
        "+model.output_cost_per_mtok=1000",
        "budget.max_cost=0.1",
        "run.concurrency=1",
    )
    source, output = inputs(tmp_path, 20), tmp_path / "out.jsonl"
    with Classifier.from_config(overrides) as classifier:
        totals = run(classifier, source, output)
    assert totals.stopped_by is not None and "budget.max_cost" in totals.stopped_by
    assert totals.done == 7  # 0.015 a row: the 7th row takes the spend past 0.1
    assert totals.not_started == 13
    assert len(read_jsonl(output)) == 7
    # Not lost: a larger budget continues with exactly the rows left.
    more = [o for o in overrides if not o.startswith("budget")] + ["budget.max_cost=10"]
    with Classifier.from_config(more) as classifier:
        again = run(classifier, source, output)
    assert again.resumed == 7 and again.done == 13
    assert sorted(r["id"] for r in read_jsonl(output)) == sorted(f"r{k}" for k in range(20))


def test_ledger_counts_retries_and_reasks(stub: StubServer, tmp_path: Path) -> None:
    stub.enqueue(Reply(status=500), answer("bogus"), answer("space"))
    overrides = stub_overrides(
        stub, "+model.input_cost_per_mtok=1", "+model.output_cost_per_mtok=1"
    )
    with Classifier.from_config(overrides) as classifier:
        totals = run(classifier, inputs(tmp_path, 1), tmp_path / "out.jsonl")
    assert totals.calls == 3  # the 500, the bad answer, the good one
    assert totals.usage.total_tokens == 30  # the 500 used no tokens
    assert totals.cost == pytest.approx(30 / 1e6)


def test_fatal_error_keeps_the_rows_already_recorded(stub: StubServer, tmp_path: Path) -> None:
    stub.enqueue(*[answer("space")] * 5)
    stub.default = Reply(status=401, error="key revoked")
    output = tmp_path / "out.jsonl"
    with (
        Classifier.from_config(stub_overrides(stub, "run.concurrency=1")) as classifier,
        pytest.raises(ProviderError, match="refused the credentials"),
    ):
        run(classifier, inputs(tmp_path, 20), output)
    rows = read_jsonl(output)
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)


def test_progress_writes_log_lines_when_not_a_terminal(
    stub: StubServer, tmp_path: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    stub.default = answer("space")
    progress = Progress(10, style="auto", interval=0.0, stream=io.StringIO())
    assert progress.style == "log"
    with (
        caplog.at_level(logging.INFO, logger="labelwise"),
        Classifier.from_config(stub_overrides(stub)) as classifier,
    ):
        run(classifier, inputs(tmp_path, 10), tmp_path / "out.jsonl", progress=progress)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert lines and "10/10 rows (100%)" in lines[-1]
    assert "0 failed" in lines[-1] and "rows/s" in lines[-1] and "tokens" in lines[-1]


def test_progress_bar_redraws_one_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    from framework.runner.totals import RunTotals

    screen = Terminal()
    progress = Progress(100, style="auto", stream=screen)
    totals = RunTotals(ok=40, failed=2)
    progress.update(totals, force=True)
    progress.close(totals)
    text = screen.getvalue()
    assert text.startswith("\r[########")
    assert "42/100 rows (42%)" in text and "2 failed" in text and "ETA" in text
    assert text.endswith("\n")


def test_progress_of_a_cascade_shows_the_rows_by_path() -> None:
    from framework.runner.totals import RunTotals

    progress = Progress(100, style="log")
    totals = RunTotals(ok=40, by_path={"trained": 31, "llm": 9})
    assert "40/100 rows (40%) | 0 failed | 9 by llm, 31 by trained |" in progress.describe(
        totals, 1.0
    )
    assert " by " not in progress.describe(RunTotals(ok=40), 1.0)


def test_progress_of_a_resumed_run_counts_the_rows_done_before(
    stub: StubServer, tmp_path: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    source, output = inputs(tmp_path, 10), tmp_path / "out.jsonl"
    stub.default = answer("space")
    with Classifier.from_config(stub_overrides(stub, "budget.max_tokens=1")) as classifier:
        first = run(classifier, source, output)
    assert 0 < first.done < 10
    progress = Progress(10, style="log", interval=0.0, stream=io.StringIO())
    with (
        caplog.at_level(logging.INFO, logger="labelwise"),
        Classifier.from_config(stub_overrides(stub)) as classifier,
    ):
        again = run(classifier, source, output, progress=progress)
    assert again.resumed == first.done and again.done == 10 - first.done
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    assert "10/10 rows (100%)" in lines[-1] and f"{first.done} from before" in lines[-1]


def test_retry_failed_classifies_only_the_failed_rows_again(
    stub: StubServer, tmp_path: Path
) -> None:
    source, output = inputs(tmp_path, 6), tmp_path / "out.jsonl"
    stub.enqueue(*[answer("space")] * 4)
    stub.default = Reply(status=400, error="flaky")
    with Classifier.from_config(stub_overrides(stub, "run.concurrency=1")) as classifier:
        first = run(classifier, source, output)
    assert (first.ok, first.failed) == (4, 2)
    stub.default = answer("science")
    with Classifier.from_config(stub_overrides(stub, "run.retry_failed=true")) as classifier:
        again = run(classifier, source, output)
    assert (again.resumed, again.retried, again.ok, again.failed) == (4, 2, 2, 0)
    rows = read_jsonl(output)
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6
    assert all(r["status"] == "ok" for r in rows)
