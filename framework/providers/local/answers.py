"""Answers without waste: the constraint the xllamacpp server gets.

    wire = compact_answers(request)   # response_format json_object+schema -> a grammar

llama.cpp's own server turns a JSON schema into a grammar that lets the model write
newlines and indentation, and the model does: `{\\n  "labels": ["sadness"]\\n}` is 15
output tokens where `{"labels": ["sadness"]}` is 8 (Qwen2.5-Coder-1.5B; each output
token costs a whole decode step, about 70 ms on one core). So the schema goes out as an
LLGuidance JSON grammar (the engine xllamacpp is built with) that fixes the layout: no
optional whitespace, one ", " between items and one ": " after a key, and each label as
the one literal string the schema names (no escapes, no other spelling). The single
spaces cost no token (`": ["` and `":["` are two tokens each for Qwen) and keep the model
on its own tokens: unconstrained, Qwen writes ` ["` (log-probability -0.01) where `["`
has -8.8, and on 30 GoEmotions rows its labels matched the pretty-printed answers' on 26
rows with the spaces and on 25 without (benchmarks/local_runtime.py measures tokens,
rows/s and macro-F1 before and after).

`lenient` makes LLGuidance skip the keywords it does not implement (uniqueItems: labels
are deduplicated locally) instead of failing the grammar: a grammar LLGuidance cannot
compile is dropped by the server with a line in its log, and the answer comes back
unconstrained. Every answer is validated locally whatever the constraint was.

The request's cache key is the compiled request's, computed above this layer: the same
question has the same key on either runtime.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from framework.providers.compile import CompiledRequest

__all__ = ["GUIDANCE", "compact_answers", "compact_grammar"]

GUIDANCE = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
    "lenient": True,
}


def compact_answers(request: CompiledRequest) -> CompiledRequest:
    """The request with its json_object schema as a compact grammar; others as they are."""
    response_format = request.kwargs.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_object":
        return request
    schema = response_format.get("schema")
    if not isinstance(schema, Mapping):
        return request  # JSON mode without a schema: nothing to compile
    kwargs = {k: v for k, v in request.kwargs.items() if k != "response_format"}
    kwargs["grammar"] = compact_grammar(schema)
    return CompiledRequest(request.mode, kwargs, request.identity, request.affinity, request.images)


def compact_grammar(schema: Mapping[str, Any]) -> str:
    """An LLGuidance grammar of the JSON that satisfies `schema`, with no optional whitespace."""
    guided = {"x-guidance": GUIDANCE, **{k: v for k, v in schema.items() if k != "x-guidance"}}
    return "%llguidance {}\nstart: %json " + json.dumps(
        guided, ensure_ascii=False, separators=(",", ":")
    )
