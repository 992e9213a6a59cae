"""run.mode=batch against hostile inputs and hostile timing (hostile cases round 3): a
tampered batch_jobs.json, failed requests retried in a new job, follow-up jobs and
concurrent runs counted once in the run records, a batch.max_mb below one request, an
expired job's wording, and `labelwise batch cancel` without a warning."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.cli.main import main
from framework.providers.batch.jobs import BatchJob, JobStore
from framework.testing import Reply, StubServer
from tests.support import REPO, cli_env, read_jsonl, write_jsonl
from tests.support.batch_runs import (
    answer_by_item,
    classify,
    items,
    labels_of,
    results,
    totals,
    wait_for,
)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    """The stub answering each item with its labels; a job ends as soon as it is made."""
    with StubServer(responder=answer_by_item) as server:
        server.batches.polls_per_step = 0
        yield server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's default cache (its folder); a key for provider=openai runs."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(folder))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return folder


CANARY = "tok-canary-SECRET123"


def labelwise(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framework", *argv],
        cwd=REPO,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
    )


# -- SECURITY 2 (cases 25, 26): a run folder is data, not instructions -----------------


def tampered_run(
    folder: Path, *, api_base: str | None, key_env: str, kind: str, cache: Path | None = None
) -> Path:
    """A run folder as someone else could hand it over: a job store of theirs (or `cache`)
    holding a submitted job, and a manifest sending its look-ups where they like."""
    folder.mkdir(parents=True, exist_ok=True)
    store_path = cache or folder / "jobs.sqlite"
    if cache is None:
        store = JobStore(store_path)
        endpoint = f"{kind} {api_base}"
        job = BatchJob(
            name="labelwise-0-0", api="openai", endpoint=endpoint, path="x", requests=1, size=1
        )
        store.add_job(job, ["k"])
        store.update(job.name, state="submitted", batch_id="batch_x")
        store.close()
    manifest = {
        "cache": str(store_path),
        "provider": {"kind": kind, "api_base": api_base, "api_key_env": key_env},
        "model": {"name": "stub"},
        "jobs": [{"name": "labelwise-0-0"}],
    }
    (folder / "batch_jobs.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("kind", "key_env", "to_attacker", "says"),
    [
        ("openai_compatible", "SOME_TOKEN", True, "--key-env SOME_TOKEN"),
        ("openai_compatible", "LABELWISE_API_KEY", True, "--api-base http://127.0.0.1:"),
        ("openai", "SOME_TOKEN", False, "--key-env SOME_TOKEN"),
    ],
)
def test_a_tampered_manifest_never_sends_a_key_to_its_host(
    kind: str, key_env: str, to_attacker: bool, says: str, tmp_path: Path
) -> None:
    with StubServer() as attacker:
        base = f"{attacker.url}" if to_attacker else None
        run = tampered_run(tmp_path / "evil_run", api_base=base, key_env=key_env, kind=kind)
        for action in ("status", "cancel"):
            done = labelwise("batch", action, str(run), SOME_TOKEN=CANARY, LABELWISE_API_KEY=CANARY)
            assert done.returncode == 2, done.stderr
            assert says in done.stderr and "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) <= 2
            assert CANARY not in done.stdout + done.stderr
        assert attacker.batches.authorizations == []  # nothing reached it, key or not
        assert attacker.headers == [] and attacker.requests == []


@pytest.mark.slow
def test_a_manifest_naming_the_users_own_cache_with_another_host_is_refused(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    """The user's real jobs in the user's own cache, looked for at another host."""
    source = items(tmp_path / "in.jsonl", 3)
    stub.batches.fault = "stuck"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.wait=0") == 0
    mine = json.loads((tmp_path / "run" / "batch_jobs.json").read_text())
    with StubServer() as attacker:
        mine["provider"]["api_base"] = attacker.url
        (tmp_path / "run" / "batch_jobs.json").write_text(json.dumps(mine))
        done = labelwise("batch", "status", str(tmp_path / "run"), LABELWISE_API_KEY=CANARY)
        assert done.returncode == 2 and "--api-base" in done.stderr, done.stderr
        assert attacker.batches.authorizations == []


def test_a_manifests_cache_path_is_never_created(tmp_path: Path) -> None:
    where = tmp_path / "any" / "new" / "dir" / "x.sqlite"
    run = tampered_run(
        tmp_path / "evil_run", api_base=None, key_env="OPENAI_API_KEY", kind="openai"
    )
    manifest = json.loads((run / "batch_jobs.json").read_text())
    manifest["cache"] = str(where)
    (run / "batch_jobs.json").write_text(json.dumps(manifest))
    done = labelwise("batch", "status", str(run))
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "any").exists()  # neither the file nor its folders
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("not a database\n")
    manifest["cache"] = str(not_a_store)
    (run / "batch_jobs.json").write_text(json.dumps(manifest))
    done = labelwise("batch", "status", str(run))
    assert done.returncode == 2 and "not a labelwise job store" in done.stderr, done.stderr
    assert not_a_store.read_text() == "not a database\n"


def test_status_of_ones_own_run_in_another_cache_takes_the_users_word_for_the_address(
    stub: StubServer, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = items(tmp_path / "in.jsonl", 3)
    stub.batches.fault = "stuck"
    other = f"cache.path={tmp_path / 'elsewhere' / 'responses.sqlite'}"
    extra = ("run.mode=batch", "batch.wait=0", "provider.api_key_env=MY_KEY", other)
    assert classify(source, tmp_path / "run", stub, *extra) == 0
    capsys.readouterr()
    run = str(tmp_path / "run")
    assert main(["batch", "status", run]) == 2  # the key's variable is not the usual one
    assert "pass --key-env MY_KEY" in capsys.readouterr().err
    assert main(["batch", "status", run, "--key-env", "MY_KEY"]) == 2  # nor the cache
    assert f"pass --api-base {stub.url}" in capsys.readouterr().err
    assert main(["batch", "status", run, "--key-env", "MY_KEY", "--api-base", stub.url]) == 0
    assert "submitted (in_progress), 3 requests" in capsys.readouterr().out


# -- BUG 3 (cases 14, 15, 17, 20): failed batch requests are sent again on retry_failed ---


@pytest.mark.slow
def test_requests_a_job_failed_are_sent_again_in_a_new_job_with_retry_failed(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 8)
    out = "output=" + str(tmp_path / "out.jsonl")

    def some_fail(body: dict[str, Any]) -> Reply:
        if any(f"item-{n}:" in json.dumps(body) for n in (2, 5)):
            return Reply(status=500, error="the stub failed this request")
        return answer_by_item(body)

    stub.responder = some_fail
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", out) == 0
    failed = [row["id"] for row in read_jsonl(tmp_path / "out.jsonl") if row["status"] == "failed"]
    assert sorted(failed) == ["r2", "r5"]
    stub.responder = answer_by_item
    retry = ("run.mode=batch", "run.retry_failed=true", out)
    assert classify(source, tmp_path / "run2", stub, *retry) == 0
    rows = {row["id"]: row for row in read_jsonl(tmp_path / "out.jsonl")}
    assert len(rows) == 8 and all(row["status"] == "ok" for row in rows.values())
    assert [upload.lines for upload in stub.batches.uploads] == [8, 2]
    assert totals(tmp_path / "run2")["calls"] == 2  # the two sent again, no more


@pytest.mark.slow
def test_a_refused_job_is_sent_again_within_a_lowered_batch_max_requests(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 12)
    out = "output=" + str(tmp_path / "out.jsonl")
    stub.batches.max_requests = 5  # the provider's limit: the 12-line job is refused
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", out) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert len(rows) == 12 and all("At most 5 requests" in row["error"] for row in rows)
    assert totals(tmp_path / "run")["calls"] == 12  # sent, refused
    retry = ("run.mode=batch", "run.retry_failed=true", "batch.max_requests=5", out)
    assert classify(source, tmp_path / "run2", stub, *retry) == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(row["id"] for row in rows) == sorted(f"r{n}" for n in range(12))
    assert all(row["labels"] == labels_of(int(row["id"][1:])) for row in rows)
    assert [upload.lines for upload in stub.batches.uploads] == [12, 5, 5, 2]
    assert totals(tmp_path / "run2")["calls"] == 12 == len(stub.requests)


# -- BUG 4 (case 38): follow-up jobs' answers are calls at the batch price --------------


@pytest.mark.slow
def test_batch_reask_batch_counts_every_answer_as_a_call_at_the_batch_price(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 4)
    stub.responder = lambda body: Reply(content='{"labels": ["not-a-label"]}', prompt_tokens=100)
    once = ("run.mode=batch", "validation.max_retries=0", f"cache.path={tmp_path / 'a.sqlite'}")
    assert classify(source, tmp_path / "one", stub, *once, provider="openai") == 0
    one_ask = totals(tmp_path / "one")["cost"] / 4  # an answer at the batch price
    stub.requests.clear()
    reask = ("run.mode=batch", "validation.max_retries=2", "batch.reask=batch")
    assert classify(source, tmp_path / "run", stub, *reask, provider="openai") == 0
    assert len(stub.requests) == 12  # 4 rows, asked 3 times each, in 3 jobs
    record = totals(tmp_path / "run")
    assert record["calls"] == 12 and record["cache_hits"] == 0
    assert record["cost"] == pytest.approx(12 * one_ask)
    assert all(row["attempts"] == 3 for row in results(tmp_path / "run").values())


# -- BUG 7 (cases 10, 11): runs at once on one cache count each answer once -------------


@pytest.mark.slow
def test_three_runs_at_once_on_one_cache_count_each_answer_once(
    stub: StubServer, tmp_path: Path
) -> None:
    """The runs collect one after the other (the first one's jobs hold every request) and
    wait on the same job; its results reach the three at once (the stub holds each
    download until all have asked), so they read the same answers at the same time."""
    stub.batches.polls_per_step, stub.batches.fault = 1, "stuck"
    every = [
        {"id": f"r{n}", "text": f"item-{n}: a news story", "labels": labels_of(n)}
        for n in range(600)
    ]
    env = cli_env(LABELWISE_CACHE_DIR=str(tmp_path / "cache"), OPENAI_API_KEY="sk-test")
    inputs = {"a": every, "b": every, "c": every[200:]}
    runs = {}
    for name, part in inputs.items():  # started together, one cache, overlapping rows
        source = write_jsonl(tmp_path / f"{name}.jsonl", part)
        argv = ["classify", f"input={source}", f"output={tmp_path / name / 'out.jsonl'}"]
        argv += [f"hydra.run.dir={tmp_path / name / 'run'}", "run.mode=batch"]
        argv += ["provider=openai", f"provider.api_base={stub.url}", "model.name=gpt-4o-mini"]
        argv += ["run.progress=off", "batch.poll_interval=0.01", "batch.max_poll_interval=0.01"]
        runs[name] = subprocess.Popen(
            [sys.executable, "-m", "framework", *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    wait_for(lambda: len(stub.batches.created) >= 1, runs["a"])
    time.sleep(4)  # all three have collected (one after the other) and wait on the job
    stub.batches.hang.add("content")
    stub.batches.fault = None
    time.sleep(3)  # each has seen the job end and asked for its results
    stub.batches.hang.clear()
    for process in runs.values():
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    records = [totals(tmp_path / name / "run") for name in runs]
    answered = len(stub.requests)
    assert answered == 600  # the provider answered each request once
    assert sum(record["calls"] for record in records) == answered
    rows = [row for name in runs for row in read_jsonl(tmp_path / name / "out.jsonl")]
    assert len(rows) == 1600 and sum(row["attempts"] for row in rows) == answered
    unit = max(row["cost"] for row in rows)  # every request the same size here
    assert sum(record["cost"] for record in records) == pytest.approx(answered * unit)


# -- BUG 15 (case 36): batch.max_mb below one request ---------------------------------


def test_batch_max_mb_below_one_request_is_a_config_error_naming_it(
    stub: StubServer, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = items(tmp_path / "in.jsonl", 5)
    out = "output=" + str(tmp_path / "out.jsonl")
    assert (
        classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.max_mb=0.0001", out) == 2
    )
    err = capsys.readouterr().err
    assert "batch.max_mb" in err and "bytes" in err and "Traceback" not in err
    assert "provider's" not in err
    assert stub.batches.uploads == []
    assert not list((cache / "batches").glob("*.jsonl"))  # no half-written job file left
    assert classify(source, tmp_path / "run2", stub, "run.mode=batch", out) == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5  # no row lost


def test_a_request_over_the_providers_own_file_limit_says_so(
    stub: StubServer,
    cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from framework.providers.batch.openai_api import OpenAIBatches

    monkeypatch.setattr(OpenAIBatches, "max_bytes", 200)
    source = items(tmp_path / "in.jsonl", 2)
    assert classify(source, tmp_path / "run", stub, "run.mode=batch") == 2
    err = capsys.readouterr().err
    assert "openai_compatible's own limit of 200 bytes" in err and "Traceback" not in err


# -- BUG 20: an expired job's rows, and `labelwise batch cancel` -----------------------


def test_rows_an_expired_job_did_not_answer_are_said_to_go_in_a_new_job(
    stub: StubServer, cache: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = items(tmp_path / "in.jsonl", 10)
    stub.batches.fault = "expire"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch") == 0
    said = capfd.readouterr().err
    assert "5 rows were not answered by their batch job" in said
    assert "the next run of the same command sends them in a new job" in said
    assert "wait for provider batch jobs" not in said  # none is running


@pytest.mark.slow
def test_batch_cancel_prints_no_runtime_warning(
    stub: StubServer, cache: Path, tmp_path: Path
) -> None:
    source = items(tmp_path / "in.jsonl", 4)
    stub.batches.fault = "stuck"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", "batch.wait=0") == 0
    done = labelwise("batch", "cancel", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "read (cancelled)" in done.stdout
    assert "never awaited" not in done.stderr and "RuntimeWarning" not in done.stderr
