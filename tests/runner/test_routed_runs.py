"""A routed run (route.tiers) keeps the runner's guarantees: run.mode=batch, run.workers
and a kill -9 then a rerun write every id once, and no LLM answer is paid twice (counted
at the stub). The route itself is tested in tests/learning/test_route.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.batch_runs import overrides
from tests.support.news_pool import mislabeled, noisy, pool_rows, route_args
from tests.support.processes import workers_of

ANSWER = Reply(content=json.dumps({"labels": ["space"]}), prompt_tokens=200)


def routed_input(path: Path, count: int) -> Path:
    rows = noisy(pool_rows(count, seed=11))
    for row in rows:
        row["id"] = f"in-{row['id']}"
    return write_jsonl(path, rows)


def once_each(output: Path, count: int) -> list[dict[str, object]]:
    written = read_jsonl(output)
    ids = Counter(str(row["id"]) for row in written)
    assert set(ids) == {f"in-p{n}" for n in range(count)} and max(ids.values()) == 1
    return written


@pytest.mark.slow
def test_a_routed_batch_run_sends_only_the_llm_tiers_rows_once(tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = routed_input(tmp_path / "in.jsonl", 60)
    env = {**cli_env(), "OPENAI_API_KEY": "sk-test", "LABELWISE_CACHE_DIR": str(tmp_path / "c")}
    with StubServer(default=ANSWER) as stub:
        stub.batches.polls_per_step = 0
        out = tmp_path / "out.jsonl"
        args = [*overrides(stub, "run.mode=batch", provider="openai"), *route_args(pool)]
        argv = [sys.executable, "-m", "framework", "classify", f"input={source}", f"output={out}"]
        done = run_cli([*argv, f"hydra.run.dir={tmp_path / 'r1'}", *args], env=env)
        assert done.returncode == 0, done.stderr
        written = once_each(out, 60)
        by_llm = [row for row in written if row["tier"] == "llm"]
        assert by_llm and any(row["tier"] == "trained" for row in written)
        assert len(stub.requests) == len(by_llm)  # one batch line per LLM-tier row
        assert all(row["status"] == "ok" for row in by_llm)
        again = run_cli([*argv, f"hydra.run.dir={tmp_path / 'r2'}", *args], env=env)
        assert again.returncode == 0, again.stderr
        assert len(stub.requests) == len(by_llm)  # a rerun pays nothing again
    record = json.loads((tmp_path / "r1" / "record.json").read_text())
    assert record["route"]["estimate"]["tiers"]["llm"]["rows"] == len(by_llm)


@pytest.mark.slow
def test_a_routed_run_on_two_workers_writes_every_id_once(tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = routed_input(tmp_path / "in.jsonl", 120)
    out = tmp_path / "out.jsonl"
    with StubServer(default=ANSWER) as stub:
        args = route_args(pool, "run.workers=2", "run.concurrency=8")
        done = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
        assert done.returncode == 0, done.stderr
    written = once_each(out, 120)
    by_llm = [row for row in written if row["tier"] == "llm"]
    assert by_llm and len(stub.requests) == len(by_llm)
    estimate = json.loads((tmp_path / "run" / "record.json").read_text())["route"]["estimate"]
    assert sum(tier["rows"] for tier in estimate["tiers"].values()) == 120


@pytest.mark.slow
def test_a_routed_run_killed_mid_way_resumes_without_paying_an_answer_twice(
    tmp_path: Path,
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = routed_input(tmp_path / "in.jsonl", 400)
    out = tmp_path / "out.jsonl"
    slow = Reply(content=json.dumps({"labels": ["space"]}), delay=0.02)
    with StubServer(default=slow) as stub:
        args = route_args(pool, "run.workers=2", "run.concurrency=4")
        first = subprocess.Popen(
            classify_command(source, out, stub, tmp_path / "one", *args),
            cwd=REPO,
            env=cli_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and first.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 60:
                break
            time.sleep(0.05)
        assert first.poll() is None, "the run ended before the kill"
        workers = workers_of(first.pid)
        os.kill(workers[0] if workers else first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
        assert 60 <= out.read_bytes().count(b"\n") < 400
        asked_before = len(stub.requests)
        second = run_cli(classify_command(source, out, stub, tmp_path / "two", *args))
        assert second.returncode == 0, second.stderr
        written = once_each(out, 400)
        by_llm = [row for row in written if row["tier"] == "llm"]
        # Every answer received before the kill is kept (row or cache): only the
        # requests in flight at the kill (at most workers x concurrency) are sent again.
        assert len(stub.requests) - len(by_llm) <= 2 * 4
        assert asked_before <= len(stub.requests)
    assert {row["tier"] for row in written} <= {"trained", "llm"}
