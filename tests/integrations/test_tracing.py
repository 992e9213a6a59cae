"""tracing=otel: spans per run, row and provider call (GenAI semantic conventions), read
from the SDK's in-memory exporter in this process and, as a collector gets them, from a
real OTLP/HTTP receiver (tests/support/otlp_receiver.py) fed by the CLI."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.testing import Reply, StubServer
from tests.support import cli_env, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.cli import NEWS

pytest.importorskip("opentelemetry.sdk", reason="tracing needs labelwise[tracing]")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

SECRET = "sk-test-never-on-a-span-123"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """An SDK tracer provider with an in-memory exporter as this process's global one:
    labelwise's spans join an application's provider when there is one."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


def classify(run_dir: Path, stub: StubServer, *extra: str, source: Path = NEWS) -> Any:
    """A classify run in this process (what `labelwise classify` runs), traced."""
    from framework.config.load import compose
    from framework.evaluation.job import run_job

    overrides = [f"input={source}", *stub_overrides(stub), "tracing=otel", *extra]
    return run_job(compose(overrides), run_dir=run_dir, overrides=overrides, progress=False)


def by_name(finished: Any, name: str) -> list[Any]:
    return [span for span in finished if span.name == name]


def test_a_run_its_rows_and_their_calls_nest_with_the_genai_attributes(
    spans: InMemorySpanExporter, stub: StubServer, tmp_path: Path
) -> None:
    classify(tmp_path / "run", stub, "cache.mode=off")
    finished = spans.get_finished_spans()
    (run,) = by_name(finished, "labelwise run")
    rows, calls = by_name(finished, "labelwise row"), by_name(finished, "chat stub-model")
    assert len(rows) == len(calls) == 20
    assert {span.context.trace_id for span in finished} == {run.context.trace_id}
    assert all(row.parent.span_id == run.context.span_id for row in rows)
    row_ids = {row.context.span_id for row in rows}
    assert {call.parent.span_id for call in calls} == row_ids
    call = calls[0].attributes
    assert call[gen_ai.GEN_AI_OPERATION_NAME] == "chat"
    assert call[gen_ai.GEN_AI_PROVIDER_NAME] == "openai"
    assert call[gen_ai.GEN_AI_OUTPUT_TYPE] == "json"
    assert call[gen_ai.GEN_AI_REQUEST_MODEL] == "stub-model"
    assert call[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert call[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert call["server.address"] == "127.0.0.1" and call["server.port"] == stub.port
    assert call["labelwise.cache_hit"] is False and call["labelwise.attempts"] == 1
    assert call["labelwise.output_mode"] == "json_schema"
    assert calls[0].kind.name == "CLIENT"
    assert rows[0].attributes["labelwise.status"] == "ok"
    assert run.attributes["labelwise.run.ok"] == 20
    assert run.attributes["labelwise.taxonomy"] == "news@1.0.0"
    assert run.attributes[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == 0.0


def test_tracing_changes_no_request(stub: StubServer, tmp_path: Path, spans: Any) -> None:
    classify(tmp_path / "traced", stub, "cache.mode=off")
    traced = list(stub.requests)
    stub.requests.clear()
    classify(tmp_path / "plain", stub, "cache.mode=off", "tracing=none")
    assert stub.requests == traced


def test_cache_hits_and_failed_rows_are_on_their_spans(
    spans: InMemorySpanExporter, stub: StubServer, tmp_path: Path
) -> None:
    classify(tmp_path / "first", stub)
    spans.clear()
    classify(tmp_path / "again", stub)  # every answer from the cache
    calls = by_name(spans.get_finished_spans(), "chat stub-model")
    assert calls and all(c.attributes["labelwise.cache_hit"] is True for c in calls)
    assert all(c.attributes["labelwise.attempts"] == 0 for c in calls)

    spans.clear()
    stub.default = Reply(content="not json at all")
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"id": "a", "text": "A rocket lifts off"}])
    classify(tmp_path / "bad", stub, "validation.max_retries=0", source=rows)
    (row,) = by_name(spans.get_finished_spans(), "labelwise row")
    assert row.attributes["labelwise.status"] == "failed"
    assert (
        row.attributes["error.type"]
        == read_jsonl(tmp_path / "bad" / "results.jsonl")[0]["error_kind"]
    )
    assert row.status.status_code.name == "ERROR"


