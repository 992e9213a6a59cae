"""run.workers=N: worker processes share one input stream and one journal; every id once,
kill -9 of any process resumable; the run's budgets and back-off hold across workers."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from framework.providers.transports.pacing import SharedPacing
from framework.providers.transports.throttle import Throttle
from framework.testing import Reply, StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.processes import alive, workers_of


def rows(n: int) -> list[dict[str, str]]:
    return [{"id": f"w{k}", "text": f"story {k}"} for k in range(n)]


def command(source: Path, output: Path, stub: StubServer, run: Path, *extra: str) -> list[str]:
    return classify_command(source, output, stub, run, "run.workers=2", *extra)


@pytest.mark.slow
def test_two_workers_write_every_id_exactly_once(tmp_path: Path) -> None:
    source, output = write_jsonl(tmp_path / "in.jsonl", rows(300)), tmp_path / "out.jsonl"
    with StubServer(default=Reply(content=json.dumps({"labels": ["science"]}))) as stub:
        done = run_cli(command(source, output, stub, tmp_path / "run", "run.concurrency=16"))
    assert done.returncode == 0, done.stderr
    ids = Counter(row["id"] for row in read_jsonl(output))
    assert set(ids) == {f"w{k}" for k in range(300)} and max(ids.values()) == 1
    assert all(row["status"] == "ok" for row in read_jsonl(output))
    assert len(stub.requests) == 300


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["worker", "coordinator"])
def test_a_killed_process_leaves_nothing_behind_and_the_rerun_finishes(
    tmp_path: Path, victim: str
) -> None:
    source, output = write_jsonl(tmp_path / "in.jsonl", rows(600)), tmp_path / "out.jsonl"
    with StubServer(default=Reply(content=json.dumps({"labels": ["science"]}), delay=0.02)) as stub:
        first = subprocess.Popen(
            command(source, output, stub, tmp_path / "one", "run.concurrency=4"),
            cwd=REPO,
            env=cli_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if output.exists() and output.read_bytes().count(b"\n") >= 100:
                break
            time.sleep(0.05)
        workers = workers_of(first.pid)
        assert len(workers) >= 2, "two worker processes"
        os.kill(workers[0] if victim == "worker" else first.pid, signal.SIGKILL)
        _, stderr = first.communicate(timeout=60)
        if victim == "worker":
            assert first.returncode == 1
            assert "ended with signal SIGKILL" in stderr and "run the same command" in stderr
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "a worker outlived the run"
        written = output.read_bytes().count(b"\n")
        assert 100 <= written < 600
        second = run_cli(command(source, output, stub, tmp_path / "two"))
    assert second.returncode == 0, second.stderr
    ids = Counter(row["id"] for row in read_jsonl(output))
    assert set(ids) == {f"w{k}" for k in range(600)} and max(ids.values()) == 1


@pytest.mark.slow
def test_the_request_budget_holds_for_the_whole_run(tmp_path: Path) -> None:
    source, output = write_jsonl(tmp_path / "in.jsonl", rows(125)), tmp_path / "out.jsonl"
    with StubServer(default=Reply(content=json.dumps({"labels": ["science"]}))) as stub:
        done = run_cli(
            command(
                source,
                output,
                stub,
                tmp_path / "run",
                "run.concurrency=8",
                "run.requests_per_minute=120",
            )
        )
    assert done.returncode == 0, done.stderr
    # One bucket of 120 a minute for both workers: the 5 calls past the first 120 wait for
    # it to refill at 2 a second. Two buckets of 120 would have let all 125 through at once.
    times = sorted(stub.times)
    assert times[-1] - times[0] >= 2.0


def test_a_429_in_one_worker_halves_every_workers_window() -> None:
    pacing = SharedPacing.create(multiprocessing.get_context("spawn"), rpm=None, tpm=None)
    first, second = Throttle(8, shared=pacing), Throttle(8, shared=pacing)
    first.on_rate_limited(1.0)
    second.on_rate_limited(1.0)  # the same overload: still one cut
    first._follow_the_run()
    second._follow_the_run()
    assert first.window == second.window == 4
    assert pacing.epoch == 1
