"""The stub server's prompt cache: usage reported as each provider reports it.

    stub = StubServer(prompt_cache=StubPromptCache())   # off (None) by default
    stub.enqueue(flex_unavailable())                    # a flex 429, as OpenAI sends it

With a prompt cache, the stub counts a request's prompt tokens from its text (one token a
`chars_per_token` characters, whatever Reply.prompt_tokens says) and reports the part an
earlier request already sent as cached, each wire in its own fields:

- OpenAI, Azure (automatic): the longest prefix shared with one of the last requests, in
  steps of 128 tokens from 1,024, as usage.prompt_tokens_details.cached_tokens (part of
  prompt_tokens).
- Gemini (implicit): the same, as usageMetadata.cachedContentTokenCount (part of
  promptTokenCount).
- Anthropic (explicit): only up to the last `cache_control` breakpoint, when at least
  1,024 tokens: the first request with that prefix writes it (cache_creation_input_tokens),
  later ones read it (cache_read_input_tokens); input_tokens counts the rest.

A shared prefix is found by characters, not by a tokenizer: a stand-in for the providers'
behaviour (which is token-based), close enough to test what labelwise sends and bills.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from math import ceil
from typing import Any

from framework.testing.reply import Reply

__all__ = ["FLEX_UNAVAILABLE", "StubPromptCache", "flex_unavailable"]

FLEX_UNAVAILABLE = (
    "Resource Unavailable: there is not enough capacity for flex processing right now; "
    "try again later or send the request with service_tier=default"
)


def flex_unavailable(retry_after: str = "0") -> Reply:
    """OpenAI's answer to a flex request it has no capacity for (429, not billed)."""
    return Reply(status=429, error=FLEX_UNAVAILABLE, headers={"retry-after": retry_after})


@dataclass
class StubPromptCache:
    min_tokens: int = 1024
    chars_per_token: int = 4
    step: int = 128  # OpenAI caches prefixes in steps of 128 tokens
    # The recent prompts an automatic cache compares a request with.
    _recent: deque[str] = field(default_factory=lambda: deque(maxlen=16))
    _written: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def usage(self, wire: str, body: dict[str, Any], reply: Reply) -> Reply:
        """The reply with the request's prompt tokens and its cache counts."""
        if reply.status != 200:
            return reply
        if wire == "anthropic":
            return self._explicit(body, reply)
        text = _gemini_text(body) if wire == "gemini" else _openai_text(body)
        with self._lock:
            shared = max((_common(text, seen) for seen in self._recent), default=0)
            self._recent.append(text)
        cached = self._tokens(shared) // self.step * self.step
        if cached < self.min_tokens:
            cached = 0
        return replace(
            reply, prompt_tokens=max(self._tokens(len(text)), cached), cached_tokens=cached
        )

    def _explicit(self, body: dict[str, Any], reply: Reply) -> Reply:
        blocks = _anthropic_blocks(body)
        total = sum(len(text) for text, _ in blocks)
        marked = [at for at, (_, mark) in enumerate(blocks) if mark]
        prompt = self._tokens(total)
        if not marked:
            return replace(reply, prompt_tokens=prompt)
        prefix = "".join(text for text, _ in blocks[: marked[-1] + 1])
        tokens = self._tokens(len(prefix))
        if tokens < self.min_tokens:
            return replace(reply, prompt_tokens=prompt)
        with self._lock:
            seen = prefix in self._written
            self._written.add(prefix)
        if seen:
            return replace(reply, prompt_tokens=prompt, cached_tokens=tokens)
        return replace(reply, prompt_tokens=prompt, cache_write_tokens=tokens)

    def _tokens(self, chars: int) -> int:
        return ceil(chars / self.chars_per_token)


def _common(a: str, b: str) -> int:
    """The length of the prefix a and b share, by halving (slices compare in C: a loop over
    characters cost the stub ~10 ms a request on 6,000-character prompts)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _openai_text(body: dict[str, Any]) -> str:
    parts = [json.dumps(body.get("tools") or [], sort_keys=True)]
    for message in body.get("messages") or []:
        parts.append(str(message.get("role")))
        parts.extend(_texts(message.get("content")))
    return "\n".join(parts)


def _gemini_text(body: dict[str, Any]) -> str:
    parts = [json.dumps(body.get("tools") or [], sort_keys=True)]
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    parts.extend(str(p.get("text", "")) for p in system.get("parts") or [])
    for content in body.get("contents") or []:
        parts.append(str(content.get("role")))
        parts.extend(str(p.get("text", "")) for p in content.get("parts") or [])
    return "\n".join(parts)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [str(b.get("text", "")) for b in content or [] if isinstance(b, dict)]


def _anthropic_blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in Anthropic's cache order (tools, system, messages), as (text, marked)."""
    blocks = [
        (json.dumps(t, sort_keys=True), bool(t.get("cache_control")))
        for t in body.get("tools") or []
    ]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append((system, False))
    for block in system if isinstance(system, list) else []:
        blocks.append((str(block.get("text", "")), bool(block.get("cache_control"))))
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            blocks.append((content, False))
            continue
        for block in content or []:
            text = block.get("text") if "text" in block else json.dumps(block, sort_keys=True)
            blocks.append((str(text), bool(block.get("cache_control"))))
    return blocks
