"""Every provider on its own wire: `labelwise classify provider=P provider.api_base=STUB`
against the stub answering in Anthropic's, Gemini's, Ollama's and Azure OpenAI's own
formats (framework/testing/wires.py), through the real CLI code path.

What is asserted against what the stub received: where the schema travels for each
output mode the provider's profile allows (and what litellm 1.106.2 keeps of its
constraints), the key in that provider's header, the answer read back as validated
labels, a re-ask in that provider's message format, usage and cost from that
provider's fields, and its error shapes mapped to our error types and exit codes.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framework.cli.main import main
from framework.config.load import compose, load_run_config
from framework.providers.compile import CompiledRequest, compile_request, make_plan
from framework.providers.profiles import PROFILES
from framework.providers.transports.stack import TransportChoice, provider_client
from framework.testing import Received, Reply, StubServer, Wire, wire_url
from tests.support import cli_env, read_jsonl, run_cli, write_jsonl

MODELS: dict[Wire, str] = {
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "llama3.1",
    "azure": "gpt-4o-mini",  # the deployment, named after its model
}
KEYS: dict[Wire, tuple[str, str, str]] = {  # env var, the header it travels in, a value
    "anthropic": ("ANTHROPIC_API_KEY", "x-api-key", "sk-ant-wire-test-0001"),
    "gemini": ("GEMINI_API_KEY", "x-goog-api-key", "AIza-wire-test-0002"),
    "azure": ("AZURE_API_KEY", "api-key", "az-wire-test-0003"),
}
# The providers' published prices, $ per million tokens (input, output).
PRICES: dict[Wire, tuple[float, float]] = {
    "anthropic": (1.0, 5.0),
    "gemini": (0.30, 2.50),
    "ollama": (0.0, 0.0),
    "azure": (0.15, 0.60),
}
NEWS = ["space", "science", "technology", "climate", "none"]
KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env, _, value in KEYS.values():
        monkeypatch.setenv(env, value)


def classify(
    stub: StubServer, wire: Wire, tmp_path: Path, *extra: str, texts: int = 1
) -> tuple[int, list[dict[str, Any]]]:
    """`labelwise classify` in this process; its exit code and result rows."""
    source = write_jsonl(
        tmp_path / "items.jsonl",
        [{"id": f"r{n}", "text": f"A rocket number {n}."} for n in range(texts)],
    )
    output = tmp_path / "results.jsonl"
    code = main(
        [
            "classify",
            f"input={source}",
            f"output={output}",
            f"provider={wire}",
            f"model={MODELS[wire]}",
            f"provider.api_base={wire_url(stub, wire)}",
            "run.retry.base_delay=0",
            "run.progress=off",
            f"hydra.run.dir={tmp_path / 'run'}",
            *extra,
        ]
    )
    return code, read_jsonl(output) if output.exists() else []


# -- where the schema travels, mode by mode -------------------------------------------

SCHEMA_AT: dict[tuple[Wire, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("anthropic", "json_schema"): lambda b: b["output_format"]["schema"],  # Claude 4.5 native
    ("anthropic", "tool"): lambda b: b["tools"][0]["input_schema"],
    ("gemini", "json_schema"): lambda b: b["generationConfig"]["response_json_schema"],
    ("gemini", "tool"): lambda b: b["tools"][0]["function_declarations"][0]["parameters"],
    ("ollama", "json_schema"): lambda b: b["format"],
    ("azure", "json_schema"): lambda b: b["response_format"]["json_schema"]["schema"],
    ("azure", "tool"): lambda b: b["tools"][0]["function"]["parameters"],
}
# How the mode is forced, beside the schema.
FORCED: dict[tuple[Wire, str], Callable[[Received], bool]] = {
    ("anthropic", "json_schema"): lambda r: "structured-outputs" in r.headers["anthropic-beta"],
    ("anthropic", "tool"): lambda r: (
        r.body["tool_choice"] == {"type": "tool", "name": "record_labels"}
    ),
    ("gemini", "json_schema"): lambda r: (
        r.body["generationConfig"]["response_mime_type"] == "application/json"
    ),
    ("gemini", "tool"): lambda r: (
        r.body["toolConfig"]
        == {"functionCallingConfig": {"mode": "ANY", "allowed_function_names": ["record_labels"]}}
    ),
    ("ollama", "json_schema"): lambda r: r.body["stream"] is False,
    ("azure", "json_schema"): lambda r: r.body["response_format"]["json_schema"]["strict"] is True,
    ("azure", "tool"): lambda r: (
        r.body["tool_choice"] == {"type": "function", "function": {"name": "record_labels"}}
    ),
}
# The constraints of the labels array that arrive (labelwise sends maxItems 4, minItems 1,
# uniqueItems; the profiles of Gemini and Azure drop uniqueItems, which they reject).
# Claude 4.5's native output: litellm moves all three into the description (not enforced).
KEPT: dict[tuple[Wire, str], set[str]] = {
    ("anthropic", "json_schema"): set(),
    ("anthropic", "tool"): {"maxItems", "minItems", "uniqueItems"},
    ("gemini", "json_schema"): {"maxItems", "minItems"},
    ("gemini", "tool"): {"maxItems", "minItems"},
    ("ollama", "json_schema"): {"maxItems", "minItems", "uniqueItems"},
    ("azure", "json_schema"): {"maxItems", "minItems"},
    ("azure", "tool"): {"maxItems", "minItems"},
}
MODES = [
    *SCHEMA_AT,
    ("anthropic", "prompted"),
    ("gemini", "prompted"),
    ("ollama", "prompted"),
    ("azure", "prompted"),
]


def no_schema_anywhere(body: dict[str, Any]) -> bool:
    keys = {"output_format", "tools", "tool_choice", "toolConfig", "format", "response_format"}
    return not keys & set(body) and "response_json_schema" not in body.get("generationConfig", {})


@pytest.mark.slow
@pytest.mark.parametrize(("wire", "mode"), MODES, ids=str)
def test_each_mode_reaches_the_provider_its_way_and_comes_back_as_labels(
    stub: StubServer, tmp_path: Path, wire: Wire, mode: str
) -> None:
    stub.default = Reply(
        content=json.dumps({"labels": ["space", "science"]}),
        prompt_tokens=321,
        completion_tokens=12,
    )
    code, rows = classify(stub, wire, tmp_path, f"provider.output_mode={mode}")
    assert code == 0
    [row] = rows
    assert (row["status"], row["labels"], row["attempts"]) == ("ok", ["space", "science"], 1)
    assert row["usage"] == {"prompt_tokens": 321, "completion_tokens": 12}
    given, made = PRICES[wire]
    assert row["cost"] == pytest.approx((321 * given + 12 * made) / 1e6, rel=1e-6)
    [received] = stub.received
    path = {
        "anthropic": "/v1/messages",
        "gemini": f"/v1beta/models/{MODELS[wire]}:generateContent",
        "ollama": "/api/chat",
        "azure": f"/openai/deployments/{MODELS[wire]}/chat/completions",
    }[wire]
    assert received.path == path
    assert received.query == ({"api-version": "2024-10-21"} if wire == "azure" else {})
    sent_keys = {h: received.headers[h] for h in KEY_HEADERS if h in received.headers}
    assert sent_keys == ({KEYS[wire][1]: KEYS[wire][2]} if wire in KEYS else {})
    if mode == "prompted":
        assert no_schema_anywhere(received.body)
        return
    assert FORCED[wire, mode](received)
    schema = SCHEMA_AT[wire, mode](received.body)
    labels = schema["properties"]["labels"]
    assert labels["items"]["enum"] == NEWS
    assert {"maxItems", "minItems", "uniqueItems"} & set(labels) == KEPT[wire, mode]
    if (wire, mode) == ("anthropic", "json_schema"):
        assert "maximum number of items: 4" in labels["description"]
    # Gemini's function declarations take no additionalProperties: litellm strips it there.
    assert ("additionalProperties" in schema) == ((wire, mode) != ("gemini", "tool"))


# -- re-asks, in each provider's message format ------------------------------------


def turns(wire: Wire, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each message of a request body, in that provider's format."""
    if wire == "anthropic":
        return [(m["role"], "".join(b["text"] for b in m["content"])) for m in body["messages"]]
    if wire == "gemini":
        return [(c["role"], "".join(p["text"] for p in c["parts"])) for c in body["contents"]]
    return [(m["role"], m["content"]) for m in body["messages"] if m["role"] != "system"]


