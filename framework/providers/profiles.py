"""Provider facts as data, and the choice of output mode.

A profile says, for one kind of provider (and, where a model family differs, for
that model), everything the rest of labelwise needs to know about it: how litellm
names it, which wire it speaks, which output modes it accepts and which
JSON-schema keywords its structured output rejects, which sampling parameters it
takes, whether it needs a key or an api_base, whether it costs anything and who
knows its prices, its enum limit, and whether log-probabilities come back and
what they cost. No module outside this one asks which provider a run uses; they
ask its profile.

`choose_output_mode` turns `output_mode: auto` into a concrete mode from
litellm's capability map (when litellm knows the model) or the profile's default
(when it does not), and rejects a forced mode the provider cannot do. The choice
and its reason go into the run record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from framework.config.schema import (
    ModelConfig,
    OutputMode,
    ProviderConfig,
    ProviderKind,
    RunConfig,
    ServiceTier,
)
from framework.errors import ConfigError

__all__ = [
    "PROFILES",
    "ModeChoice",
    "ProviderProfile",
    "check_provider",
    "choose_output_mode",
    "profile_for",
]

Wire = Literal["openai", "anthropic", "gemini", "ollama", "azure"]


@dataclass(frozen=True)
class ProviderProfile:
    litellm_prefix: str
    modes: frozenset[OutputMode]
    default_mode: OutputMode
    # The HTTP API it speaks: "openai" is the chat-completions wire (OpenAI, vLLM,
    # llama.cpp, LM Studio, gateways), which any OpenAI-wire transport can post to.
    wire: Wire = "openai"
    # Where its API is when provider.api_base is not set (the HTTP transport needs it).
    default_api_base: str | None = None
    # Fields the provider's API wants in every body beside the compiled request (what
    # litellm adds for it), sent by the HTTP transport alike.
    wire_extras: tuple[tuple[str, object], ...] = ()
    # litellm's capability map decides `auto` when it knows the model; some
    # servers (llama.cpp) accept one shape whatever the map says.
    consult_litellm: bool = True
    schema_drops: frozenset[str] = frozenset()
    sampling: frozenset[str] = frozenset({"temperature", "max_tokens", "seed"})
    needs_key: bool = True
    # A server the user runs: its URL must be given (provider.api_base), like this one.
    needs_api_base: bool = False
    api_base_example: str = "http://127.0.0.1:8000/v1"
    # labelwise starts the server itself from a GGUF file (provider=local).
    embedded: bool = False
    # A server on the user's own machine: its tokens cost nothing.
    free: bool = False
    # litellm's price map holds this provider's prices (not an arbitrary server's).
    priced_by_litellm: bool = True
    why_not: str = ""
    # The most enum values a schema may hold; larger taxonomies are asked by number.
    max_enum: int = 500
    # Whether answers can come with token log-probabilities (logprobs, top_logprobs),
    # and whether they come cheap: the llama.cpp Python server computes every prompt
    # token's logits for them (measured: per-label questions 10x slower).
    logprobs: bool = True
    cheap_logprobs: bool = True
    # The provider batch API labelwise drives for it (run.mode=batch), if any: OpenAI's
    # files and batches (OpenAI, Azure's resource, vLLM and gateways) or Anthropic's
    # message batches.
    batch_api: Literal["openai", "anthropic"] | None = None
    # The processing tiers its API takes (provider.service_tier); "default" sends none.
    service_tiers: frozenset[ServiceTier] = frozenset({"default"})
    # How it caches a repeated prompt prefix and bills it for less: "breakpoint", where the
    # request marks the prefix (Anthropic's cache_control); "key", automatic, with a
    # prompt_cache_key that keeps a run's requests on one cache (OpenAI, Azure);
    # "implicit", automatic with nothing to ask (Gemini, DeepSeek, Groq, OpenRouter).
    prompt_cache: Literal["breakpoint", "key", "implicit"] | None = None


_ALL: frozenset[OutputMode] = frozenset({"json_schema", "tool", "json_object", "prompted"})


_FLEX: frozenset[ServiceTier] = frozenset({"default", "flex", "priority"})


def _hosted_openai_wire(
    prefix: str,
    base: str,
    *,
    extras: tuple[tuple[str, object], ...] = (),
    tiers: frozenset[ServiceTier] = frozenset({"default"}),
    prompt_cache: Literal["implicit"] | None = None,
) -> ProviderProfile:
    return ProviderProfile(
        prefix,
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        default_api_base=base,
        wire_extras=extras,
        schema_drops=frozenset({"uniqueItems"}),
        why_not=f"{prefix}'s json_object mode takes no schema",
        service_tiers=tiers,
        prompt_cache=prompt_cache,
    )


PROFILES: dict[ProviderKind, ProviderProfile] = {
    "openai": ProviderProfile(
        "openai",
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        default_api_base="https://api.openai.com/v1",
        schema_drops=frozenset({"uniqueItems"}),
        why_not="OpenAI's json_object mode takes no schema",
        batch_api="openai",
        service_tiers=_FLEX,
        prompt_cache="key",
    ),
    "anthropic": ProviderProfile(
        "anthropic",
        frozenset({"json_schema", "tool", "prompted"}),
        "tool",
        wire="anthropic",
        sampling=frozenset({"temperature", "max_tokens"}),
        why_not="Anthropic has no json_object mode",
        logprobs=False,
        batch_api="anthropic",
        prompt_cache="breakpoint",
    ),
    "gemini": ProviderProfile(
        "gemini",
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        wire="gemini",
        schema_drops=frozenset({"uniqueItems"}),
        why_not="Gemini's JSON mode takes its schema as json_schema",
        max_enum=250,
        logprobs=False,
        service_tiers=_FLEX,
        prompt_cache="implicit",
    ),
    "ollama": ProviderProfile(
        "ollama_chat",
        frozenset({"json_schema", "prompted"}),
        "json_schema",
        wire="ollama",
        consult_litellm=False,
        needs_key=False,
        free=True,
        why_not="Ollama takes a schema as json_schema (sent as its `format`)",
        logprobs=False,
    ),
    # Azure OpenAI: OpenAI's body, but at /openai/deployments/{model.name}/chat/completions
    # of the resource's endpoint, with an api-version and the key in an api-key header.
    "azure": ProviderProfile(
        "azure",
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        wire="azure",
        needs_api_base=True,
        api_base_example="https://RESOURCE.openai.azure.com",
        schema_drops=frozenset({"uniqueItems"}),
        why_not="Azure OpenAI's json_object mode takes no schema",
        batch_api="openai",
        service_tiers=_FLEX,
        prompt_cache="key",
    ),
    "openai_compatible": ProviderProfile(
        "openai",
        _ALL,
        "json_schema",
        needs_key=False,
        needs_api_base=True,
        priced_by_litellm=False,  # litellm's prices are the cloud's, not this server's
        batch_api="openai",
    ),
    "llamacpp": ProviderProfile(
        "openai",
        frozenset({"json_object", "prompted"}),
        "json_object",
        consult_litellm=False,
        needs_key=False,
        needs_api_base=True,
        free=True,
        why_not="the llama.cpp server rejects json_schema and tools; it takes a schema "
        "through json_object",
        cheap_logprobs=False,
    ),
    "local": ProviderProfile(
        "openai",
        frozenset({"json_object", "prompted"}),
        "json_object",
        consult_litellm=False,
        needs_key=False,
        embedded=True,
        free=True,
        why_not="the embedded llama.cpp server takes a schema only through json_object",
        cheap_logprobs=False,
    ),
    # Hosted APIs on OpenAI's wire (litellm treats them as OpenAI-compatible too).
    "groq": _hosted_openai_wire(
        "groq",
        "https://api.groq.com/openai/v1",
        tiers=frozenset({"default", "flex"}),
        prompt_cache="implicit",
    ),
    "together": _hosted_openai_wire("together_ai", "https://api.together.xyz/v1"),
    "deepseek": _hosted_openai_wire(
        "deepseek", "https://api.deepseek.com/v1", prompt_cache="implicit"
    ),
    # OpenRouter reports usage (and its cost) only when asked, as litellm asks.
    "openrouter": _hosted_openai_wire(
        "openrouter",
        "https://openrouter.ai/api/v1",
        extras=(("usage", {"include": True}),),
        prompt_cache="implicit",
    ),
    "fireworks": _hosted_openai_wire("fireworks_ai", "https://api.fireworks.ai/inference/v1"),
}

# Model families that differ from their provider's profile: (kind, model name pattern,
# what differs). OpenAI's reasoning models take neither temperature nor seed (litellm
# refuses the call otherwise; max_tokens it renames to max_completion_tokens itself).
_MODEL_FAMILIES: tuple[tuple[ProviderKind, re.Pattern[str], dict[str, object]], ...] = (
    ("openai", re.compile(r"^(o\d|gpt-5)"), {"sampling": frozenset({"max_tokens"})}),
)


def profile_for(kind: ProviderKind, model: str) -> ProviderProfile:
    """The profile of a provider, with what its model's family changes."""
    profile = PROFILES[kind]
    for family_kind, pattern, changes in _MODEL_FAMILIES:
        if family_kind == kind and pattern.search(model):
            profile = replace(profile, **changes)  # type: ignore[arg-type]
    return profile


