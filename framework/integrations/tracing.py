"""tracing=otel: OpenTelemetry spans for a run, each of its rows and each provider call.

    labelwise run           INTERNAL  the run: its folder, model, taxonomy, then its totals
      labelwise row         INTERNAL  one row: its id, status, attempts, cost, path (tier)
        chat MODEL          CLIENT    one request (its retries included, as the GenAI
                                      conventions ask), or its answer from the cache
    labelwise tune|compare  INTERNAL  a group of runs (a tune, each of its recipes)

Call spans follow the OpenTelemetry GenAI semantic conventions (gen_ai.operation.name,
gen_ai.provider.name, gen_ai.request.model, gen_ai.output.type, gen_ai.usage.input_tokens
and .output_tokens, gen_ai.response.finish_reasons, server.address and .port, error.type)
plus labelwise.*: cost, cache_hit, attempts, output_mode. Each attribute costs every span
microseconds (the SDK checks each value), so what is the same for every call of a run
(gen_ai.request.temperature, .max_tokens, .seed) is on the run's span. This module is imported
only when tracing is on, so it imports OpenTelemetry at its top. Without tracing.content=true no
span holds a prompt, a text, an answer or a row's labels, and no exception message (it
may quote the provider's answer): only its type. A key is never on a span.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from framework.integrations.base import (
    CallTransport,
    GroupInfo,
    GroupWatch,
    Observer,
    RowWatch,
    RunInfo,
    warn_once,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from framework.config.schema import RunConfig
    from framework.records import Completion, Item, Prediction

__all__ = ["PROVIDER_NAMES", "TracingObserver"]

# provider.kind -> gen_ai.provider.name (the conventions' well-known values where one fits)
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
    "groq": "groq",
    "deepseek": "deepseek",
    "ollama": "ollama",
    "openai_compatible": "openai",
    "llamacpp": "llama.cpp",
    "local": "llama.cpp",
    "together": "together_ai",
    "openrouter": "openrouter",
    "fireworks": "fireworks_ai",
}


class TracingObserver(Observer):
    name = "tracing"

    def __init__(self, config: RunConfig) -> None:
        from framework.integrations.otel_setup import labelwise_tracer

        self.tracer: Tracer = labelwise_tracer()
        self.config = config
        self.content = config.tracing.content
        self.share = config.tracing.rows
        self.common = _call_attributes(config)

    def watch_calls(self, transport: CallTransport) -> CallTransport:
        return _TracedCalls(transport, self)

    def row(self, item: Item) -> Any:
        if self.share < 1 and zlib.crc32(item.id.encode("utf-8")) % 10_000 >= self.share * 10_000:
            return _Untraced()
        return _RowSpan(self, item)

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        attributes = {
            "labelwise.run.dir": str(info.run_dir),
            "labelwise.taxonomy": f"{info.config.taxonomy.name}@{info.config.taxonomy.version}",
            **{k: v for k, v in self.common.items() if k != "gen_ai.operation.name"},
            **_sampling(info.config),
        }
        with self._span("labelwise run", attributes) as span:
            yield
            _add_totals(span, info)
        self._flush()

    @contextmanager
    def group(self, info: GroupInfo) -> Iterator[GroupWatch]:
        attributes = {"labelwise.group.kind": info.kind, "labelwise.group.name": info.name}
        with self._span(f"labelwise {info.kind}", attributes):
            yield GroupWatch()
        self._flush()

    @contextmanager
    def _span(self, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
        with self.tracer.start_as_current_span(
            name,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as error:
                _failed(span, type(error).__name__)
                raise

    def _flush(self) -> None:
        from framework.integrations.otel_setup import flush

        if not flush():
            warn_once(
                "tracing flush",
                "tracing: some spans were not exported in 10 s (is the collector at "
                "OTEL_EXPORTER_OTLP_ENDPOINT up?); the run's own files are complete",
            )


class _RowSpan(RowWatch):
    """The span of one row, current while the row runs (its calls' spans nest in it).

    A class rather than a generator: it is entered once a row, and every microsecond a
    row spends here is one the rows/s of a run at 128 in flight pays (benchmarks/
    tracing_overhead.py)."""

    def __init__(self, observer: TracingObserver, item: Item) -> None:
        self.observer, self.item = observer, item

    def __enter__(self) -> _RowSpan:
        self.span = self.observer.tracer.start_span(
            "labelwise row", attributes={"labelwise.row.id": self.item.id}
        )
        self.token = context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            _failed(self.span, kind.__name__)
        context.detach(self.token)
        self.span.end()

    def finished(self, prediction: Prediction) -> None:
        found: dict[str, Any] = {
            "labelwise.status": prediction.status,
            "labelwise.attempts": prediction.attempts,
            "labelwise.cache_hits": prediction.cache_hits,
        }
        if prediction.cost is not None:
            found["labelwise.cost"] = prediction.cost
        for key in ("path", "tier"):
            value = prediction.extra.get(key)
            if isinstance(value, str):
                found[f"labelwise.{key}"] = value
        if prediction.decided_by:
            found["labelwise.decided_by"] = prediction.decided_by
        if self.observer.content:
            found["labelwise.labels"] = list(prediction.labels)
        self.span.set_attributes(found)
        if not prediction.ok:
            _failed(self.span, prediction.error_kind or "failed")


class _Untraced(RowWatch):
    """A row tracing.rows leaves out: its calls see a parent that is not sampled, so the
    SDK makes them no span (a sampler's answer, not a span's cost)."""

    def __enter__(self) -> _Untraced:
        parent = trace.get_current_span().get_span_context()
        quiet = trace.NonRecordingSpan(
            trace.SpanContext(parent.trace_id or 1, parent.span_id or 1, False, trace.TraceFlags(0))
        )
        self.token = context.attach(trace.set_span_in_context(quiet))
        return self

    def __exit__(self, *_: object) -> None:
        context.detach(self.token)


class _TracedCalls:
    """A transport layer: one CLIENT span around each request sent through it."""

    def __init__(self, inner: CallTransport, observer: TracingObserver) -> None:
        self.inner = inner
        self.tracer, self.content = observer.tracer, observer.content
        self.common = observer.common
        self.model = observer.config.model.name
        self.kind = SpanKind.CLIENT

    async def send(self, request: Any) -> Completion:
        attributes = {**self.common, "labelwise.output_mode": request.mode}
        if self.content:
            attributes["gen_ai.input.messages"] = _messages(request.kwargs)
        span = self.tracer.start_span(f"chat {self.model}", kind=self.kind, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
        try:
            completion: Completion = await self.inner.send(request)
        except BaseException as error:
            _failed(span, str(getattr(error, "kind", "") or type(error).__name__))
            raise
        else:
            _add_completion(span, completion, self.content)
            return completion
        finally:
            context.detach(token)
            span.end()

    async def release(self) -> None:
        await self.inner.release()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # what layers above read of the one below
        return getattr(self.inner, name)


def _call_attributes(config: RunConfig) -> dict[str, Any]:
    provider = PROVIDER_NAMES.get(config.provider.kind, config.provider.kind)
    found: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": config.model.name,
        "gen_ai.output.type": "json",
    }
    if config.provider.api_base:
        where = urlparse(config.provider.api_base)
        if where.hostname:
            found["server.address"] = where.hostname
            found["server.port"] = where.port or (443 if where.scheme == "https" else 80)
    return found


def _sampling(config: RunConfig) -> dict[str, Any]:
    """The run's sampling settings: on the run's span, the same for each of its calls."""
    model = config.model
    found: dict[str, Any] = {
        "gen_ai.request.temperature": model.temperature,
        "gen_ai.request.max_tokens": model.max_tokens,
    }
    if model.seed is not None:
        found["gen_ai.request.seed"] = model.seed
    return found


def _add_completion(span: Span, completion: Completion, content: bool) -> None:
    found: dict[str, Any] = {
        "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
        "labelwise.cache_hit": completion.cached,
        "labelwise.attempts": completion.attempts,
    }
    if completion.cost is not None:
        found["labelwise.cost"] = completion.cost
    if completion.finish_reason:
        found["gen_ai.response.finish_reasons"] = [completion.finish_reason]
    span.set_attributes(found)
    if content and completion.text is not None:
        answer = [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": completion.text}],
                "finish_reason": completion.finish_reason or "stop",
            }
        ]
        span.set_attribute("gen_ai.output.messages", json.dumps(answer, ensure_ascii=False))


def _messages(kwargs: Any) -> str:
    """The request's messages in the conventions' shape, as JSON (tracing.content=true)."""
    shaped = [
        {"role": m.get("role"), "parts": [{"type": "text", "content": m.get("content")}]}
        for m in kwargs.get("messages", ())
    ]
    return json.dumps(shaped, ensure_ascii=False)


def _add_totals(span: Span, info: RunInfo) -> None:
    from framework.run_record import load_record

    try:
        record = load_record(info.run_dir)
    except Exception:  # a record that cannot be read leaves the span without totals
        return
    totals = record.totals if record is not None else None
    if not totals:
        return
    for key in ("ok", "failed", "calls", "cache_hits", "total_tokens", "cost", "rows_per_s"):
        value = totals.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span.set_attribute(f"labelwise.run.{key}", value)


def _failed(span: Span, kind: str) -> None:
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR))
