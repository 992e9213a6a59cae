"""One scripted answer of the stub server (framework.testing.server), OpenAI's chat
completion body made of it, and the server as its routes see it (`Host`): the other
wires (framework.testing.wires), the batch APIs and the embeddings take a Host, so that
none of them imports the server that adds them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Host", "Reply", "Responder", "completion_body"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    content: the assistant text; when the request offered tools, it is sent as the
        arguments of a call to the first tool instead.
    status: an HTTP status other than 200 sends `error` as an OpenAI-style error body.
    delay: seconds to wait before answering (latency, or a timeout when long).
    drop: close the connection without an answer (a reset).
    logprobs: (token, logprob, ((alternative, logprob), ...)) returned as
        choices[0].logprobs.content; the alternatives become top_logprobs.
    """

    content: str = '{"labels": []}'
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted error"
    delay: float = 0.0
    drop: bool = False
    logprobs: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = ()
    prompt_tokens: int = 10
    completion_tokens: int = 5
    # Of prompt_tokens, read from and written to the prompt cache, reported in each wire's
    # fields (a StubPromptCache sets them from what earlier requests sent).
    cached_tokens: int = 0
    cache_write_tokens: int = 0


Responder = Callable[[dict[str, Any]], Reply]


class Host(Protocol):
    """What a route needs from the server that serves it (StubServer is one)."""

    port: int
    record: bool  # keep what each request carried
    lock: threading.Lock  # held while recording
    authorizations: list[str | None]
    headers: list[dict[str, str]]
    embedding_requests: list[dict[str, Any]]
    embedding_faults: list[int]

    def next_reply(self, request: dict[str, Any]) -> Reply:
        """The answer to one request body (recorded when `record`)."""
        ...

    def cached_usage(self, wire: str, request: dict[str, Any], reply: Reply) -> Reply:
        """The reply with the usage the server's prompt cache reports, if it has one."""
        ...


def completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    finish_reason = "stop"
    tools = request.get("tools") or []
    if tools:
        name = tools[0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_stub",
                    "type": "function",
                    "function": {"name": name, "arguments": reply.content},
                }
            ],
        }
        finish_reason = "tool_calls"
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason}
    if reply.logprobs:
        choice["logprobs"] = {
            "content": [
                {
                    "token": token,
                    "logprob": logprob,
                    "bytes": None,
                    "top_logprobs": [
                        {"token": alt, "logprob": alt_logprob, "bytes": None}
                        for alt, alt_logprob in top
                    ],
                }
                for token, logprob, top in reply.logprobs
            ]
        }
    usage: dict[str, Any] = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    if reply.cached_tokens:  # part of prompt_tokens, as OpenAI reports it
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    answer: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub"),
        "choices": [choice],
        "usage": usage,
    }
    if request.get("service_tier"):  # OpenAI says which tier answered
        answer["service_tier"] = request["service_tier"]
    return answer