@pytest.mark.parametrize(
    ("wire", "mode", "first", "problem"),
    [
        # Claude 4.5's native output: maxItems reaches it only as a description, so the
        # answer can break it; local validation catches it and asks again.
        (
            "anthropic",
            "json_schema",
            ["space", "science", "climate"],
            "3 labels given; give at most 2",
        ),
        ("anthropic", "tool", ["sports"], "'sports' is not one of the labels"),
        ("gemini", "tool", ["space", "space"], "'space' is listed more than once"),
        ("ollama", "json_schema", ["sports"], "'sports' is not one of the labels"),
        ("azure", "json_schema", ["none", "space"], "'none' cannot stand beside other labels"),
    ],
    ids=str,
)
def test_a_rejected_answer_is_quoted_back_in_the_providers_message_format(
    stub: StubServer, tmp_path: Path, *, wire: Wire, mode: str, first: list[str], problem: str
) -> None:
    stub.enqueue(Reply(content=json.dumps({"labels": first})))
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    code, [row] = classify(
        stub, wire, tmp_path, f"provider.output_mode={mode}", "validation.max_labels=2"
    )
    assert code == 0 and row["status"] == "ok" and row["labels"] == ["space"]
    assert row["attempts"] == 2
    second = stub.received[1].body
    roles = [role for role, _ in turns(wire, second)]
    assert roles == ["user", "model" if wire == "gemini" else "assistant", "user"]
    _, answer = turns(wire, second)[1]
    assert json.loads(answer) == {"labels": first}  # the rejected answer, as the model's turn
    _, reask = turns(wire, second)[2]
    assert "Your answer was not accepted" in reask and problem in reask
    system = {"anthropic": "system", "gemini": "system_instruction"}.get(wire)
    if system:  # the instructions stay in the provider's system field on every turn
        assert second[system] == stub.received[0].body[system]


