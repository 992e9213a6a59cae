"""Hostile runtime cases (issue 29): a crash with secrets on the command line, credentials
in the api_base, run.workers past what the machine can hold, SIGTERM while workers start,
and an embedding server that dies."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import (
    REPO,
    classify_command,
    cli_env,
    read_jsonl,
    run_cli,
    stub_overrides,
    write_jsonl,
)
from tests.support.news_pool import embedding_args, pool_rows
from tests.support.processes import alive, workers_of

KEY = "sk-leak-0123456789abcdefSECRET"
PASSWORD = "pw-in-the-url-98765"
ANSWER = Reply(content=json.dumps({"labels": ["space"]}))

# Imported by every Python process of a test run (the CLI and its spawned workers): a
# test-only hook that breaks one function the way an internal error would.
HOOKS = """
import os
hook = os.environ.get("LABELWISE_TEST_HOOK")
if hook == "crash-in-send":
    from framework.providers.transports import http

    async def send(self, request):
        key = self._provider.api_key.get_secret_value()
        raise RuntimeError(f"internal failure at {self._provider.api_base} with {key}")

    http.HttpTransport.send = send
elif hook == "crash-in-worker":
    import sys

    from framework.runner import workers

    async def work(conn, classifier):
        key = classifier.config.provider.api_key.get_secret_value()
        said = f"worker failure with {key} at {classifier.config.provider.api_base}"
        print(said, file=sys.stderr, flush=True)  # surely before the parent hears of it
        raise RuntimeError(said)

    workers._work = work
elif hook == "slow-start":  # a worker's process exists; its start-up data is not sent yet
    import multiprocessing.util
    import time

    spawn = multiprocessing.util.spawnv_passfds

    def slow(*args):
        pid = spawn(*args)
        time.sleep(1.0)
        return pid

    multiprocessing.util.spawnv_passfds = slow
"""


def hooked_env(tmp_path: Path, hook: str) -> dict[str, str]:
    folder = tmp_path / "hooks"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(textwrap.dedent(HOOKS))
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    return cli_env(PYTHONPATH=path, LABELWISE_TEST_HOOK=hook)


def secret_base(stub: StubServer) -> str:
    return stub.url.replace("http://", f"http://ann:{PASSWORD}@")


def overrides_with_secrets(stub: StubServer, *extra: str) -> list[str]:
    plain = [o for o in stub_overrides(stub) if not o.startswith("provider.api_base")]
    return [*plain, f"provider.api_base={secret_base(stub)}", f"provider.api_key={KEY}", *extra]


def command(source: Path, output: Path, run: Path, *args: str) -> list[str]:
    """`labelwise classify` with exactly these overrides (classify_command adds the stub's)."""
    return [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={source}",
        f"output={output}",
        f"hydra.run.dir={run}",
        "run.progress=off",
        *args,
    ]


def assert_nowhere(folder: Path, *secrets: str) -> None:
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    for secret in secrets:
        leaks = [str(path) for path in files if secret.encode() in path.read_bytes()]
        assert not leaks, f"{secret} found in {leaks}"


# -- SECURITY 8: nothing labelwise's processes write to stderr holds a secret ---------------


@pytest.mark.slow
def test_a_crash_prints_neither_the_key_nor_the_url_password(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = ANSWER
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "rocket"}])
    run = tmp_path / "run"
    crashed = run_cli(
        command(source, tmp_path / "out.jsonl", run, *overrides_with_secrets(stub)),
        env=hooked_env(tmp_path, "crash-in-send"),
    )
    assert crashed.returncode == 1, crashed.stderr
    # Hydra's line quoting the command line, and the traceback's message, both masked
    assert "Error executing job with overrides" in crashed.stderr
    assert "provider.api_key=***" in crashed.stderr
    assert "RuntimeError: internal failure at http://ann:***@127.0.0.1" in crashed.stderr
    output = crashed.stdout + crashed.stderr
    assert KEY not in output and PASSWORD not in output
    assert_nowhere(run, KEY, PASSWORD)


@pytest.mark.slow
def test_a_worker_that_crashes_prints_no_secret(stub: StubServer, tmp_path: Path) -> None:
    stub.default = ANSWER
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"w{n}", "text": "x"} for n in range(4)])
    args = overrides_with_secrets(stub, "run.workers=2", "run.concurrency=2")
    crashed = run_cli(
        command(source, tmp_path / "out.jsonl", tmp_path / "run", *args),
        env=hooked_env(tmp_path, "crash-in-worker"),
    )
    assert crashed.returncode == 1, crashed.stderr
    assert "worker failure with *** at http://ann:***@127.0.0.1" in crashed.stderr
    assert KEY not in crashed.stderr and PASSWORD not in crashed.stderr


