"""`labelwise plan`: what a run will cost, before any call is made."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import stub_overrides
from tests.support.cli import NEWS, labelwise, numbers

PRICED = ["+model.input_cost_per_mtok=1000", "+model.output_cost_per_mtok=2000"]


@pytest.mark.slow
def test_plan_counts_calls_tokens_and_cost_without_calling(stub: StubServer) -> None:
    result = labelwise("plan", f"input={NEWS}", *stub_overrides(stub), *PRICED)
    assert result.returncode == 0, result.stderr
    assert stub.requests == []
    assert numbers(result.stdout, "rows")[:2] == [20, 20]
    assert numbers(result.stdout, "calls")[0] == 20
    prompt = numbers(result.stdout, "prompt tokens")[0]
    assert 20 * 250 < prompt < 20 * 600
    assert "cost                ~$" in result.stdout


@pytest.mark.slow
def test_per_label_plans_one_call_per_label(stub: StubServer) -> None:
    result = labelwise(
        "plan", f"input={NEWS}", "strategy=per_label", *stub_overrides(stub), *PRICED
    )
    assert result.returncode == 0, result.stderr
    assert numbers(result.stdout, "calls")[0] == 20 * 5


@pytest.mark.slow
def test_plan_knows_what_is_cached_and_what_is_done(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content='{"labels": ["space"]}')
    out = tmp_path / "out.jsonl"
    ran = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    )
    assert ran.returncode == 0, ran.stderr
    cached = labelwise("plan", f"input={NEWS}", *stub_overrides(stub))
    assert "0 to send" in cached.stdout and "20 answered from the cache" in cached.stdout
    done = labelwise("plan", f"input={NEWS}", f"output={out}", *stub_overrides(stub))
    assert "20 already in the output" in done.stdout


@pytest.mark.slow
def test_unknown_prices_are_said_plainly(stub: StubServer) -> None:
    result = labelwise("plan", f"input={NEWS}", *stub_overrides(stub))
    assert "cost                unknown: no price for this model" in result.stdout


def test_plan_without_input_exits_2() -> None:
    result = labelwise(
        "plan", "provider=openai_compatible", "provider.api_base=http://127.0.0.1:9/v1"
    )
    assert result.returncode == 2 and "input: required" in result.stderr


def dollars(text: str, label: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return [float(n) for n in re.findall(r"\$([\d.]+)", line)]


@pytest.mark.slow
def test_plan_shows_the_batch_cost_beside_the_online_cost(stub: StubServer) -> None:
    result = labelwise("plan", f"input={NEWS}", *stub_overrides(stub), *PRICED)
    assert result.returncode == 0, result.stderr
    online, batch = dollars(result.stdout, "cost"), dollars(result.stdout, "batch cost")
    assert len(online) == len(batch) == 2  # expected, at most
    assert online[0] > 0
    assert batch == [pytest.approx(x / 2, abs=0.0001) for x in online]  # shown to 4 places
    assert "50% of the online price" in result.stdout


@pytest.mark.slow
def test_plan_has_no_batch_line_for_a_provider_without_a_batch_api(stub: StubServer) -> None:
    overrides = [*stub_overrides(stub), "provider=llamacpp"]
    result = labelwise("plan", f"input={NEWS}", *overrides)
    assert result.returncode == 0, result.stderr
    assert "batch cost" not in result.stdout and "cost" in result.stdout