def check_provider(config: RunConfig) -> None:
    """What a provider needs that the config lacks: a ConfigError naming the key."""
    provider = config.provider
    profile = PROFILES[provider.kind]
    if profile.needs_api_base and not provider.api_base:
        raise ConfigError(
            f"provider.api_base: required for provider {provider.kind}; give the server's URL, "
            f"e.g. provider.api_base={profile.api_base_example}"
        )
    _check_tier_and_caching(config, profile)
    if profile.embedded and config.model.gguf is None:
        raise ConfigError(
            f"model.gguf: provider={provider.kind} needs a model with a GGUF file; "
            f"{config.model.name!r} has none (pick one from conf/model/, e.g. model=smollm2-135m)"
        )


def _check_tier_and_caching(config: RunConfig, profile: ProviderProfile) -> None:
    provider = config.provider
    if provider.service_tier not in profile.service_tiers:
        raise ConfigError(
            f"provider.service_tier: {provider.kind} has no {provider.service_tier} tier; use "
            f"one of: {', '.join(sorted(profile.service_tiers))}"
        )
    if provider.service_tier != "default" and config.run.mode == "batch":
        raise ConfigError(
            f"provider.service_tier: {provider.service_tier} is for calls sent one by one; "
            "run.mode=batch has its own price: drop one of them"
        )
    if provider.flex_fallback is not None and provider.service_tier != "flex":
        raise ConfigError(
            "provider.flex_fallback: it resends flex requests at the default tier, and "
            f"provider.service_tier is {provider.service_tier}; set provider.service_tier=flex "
            "or provider.flex_fallback=null"
        )
    if provider.prompt_caching == "on" and profile.prompt_cache is None:
        raise ConfigError(
            f"provider.prompt_caching: {provider.kind} has no prompt caching to turn on; use "
            "provider.prompt_caching=auto"
        )


