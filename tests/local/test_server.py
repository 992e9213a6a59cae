"""The embedded llama.cpp server: real processes on loopback, SmolLM2-135M, no mocks; each
test on every runtime installed (xllamacpp from [local], llama-cpp-python from
[local-source])."""

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
from pathlib import Path

import httpx
import pytest

from framework.config.schema import LocalServerSettings
from framework.errors import ProviderError
from framework.providers.local.models import ModelFile, resolve_model_file
from framework.providers.local.server import LocalServer
from tests.support.local_models import SMOLLM2, runtime_params
from tests.support.processes import alive, local_servers

REPO = Path(__file__).resolve().parents[2]
LABELS = ["sports", "politics", "science", "business"]
SCHEMA = {
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


def settings(runtime: str, **changes: object) -> LocalServerSettings:
    fast = {"n_threads": 1, "n_ctx": 512, "startup_timeout": 60, "runtime": runtime}
    return LocalServerSettings.model_validate(fast | changes)


@pytest.fixture(params=runtime_params())
def runtime(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


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
    return local_servers(parent=os.getpid())


def kept_log(error: ProviderError | str) -> Path:
    """The log a failure names (kept for the user); the test removes it afterwards."""
    text = str(error)
    assert "(its log: " in text, text
    path = Path(text.split("(its log: ", 1)[1].split(")", 1)[0])
    assert path.is_file()
    return path


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def ask(url: str, **body: object) -> httpx.Response:
    request = {
        "model": "m",
        "messages": [
            {"role": "system", "content": f"Label the headline with {LABELS}."},
            {"role": "user", "content": "Parliament passes the budget bill"},
        ],
        "max_tokens": 40,
        "temperature": 0,
        "seed": 0,
        **body,
    }
    return httpx.post(f"{url}/chat/completions", json=request, timeout=60)


def test_answers_a_schema_constrained_chat_completion(smollm2: ModelFile, runtime: str) -> None:
    with LocalServer(smollm2, settings(runtime), alias="m") as server:
        reply = ask(server.urls[0], response_format={"type": "json_object", "schema": SCHEMA})
    assert reply.status_code == 200, reply.text
    answer = json.loads(reply.json()["choices"][0]["message"]["content"])
    assert set(answer) == {"labels"}
    assert 0 < len(answer["labels"]) <= 2  # maxItems is enforced, uniqueItems is not
    assert set(answer["labels"]) <= set(LABELS)
    assert server.startup_seconds is not None and 0 < server.startup_seconds < 60


def test_stop_ends_the_process_closes_the_port_and_can_be_repeated(
    smollm2: ModelFile, runtime: str
) -> None:
    server = LocalServer(smollm2, settings(runtime), alias="m")
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
    smollm2: ModelFile, runtime: str
) -> None:
    chosen = settings(runtime, n_threads=2, parallel=2)
    with LocalServer(smollm2, chosen, alias="m") as server:
        assert len(set(server.urls)) == 2
        for url, pid in zip(server.urls, server.pids, strict=True):
            assert httpx.get(f"{url}/models").json()["data"][0]["id"] == "m"
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            flag = b"--threads" if runtime == "xllamacpp" else b"--n_threads"
            assert command[command.index(flag) + 1] == b"1"
        pids = server.pids
        assert server.describe()["layout"] == {
            "processes": 2,
            "slots": 1,
            "threads": 1,
            "reason": "provider.local.parallel, n_threads set, the rest chosen from 2 cores",
        }
    assert not any(alive(pid) for pid in pids)


def test_a_server_started_from_a_thread_outlives_the_thread(
    smollm2: ModelFile, runtime: str
) -> None:
    server = LocalServer(smollm2, settings(runtime), alias="m")
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


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_model_the_runtime_cannot_load_fails_in_one_line_with_its_cause(
    smollm2: ModelFile, runtime: str, tmp_path: Path, damage: str
) -> None:
    broken = tmp_path / f"{damage}.gguf"
    if damage == "truncated":  # the magic is right, the rest missing
        with smollm2.path.open("rb") as whole:
            broken.write_bytes(whole.read(5_000_000))
    else:  # the magic, then noise
        broken.write_bytes(b"GGUF" + os.urandom(20_000))
    server = LocalServer(ModelFile(broken, "0" * 64), settings(runtime), alias="m")

    with pytest.raises(ProviderError) as caught:
        server.start()

    message = str(caught.value)
    assert caught.value.fatal
    assert "\n" not in message
    assert f"the local model server for 'm' ({broken.name}) did not start: it exited" in message
    assert "model.gguf.path" in message  # what to check
    # llama.cpp's own words on the file, not a generic "failed to init server"
    cause = message.split("did not start: it exited with code 1: ", 1)[1].split(" (its log:", 1)[0]
    assert re.search(r"gguf|tensor|file bounds", cause, re.IGNORECASE), cause
    assert not re.search(r"Failed to init server|exiting due to", cause), cause
    assert "Traceback" not in message and '  File "' not in message
    assert server.pids == []
    assert our_servers() == []
    shutil.rmtree(kept_log(caught.value).parent)


def test_a_start_that_takes_too_long_is_stopped(smollm2: ModelFile, runtime: str) -> None:
    server = LocalServer(smollm2, settings(runtime, startup_timeout=0.05), alias="m")
    expected = r"did not answer within 0\.05 s.*startup_timeout"
    with pytest.raises(ProviderError, match=expected) as caught:
        server.start()
    assert server.pids == []
    assert our_servers() == []
    shutil.rmtree(kept_log(caught.value).parent)


def test_stop_from_another_thread_ends_a_start_in_progress(
    smollm2: ModelFile, runtime: str
) -> None:
    server = LocalServer(smollm2, settings(runtime), alias="m")
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


def test_a_port_taken_by_another_program_does_not_stop_the_start(
    smollm2: ModelFile, runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port labelwise probed is taken before the server binds it: xllamacpp binds a
    port the kernel picks (no such race), llama-cpp-python is started again on another."""
    from framework.providers.local import server as module

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        probes = iter([taken])
        real = module.free_port
        monkeypatch.setattr(module, "free_port", lambda: next(probes, None) or real())
        with LocalServer(smollm2, settings(runtime), alias="m") as server:
            (url,) = server.urls
            assert not url.endswith(f":{taken}/v1")
            assert ask(url).status_code == 200
    assert our_servers() == []


def test_a_crash_is_described_in_one_line_with_the_way_out(
    smollm2: ModelFile, runtime: str
) -> None:
    with LocalServer(smollm2, settings(runtime), alias="m") as server:
        assert server.died() is None
        (pid,) = server.pids
        os.kill(pid, signal.SIGILL)  # what an instruction this CPU lacks ends in
        deadline = time.monotonic() + 10
        while server.died() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        said = server.died()
        assert said is not None and "\n" not in said
        assert f"(pid {pid}, port " in said and "exited with signal SIGILL" in said
        way_out = "[local-source]" if runtime == "xllamacpp" else "CMAKE_ARGS=-DGGML_NATIVE=OFF"
        assert way_out in said
        log = kept_log(said)
    assert log.is_file()  # a process died: its log outlives the run, for the user to read
    shutil.rmtree(log.parent)


def test_revive_starts_a_dead_process_again_on_a_new_port(smollm2: ModelFile, runtime: str) -> None:
    with LocalServer(smollm2, settings(runtime), alias="m") as server:
        (pid,) = server.pids
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10  # exited, all its threads (not only a zombie leader)
        while server.died() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        (new_url,) = server.revive()
        assert server.revivals == 1 and server.pids != [pid]
        assert ask(new_url).status_code == 200
        log_dir = server.logs[0].parent
    assert our_servers() == []
    shutil.rmtree(log_dir, ignore_errors=True)


CHILD = """
import signal, sys, threading, time
from pathlib import Path
from framework.config.schema import LocalServerSettings
from framework.providers.local.models import ModelFile
from framework.providers.local.server import LocalServer

settings = LocalServerSettings(n_threads=1, n_ctx=512, runtime=sys.argv[3])
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
def labelwise_child(smollm2: ModelFile, runtime: str) -> Iterator[Launch]:
    """A Python process that starts a LocalServer and then waits (argv[2]: thread|main)."""
    children: list[subprocess.Popen[str]] = []

    def run(how: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(smollm2.path), how, runtime],
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


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux only")
def test_kill_9_of_labelwise_takes_the_server_down(
    labelwise_child: Launch, smollm2: ModelFile, runtime: str
) -> None:
    child = labelwise_child("thread")
    assert child.stdout is not None
    pid, log = child.stdout.readline().split()
    assert alive(int(pid))

    child.send_signal(signal.SIGKILL)
    child.wait()

    assert gone_within(int(pid), 5), "the server outlived labelwise killed by SIGKILL"
    assert Path(log).parent.exists()  # nobody was left to remove the logs ...
    with LocalServer(smollm2, settings(runtime), alias="m"):
        assert not Path(log).parent.exists()  # ... until the next start swept them up


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
