"""provider.service_tier on the wire and in the ledger, and provider.flex_fallback: a flex
request the provider refuses as "resource unavailable" is retried with back-off and, when
allowed, sent again at the default tier, counted apart in record.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from framework.cli.main import main
from framework.config.schema import ModelConfig, ProviderConfig
from framework.providers import pricing
from framework.providers.price_table import model_prices
from framework.providers.pricing import batch_price, caching_saved, price
from framework.records import Usage
from framework.testing import Reply, StubServer, flex_unavailable, wire_url
from tests.support import read_jsonl, write_jsonl

OK = Reply(content='{"labels": ["space"]}', prompt_tokens=1000, completion_tokens=10)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-t")
    monkeypatch.setenv("GEMINI_API_KEY", "g-t")
    monkeypatch.setattr(pricing, "_warned", set())  # each test sees its own warnings


def classify(
    stub: StubServer, tmp_path: Path, *extra: str, rows: int = 1, provider: str = "openai"
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    source = write_jsonl(
        tmp_path / "items.jsonl", [{"id": f"r{n}", "text": f"Story {n}."} for n in range(rows)]
    )
    run = tmp_path / "run"
    model = ["model=gpt-4o-mini", "model.name=gpt-5-mini"]
    if provider == "gemini":
        model = ["model=gemini-2.5-flash"]
    base = stub.url if provider == "openai" else wire_url(stub, "gemini")
    code = main(
        [
            "classify",
            f"input={source}",
            f"output={run / 'results.jsonl'}",
            f"provider={provider}",
            *model,
            f"provider.api_base={base}",
            "taxonomy=news",
            "run.concurrency=1",
            "run.retry.base_delay=0",
            "run.progress=off",
            f"hydra.run.dir={run}",
            *extra,
        ]
    )
    results = read_jsonl(run / "results.jsonl") if (run / "results.jsonl").exists() else []
    record = run / "record.json"
    return code, results, json.loads(record.read_text()) if record.exists() else {}


def flex_cost(usage: Usage, suffix: str = "_flex") -> float:
    p = model_prices("openai/gpt-5-mini")
    assert p is not None
    return float(
        usage.prompt_tokens * p[f"input_cost_per_token{suffix}"]
        + usage.completion_tokens * p[f"output_cost_per_token{suffix}"]
    )


def test_flex_goes_on_the_wire_is_retried_when_unavailable_and_costs_the_batch_price(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = OK
    stub.enqueue(flex_unavailable())
    code, [row], record = classify(stub, tmp_path, "provider.service_tier=flex")
    assert code == 0 and row["status"] == "ok" and row["attempts"] == 2
    assert [body["service_tier"] for body in stub.requests] == ["flex", "flex"]
    usage = Usage(1000, 10)
    assert row["cost"] == pytest.approx(flex_cost(usage))
    provider, model = ProviderConfig(kind="openai"), ModelConfig(name="gpt-5-mini")
    assert row["cost"] == pytest.approx(batch_price(provider, model, "openai/gpt-5-mini", usage)[0])
    assert record["costs"]["service_tier"] == {"tier": "flex"}


def test_gemini_flex_travels_as_service_tier_in_its_own_body(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = OK
    code, [row], _ = classify(stub, tmp_path, "provider.service_tier=flex", provider="gemini")
    assert code == 0 and row["status"] == "ok"
    assert stub.received[-1].body["serviceTier"] == "flex"
    p = model_prices("gemini/gemini-2.5-flash")
    assert p is not None
    assert row["cost"] == pytest.approx(
        1000 * p["input_cost_per_token_flex"] + 10 * p["output_cost_per_token_flex"]
    )


def test_flex_refused_past_its_retries_is_sent_at_the_default_tier_and_counted_apart(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = OK
    stub.enqueue(flex_unavailable(), flex_unavailable())
    code, [row], record = classify(
        stub,
        tmp_path,
        "provider.service_tier=flex",
        "provider.flex_fallback=600",
        "run.retry.max_attempts=2",
    )
    assert code == 0 and row["status"] == "ok" and row["attempts"] == 3
    assert [body.get("service_tier") for body in stub.requests] == ["flex", "flex", None]
    assert row["cost"] == pytest.approx(flex_cost(Usage(1000, 10), ""))  # the default price
    fallback = record["costs"]["service_tier"]["fallback"]
    assert fallback["resent"] == 1 and fallback["reasons"] == {"resource unavailable": 1}
    assert fallback["cost"] == pytest.approx(row["cost"])


def test_flex_unanswered_by_the_deadline_is_sent_at_the_default_tier(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = OK
    stub.enqueue(Reply(content='{"labels": ["space"]}', delay=3))  # a slow flex answer
    code, [row], record = classify(
        stub, tmp_path, "provider.service_tier=flex", "provider.flex_fallback=0.2"
    )
    assert code == 0 and row["status"] == "ok"
    assert [body.get("service_tier") for body in stub.requests] == ["flex", None]
    assert record["costs"]["service_tier"]["fallback"]["reasons"] == {"deadline": 1}


def test_an_account_rate_limit_is_not_a_reason_to_leave_flex(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(
        status=429, error="Rate limit reached for requests", headers={"retry-after": "0"}
    )
    code, [row], record = classify(
        stub,
        tmp_path,
        "provider.service_tier=flex",
        "provider.flex_fallback=600",
        "run.retry.max_attempts=2",
    )
    assert code == 0 and row["status"] == "failed" and row["error_kind"] == "rate_limited"
    assert all(body["service_tier"] == "flex" for body in stub.requests)
    assert record["costs"]["service_tier"]["fallback"]["resent"] == 0


# -- the price of each tier and class of token ------------------------------------------

OPENAI = ProviderConfig(kind="openai")


def test_priority_costs_the_priority_price_and_a_tier_without_one_the_default_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = model_prices("gpt-4o-mini")
    assert p is not None
    model, usage = ModelConfig(name="gpt-4o-mini"), Usage(1000, 100, 400)
    priority = price(OPENAI, model, "openai/gpt-4o-mini", usage, tier="priority")
    assert priority == pytest.approx(
        600 * p["input_cost_per_token_priority"]
        + 400 * p["cache_read_input_token_cost_priority"]
        + 100 * p["output_cost_per_token_priority"]
    )
    with caplog.at_level(logging.WARNING, logger="labelwise"):
        flex = price(OPENAI, model, "openai/gpt-4o-mini", usage, tier="flex")
    assert flex == price(OPENAI, model, "openai/gpt-4o-mini", usage, tier="default")
    assert "no input_cost_per_token_flex price for openai/gpt-4o-mini" in caplog.text


def test_configured_prices_without_a_cached_price_warn_and_charge_the_input_price(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usage = Usage(1000, 100, 800)
    plain = ModelConfig(name="mine", input_cost_per_mtok=2.0, output_cost_per_mtok=8.0)
    with caplog.at_level(logging.WARNING, logger="labelwise"):
        assert price(OPENAI, plain, "openai/mine", usage) == pytest.approx(
            (1000 * 2.0 + 100 * 8.0) / 1e6
        )
    assert "model.cached_input_cost_per_mtok" in caplog.text
    assert len(caplog.records) == 1 and "\n" not in caplog.text.strip()
    cached = plain.model_copy(update={"cached_input_cost_per_mtok": 0.5})
    assert price(OPENAI, cached, "openai/mine", usage) == pytest.approx(
        (200 * 2.0 + 800 * 0.5 + 100 * 8.0) / 1e6
    )
    assert caching_saved(OPENAI, cached, "openai/mine", usage) == pytest.approx(800 * 1.5 / 1e6)


def test_a_table_without_a_cached_price_warns_once_and_never_charges_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "groq/llama-guard-3-8b"  # the table has no cache_read price for it
    p = model_prices(name)
    assert p is not None and "cache_read_input_token_cost" not in p
    groq, model, usage = (
        ProviderConfig(kind="groq"),
        ModelConfig(name="llama-guard-3-8b"),
        Usage(1000, 10, 900),
    )
    with caplog.at_level(logging.WARNING, logger="labelwise"):
        cost = price(groq, model, name, usage)
        price(groq, model, name, usage)
    assert cost == pytest.approx(1000 * p["input_cost_per_token"] + 10 * p["output_cost_per_token"])
    assert caplog.text.count("cache_read_input_token_cost") == 1