@dataclass(frozen=True)
class ModeChoice:
    mode: OutputMode  # never "auto"
    reason: str


# (model, provider) -> (known to litellm, supports response schema, supports tools)
CapabilityLookup = Callable[[str, str], tuple[bool, bool, bool]]


def choose_output_mode(
    provider: ProviderConfig, model: ModelConfig, lookup: CapabilityLookup
) -> ModeChoice:
    profile = profile_for(provider.kind, model.name)
    if provider.output_mode != "auto":
        if provider.output_mode not in profile.modes:
            raise ConfigError(
                f"provider.output_mode: {provider.output_mode} is not possible with provider "
                f"{provider.kind} ({profile.why_not}); use one of: "
                f"auto, {', '.join(sorted(profile.modes))}"
            )
        return ModeChoice(provider.output_mode, "set in provider.output_mode")
    if not profile.consult_litellm:
        return ModeChoice(profile.default_mode, f"the only schema mode {provider.kind} accepts")
    known, schema, tools = lookup(model.name, profile.litellm_prefix)
    if not known:
        return ModeChoice(
            profile.default_mode,
            f"litellm has no capability data for {model.name!r}; the {provider.kind} default",
        )
    if schema and "json_schema" in profile.modes:
        return ModeChoice("json_schema", "litellm: the model supports a response schema")
    if tools and "tool" in profile.modes:
        return ModeChoice("tool", "litellm: no response schema, but tool calls")
    return ModeChoice("prompted", "litellm: neither response schema nor tool calls")
