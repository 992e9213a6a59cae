"""run.mode=batch against the stub's Files and Batches API over real HTTP: the same labels
as online at the batch price, failures and expiry, budgets, limits, and a kill -9 in each
phase without a request submitted twice (counted at the stub)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.cli.main import main
from framework.testing import Reply, StubServer, wire_url
from tests.support import REPO, cli_env, read_jsonl
from tests.support.batch_runs import (
    PHASES,
    answer_by_item,
    classify,
    items,
    labels_of,
    overrides,
    results,
    totals,
    wait_for,
)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(responder=answer_by_item) as server:
        server.batches.polls_per_step = 0  # a job is done as soon as it is created
        yield server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(folder))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return folder


@pytest.mark.slow
def test_batch_labels_equal_online_labels_at_half_the_price(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 60)
    assert classify(source, tmp_path / "online", stub, provider="openai") == 0
    online_calls = len(stub.requests)
    stub.requests.clear()
    assert (
        classify(
            source,
            tmp_path / "batch",
            stub,
            "run.mode=batch",
            "cache.path=" + str(tmp_path / "other.sqlite"),
            provider="openai",
        )
        == 0
    )
    online, batch = results(tmp_path / "online"), results(tmp_path / "batch")
    assert {k: r["labels"] for k, r in batch.items()} == {k: r["labels"] for k, r in online.items()}
    assert all(row["request_hash"] == online[key]["request_hash"] for key, row in batch.items())
    assert len(stub.requests) == online_calls == 60  # each line answered once, in one job
    assert len(stub.batches.uploads) == 1 and len(stub.batches.created) == 1
    online_cost, batch_cost = (
        totals(tmp_path / "online")["cost"],
        totals(tmp_path / "batch")["cost"],
    )
    assert online_cost > 0
    assert batch_cost == pytest.approx(online_cost / 2)  # litellm's batch price for gpt-4o-mini
    manifest = json.loads((tmp_path / "batch" / "batch_jobs.json").read_text())
    assert [job["state"] for job in manifest["jobs"]] == ["read"]
    assert "api_key" not in manifest["provider"]


def test_the_batch_answers_serve_a_rerun_online_from_the_cache(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 12)
    assert classify(source, tmp_path / "batch", stub, "run.mode=batch") == 0
    sent = len(stub.requests)
    assert classify(source, tmp_path / "online", stub) == 0
    assert len(stub.requests) == sent  # not one call: the batch answers are in the cache
    assert totals(tmp_path / "online")["cache_hits"] == 12


def test_a_job_file_is_cut_at_the_request_limit(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 20)
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.max_requests=7") == 0
    assert [upload.lines for upload in stub.batches.uploads] == [7, 7, 6]
    assert len(results(tmp_path / "run")) == 20


def test_failed_requests_fail_their_rows_with_the_providers_reason(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 6)

    def some_fail(body: dict[str, Any]) -> Reply:
        if "item-2:" in json.dumps(body):
            return Reply(status=400, error="this request was refused by the stub")
        return answer_by_item(body)

    stub.responder = some_fail
    assert classify(source, tmp_path / "run", stub, "run.mode=batch") == 0
    rows = results(tmp_path / "run")
    assert len(rows) == 6
    assert rows["r2"]["status"] == "failed"
    assert rows["r2"]["error_kind"] == "bad_request"
    assert "this request was refused by the stub" in rows["r2"]["error"]
    assert all(rows[f"r{n}"]["status"] == "ok" for n in (0, 1, 3, 4, 5))


def first_answer_invalid(marker: str) -> Callable[[dict[str, Any]], Reply]:
    """Answers by item, except a label outside the taxonomy to the first ask of `marker`'s
    item (a re-ask carries the rejected answer: more than two messages)."""
    bad = Reply(content='{"labels": ["not-a-label"]}')

    def respond(body: dict[str, Any]) -> Reply:
        first = marker in json.dumps(body) and len(body["messages"]) < 3
        return bad if first else answer_by_item(body)

    return respond


def test_an_invalid_answer_is_reasked_online_by_default(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 4)
    stub.responder = first_answer_invalid("item-1:")
    assert classify(source, tmp_path / "run", stub, "run.mode=batch") == 0
    rows = results(tmp_path / "run")
    assert rows["r1"]["status"] == "ok" and rows["r1"]["labels"] == labels_of(1)
    assert len(stub.batches.created) == 1  # the re-ask went online, not into a second job
    assert len(stub.requests) == 5
    assert len(stub.headers) == 1  # one call on the chat route: the re-ask


def test_batch_reask_batch_sends_the_reasks_as_a_follow_up_job(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 4)
    stub.responder = first_answer_invalid("item-1:")
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.reask=batch") == 0
    assert results(tmp_path / "run")["r1"]["labels"] == labels_of(1)
    assert [upload.lines for upload in stub.batches.uploads] == [4, 1]
    assert stub.headers == []  # no call on the chat route: the re-ask went in the second job


@pytest.mark.slow
def test_an_expired_job_leaves_its_unanswered_rows_to_a_rerun(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 10)
    stub.batches.fault = "expire"
    assert (
        classify(
            source,
            tmp_path / "run",
            stub,
            "run.mode=batch",
            "output=" + str(tmp_path / "out.jsonl"),
        )
        == 0
    )
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5  # half answered; the rest wait
    stub.batches.fault = None
    assert (
        classify(
            source,
            tmp_path / "run2",
            stub,
            "run.mode=batch",
            "output=" + str(tmp_path / "out.jsonl"),
        )
        == 0
    )
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(row["id"] for row in rows) == sorted(f"r{n}" for n in range(10))
    assert [upload.lines for upload in stub.batches.uploads] == [10, 5]
    assert len(stub.requests) == 10  # each request answered once in all


@pytest.mark.slow
def test_requests_of_a_job_that_expired_unanswered_are_sent_again_in_a_new_job(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 1)  # an expired job answers half: here none
    out = "output=" + str(tmp_path / "out.jsonl")
    stub.batches.fault = "expire"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", out) == 0
    stub.batches.fault = None
    assert classify(source, tmp_path / "run2", stub, "run.mode=batch", out) == 0
    assert [row["id"] for row in read_jsonl(tmp_path / "out.jsonl")] == ["r0"]
    names = [upload.filename for upload in stub.batches.uploads]
    assert len(names) == 2 and names[0] != names[1]  # the same request, a job of its own


def test_a_job_stuck_past_batch_wait_is_left_running_and_collected_later(
    stub: StubServer, cache: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = items(tmp_path / "in.jsonl", 5)
    out = "output=" + str(tmp_path / "out.jsonl")
    stub.batches.fault = "stuck"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.wait=0.3", out) == 0
    assert not (tmp_path / "out.jsonl").exists() or read_jsonl(tmp_path / "out.jsonl") == []
    said = capfd.readouterr().err
    assert "batch.wait (0.3s) is over" in said
    assert "5 rows wait for provider batch jobs" in said
    stub.batches.fault = None
    assert classify(source, tmp_path / "run2", stub, "run.mode=batch", out) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5
    assert len(stub.batches.uploads) == 1 and len(stub.batches.created) == 1
    # The first run collected the requests and let go of them unanswered: the run that
    # read the answers records their calls.
    assert totals(tmp_path / "run2")["calls"] == 5 and totals(tmp_path / "run")["calls"] == 0


def test_batch_status_and_cancel_name_the_jobs(
    stub: StubServer, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = items(tmp_path / "in.jsonl", 4)
    stub.batches.fault = "stuck"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.wait=0") == 0
    capsys.readouterr()
    assert main(["batch", "status", str(tmp_path / "run")]) == 0
    status = capsys.readouterr().out
    assert "submitted (in_progress), 4 requests" in status
    assert main(["batch", "cancel", str(tmp_path / "run")]) == 0
    assert main(["batch", "status", str(tmp_path / "run")]) == 0
    assert "read (cancelled)" in capsys.readouterr().out
    assert [b["status"] for b in stub.batches.batches.values()] == ["cancelled"]


def test_batch_status_of_a_folder_without_jobs_exits_2(tmp_path: Path) -> None:
    assert main(["batch", "status", str(tmp_path)]) == 2


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("provider=gemini", "batch mode works with"),
        ("cache.mode=off", "cache.mode"),
        ("run.executor=ray", "run.executor"),
    ],
)
def test_a_batch_run_it_cannot_make_is_a_config_error(
    setting: str,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    source = items(tmp_path / "in.jsonl", 2)
    argv = ["classify", f"input={source}", f"hydra.run.dir={tmp_path}", "run.mode=batch", setting]
    if setting != "provider=gemini":
        argv += [
            "provider=openai_compatible",
            "provider.api_base=http://127.0.0.1:9/v1",
            "model.name=m",
        ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_budget_holds_before_submission(stub: StubServer, cache: Path, tmp_path: Path) -> None:
    source = items(tmp_path / "in.jsonl", 30)
    # gpt-4o-mini at the batch price: about $0.0000097 a request at most (prompt + 128
    # completion tokens); a budget of $0.0001 lets about ten requests into the job.
    assert (
        classify(
            source,
            tmp_path / "run",
            stub,
            "run.mode=batch",
            "budget.max_cost=0.0001",
            provider="openai",
        )
        == 0
    )
    sent = stub.batches.uploads[0].lines
    assert 0 < sent < 30
    assert len(stub.batches.uploads) == 1  # the rows left were sent neither later nor online
    assert len(stub.requests) == sent
    assert len(results(tmp_path / "run")) == sent  # every row the job answered is written
    assert totals(tmp_path / "run")["not_started"] == 30 - sent
    assert totals(tmp_path / "run")["cost"] < 0.0001


# -- kill -9 in each phase -----------------------------------------------------------


def run_in_background(
    source: Path,
    out: Path,
    stub: StubServer,
    cache: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "framework", "classify", f"input={source}", f"output={out}"]
    argv += [f"hydra.run.dir={out.parent / 'killed'}", *overrides(stub, "run.mode=batch", *extra)]
    environment = {**cli_env(), "LABELWISE_CACHE_DIR": str(cache), **(env or {})}
    return subprocess.Popen(
        argv, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("phase", list(PHASES))
def test_a_kill_in_any_phase_submits_nothing_twice(
    phase: str, stub: StubServer, tmp_path: Path
) -> None:
    hold, reached = PHASES[phase]
    stub.batches.polls_per_step = 1
    source, out, cache = (
        items(tmp_path / "in.jsonl", 25),
        tmp_path / "out.jsonl",
        tmp_path / "cache",
    )
    hold(stub)
    process = run_in_background(source, out, stub, cache)
    wait_for(lambda: reached(stub), process)
    time.sleep(0.3)  # whatever the run does next, it does not get far
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    stub.batches.hang.clear()
    stub.batches.fault = None
    rerun = run_in_background(source, out, stub, cache)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    rows = read_jsonl(out)
    assert sorted(row["id"] for row in rows) == sorted(f"r{n}" for n in range(25))
    assert all(row["labels"] == labels_of(int(row["id"][1:])) for row in rows)
    assert len(stub.batches.uploads) == 1, "the file was uploaded twice"
    assert len(stub.batches.created) == 1, "the job was created twice"
    assert len(stub.requests) == 25  # every line answered once, nothing sent online
    # The killed run collected them, and died: the rerun takes their answers over.
    assert totals(out.parent / "killed")["calls"] == 25


# -- Anthropic's Message Batches (the anthropic SDK) -----------------------------------


def anthropic(stub: StubServer, mode: str) -> list[str]:
    return [
        "provider=anthropic",
        f"provider.api_base={wire_url(stub, 'anthropic')}",
        "model.name=claude-haiku-4-5",
        f"provider.output_mode={mode}",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tool", "json_schema"])
def test_an_anthropic_batch_asks_what_online_asks_and_labels_alike_at_half_price(
    mode: str, stub: StubServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    source = items(tmp_path / "in.jsonl", 8)
    argv = ["classify", f"input={source}", "run.retry.base_delay=0", "run.progress=off"]
    argv += ["batch.poll_interval=0.01", *anthropic(stub, mode)]
    assert main([*argv, f"hydra.run.dir={tmp_path / 'online'}"]) == 0
    online_bodies = sorted(json.dumps(body, sort_keys=True) for body in stub.requests)
    stub.requests.clear()
    batch_cache = f"cache.path={tmp_path / 'batch.sqlite'}"
    assert main([*argv, "run.mode=batch", batch_cache, f"hydra.run.dir={tmp_path / 'batch'}"]) == 0
    assert sorted(json.dumps(body, sort_keys=True) for body in stub.requests) == online_bodies
    assert [len(ids) for ids in stub.batches.anthropic.created] == [8]
    assert set(stub.batches.anthropic.api_keys) == {"sk-ant-test"}
    online, batch = results(tmp_path / "online"), results(tmp_path / "batch")
    assert {k: r["labels"] for k, r in batch.items()} == {k: r["labels"] for k, r in online.items()}
    assert all(r["labels"] == labels_of(int(k[1:])) for k, r in batch.items())
    cost = totals(tmp_path / "online")["cost"], totals(tmp_path / "batch")["cost"]
    assert cost[0] > 0 and cost[1] == pytest.approx(cost[0] / 2)


@pytest.mark.slow
def test_an_anthropic_batch_created_before_a_kill_is_found_again(
    stub: StubServer, tmp_path: Path
) -> None:
    pytest.importorskip("anthropic")
    stub.batches.polls_per_step = 1
    source, out, cache = items(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl", tmp_path / "c"
    stub.batches.hang.add("create")
    env = {"ANTHROPIC_API_KEY": "sk-ant-test"}
    process = run_in_background(source, out, stub, cache, *anthropic(stub, "tool"), env=env)
    wait_for(lambda: len(stub.batches.anthropic.created) == 1, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    stub.batches.hang.clear()
    rerun = run_in_background(source, out, stub, cache, *anthropic(stub, "tool"), env=env)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert sorted(row["id"] for row in read_jsonl(out)) == sorted(f"r{n}" for n in range(6))
    assert len(stub.batches.anthropic.created) == 1, "the batch was created twice"
    assert len(stub.requests) == 6


def test_the_python_api_refuses_batch_mode_for_single_texts(cache: Path) -> None:
    from framework import Classifier
    from framework.errors import ConfigError

    overrides = ["provider=openai_compatible", "provider.api_base=http://127.0.0.1:9/v1"]
    classifier = Classifier.from_config([*overrides, "model.name=m", "run.mode=batch"])
    with classifier, pytest.raises(ConfigError, match=r"run\.mode: batch jobs answer"):
        classifier.classify("a text")


def test_an_azure_batch_goes_to_the_resources_openai_routes_with_its_api_version(
    stub: StubServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_API_KEY", "azure-key")
    source = items(tmp_path / "in.jsonl", 5)
    argv = ["classify", f"input={source}", "run.progress=off", "batch.poll_interval=0.01"]
    argv += ["provider=azure", f"provider.api_base={wire_url(stub, 'azure')}"]
    argv += ["model.name=gpt-4o-mini", "run.mode=batch", f"hydra.run.dir={tmp_path / 'run'}"]
    assert main(argv) == 0
    rows = results(tmp_path / "run")
    assert all(rows[f"r{n}"]["labels"] == labels_of(n) for n in range(5))
    (batch,) = stub.batches.batches.values()
    assert batch["endpoint"] == "/chat/completions"  # Azure's name of it
    lines = [json.loads(x) for x in stub.batches.files[batch["input_file_id"]].content.splitlines()]
    assert {line["body"]["model"] for line in lines} == {"gpt-4o-mini"}  # the deployment
    assert len(stub.requests) == 5 and stub.headers == []
    assert stub.batches.authorizations and not any(stub.batches.authorizations)  # api-key


@pytest.mark.slow
def test_two_runs_at_once_on_one_cache_send_each_request_once(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.batches.polls_per_step, stub.batches.fault = 1, "stuck"
    source, cache = items(tmp_path / "in.jsonl", 30), tmp_path / "cache"
    first = run_in_background(source, tmp_path / "a" / "out.jsonl", stub, cache)
    second = run_in_background(source, tmp_path / "b" / "out.jsonl", stub, cache)
    wait_for(lambda: len(stub.batches.created) >= 1, first)
    time.sleep(3)  # both have collected: one after the other, the second into no job
    stub.batches.fault = None
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    for run in ("a", "b"):
        rows = read_jsonl(tmp_path / run / "out.jsonl")
        assert sorted(row["id"] for row in rows) == sorted(f"r{n}" for n in range(30))
    assert len(stub.batches.uploads) == 1 and len(stub.batches.created) == 1
    assert len(stub.requests) == 30