# -- errors: fatal, rate limited, overloaded -----------------------------------------


@pytest.mark.parametrize(
    ("wire", "reply", "says"),
    [
        ("anthropic", Reply(status=401, error="invalid x-api-key"), "$ANTHROPIC_API_KEY"),
        ("anthropic", Reply(status=403, error="no access to this model"), "$ANTHROPIC_API_KEY"),
        (
            "gemini",
            Reply(status=400, error="API key not valid. Please pass a valid API key."),
            "$GEMINI_API_KEY",
        ),
        # litellm calls this a BadRequestError; labelwise reads the status (a fatal AuthError)
        (
            "gemini",
            Reply(status=403, error="Permission denied on resource project"),
            "$GEMINI_API_KEY",
        ),
        (
            "azure",
            Reply(status=401, error="Access denied due to invalid subscription key"),
            "$AZURE_API_KEY",
        ),
        (
            "ollama",
            Reply(status=404, error="model 'llama3.1' not found, try pulling it first"),
            "model.name",
        ),
    ],
    ids=lambda v: getattr(v, "status", v),
)
def test_a_refused_key_or_unknown_model_stops_the_run_with_exit_2(
    stub: StubServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    wire: Wire,
    reply: Reply,
    says: str,
) -> None:
    stub.default = reply
    code, rows = classify(stub, wire, tmp_path, "run.concurrency=1", texts=3)
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and reply.error.split(".")[0] in err and "Traceback" not in err
    assert len(stub.received) == 1 and rows == []  # not retried, no other row tried
    assert all(value not in err for _, _, value in KEYS.values())


@pytest.mark.parametrize(
    ("wire", "reply"),
    [
        # retry-after header plus anthropic-ratelimit-* (requests remaining 0, the reset)
        ("anthropic", Reply(status=429, error="rate limited", headers={"retry-after": "1"})),
        # Gemini says its delay only in the body (RetryInfo.retryDelay "1s")
        (
            "gemini",
            Reply(status=429, error="Resource has been exhausted", headers={"retry-after": "1"}),
        ),
        (
            "azure",
            Reply(status=429, error="Please retry after 1 second.", headers={"retry-after": "1"}),
        ),
    ],
    ids=lambda v: getattr(v, "status", v),
)
def test_a_429_is_retried_after_the_delay_the_provider_asked_for(
    stub: StubServer, tmp_path: Path, wire: Wire, reply: Reply
) -> None:
    stub.enqueue(reply)
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    code, [row] = classify(stub, wire, tmp_path)
    assert code == 0 and row["status"] == "ok" and row["attempts"] == 2
    assert stub.times[1] - stub.times[0] >= 0.95  # base_delay=0: only the asked delay waits
    if wire == "gemini":
        assert "retry-after" not in {k.lower() for k in stub.received[0].headers}


@pytest.mark.parametrize(
    ("wire", "reply"),
    [
        ("anthropic", Reply(status=529, error="Overloaded")),
        ("gemini", Reply(status=503, error="The model is overloaded. Please try again later.")),
        ("ollama", Reply(status=500, error="llama runner process has terminated")),
        (
            "azure",
            Reply(status=500, error="The server had an error while processing your request."),
        ),
    ],
    ids=lambda v: getattr(v, "status", v),
)
def test_an_overloaded_or_failing_provider_is_retried(
    stub: StubServer, tmp_path: Path, wire: Wire, reply: Reply
) -> None:
    stub.enqueue(reply, reply)
    stub.default = Reply(content=json.dumps({"labels": ["climate"]}))
    code, [row] = classify(stub, wire, tmp_path)
    assert code == 0 and (row["status"], row["labels"], row["attempts"]) == ("ok", ["climate"], 3)


