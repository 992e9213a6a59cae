"""tracing=otel: OpenTelemetry spans for a run, each of its rows and each provider call.

    labelwise run           INTERNAL  the run: its folder, model, taxonomy, then its totals
      labelwise row         INTERNAL  one row: its id, status, attempts, cost, path (tier)
        chat MODEL          CLIENT    one request (its retries included, as the GenAI
                                      conventions ask), or its answer from the cache
    labelwise tune|compare  INTERNAL  a group of runs (a tune, each of its recipes)

Call spans follow the OpenTelemetry GenAI semantic conventions (gen_ai.operation.name,
gen_ai.provider.name and the older gen_ai.system, gen_ai.request.model, .temperature,
.max_tokens, .seed, gen_ai.output.type, gen_ai.usage.input_tokens and .output_tokens,
gen_ai.response.finish_reasons, server.address and .port, error.type) plus labelwise.*:
cost, cache_hit, attempts, output_mode, request_hash. Without tracing.content=true no
span holds a prompt, a text, an answer or a row's labels, and no exception message (it
may quote the provider's answer): only its type. A key is never on a span.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

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
        import importlib.util

        from framework.errors import ConfigError

        if importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ConfigError(
                "tracing.kind: otel needs the OpenTelemetry SDK, which is not installed: "
                "pip install 'labelwise[tracing]' (or run with tracing=none)"
            )
        from framework.integrations.otel_setup import labelwise_tracer

        self.tracer: Tracer = labelwise_tracer()
        self.config = config
        self.content = config.tracing.content
        self.common = _call_attributes(config)

    def watch_calls(self, transport: CallTransport) -> CallTransport:
        return _TracedCalls(transport, self)

    @contextmanager
    def row(self, item: Item) -> Iterator[RowWatch]:
        with self._span("labelwise row", {"labelwise.row.id": item.id}) as span:
            yield _RowSpan(span, self.content)

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        attributes = {
            "labelwise.run.dir": str(info.run_dir),
            "labelwise.taxonomy": f"{info.config.taxonomy.name}@{info.config.taxonomy.version}",
            **{k: v for k, v in self.common.items() if k != "gen_ai.operation.name"},
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
        from opentelemetry.trace import SpanKind

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
    def __init__(self, span: Span, content: bool) -> None:
        self.span, self.content = span, content

    def finished(self, prediction: Prediction) -> None:
        span = self.span
        span.set_attributes(
            {
                "labelwise.status": prediction.status,
                "labelwise.attempts": prediction.attempts,
                "labelwise.cache_hits": prediction.cache_hits,
                "labelwise.usage.input_tokens": prediction.usage.prompt_tokens,
                "labelwise.usage.output_tokens": prediction.usage.completion_tokens,
            }
        )
        if prediction.cost is not None:
            span.set_attribute("labelwise.cost", prediction.cost)
        for key in ("path", "tier"):
            value = prediction.extra.get(key)
            if isinstance(value, str):
                span.set_attribute(f"labelwise.{key}", value)
        if prediction.decided_by:
            span.set_attribute("labelwise.decided_by", prediction.decided_by)
        if self.content:
            span.set_attribute("labelwise.labels", list(prediction.labels))
        if not prediction.ok:
            _failed(span, prediction.error_kind or "failed")


class _TracedCalls:
    """A transport layer: one CLIENT span around each request sent through it."""

    def __init__(self, inner: CallTransport, observer: TracingObserver) -> None:
        self.inner = inner
        self.tracer, self.content = observer.tracer, observer.content
        self.common = observer.common
        self.model = observer.config.model.name
        from opentelemetry.trace import SpanKind

        self.kind = SpanKind.CLIENT

    async def send(self, request: Any) -> Completion:
        attributes = {
            **self.common,
            "labelwise.output_mode": request.mode,
            "labelwise.request_hash": request.key,
            **_sampling(request.kwargs),
        }
        with self.tracer.start_as_current_span(
            f"chat {self.model}",
            kind=self.kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if self.content:
                span.set_attribute("gen_ai.input.messages", _messages(request.kwargs))
            try:
                completion: Completion = await self.inner.send(request)
            except BaseException as error:
                _failed(span, str(getattr(error, "kind", "") or type(error).__name__))
                raise
            _add_completion(span, completion, self.content)
            return completion

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
        "gen_ai.system": provider,  # the name before semantic conventions 1.37
        "gen_ai.request.model": config.model.name,
        "gen_ai.output.type": "json",
    }
    if config.provider.api_base:
        where = urlparse(config.provider.api_base)
        if where.hostname:
            found["server.address"] = where.hostname
            found["server.port"] = where.port or (443 if where.scheme == "https" else 80)
    return found


def _sampling(kwargs: Any) -> dict[str, Any]:
    found = {}
    for key, name in (
        ("temperature", "gen_ai.request.temperature"),
        ("max_tokens", "gen_ai.request.max_tokens"),
        ("seed", "gen_ai.request.seed"),
    ):
        value = kwargs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = value
    return found


def _add_completion(span: Span, completion: Completion, content: bool) -> None:
    span.set_attributes(
        {
            "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
            "labelwise.cache_hit": completion.cached,
            "labelwise.attempts": completion.attempts,
        }
    )
    if completion.cost is not None:
        span.set_attribute("labelwise.cost", completion.cost)
    if completion.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [completion.finish_reason])
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
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR))
