"""The tokens of one answer, read from each wire's usage fields into one Usage.

    read_openai_usage(answer["usage"])          # OpenAI's chat-completions wire
    read_anthropic_usage(message["usage"])      # Anthropic's Messages API (batch results)
    read_litellm_usage(response.usage)          # any provider, as litellm translates it

Usage.prompt_tokens counts every prompt token; cached_tokens and cache_write_tokens are
the part read from and written to the provider's prompt cache:
- OpenAI, Azure, Groq, OpenRouter: prompt_tokens includes usage.prompt_tokens_details.
  cached_tokens; DeepSeek says prompt_cache_hit_tokens.
- Anthropic: input_tokens excludes cache_read_input_tokens and
  cache_creation_input_tokens, so the three are added.
- Gemini: promptTokenCount includes cachedContentTokenCount (litellm reports it as
  prompt_tokens_details.cached_tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from framework.records import Usage

__all__ = ["read_anthropic_usage", "read_litellm_usage", "read_openai_usage"]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def read_openai_usage(raw: Mapping[str, Any]) -> Usage:
    details = raw.get("prompt_tokens_details") or {}
    cached = _int(details.get("cached_tokens") if isinstance(details, Mapping) else 0)
    cached = cached or _int(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    return Usage(_int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens")), cached)


def read_anthropic_usage(raw: Mapping[str, Any]) -> Usage:
    read = _int(raw.get("cache_read_input_tokens"))
    written = _int(raw.get("cache_creation_input_tokens"))
    prompt = _int(raw.get("input_tokens")) + read + written
    return Usage(prompt, _int(raw.get("output_tokens")), read, written)


def read_litellm_usage(raw: Any) -> Usage:
    """litellm's Usage object: prompt_tokens already holds Anthropic's cache tokens (litellm
    adds them); the cache counts are its prompt_tokens_details.cached_tokens (or Anthropic's
    cache_read_input_tokens) and cache_creation_input_tokens."""
    if raw is None:
        return Usage()
    details = getattr(raw, "prompt_tokens_details", None)
    cached = _int(getattr(details, "cached_tokens", 0)) if details is not None else 0
    cached = cached or _int(getattr(raw, "cache_read_input_tokens", 0))
    written = _int(getattr(raw, "cache_creation_input_tokens", 0))
    prompt = _int(getattr(raw, "prompt_tokens", 0))
    return Usage(
        max(prompt, cached + written), _int(getattr(raw, "completion_tokens", 0)), cached, written
    )
