"""Dead providers, broken caches, read-only folders and full disks: one line, the right
exit code, and never a lost row."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import read_jsonl, stub_overrides, write_jsonl
from tests.support.cli import labelwise

NEWS_ROWS = [{"id": f"r{k}", "text": f"story {k}"} for k in range(30)]


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def dead_overrides(api_base: str, *extra: str) -> list[str]:
    return [
        "provider=openai_compatible",
        f"provider.api_base={api_base}",
        "model.name=m",
        "run.retry.base_delay=0",
        "run.retry.max_delay=0",
        *extra,
    ]


# -- 7. a dead or hanging provider stops the run, leaving its rows undone ---------------


@pytest.mark.slow
def test_a_provider_that_never_answers_stops_the_run_and_leaves_the_rows_undone(
    tmp_path: Path,
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS)
    output = tmp_path / "out.jsonl"
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={output}",
        *dead_overrides(closed_port()),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 1, result.stderr
    assert "is not answering" in result.stderr and "Traceback" not in result.stderr
    assert not output.exists() or read_jsonl(output) == []  # nothing recorded as failed
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "failed" and "ProviderDown" in record["error"]


@pytest.mark.slow
def test_a_provider_that_hangs_stops_the_run(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(delay=5.0)
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS)
    output = tmp_path / "out.jsonl"
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={output}",
        *stub_overrides(stub, "provider.timeout=0.3", "run.retry.max_delay=0"),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 1, result.stderr
    assert "is not answering" in result.stderr and "no answer within 0.3 s" in result.stderr
    assert not output.exists() or read_jsonl(output) == []


@pytest.mark.slow
def test_a_provider_that_dies_mid_run_keeps_what_was_done_and_the_rerun_finishes(
    tmp_path: Path,
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS)
    output = tmp_path / "out.jsonl"
    with StubServer() as stub:
        stub.enqueue(*[answer("space")] * 10)
        stub.default = Reply(status=503, error="overloaded")
        first = labelwise(
            "classify",
            f"input={source}",
            f"output={output}",
            *stub_overrides(stub, "run.concurrency=1", "run.retry.max_delay=0"),
            f"hydra.run.dir={tmp_path / 'one'}",
        )
        assert first.returncode == 1, first.stderr
        done = read_jsonl(output)
        assert len(done) == 10 and all(row["status"] == "ok" for row in done)
        stub.default = answer("science")
        again = labelwise(
            "classify",
            f"input={source}",
            f"output={output}",
            *stub_overrides(stub),
            f"hydra.run.dir={tmp_path / 'two'}",
        )
    assert again.returncode == 0, again.stderr
    rows = read_jsonl(output)
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert all(row["status"] == "ok" for row in rows)


@pytest.mark.slow
def test_scattered_failures_are_written_and_the_summary_says_how_to_retry(
    stub: StubServer, tmp_path: Path
) -> None:
    replies = []
    for k in range(30):  # every third call fails for good; the provider is up
        replies.append(Reply(status=500) if k % 3 == 0 else answer("space"))
    stub.enqueue(*replies)
    stub.default = answer("space")
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS)
    output = tmp_path / "out.jsonl"
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={output}",
        *stub_overrides(stub, "run.concurrency=1", "run.retry.max_attempts=1"),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(output)
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(rows) == 30 and len(failed) == 10
    assert all(row["error_kind"] == "server_error" for row in failed)
    assert "run.retry_failed=true" in result.stderr


# -- 9. a broken cache, a read-only folder, a full disk ------------------------------


def test_a_cache_file_that_is_not_a_database_names_the_file_and_the_way_out(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not sqlite" * 100)
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS[:2])
    result = labelwise(
        "classify",
        f"input={source}",
        *dead_overrides(closed_port()),
        f"cache.path={cache}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2
    assert str(cache) in result.stderr and "cache.mode=off" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_cached_value_that_is_not_json_is_a_miss(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space")
    cache = tmp_path / "cache.sqlite"
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS[:3])
    args = ["classify", f"input={source}", *stub_overrides(stub), f"cache.path={cache}"]
    assert (
        labelwise(
            *args, f"output={tmp_path / 'a.jsonl'}", f"hydra.run.dir={tmp_path / 'a'}"
        ).returncode
        == 0
    )
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE completions SET value = 'not json {'")
    calls = len(stub.requests)
    result = labelwise(*args, f"output={tmp_path / 'b.jsonl'}", f"hydra.run.dir={tmp_path / 'b'}")
    assert result.returncode == 0, result.stderr
    assert "unreadable entry" in result.stderr and "Traceback" not in result.stderr
    assert len(stub.requests) == calls + 3  # asked again, each once
    assert all(row["status"] == "ok" for row in read_jsonl(tmp_path / "b.jsonl"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real full disk (ENOSPC), where this machine lets us mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_read_only_output_folder_is_one_line_and_exit_2(small_disk: Path, tmp_path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS[:2])
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={small_disk / 'out.jsonl'}",
        *dead_overrides(closed_port()),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2
    assert "out.jsonl" in result.stderr and "Read-only file system" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_read_only_run_folder_is_one_line_and_exit_2(small_disk: Path, tmp_path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    source = write_jsonl(tmp_path / "in.jsonl", NEWS_ROWS[:2])
    result = labelwise(
        "classify",
        f"input={source}",
        *dead_overrides(closed_port()),
        f"hydra.run.dir={small_disk / 'run'}",
    )
    assert result.returncode == 2, result.stderr
    assert "run" in result.stderr and "Read-only file system" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_full_disk_keeps_the_rows_written_and_says_what_to_free(
    stub: StubServer, small_disk: Path, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}), prompt_tokens=10)
    rows = [{"id": f"r{k:05d}", "text": "x" * 40} for k in range(3000)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    output = small_disk / "out.jsonl"
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={output}",
        *stub_overrides(stub, "run.concurrency=16"),
        "cache.mode=off",
        f"hydra.run.dir={tmp_path / 'run'}",
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in result.stderr and "free" in result.stderr
    assert "Traceback" not in result.stderr
    kept = read_jsonl(output)  # every complete line is a whole row
    assert 100 < len(kept) < 3000 and len({r["id"] for r in kept}) == len(kept)


@pytest.mark.slow
def test_a_full_disk_while_exporting_leaves_no_partial_file(
    stub: StubServer, small_disk: Path, tmp_path: Path
) -> None:
    stub.default = answer("space")
    rows = [{"id": f"r{k:04d}", "text": "y" * 30} for k in range(400)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    journal = tmp_path / "out.csv.jsonl"  # the journal on the big disk, its export on the small
    output = small_disk / "out.csv"
    journal.symlink_to(tmp_path / "real-journal.jsonl")
    (small_disk / "out.csv.jsonl").symlink_to(tmp_path / "real-journal.jsonl")
    (small_disk / "filler").write_bytes(b"\0" * (250 * 1024))
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={output}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert not (small_disk / "out.csv.partial").exists()
    assert len(read_jsonl(tmp_path / "real-journal.jsonl")) == 400  # the rows stay
