"""Prompt caching and service tiers on the wire: what each provider is sent, what the
stub reports back as cached (framework.testing.prompt_cache) and how the ledger prices
it, through `labelwise classify` in this process; and that with the defaults nothing a
request carries, nor its response-cache key, changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from framework import Classifier
from framework.cli.main import main
from framework.config.schema import ProviderConfig
from framework.providers.price_table import model_prices
from framework.providers.wire_options import WireOptions
from framework.testing import Reply, StubPromptCache, StubServer, Wire, wire_url
from tests.support import read_jsonl, write_jsonl

MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "llama3.1",
}
KEYS = {"OPENAI_API_KEY": "sk-t", "ANTHROPIC_API_KEY": "sk-ant-t", "GEMINI_API_KEY": "g-t"}
TEXTS = ["NASA's probe reaches Europa.", "A new telescope sees far.", "Rain floods the city."]
# The response-cache keys of "NASA's probe reaches Europa" with taxonomy=news, computed at
# 67ee5dc (before service tiers and prompt caching): an old cache still serves these runs.
KEYS_BEFORE = {
    "openai": "266effc4b3ef1480bc608a3359c0c28e0f389ffd47834230bab4f7199b16f39a",
    "anthropic": "c0d9205f219787cbd245ab1e57e62a01c587e88379bfdd611af28bf99fba78b0",
    "gemini": "4bcd3b04b50ccec05e1ee0bef9899d312b43f50389bcb945fb2503aae971bc85",
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env, value in KEYS.items():
        monkeypatch.setenv(env, value)


@pytest.fixture
def caching_stub() -> Any:
    with StubServer(
        default=Reply(content='{"labels": ["space"]}'),
        prompt_cache=StubPromptCache(min_tokens=64),
    ) as server:
        yield server


def base_of(stub: StubServer, provider: str) -> str:
    return stub.url if provider == "openai" else wire_url(stub, cast(Wire, provider))


def classify(
    stub: StubServer, provider: str, tmp_path: Path, *extra: str
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    source = write_jsonl(
        tmp_path / "items.jsonl", [{"id": f"r{n}", "text": t} for n, t in enumerate(TEXTS)]
    )
    run = tmp_path / "run"
    code = main(
        [
            "classify",
            f"input={source}",
            f"output={run / 'results.jsonl'}",
            f"provider={provider}",
            f"model={MODELS[provider]}",
            f"provider.api_base={base_of(stub, provider)}",
            "taxonomy=news",
            "run.concurrency=1",
            "run.retry.base_delay=0",
            "run.progress=off",
            f"hydra.run.dir={run}",
            *extra,
        ]
    )
    record = run / "record.json"
    rows = read_jsonl(run / "results.jsonl") if (run / "results.jsonl").exists() else []
    return code, rows, json.loads(record.read_text()) if record.exists() else {}


def hand_cost(model: str, usage: dict[str, int]) -> float:
    """The row's price from the table, by class of token."""
    p = model_prices(model)
    assert p is not None
    read, written = usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0)
    plain = usage["prompt_tokens"] - read - written
    return float(
        plain * p["input_cost_per_token"]
        + read * p["cache_read_input_token_cost"]
        + written * p.get("cache_creation_input_token_cost", p["input_cost_per_token"])
        + usage["completion_tokens"] * p["output_cost_per_token"]
    )


