"""Provider capability as data, and the choice of output mode.

A profile says, for one kind of provider, which output modes it accepts, which
JSON-schema keywords its structured output rejects, which sampling parameters
it takes and how litellm names it. `choose_output_mode` turns `output_mode:
auto` into a concrete mode from litellm's capability map (when litellm knows
the model) or the profile's default (when it does not), and rejects a forced
mode the provider cannot do. The choice and its reason go into the run record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from framework.config.schema import ModelConfig, OutputMode, ProviderConfig, ProviderKind
from framework.errors import ConfigError

__all__ = ["PROFILES", "ModeChoice", "ProviderProfile", "choose_output_mode"]


@dataclass(frozen=True)
class ProviderProfile:
    litellm_prefix: str
    modes: frozenset[OutputMode]
    default_mode: OutputMode
    # litellm's capability map decides `auto` when it knows the model; some
    # servers (llama.cpp) accept one shape whatever the map says.
    consult_litellm: bool = True
    schema_drops: frozenset[str] = frozenset()
    sampling: frozenset[str] = frozenset({"temperature", "max_tokens", "seed"})
    needs_key: bool = True
    why_not: str = ""
    # The most enum values a schema may hold; larger taxonomies are asked by number.
    max_enum: int = 500
    # Whether answers can come with token log-probabilities (logprobs, top_logprobs),
    # and whether they come cheap: the llama.cpp Python server computes every prompt
    # token's logits for them (measured: per-label questions 10x slower).
    logprobs: bool = True
    cheap_logprobs: bool = True


_ALL: frozenset[OutputMode] = frozenset({"json_schema", "tool", "json_object", "prompted"})

PROFILES: dict[ProviderKind, ProviderProfile] = {
    "openai": ProviderProfile(
        "openai",
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        schema_drops=frozenset({"uniqueItems"}),
        why_not="OpenAI's json_object mode takes no schema",
    ),
    "anthropic": ProviderProfile(
        "anthropic",
        frozenset({"json_schema", "tool", "prompted"}),
        "tool",
        sampling=frozenset({"temperature", "max_tokens"}),
        why_not="Anthropic has no json_object mode",
        logprobs=False,
    ),
    "gemini": ProviderProfile(
        "gemini",
        frozenset({"json_schema", "tool", "prompted"}),
        "json_schema",
        schema_drops=frozenset({"uniqueItems"}),
        why_not="Gemini's JSON mode takes its schema as json_schema",
        max_enum=250,
        logprobs=False,
    ),
    "ollama": ProviderProfile(
        "ollama_chat",
        frozenset({"json_schema", "prompted"}),
        "json_schema",
        consult_litellm=False,
        needs_key=False,
        why_not="Ollama takes a schema as json_schema (sent as its `format`)",
        logprobs=False,
    ),
    "openai_compatible": ProviderProfile("openai", _ALL, "json_schema", needs_key=False),
    "llamacpp": ProviderProfile(
        "openai",
        frozenset({"json_object", "prompted"}),
        "json_object",
        consult_litellm=False,
        needs_key=False,
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
        why_not="the embedded llama.cpp server takes a schema only through json_object",
        cheap_logprobs=False,
    ),
}


@dataclass(frozen=True)
class ModeChoice:
    mode: OutputMode  # never "auto"
    reason: str


# (model, provider) -> (known to litellm, supports response schema, supports tools)
CapabilityLookup = Callable[[str, str], tuple[bool, bool, bool]]


def choose_output_mode(
    provider: ProviderConfig, model: ModelConfig, lookup: CapabilityLookup
) -> ModeChoice:
    profile = PROFILES[provider.kind]
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
