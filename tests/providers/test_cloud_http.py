"""Hosted providers at the HTTP level: provider=openai pointed at our loopback stub.

The paid APIs cannot be reached here, so what is checked is what goes on the wire
for them (the output mode their capability data picks, the key from its
environment variable) and that their answers come back through the same path.
"""

from __future__ import annotations

import json

import pytest

from framework import Classifier
from framework.testing import Reply, StubServer

KEY = "sk-test-not-a-real-key"


def openai_at(stub: StubServer, *extra: str) -> list[str]:
    return [
        "provider=openai",
        "model=gpt-4o-mini",
        f"+provider.api_base={stub.url}",
        "run.retry.base_delay=0",
        *extra,
    ]


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.mark.slow
def test_openai_gets_a_strict_json_schema_and_the_key_from_its_env_var(stub: StubServer) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    with Classifier.from_config(openai_at(stub)) as classifier:
        prediction = classifier.classify("A rocket reached orbit.")
    assert prediction.labels == ("space",) and prediction.ok
    sent = stub.requests[-1]
    assert sent["model"] == "gpt-4o-mini"
    schema = sent["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["schema"]["properties"]["labels"]["items"]["enum"] == [
        "space",
        "science",
        "technology",
        "climate",
        "none",
    ]
    assert "tools" not in sent
    assert stub.authorizations[-1] == f"Bearer {KEY}"
    assert prediction.cost is not None and prediction.cost > 0  # priced from litellm's cost map


def test_openai_tool_mode_forces_one_tool_call_and_reads_its_arguments(stub: StubServer) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["climate", "science"]}))
    overrides = openai_at(stub, "provider.output_mode=tool")
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("Glaciers lost record mass, a study finds.")
    assert prediction.labels == ("climate", "science")  # in the order answered
    sent = stub.requests[-1]
    assert "response_format" not in sent
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "record_labels"}}
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["record_labels"]


def test_an_unknown_label_from_openai_is_asked_again_with_the_problem_quoted(
    stub: StubServer,
) -> None:
    stub.enqueue(Reply(content=json.dumps({"labels": ["sports"]})))
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    overrides = openai_at(stub, "validation=strict", "provider.output_mode=prompted")
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("A telescope saw a new comet.")
    assert prediction.labels == ("space",) and prediction.attempts == 2
    assert "sports" in json.dumps(stub.requests[-1]["messages"])
