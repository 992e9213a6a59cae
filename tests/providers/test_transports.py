"""The two provider clients are one contract: for the same compiled request, litellm and
labelwise's own HTTP client put the same body and headers on the wire, read the answer
into the same Completion, and raise the same errors; the cache key does not depend on
which one sent it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from framework import Classifier
from framework.config.load import compose, load_run_config
from framework.config.schema import RunConfig
from framework.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
    UnknownModel,
    Unreachable,
)
from framework.providers.compile import CompiledRequest, compile_request, make_plan
from framework.providers.profiles import PROFILES
from framework.providers.transports.base import Transport
from framework.providers.transports.stack import TransportChoice, choose_transport, provider_client
from framework.records import Completion
from framework.testing import Reply, StubServer
from tests.support import REPO, read_jsonl, stub_overrides
from tests.support.cli import labelwise

KEY = "sk-transport-test-key"
SCHEMA = {
    "type": "object",
    "properties": {
        "labels": {
            "type": "array",
            "items": {"type": "string", "enum": ["space", "none"]},
            "uniqueItems": True,
            "maxItems": 1,
        }
    },
    "required": ["labels"],
    "additionalProperties": False,
}
LOGPROBS = (
    ('{"labels": ["', -0.01, ()),
    ("space", -0.2, (("space", -0.2), ("none", -1.8))),
    ('"]}', -0.01, ()),
)


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def config(stub: StubServer, *extra: str) -> RunConfig:
    return load_run_config(
        compose(
            [
                "provider=openai",
                "model=gpt-4o-mini",
                f"+provider.api_base={stub.url}",
                "provider.timeout=1",
                *extra,
            ]
        )
    )


def request(mode: str, *, logprobs: bool = False) -> CompiledRequest:
    model = load_run_config(compose(["provider=openai", "model=gpt-4o-mini"])).model
    plan = make_plan(
        profile=PROFILES["openai"],
        model=model,
        mode=mode,
        schema=SCHEMA,  # type: ignore[arg-type]
        top_logprobs=3 if logprobs else None,
    )
    messages = (
        {"role": "system", "content": "Label news."},
        {"role": "user", "content": "A rocket reached orbit. Ünïcode ✓"},
    )
    return compile_request(messages, plan)


def send(client: Transport, req: CompiledRequest) -> Completion | ProviderError:
    async def go() -> Completion | ProviderError:
        try:
            return await client.send(req)
        except ProviderError as error:
            return error
        finally:
            await client.aclose()

    return asyncio.run(go())


def both(cfg: RunConfig) -> dict[str, Transport]:
    return {
        name: provider_client(cfg, TransportChoice(name, "test"))  # type: ignore[arg-type]
        for name in ("litellm", "http")
    }


WIRE = ("authorization", "openai-organization", "openai-project", "content-type")


@pytest.mark.parametrize(
    ("mode", "logprobs"),
    [
        ("json_schema", False),
        ("json_schema", True),
        ("tool", False),
        ("json_object", False),
        ("prompted", False),
        ("prompted", True),
    ],
)
@pytest.mark.slow
def test_both_clients_send_the_same_body_and_headers(
    stub: StubServer, mode: str, logprobs: bool
) -> None:
    stub.default = Reply(
        content='{"labels": ["space"]}',
        logprobs=LOGPROBS if logprobs else (),
        prompt_tokens=120,
        completion_tokens=9,
    )
    cfg = config(stub, "+provider.organization=org-lw", "+provider.project=proj-lw")
    req = request(mode, logprobs=logprobs)
    completions = {name: send(client, req) for name, client in both(cfg).items()}
    litellm_body, http_body = stub.requests[-2:]
    assert http_body == litellm_body
    assert http_body["model"] == "gpt-4o-mini" and http_body["messages"][1]["content"].endswith("✓")
    litellm_headers, http_headers = ({k: h.get(k) for k in WIRE} for h in stub.headers[-2:])
    assert http_headers == litellm_headers
    assert http_headers["authorization"] == f"Bearer {KEY}"
    assert http_headers["openai-organization"] == "org-lw"
    assert http_headers["openai-project"] == "proj-lw"
    a, b = completions["litellm"], completions["http"]
    assert isinstance(a, Completion) and isinstance(b, Completion)
    assert (a.text, a.usage, a.cost, a.finish_reason, a.logprobs) == (
        b.text,
        b.usage,
        b.cost,
        b.finish_reason,
        b.logprobs,
    )
    assert a.text == '{"labels": ["space"]}' and a.usage.total_tokens == 129
    assert a.cost is not None and a.cost > 0  # gpt-4o-mini's price, from litellm's map
    assert bool(a.logprobs) == logprobs


FAULTS = [
    (Reply(status=429, headers={"Retry-After": "2"}, error="slow down"), RateLimited, 429),
    (Reply(status=500, error="boom"), ServerError, 500),
    (Reply(status=503, error="overloaded"), ServerError, 503),
    (Reply(status=400, error="bad field"), BadRequest, 400),
    (Reply(status=401, error="bad key"), AuthError, 401),
    (Reply(status=404, error="no such model"), UnknownModel, 404),
    (Reply(delay=3.0), ProviderTimeout, None),
    (Reply(drop=True), Unreachable, None),
]


@pytest.mark.parametrize(
    ("reply", "kind", "status"), FAULTS, ids=lambda v: getattr(v, "__name__", None)
)
@pytest.mark.slow
def test_both_clients_raise_the_same_errors(
    stub: StubServer, reply: Reply, kind: type[ProviderError], status: int | None
) -> None:
    stub.default = reply
    errors = {
        name: send(client, request("json_schema")) for name, client in both(config(stub)).items()
    }
    for name, error in errors.items():
        assert type(error) is kind, (name, error)
        assert isinstance(error, ProviderError)
        if status is not None:
            assert error.status == status, name
    if kind is RateLimited:
        assert all(e.retry_after == 2.0 for e in errors.values())  # type: ignore[union-attr]
    if reply.error and reply.status != 200:
        assert all(reply.error in str(e) for e in errors.values())
    assert str(errors["http"]).split(":")[0] == str(errors["litellm"]).split(":")[0]


@pytest.mark.slow
def test_a_cache_filled_through_one_client_serves_the_other(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    news = REPO / "examples" / "news" / "items.jsonl"
    cache = tmp_path / "cache.sqlite"
    for transport, calls in (("http", 20), ("litellm", 0), ("http", 0)):
        out = tmp_path / f"{transport}-{calls}.jsonl"
        result = labelwise(
            "classify",
            f"input={news}",
            f"output={out}",
            f"cache.path={cache}",
            *stub_overrides(stub, f"provider.transport={transport}"),
            f"hydra.run.dir={tmp_path / 'run'}",
        )
        assert result.returncode == 0, result.stderr
        rows = read_jsonl(out)
        assert sum(r["attempts"] for r in rows) == calls, transport
    assert len(stub.requests) == 20


@pytest.mark.slow
def test_the_choice_is_logged_and_recorded(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    news = REPO / "examples" / "news" / "items.jsonl"
    run = tmp_path / "run"
    result = labelwise("classify", f"input={news}", *stub_overrides(stub), f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    assert "transport http (openai_compatible speaks OpenAI's wire)" in result.stderr
    record = json.loads((run / "record.json").read_text())
    assert record["transport"] == {
        "name": "http",
        "reason": "openai_compatible speaks OpenAI's wire",
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["provider=openai"], "http"),
        (["provider=openai", "provider.transport=litellm"], "litellm"),
        (["provider=anthropic"], "litellm"),
        (["provider=gemini"], "litellm"),
        (["provider=ollama"], "litellm"),
        (["provider=local"], "http"),
        (["provider=llamacpp", "provider.api_base=http://x/v1"], "http"),
        (["provider=groq"], "http"),
        (["provider=openrouter"], "http"),
    ],
)
def test_auto_takes_http_where_the_profile_says_openai_wire(
    overrides: list[str], expected: str
) -> None:
    assert choose_transport(load_run_config(compose(overrides))).name == expected


def test_http_to_a_provider_on_another_wire_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"provider\.transport: http speaks OpenAI"):
        choose_transport(
            load_run_config(compose(["provider=anthropic", "provider.transport=http"]))
        )


@pytest.mark.parametrize(
    ("kind", "model", "key"),
    [
        ("groq", "llama-3.1-8b-instant", "GROQ_API_KEY"),
        ("together", "meta-llama/Llama-3-8b-chat-hf", "TOGETHER_API_KEY"),
        ("deepseek", "deepseek-chat", "DEEPSEEK_API_KEY"),
        ("openrouter", "openai/gpt-4o-mini", "OPENROUTER_API_KEY"),
        ("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct", "FIREWORKS_API_KEY"),
    ],
)
def test_hosted_openai_wire_providers_classify_over_http(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch, kind: str, model: str, key: str
) -> None:
    monkeypatch.setenv(key, "k-" + kind + "-0123456789")
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    with Classifier.from_config(
        [f"provider={kind}", f"model.name={model}", f"+provider.api_base={stub.url}"]
    ) as classifier:
        assert classifier.stack.choice.name == "http"
        prediction = classifier.classify("A rocket reached orbit.")
    assert prediction.ok and prediction.labels == ("space",)
    sent = stub.requests[-1]
    assert sent["model"] == model
    mode = classifier.engine.output_mode.mode  # from litellm's capability data for the model
    assert ("response_format" in sent) == (mode == "json_schema") and ("tools" in sent) == (
        mode == "tool"
    )
    assert stub.authorizations[-1] == f"Bearer k-{kind}-0123456789"
    assert ("usage" in sent) == (kind == "openrouter")  # what litellm adds for OpenRouter too