def test_no_text_prompt_answer_or_key_on_a_span_unless_content_is_asked(
    spans: InMemorySpanExporter, stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content='{"labels": ["space"]}')
    texts = [row["text"] for row in read_jsonl(NEWS)]
    classify(tmp_path / "quiet", stub, f"provider.api_key={SECRET}")
    quiet = json.dumps([dict(s.attributes) for s in spans.get_finished_spans()])
    assert not any(text in quiet for text in texts)
    assert SECRET not in quiet and '"space"' not in quiet
    assert "gen_ai.input.messages" not in quiet

    spans.clear()
    classify(tmp_path / "open", stub, f"provider.api_key={SECRET}", "tracing.content=true")
    finished = spans.get_finished_spans()
    call = by_name(finished, "chat stub-model")[0].attributes
    messages = json.loads(call["gen_ai.input.messages"])
    assert messages[-1]["role"] == "user" and messages[-1]["parts"][0]["type"] == "text"
    answer = json.loads(call["gen_ai.output.messages"])
    assert answer[0]["parts"][0]["content"] == '{"labels": ["space"]}'
    assert any(text in call["gen_ai.input.messages"] for text in texts)
    assert by_name(finished, "labelwise row")[0].attributes["labelwise.labels"] == ("space",)
    everything = json.dumps([dict(s.attributes) for s in finished])
    assert SECRET not in everything


def test_tracing_rows_traces_the_same_share_of_rows_every_run(
    spans: InMemorySpanExporter, stub: StubServer, tmp_path: Path
) -> None:
    classify(tmp_path / "one", stub, "tracing.rows=0.3", "cache.mode=off")
    finished = spans.get_finished_spans()
    rows, calls = by_name(finished, "labelwise row"), by_name(finished, "chat stub-model")
    traced = sorted(row.attributes["labelwise.row.id"] for row in rows)
    assert 0 < len(traced) < 20 and len(calls) == len(rows)  # a left-out row's call: no span
    assert {call.parent.span_id for call in calls} == {row.context.span_id for row in rows}
    assert len(by_name(finished, "labelwise run")) == 1
    spans.clear()
    classify(tmp_path / "two", stub, "tracing.rows=0.3", "cache.mode=off")
    again = by_name(spans.get_finished_spans(), "labelwise row")
    assert sorted(row.attributes["labelwise.row.id"] for row in again) == traced


@pytest.mark.slow
def test_the_cli_exports_to_an_otlp_receiver(stub: StubServer, tmp_path: Path) -> None:
    from tests.support.otlp_receiver import OtlpReceiver

    with OtlpReceiver() as receiver:
        done = run_cli(
            [sys.executable, "-m", "framework", "classify", f"input={NEWS}",
             *stub_overrides(stub), "tracing=otel", f"hydra.run.dir={tmp_path / 'run'}"],
            env=cli_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        got = list(receiver.spans)
    names = [span["name"] for span in got]
    assert names.count("labelwise row") == names.count("chat stub-model") == 20
    (run,) = [span for span in got if span["name"] == "labelwise run"]
    assert run["resource"]["service.name"] == "labelwise"
    assert run["scope"] == "labelwise"
    rows = {s["span_id"] for s in got if s["name"] == "labelwise row"}
    assert all(s["parent"] in rows for s in got if s["name"] == "chat stub-model")
    call = next(s for s in got if s["name"] == "chat stub-model")["attributes"]
    assert call["gen_ai.usage.input_tokens"] == 10 and call["gen_ai.provider.name"] == "openai"


@pytest.mark.slow
def test_a_collector_that_is_down_costs_the_run_nothing(stub: StubServer, tmp_path: Path) -> None:
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    run = tmp_path / "run"
    done = run_cli(
        [sys.executable, "-m", "framework", "classify", f"input={NEWS}", *stub_overrides(stub),
         "tracing=otel", f"hydra.run.dir={run}"],
        env=cli_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{closed}", OTEL_EXPORTER_OTLP_TIMEOUT="1"
        ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(read_jsonl(run / "results.jsonl")) == 20
    assert json.loads((run / "record.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_off_imports_neither_opentelemetry_nor_mlflow(stub: StubServer, tmp_path: Path) -> None:
    done = run_cli(
        [sys.executable, "-X", "importtime", "-m", "framework", "classify", f"input={NEWS}",
         *stub_overrides(stub), f"hydra.run.dir={tmp_path / 'run'}"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "framework.runner.run" in imported  # the run did run in this process
    assert not {m for m in imported if m.startswith(("opentelemetry", "mlflow"))}
