"""The span of each provider call: a transport layer at the top of the run's stack.

    transport = TracedCalls(transport, observer)   # framework.integrations.tracing

One CLIENT span `chat MODEL` around each request (its retries included, as the GenAI
conventions ask; an answer from the cache too, with labelwise.cache_hit), with the
conventions' attributes (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
gen_ai.output.type, server.address and .port, gen_ai.usage.input_tokens and .output_tokens,
gen_ai.response.finish_reasons, error.type) and labelwise.output_mode, .cache_hit,
.attempts, .cost; the messages and the answer only with tracing.content=true.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from framework.config.schema import RunConfig
    from framework.integrations.base import CallTransport
    from framework.integrations.tracing import TracingObserver
    from framework.records import Completion

__all__ = ["PROVIDER_NAMES", "TracedCalls", "call_attributes", "failed"]

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


class TracedCalls:
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
            failed(span, str(getattr(error, "kind", "") or type(error).__name__))
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


def call_attributes(config: RunConfig) -> dict[str, Any]:
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


def failed(span: Span, kind: str) -> None:
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR))