# -- BUG 9: user:password@ in the api_base is Basic authorization on either transport ---------


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["http", "litellm"])
def test_credentials_in_the_api_base_are_sent_as_basic_auth_and_never_printed(
    stub: StubServer, tmp_path: Path, transport: str
) -> None:
    stub.default = ANSWER
    rows = [{"id": f"c{n}", "text": f"rocket {n}"} for n in range(3)]
    source, output, run = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl", tmp_path
    args = overrides_with_secrets(stub, f"provider.transport={transport}", "cache.mode=off")
    done = run_cli(command(source, output, run / "run", *args))
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in read_jsonl(output)] == ["ok"] * 3
    # as the OpenAI SDK sends it: the URL's credentials in place of the key, not the URL
    basic = "Basic " + base64.b64encode(f"ann:{PASSWORD}".encode()).decode()
    assert stub.authorizations == [basic] * 3
    assert all(h["host"] == f"127.0.0.1:{stub.port}" for h in stub.headers)
    assert PASSWORD not in done.stdout + done.stderr and KEY not in done.stdout + done.stderr
    assert_nowhere(run / "run", KEY, PASSWORD)


# -- BUG 5: run.workers is bounded; SIGTERM while they start is one line ----------------------


def most_workers_here() -> int:
    return min(64, 4 * len(os.sched_getaffinity(0)))


@pytest.mark.slow
def test_more_workers_than_the_cores_can_hold_is_a_config_error(
    stub: StubServer, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    most = most_workers_here()
    refused = run_cli(
        command(
            source,
            tmp_path / "out.jsonl",
            tmp_path / "run",
            *stub_overrides(stub),
            f"run.workers={most + 1}",
            f"run.concurrency={most + 1}",
        ),
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    line = refused.stderr.strip()
    assert line.startswith("labelwise: error: run.workers:") and "\n" not in line
    assert f"at most {most}" in line and "Traceback" not in refused.stderr
    assert stub.requests == []


@pytest.mark.slow
def test_a_short_input_starts_no_more_workers_than_its_rows_and_calls_use(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}), delay=0.5)
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "only", "text": "rocket"}])
    args = [*stub_overrides(stub), "run.workers=3", "run.concurrency=2"]
    run = tmp_path / "run"
    process = subprocess.Popen(
        command(source, tmp_path / "out.jsonl", run, *args),
        cwd=REPO,
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[int] = set()
    while process.poll() is None:
        seen.update(workers_of(process.pid))
        time.sleep(0.02)
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr
    assert len(seen) == 1, f"{len(seen)} worker processes for one row"
    assert json.loads((run / "record.json").read_text())["executor"]["workers"] == 2
    assert "run.workers=3 with run.concurrency=2: 2 workers" in stderr


@pytest.mark.slow
def test_sigterm_while_workers_start_is_one_line_and_leaves_no_process(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = ANSWER
    rows = [{"id": f"s{n}", "text": f"rocket {n}"} for n in range(200)]
    source, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    args = [*stub_overrides(stub), "run.workers=4", "run.concurrency=8"]
    process = subprocess.Popen(
        command(source, output, tmp_path / "run", *args),
        cwd=REPO,
        env=hooked_env(tmp_path, "slow-start"),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not workers_of(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = workers_of(process.pid)
    assert started, "no worker started"
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=120)
    took = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "EOFError" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("labelwise: error: interrupted")
    assert took < 15, f"{took:.0f} s from SIGTERM to exit"
    time.sleep(1)
    assert not [pid for pid in started if alive(pid)], "a worker outlived the run"
    # what was written, was written once; the rerun finishes the rest
    again = run_cli(command(source, output, tmp_path / "again", *stub_overrides(stub)))
    assert again.returncode == 0, again.stderr
    ids = Counter(row["id"] for row in read_jsonl(output))
    assert set(ids) == {r["id"] for r in rows} and max(ids.values()) == 1


# -- BUG 10: a dead embedding server stops the run as a dead provider does ------------------


@pytest.mark.slow
def test_a_dead_embedding_server_stops_the_run_and_the_rerun_finishes(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = ANSWER
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(80))
    limit, concurrency = 6, 2
    args = embedding_args(
        stub,
        pool,
        f"run.concurrency={concurrency}",
        f"run.max_unreachable_calls={limit}",
        "embeddings.max_retries=1",
    )
    first = write_jsonl(tmp_path / "first.jsonl", pool_rows(1, seed=3))
    built = run_cli(classify_command(first, tmp_path / "o1.jsonl", stub, tmp_path / "r1", *args))
    assert built.returncode == 0, built.stderr  # the pool's vectors and artifacts are kept
    rows = [{"id": f"e{n}", "text": f"rocket orbit number {n}"} for n in range(60)]
    source, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    stub.embedding_faults.extend([503] * 10_000)  # the embedding server is down
    stopped = run_cli(classify_command(source, output, stub, tmp_path / "r2", *args))
    assert stopped.returncode == 1, stopped.stderr
    errors = [line for line in stopped.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in stopped.stderr
    assert "the embedding model openai/stub-embed is not answering" in errors[0]
    assert "rerun" in errors[0]
    written = read_jsonl(output) if output.exists() else []
    failed = [r for r in written if r["status"] == "failed"]
    assert len(failed) < limit + concurrency
    assert len(written) < len(rows)  # the rest are left for the rerun

    stub.embedding_faults.clear()  # the server is back
    resumed = run_cli(classify_command(source, output, stub, tmp_path / "r3", *args))
    assert resumed.returncode == 0, resumed.stderr
    again = read_jsonl(output)
    ids = Counter(row["id"] for row in again)
    assert set(ids) == {r["id"] for r in rows} and max(ids.values()) == 1
    assert sum(r["status"] == "ok" for r in again) == len(rows) - len(failed)
