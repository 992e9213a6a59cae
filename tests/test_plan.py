"""`labelwise plan`: what a run will cost, before any call is made."""

from __future__ import annotations

import re
from pathlib import Path

from framework.stub_server import Reply, StubServer
from tests.support import stub_overrides
from tests.test_cli import NEWS, labelwise

PRICED = ["+model.input_cost_per_mtok=1000", "+model.output_cost_per_mtok=2000"]


def numbers(text: str, label: str) -> list[int]:
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line.split(label, 1)[1])]


def test_plan_counts_calls_tokens_and_cost_without_calling(stub: StubServer) -> None:
    result = labelwise("plan", f"input={NEWS}", *stub_overrides(stub), *PRICED)
    assert result.returncode == 0, result.stderr
    assert stub.requests == []
    assert numbers(result.stdout, "rows")[:2] == [20, 20]
    assert numbers(result.stdout, "calls")[0] == 20
    prompt = numbers(result.stdout, "prompt tokens")[0]
    assert 20 * 250 < prompt < 20 * 600
    assert "cost                ~$" in result.stdout


def test_per_label_plans_one_call_per_label(stub: StubServer) -> None:
    result = labelwise(
        "plan", f"input={NEWS}", "strategy=per_label", *stub_overrides(stub), *PRICED
    )
    assert result.returncode == 0, result.stderr
    assert numbers(result.stdout, "calls")[0] == 20 * 5


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


def test_unknown_prices_are_said_plainly(stub: StubServer) -> None:
    result = labelwise("plan", f"input={NEWS}", *stub_overrides(stub))
    assert "cost                unknown: no price for this model" in result.stdout


def test_plan_without_input_exits_2() -> None:
    result = labelwise(
        "plan", "provider=openai_compatible", "provider.api_base=http://127.0.0.1:9/v1"
    )
    assert result.returncode == 2 and "input: required" in result.stderr