# -- the defaults change nothing -------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_cache_key_of_a_default_run_is_the_one_before_tiers_and_caching(
    provider: str,
) -> None:
    base = [f"provider={provider}", f"model={MODELS[provider]}", "taxonomy=news", "cache.mode=off"]
    hints = ["provider.prompt_caching=on"]
    if provider != "anthropic":
        hints.append("provider.service_tier=priority")
    for overrides in (base, [*base, *hints]):  # tier and hints are not in the key either
        with Classifier.from_config(overrides) as classifier:
            [request] = classifier.requests_for("NASA's probe reaches Europa")
        assert request.key == KEYS_BEFORE[provider], overrides


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_default_run_sends_no_tier_and_no_caching_hint(
    caching_stub: StubServer, tmp_path: Path, provider: str
) -> None:
    code, rows, _ = classify(caching_stub, provider, tmp_path)
    assert code == 0 and all(row["status"] == "ok" for row in rows)
    for body in caching_stub.requests:
        text = json.dumps(body)
        assert "cache_control" not in text and "prompt_cache_key" not in text
        assert "service_tier" not in body
    if provider == "openai":  # labelwise's own client: the compiled request, as it was
        with Classifier.from_config(
            ["provider=openai", "model=gpt-4o-mini", "taxonomy=news", "cache.mode=off"]
        ) as classifier:
            [request] = classifier.requests_for(TEXTS[0])
        assert caching_stub.requests[0] == {**request.kwargs, "model": "gpt-4o-mini"}


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "azure", "ollama"])
def test_default_wire_options_return_the_request_unchanged(kind: str) -> None:
    kwargs = {"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 0}
    provider = ProviderConfig(kind=kind)
    options = WireOptions.of(provider)
    options.learn("x", "digest", "m")
    assert options.apply(kwargs) == kwargs


# -- Anthropic: a breakpoint after the shared prefix -----------------------------------


def test_anthropic_gets_one_breakpoint_and_the_ledger_prices_reads_and_writes(
    caching_stub: StubServer, tmp_path: Path
) -> None:
    code, rows, record = classify(caching_stub, "anthropic", tmp_path, "provider.prompt_caching=on")
    assert code == 0
    marks = []
    for body in caching_stub.requests:
        blocks = [
            b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]
        ]
        marks.append([b for b in blocks if "cache_control" in b])
        assert len(marks[-1]) == 1 and marks[-1][0]["cache_control"] == {"type": "ephemeral"}
        after = blocks[blocks.index(marks[-1][0]) + 1]["text"]
        assert after.startswith("<text>")  # the breakpoint is just before the row's text
        assert not any(t in marks[-1][0]["text"] for t in TEXTS)
    assert len({m[0]["text"] for m in marks}) == 1  # one prefix, the same for every row
    first, *later = rows
    assert first["usage"]["cache_write_tokens"] > 0 and "cached_tokens" not in first["usage"]
    assert all(r["usage"]["cached_tokens"] == first["usage"]["cache_write_tokens"] for r in later)
    for row in rows:
        assert row["cost"] == pytest.approx(hand_cost("claude-haiku-4-5", row["usage"]))
    caching = record["costs"]["prompt_caching"]
    assert caching["cached_tokens"] == sum(r["usage"].get("cached_tokens", 0) for r in rows)
    assert caching["saved"] == pytest.approx(
        caching["cost_without_caching"] - record["totals"]["cost"]
    )
    assert record["totals"]["usage"]["cache_write_tokens"] == first["usage"]["cache_write_tokens"]
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "Cost and prompt cache" in report and f"{caching['cached_tokens']:,}" in report


# -- OpenAI (labelwise's own http client): prompt_cache_key, cached_tokens -----------


def test_openai_gets_one_prompt_cache_key_for_the_run_and_cached_tokens_cost_less(
    caching_stub: StubServer, tmp_path: Path
) -> None:
    code, rows, record = classify(caching_stub, "openai", tmp_path, "provider.prompt_caching=on")
    assert code == 0
    keys = {body["prompt_cache_key"] for body in caching_stub.requests}
    assert len(keys) == 1 and all(t not in next(iter(keys)) for t in TEXTS)
    assert "cached_tokens" not in rows[0]["usage"]
    assert all(row["usage"]["cached_tokens"] >= 128 for row in rows[1:])
    for row in rows:
        assert row["cost"] == pytest.approx(hand_cost("gpt-4o-mini", row["usage"]))
    assert record["costs"]["prompt_caching"]["saved"] > 0


def test_gemini_caches_by_itself_and_the_ledger_reads_cached_content_tokens(
    caching_stub: StubServer, tmp_path: Path
) -> None:
    code, rows, record = classify(caching_stub, "gemini", tmp_path)  # auto: nothing asked
    assert code == 0
    assert "cached_tokens" not in rows[0]["usage"]
    assert all(row["usage"]["cached_tokens"] > 0 for row in rows[1:])
    for row in rows:
        assert row["cost"] == pytest.approx(hand_cost("gemini/gemini-2.5-flash", row["usage"]))
    assert record["costs"]["prompt_caching"]["setting"] == "auto"


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "setting", "key"),
    [
        ("anthropic", "provider.service_tier=flex", "provider.service_tier"),
        ("openai", "provider.flex_fallback=30", "provider.flex_fallback"),
        ("ollama", "provider.prompt_caching=on", "provider.prompt_caching"),
    ],
)
def test_a_setting_the_provider_lacks_exits_2_naming_the_key(
    caching_stub: StubServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    provider: str,
    setting: str,
    key: str,
) -> None:
    code, rows, _ = classify(caching_stub, provider, tmp_path, setting)
    err = capsys.readouterr().err
    assert code == 2 and key in err and "Traceback" not in err
    assert rows == [] and caching_stub.requests == []


def test_litellm_sends_openai_the_same_tier_and_cache_key_as_labelwise_own_client(
    caching_stub: StubServer, tmp_path: Path
) -> None:
    hints = ("provider.prompt_caching=on", "provider.service_tier=priority")
    sent = {}
    for transport in ("http", "litellm"):
        (tmp_path / transport).mkdir()
        code, rows, _ = classify(
            caching_stub, "openai", tmp_path / transport, f"provider.transport={transport}", *hints
        )
        assert code == 0 and all(row["status"] == "ok" for row in rows)
        body = caching_stub.requests[-1]
        sent[transport] = (body["service_tier"], body["prompt_cache_key"])
    assert sent["http"] == sent["litellm"] and sent["http"][0] == "priority"
