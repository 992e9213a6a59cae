"""The stub server's other wires: Anthropic, Gemini, Ollama and Azure OpenAI, each
answered in its provider's own format, so that what litellm sends them and how
labelwise reads the answers back are tested over real HTTP.

    with StubServer() as stub:                  # StubServer._app() adds these routes
        stub.enqueue(Reply(content='{"labels": ["space"]}'))
        provider.api_base = wire_url(stub, "anthropic")
        stub.received[-1].path, .query, .headers, .body   # what each request carried
        stub.requests[-1]                                  # its body, as on every wire

Routes, and how a `Reply` is answered on each:

    anthropic  POST /v1/messages: a tool_use block (stop_reason tool_use) when tool_choice
               forces a tool and the content is a JSON object, else a text block (end_turn);
               usage input_tokens/output_tokens; anthropic-ratelimit-* headers. Errors:
               {"type": "error", "error": {"type": "rate_limit_error", ...}}, 529
               overloaded_error; a 429 carries retry-after and a spent request quota.
    gemini     POST [/v1beta]/models/{model}:generateContent: a functionCall part when
               toolConfig forces a call (mode ANY), else a text part; usageMetadata.
               Errors: {"error": {"code", "message", "status": "RESOURCE_EXHAUSTED"}}. As
               Google does, a 429 says its delay in the body (RetryInfo.retryDelay, taken
               from the Reply's retry-after header, which is then not sent), and a 400 whose
               message says "API key not valid" carries ErrorInfo reason API_KEY_INVALID.
    ollama     POST /api/chat: message.content, done_reason, prompt_eval_count/eval_count.
               Errors: {"error": "..."}.
    azure      POST /openai/deployments/{name}/chat/completions?api-version=...: OpenAI's
               answer plus content-filter results; no api-version is a 404, as on Azure.
               Errors: {"error": {"code": "429", "message": ...}} with retry-after.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from framework.testing.reply import Host, Reply, completion_body

__all__ = ["WIRES", "Received", "Wire", "add_wires", "anthropic_answer", "wire_url"]

Wire = Literal["anthropic", "gemini", "ollama", "azure"]
WIRES: tuple[Wire, ...] = ("anthropic", "gemini", "ollama", "azure")
# (status, body, headers) of one answer; the Reply's own headers are laid over them.
Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass(frozen=True)
class Received:
    """One request as it arrived: which wire, the path, the query, headers (names
    lower-cased) and the JSON body."""

    wire: Wire
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


def wire_url(stub: Host, wire: Wire) -> str:
    """The provider.api_base that points a provider's litellm client at the stub (litellm
    appends /v1/messages, /models/{model}:generateContent, /api/chat, /openai/...)."""
    root = f"http://127.0.0.1:{stub.port}"
    return f"{root}/v1beta" if wire == "gemini" else root


def add_wires(app: web.Application, stub: Host) -> list[Received]:
    """Add the four wires' routes to the stub's app; the list they record into."""
    received: list[Received] = []
    routes: tuple[tuple[str, Wire, Callable[..., Answer]], ...] = (
        ("/v1/messages", "anthropic", anthropic_answer),
        ("/models/{model:[^/:]+}:generateContent", "gemini", _gemini),
        ("/v1beta/models/{model:[^/:]+}:generateContent", "gemini", _gemini),
        ("/api/chat", "ollama", _ollama),
        ("/openai/deployments/{deployment}/chat/completions", "azure", _azure),
    )
    for path, wire, answer in routes:
        app.router.add_post(path, _handler(stub, received, wire, answer))
    return received


def _handler(
    stub: Host, received: list[Received], wire: Wire, answer: Callable[..., Answer]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if stub.record:
            with stub.lock:  # the same bookkeeping as the OpenAI route's
                received.append(Received(wire, request.path, dict(request.query), headers, body))
                stub.authorizations.append(headers.get("authorization"))
                stub.headers.append(headers)
        reply = stub.cached_usage(wire, body, stub.next_reply(body))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        status, payload, extra = answer(body, reply, request)
        return web.json_response(payload, status=status, headers=extra)

    return handle


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _retry_after(reply: Reply, default: str = "1") -> str:
    lower = {k.lower(): v for k, v in reply.headers.items()}
    return lower.get("retry-after", default)


# -- Anthropic ------------------------------------------------------------------------

_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _anthropic_quota(remaining: int, reset_in: float) -> dict[str, str]:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + reset_in))
    quota = {}
    for what, limit in (("requests", 1000), ("tokens", 400000)):
        quota[f"anthropic-ratelimit-{what}-limit"] = str(limit)
        quota[f"anthropic-ratelimit-{what}-remaining"] = str(min(remaining, limit))
        quota[f"anthropic-ratelimit-{what}-reset"] = reset
    return quota


def anthropic_answer(body: dict[str, Any], reply: Reply, _: web.Request) -> Answer:
    if reply.status != 200:
        error = {"type": _ANTHROPIC_ERRORS.get(reply.status, "api_error"), "message": reply.error}
        headers = {"request-id": "req_stub"}
        if reply.status == 429:
            wait = _retry_after(reply)
            headers |= {"retry-after": wait, **_anthropic_quota(0, float(wait))}
        return reply.status, {"type": "error", "error": error}, headers | reply.headers
    choice = body.get("tool_choice") or {}
    forced = choice.get("name") if choice.get("type") == "tool" else None
    arguments = _json_object(reply.content) if forced else None
    block: dict[str, Any] = {"type": "text", "text": reply.content}
    if arguments is not None:
        block = {"type": "tool_use", "id": "toolu_stub", "name": forced, "input": arguments}
    usage = {  # input_tokens excludes what was read from or written to the cache
        "input_tokens": reply.prompt_tokens - reply.cached_tokens - reply.cache_write_tokens,
        "output_tokens": reply.completion_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
    }
    message = {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "stub"),
        "content": [block],
        "stop_reason": "tool_use" if arguments is not None else "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    return 200, message, {"request-id": "req_stub", **_anthropic_quota(999, 60)} | reply.headers


# -- Gemini ---------------------------------------------------------------------------

_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_GOOGLE_TYPES = "type.googleapis.com/google.rpc."


def _gemini(body: dict[str, Any], reply: Reply, request: web.Request) -> Answer:
    if reply.status != 200:
        details: list[dict[str, Any]] = []
        headers = {k: v for k, v in reply.headers.items() if k.lower() != "retry-after"}
        if reply.status == 429:
            details.append(
                {"@type": f"{_GOOGLE_TYPES}RetryInfo", "retryDelay": f"{_retry_after(reply)}s"}
            )
        if reply.status == 400 and "API key not valid" in reply.error:
            info = {"reason": "API_KEY_INVALID", "domain": "googleapis.com"}
            details.append({"@type": f"{_GOOGLE_TYPES}ErrorInfo", **info})
        status = _GEMINI_STATUS.get(reply.status, "UNKNOWN")
        error = {"code": reply.status, "message": reply.error, "status": status}
        return reply.status, {"error": {**error, "details": details}}, headers
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    declared = [
        d for tool in body.get("tools") or [] for d in tool.get("function_declarations", [])
    ]
    arguments = _json_object(reply.content) if mode == "ANY" and declared else None
    part: dict[str, Any] = {"text": reply.content}
    if arguments is not None:
        part = {"functionCall": {"name": declared[0]["name"], "args": arguments}}
    usage = {
        "promptTokenCount": reply.prompt_tokens,
        "candidatesTokenCount": reply.completion_tokens,
        "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
    }
    if reply.cached_tokens:  # part of promptTokenCount
        usage["cachedContentTokenCount"] = reply.cached_tokens
    candidate = {"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}
    answer = {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": request.match_info["model"],
        "responseId": "stub",
    }
    return 200, answer, dict(reply.headers)


# -- Ollama ---------------------------------------------------------------------------


def _ollama(body: dict[str, Any], reply: Reply, _: web.Request) -> Answer:
    if reply.status != 200:
        return reply.status, {"error": reply.error}, dict(reply.headers)
    answer = {
        "model": body.get("model", "stub"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "message": {"role": "assistant", "content": reply.content},
        "done_reason": "stop",
        "done": True,
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": reply.prompt_tokens,
        "prompt_eval_duration": 2_000_000,
        "eval_count": reply.completion_tokens,
        "eval_duration": 2_000_000,
    }
    return 200, answer, dict(reply.headers)


# -- Azure OpenAI ---------------------------------------------------------------------

_NO_FILTER = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}


def _azure(body: dict[str, Any], reply: Reply, request: web.Request) -> Answer:
    if "api-version" not in request.query:
        return 404, {"error": {"code": "404", "message": "Resource not found"}}, {}
    if reply.status != 200:
        error = {"code": str(reply.status), "message": reply.error}
        headers: Mapping[str, str] = {}
        if reply.status == 429:
            headers = {"retry-after": _retry_after(reply)}
        return reply.status, {"error": error}, {**headers, **reply.headers}
    answer = completion_body(body, reply)
    answer["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _NO_FILTER}]
    answer["choices"][0]["content_filter_results"] = _NO_FILTER
    return 200, answer, dict(reply.headers)
