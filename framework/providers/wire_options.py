"""What goes on the wire beside the compiled request: the service tier and the
prompt-caching hints (provider.service_tier, provider.prompt_caching).

    options = WireOptions.of(config.provider)
    options.learn(shared_prefix, prompt_digest)     # the run's prompt (framework.engine)
    kwargs = options.apply(request.kwargs, tier)    # what the provider client sends

Neither decides the answer, so neither is in the compiled request or its cache key: an
answer cached by a run at one tier, or without caching hints, serves a run with them.
With the defaults (service_tier=default, prompt_caching=auto) `apply` returns the
request as it is, byte for byte.

What `on` adds, by the provider's profile (ProviderProfile.prompt_cache):
- breakpoint (Anthropic): one `cache_control` breakpoint (of the four allowed) at the end
  of the prefix every prompt of the run shares: the prompt's first message is split there
  into two text blocks, the first marked. Without that prefix in the message (a per-label
  prompt), the breakpoint goes on the system message.
- key (OpenAI, Azure): `prompt_cache_key`, a digest of the prompt's template, system text
  and shared prefix and the model, the same for every request of the run and never made
  of a row's text, so the provider routes them to one cache.
- implicit (Gemini, DeepSeek, Groq, OpenRouter): nothing to ask; the provider caches a
  repeated prefix by itself. Gemini's explicit cached contents are not made: see
  docs/costs-and-caching.md for why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from framework.config.schema import PromptCaching, ProviderConfig, ServiceTier
from framework.providers.profiles import PROFILES

__all__ = ["WireOptions"]

_BREAKPOINT = {"type": "ephemeral"}


@dataclass
class WireOptions:
    tier: ServiceTier = "default"
    caching: PromptCaching = "auto"
    style: Literal["breakpoint", "key", "implicit"] | None = None
    shared_prefix: str | None = None  # the start every prompt of the run shares
    cache_key: str | None = None  # prompt_cache_key of the run

    @classmethod
    def of(cls, provider: ProviderConfig) -> WireOptions:
        profile = PROFILES[provider.kind]
        return cls(provider.service_tier, provider.prompt_caching, profile.prompt_cache)

    def learn(self, shared_prefix: str | None, prompt_digest: str, model: str) -> None:
        """The run's prompt: its shared prefix and the digest of what makes it."""
        self.shared_prefix = shared_prefix or None
        digest = hashlib.sha256(f"{model}\n{prompt_digest}\n{shared_prefix or ''}".encode())
        self.cache_key = f"labelwise-{digest.hexdigest()[:32]}"

    @property
    def asks_caching(self) -> bool:
        return self.caching == "on" and self.style in ("breakpoint", "key")

    def apply(self, kwargs: Mapping[str, Any], tier: ServiceTier | None = None) -> dict[str, Any]:
        """The request's keyword arguments (or body) with the tier and caching hints."""
        sent: dict[str, Any] = dict(kwargs)
        tier = tier or self.tier
        if tier != "default":
            sent["service_tier"] = tier
        if self.caching != "on":
            return sent
        if self.style == "key" and self.cache_key is not None:
            sent["prompt_cache_key"] = self.cache_key
        elif self.style == "breakpoint":
            sent["messages"] = self._mark_prefix(list(sent.get("messages") or ()))
        return sent

    def _mark_prefix(self, messages: list[Any]) -> list[Any]:
        """The messages with one cache_control breakpoint at the end of the shared prefix."""
        prefix = self.shared_prefix
        for at, message in enumerate(messages):
            content = message.get("content")
            if message.get("role") == "system" or not isinstance(content, str):
                continue
            if prefix and content.startswith(prefix) and len(content) > len(prefix):
                blocks = [
                    {"type": "text", "text": prefix, "cache_control": _BREAKPOINT},
                    {"type": "text", "text": content[len(prefix) :]},
                ]
                return [*messages[:at], {**message, "content": blocks}, *messages[at + 1 :]]
            break
        for at, message in enumerate(messages):  # else the system message, shared by all
            if message.get("role") == "system" and isinstance(message.get("content"), str):
                block = {"type": "text", "text": message["content"], "cache_control": _BREAKPOINT}
                return [*messages[:at], {**message, "content": [block]}, *messages[at + 1 :]]
        return messages
