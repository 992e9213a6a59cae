"""zero_shot.use=shortlist: each row's LLM question offers only the labels most like the
text (and the none label), in the prompt, the schema and the check of the answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from framework.testing import StubServer
from framework.testing.reply import Reply
from tests.support import classify_command, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.cli import numbers
from tests.support.news_pool import news_label_set, pool_rows


def offered(request: dict[str, Any]) -> list[str]:
    """The labels a request's schema allows (json_schema output mode)."""
    schema = request["response_format"]["json_schema"]["schema"]
    return list(schema["properties"]["labels"]["items"]["enum"])


def first_offered(request: dict[str, Any]) -> Reply:
    """Answers the first label the request offers other than none."""
    choice = next(label for label in offered(request) if label != "none")
    return Reply(json.dumps({"labels": [choice]}))


def shortlist_args(stub: StubServer, *extra: str) -> list[str]:
    return [
        "taxonomy=news",
        "validation=lenient",
        "embeddings=openai_compatible",
        f"embeddings.api_base={stub.url}",
        "embeddings.model=stub-embed",
        "zero_shot.use=shortlist",
        "zero_shot.top_k=2",
        *extra,
    ]


def test_each_row_is_asked_of_its_shortlist_alone_and_a_rerun_is_served_from_the_cache(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = first_offered
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(12, seed=5))
    out = tmp_path / "results.jsonl"
    command = classify_command(source, out, stub, tmp_path / "run", *shortlist_args(stub))
    result = run_cli(command)
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in read_jsonl(out)}
    assert len(rows) == 12 and all(row["status"] == "ok" for row in rows.values())
    every = set(news_label_set().ids)
    for request in stub.requests:
        labels = offered(request)
        prompt = request["messages"][-1]["content"]
        assert len(labels) == 3 and "none" in labels, labels  # two, and none always
        for label in every - set(labels):  # a label left out is not in the prompt either
            assert f"- {label}" not in prompt and f'"{label}"' not in prompt, (label, prompt)
    for row in rows.values():
        assert len(row["shortlist"]) == 3 and "none" in row["shortlist"]
        assert set(row["labels"]) <= set(row["shortlist"])
        assert row["labels"] == [next(x for x in row["shortlist"] if x != "none")]
    shortlists = {tuple(row["shortlist"]) for row in rows.values()}
    assert len(shortlists) > 1  # the rows' texts pick different labels
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["zero_shot"]["use"] == "shortlist" and record["zero_shot"]["top_k"] == 2

    asked = len(stub.requests)
    again = tmp_path / "again.jsonl"
    rerun = classify_command(source, again, stub, tmp_path / "run2", *shortlist_args(stub))
    assert run_cli(rerun).returncode == 0
    assert len(stub.requests) == asked  # the shortlisted requests are cached as asked
    assert [r["labels"] for r in read_jsonl(again)] == [
        rows[r["id"]]["labels"] for r in read_jsonl(again)
    ]


def test_another_top_k_does_not_resume_the_same_output(stub: StubServer, tmp_path: Path) -> None:
    stub.responder = first_offered
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(4, seed=5))
    out = tmp_path / "results.jsonl"
    first = classify_command(source, out, stub, tmp_path / "run", *shortlist_args(stub))
    assert run_cli(first).returncode == 0
    other = classify_command(
        source, out, stub, tmp_path / "run2", *shortlist_args(stub, "zero_shot.top_k=3")
    )
    result = run_cli(other)
    assert result.returncode == 2, result.stderr
    assert "zero_shot.top_k" in result.stderr and "Traceback" not in result.stderr
    assert len(read_jsonl(out)) == 4  # nothing lost


def test_a_top_k_that_keeps_every_label_names_the_key(stub: StubServer, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(3))
    out = tmp_path / "out.jsonl"
    args = shortlist_args(stub, "zero_shot.top_k=4")
    result = run_cli(classify_command(source, out, stub, tmp_path / "r", *args))
    assert result.returncode == 2, result.stderr
    assert "labelwise: error: zero_shot.top_k: 4 keeps every one" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and stub.requests == []


def test_plan_counts_one_call_a_shortlisted_row_and_fewer_prompt_tokens(
    stub: StubServer, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(10, seed=5))
    plans = {}
    # strict validation: the plan's usual answer may name a label a row's shortlist left
    # out, which a run's model would not; the plan must not count re-asks for it
    for name, extra in (("all", ["zero_shot.use=off"]), ("shortlist", [])):
        command = [
            sys.executable, "-m", "framework", "plan", f"input={source}",
            *stub_overrides(stub), *shortlist_args(stub, *extra), "validation=strict",
        ]  # fmt: skip
        result = run_cli(command)
        assert result.returncode == 0, result.stderr
        plans[name] = result.stdout
    for plan in plans.values():
        assert numbers(plan, "calls")[0] == 10, plan  # first asks only, one a row
    assert (
        numbers(plans["shortlist"], "prompt tokens")[0] < numbers(plans["all"], "prompt tokens")[0]
    )
    assert stub.requests == []  # a plan sends nothing
