"""From messages and a run's request plan to the exact litellm request.

One small pure function per output mode; each returns a new dict and leaves
its inputs alone. The compiled request carries everything that decides the
model's answer (model, messages, schema, sampling) and nothing that does not
(the API key, timeouts), so its content hash is the cache key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from framework.config.schema import ModelConfig, OutputMode, ServiceTier
from framework.providers.image_parts import SentImage, request_key_view, with_images
from framework.providers.profiles import ProviderProfile
from framework.records import Message

__all__ = [
    "TOOL_NAME",
    "CompiledRequest",
    "RequestPlan",
    "compile_request",
    "json_object_request",
    "json_schema_request",
    "make_plan",
    "prompted_request",
    "tool_request",
    "wire_schema",
]

TOOL_NAME = "record_labels"
SCHEMA_NAME = "labels"


@dataclass(frozen=True)
class RequestPlan:
    """What every request of a run shares."""

    model: str
    mode: OutputMode
    schema: Mapping[str, Any]
    sampling: Mapping[str, Any]
    identity: str = ""


@dataclass(frozen=True)
class CompiledRequest:
    """The exact keyword arguments for litellm.acompletion, less the key and transport.

    identity names what else decides the answer (the server for an
    OpenAI-compatible endpoint, the model file's sha256 for a local model).
    """

    mode: OutputMode
    kwargs: Mapping[str, Any]
    identity: str = ""
    # Requests with the same affinity (the questions about one text) go to the server the
    # first of them went to, whose prompt cache then reuses what they share. Not in the key.
    affinity: str | None = field(default=None, compare=False)
    # The sha256 of each image's bytes, in the order of the image parts: the key holds
    # these in place of the images (empty for a text-only request, whose key is as it was).
    images: tuple[str, ...] = ()
    # A service tier for this send only, over provider.service_tier (the flex fallback
    # resends at the default tier). Not in the key: a tier does not decide the answer.
    tier: ServiceTier | None = field(default=None, compare=False)
    key: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        request = request_key_view(self.kwargs, self.images) if self.images else self.kwargs
        canonical = json.dumps(
            {"identity": self.identity, "request": request},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        object.__setattr__(self, "key", hashlib.sha256(canonical.encode("utf-8")).hexdigest())

    def __hash__(self) -> int:
        return hash(self.key)


def make_plan(
    *,
    profile: ProviderProfile,
    model: ModelConfig,
    mode: OutputMode,
    schema: Mapping[str, Any],
    identity: str = "",
    top_logprobs: int | None = None,
) -> RequestPlan:
    """What every request of a run shares; `top_logprobs` asks for token log-probabilities."""
    sampling: dict[str, Any] = {
        "temperature": model.temperature,
        "max_tokens": model.max_tokens,
        "seed": model.seed,
    }
    if top_logprobs is not None:
        sampling |= {"logprobs": True, "top_logprobs": top_logprobs}
    return RequestPlan(
        model=f"{profile.litellm_prefix}/{model.name}",
        mode=mode,
        schema=wire_schema(schema, profile.schema_drops),
        sampling={
            k: v
            for k, v in sampling.items()
            if (k in profile.sampling or k in ("logprobs", "top_logprobs")) and v is not None
        },
        identity=identity,
    )


def compile_request(
    messages: Sequence[Message],
    plan: RequestPlan,
    *,
    sample: int | None = None,
    affinity: str | None = None,
    images: Sequence[SentImage] = (),
    digests: Sequence[str] = (),
) -> CompiledRequest:
    """The request for these messages; `sample` numbers the draws of self-consistency,
    which may be otherwise identical requests but are not one answer. `images` go in the
    first user message as image parts (framework.providers.image_parts); `digests` are
    their sha256s, which the key holds instead of the bytes."""
    base = {"model": plan.model, "messages": with_images(messages, images), **plan.sampling}
    identity = plan.identity if sample is None else f"{plan.identity}#sample{sample}"
    request = MODES[plan.mode](base, plan.schema)
    return CompiledRequest(plan.mode, request, identity, affinity, tuple(digests) if images else ())


def json_schema_request(base: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Native structured output: OpenAI, vLLM, Gemini, Ollama, Claude 4.5 (via litellm)."""
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": dict(schema)},
    }
    return {**base, "response_format": response_format}


def tool_request(base: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A forced call to one function whose parameters are the schema."""
    tool = {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Record the labels that apply to the text.",
            "parameters": dict(schema),
        },
    }
    choice = {"type": "function", "function": {"name": TOOL_NAME}}
    return {**base, "tools": [tool], "tool_choice": choice}


def json_object_request(base: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """JSON mode with a schema, which the llama.cpp server turns into a grammar."""
    return {**base, "response_format": {"type": "json_object", "schema": dict(schema)}}


def prompted_request(base: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """No constraint on the wire: the schema is in the prompt and checked locally."""
    del schema
    return dict(base)


MODES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "json_schema": json_schema_request,
    "tool": tool_request,
    "json_object": json_object_request,
    "prompted": prompted_request,
}


def wire_schema(schema: Mapping[str, Any], drops: frozenset[str]) -> dict[str, Any]:
    """The schema without the keywords a provider rejects (they are still checked locally)."""

    def strip(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: strip(v) for k, v in node.items() if k not in drops}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    result: dict[str, Any] = strip(schema)
    return result