def test_a_request_is_not_changed_by_sending_it_to_gemini_in_tool_mode(stub: StubServer) -> None:
    """litellm 1.106.2 strips additionalProperties from the tool schema it is given, in
    place; the compiled request must still hash to its cache key after the call."""
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    config = load_run_config(
        compose(
            [
                "provider=gemini",
                f"model={MODELS['gemini']}",
                f"provider.api_base={wire_url(stub, 'gemini')}",
            ]
        )
    )
    schema = {
        "type": "object",
        "properties": {"labels": {"type": "array", "items": {"type": "string", "enum": NEWS}}},
        "required": ["labels"],
        "additionalProperties": False,
    }
    plan = make_plan(profile=PROFILES["gemini"], model=config.model, mode="tool", schema=schema)
    request = compile_request(({"role": "user", "content": "A rocket."},), plan)
    before = copy.deepcopy(dict(request.kwargs))
    client = provider_client(config, TransportChoice("litellm", "test"))
    completion = asyncio.run(client.send(request))
    assert completion.text is not None and json.loads(completion.text) == {"labels": ["space"]}
    assert (
        "additionalProperties"
        not in stub.requests[-1]["tools"][0]["function_declarations"][0]["parameters"]
    )
    assert dict(request.kwargs) == before
    assert CompiledRequest(request.mode, request.kwargs, request.identity).key == request.key


@pytest.mark.slow
def test_the_console_command_exits_2_on_a_refused_anthropic_key(
    stub: StubServer, tmp_path: Path
) -> None:
    """The same through `python -m framework` in its own process, as a user runs it."""
    stub.default = Reply(status=401, error="invalid x-api-key")
    source = write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "text": "A rocket."}])
    env = {**cli_env(), "ANTHROPIC_API_KEY": KEYS["anthropic"][2]}
    result = run_cli(
        [
            *(sys.executable, "-m", "framework", "classify", f"input={source}"),
            *("provider=anthropic", f"model={MODELS['anthropic']}"),
            f"provider.api_base={wire_url(stub, 'anthropic')}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert (
        "anthropic refused the credentials (the key comes from $ANTHROPIC_API_KEY)" in result.stderr
    )
    assert KEYS["anthropic"][2] not in result.stderr and "Traceback" not in result.stderr
    assert stub.received[0].headers["x-api-key"] == KEYS["anthropic"][2]


def test_older_claude_gets_json_schema_as_a_forced_tool_call_and_answers_through_it(
    stub: StubServer, tmp_path: Path
) -> None:
    """Before Claude 4.5, litellm emulates a response schema with a forced tool named
    json_tool_call and hands its input back as the message content."""
    stub.default = Reply(content=json.dumps({"labels": ["technology"]}))
    code, [row] = classify(
        stub,
        "anthropic",
        tmp_path,
        "provider.output_mode=json_schema",
        "model.name=claude-3-5-haiku-20241022",
    )
    assert code == 0 and (row["status"], row["labels"]) == ("ok", ["technology"])
    body = stub.received[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "json_tool_call"}
    labels = body["tools"][0]["input_schema"]["properties"]["labels"]
    assert labels["items"]["enum"] == NEWS and labels["maxItems"] == 4
    assert "output_format" not in body and "anthropic-beta" not in stub.received[0].headers


def test_the_readme_says_which_modes_are_tested_on_each_providers_wire() -> None:
    """The provider table of docs/providers.md names, per provider, exactly the modes its
    profile allows, and each has its test above."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text()
    for wire in ("anthropic", "gemini", "ollama", "azure"):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{wire}` |"))
        said = {mode.strip() for mode in row.split("|")[4].split(",")}
        tested = {mode for kind, mode in MODES if kind == wire}
        assert said == tested == set(PROFILES[wire].modes), wire


def test_azure_takes_the_api_version_from_provider_api_version(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    code, [row] = classify(stub, "azure", tmp_path, "provider.api_version=2025-01-01-preview")
    assert code == 0 and row["labels"] == ["space"]
    assert stub.received[0].query == {"api-version": "2025-01-01-preview"}


def test_azure_without_its_endpoint_is_a_config_error_showing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "text": "A rocket."}])
    code = main(["classify", f"input={source}", "provider=azure", f"hydra.run.dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "provider.api_base=https://RESOURCE.openai.azure.com" in err, err
