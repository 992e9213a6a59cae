"""The embedded llama.cpp server behind provider=local.

    with LocalServer(model_file, settings, alias="smollm2-135m") as server:
        server.urls   # ["http://127.0.0.1:PORT/v1", ...]: OpenAI-compatible, one per process

The llama-cpp-python server answers one request at a time, so `settings.parallel`
processes are started, sharing the threads; `start()` blocks until every one
answers GET /v1/models and returns the first URL. A start that fails raises a
fatal ProviderError quoting the end of the server's log.

No server outlives labelwise (framework.providers.local.process): each runs in its own
session, `stop()` ends its process group (SIGTERM, then SIGKILL), atexit and
SIGTERM stop what is left, and on Linux the kernel kills it if labelwise dies
by SIGKILL. `stop()` may be called from another thread while `start()` waits.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from framework.config.schema import LocalServerSettings
from framework.errors import ConfigError, ProviderError
from framework.providers.local.models import ModelFile
from framework.providers.local.process import forget, spawn, stop_at_exit, terminate

__all__ = ["LocalServer", "threads_per_process"]

HOST = "127.0.0.1"
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
_POLL_SECONDS = 0.05
_LOG_LINES = 20
_PORT_TRIES = 3
_LOG_PREFIX = "labelwise-llama-"


@dataclass(frozen=True)
class _Process:
    popen: subprocess.Popen[bytes]
    port: int
    log: Path


class LocalServer:
    """`parallel` llama.cpp server processes serving one GGUF file on 127.0.0.1."""

    def __init__(
        self, model: ModelFile, settings: LocalServerSettings, *, alias: str, logprobs: bool = False
    ) -> None:
        self.model = model
        self.settings = settings
        self.alias = alias
        self.logprobs = logprobs  # False: requests asking for logprobs fail (HTTP 500)
        self.startup_seconds: float | None = None  # from start() until every process answered
        self._processes: list[_Process] = []
        self._log_dir: Path | None = None
        self._stopped = False
        self._lock = threading.RLock()  # reentrant: a SIGTERM handler may stop() inside stop()
        self._start_lock = threading.Lock()

    @property
    def urls(self) -> list[str]:
        """The api_base of each server process, e.g. http://127.0.0.1:PORT/v1."""
        return [f"http://{HOST}:{process.port}/v1" for process in self._processes]

    @property
    def pids(self) -> list[int]:
        return [process.popen.pid for process in self._processes]

    @property
    def logs(self) -> list[Path]:
        """Each process's log (stdout and stderr), in a temporary folder removed by stop()."""
        return [process.log for process in self._processes]

    def start(self) -> str:
        """Start the processes, wait until all answer, and return the first api_base."""
        with self._start_lock:
            if self._processes:
                return self.urls[0]
            _require_server_modules()
            began = time.monotonic()
            self._stopped = False
            self._log_dir = _new_log_dir()
            stop_at_exit(self)
            try:
                for index in range(self.settings.parallel):
                    self._launch(index)
                deadline = began + self.settings.startup_timeout
                for index in range(self.settings.parallel):
                    self._await_ready(index, deadline)
            except ProviderError:
                self._halt(keep_logs=True)  # the error names the log
                raise
            except BaseException:
                self._halt(keep_logs=False)
                raise
            self.startup_seconds = time.monotonic() - began
            return self.urls[0]

    def died(self) -> str | None:
        """What became of a process that exited while it should be serving, or None."""
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            code = process.popen.poll()
            if code is None:
                continue
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
            hint = (
                " A llama.cpp built for this CPU (-march=native) can crash in a VM that does "
                "not enable all of its instructions (AMX): reinstall it portably with "
                "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --no-cache-dir --force-reinstall "
                '--no-deps "llama-cpp-python==0.3.36".'
                if code in (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)
                else ""
            )
            return (
                f"The local model server on port {process.port} exited with {how}.{hint} "
                f"The end of its log:\n{_tail(process.log)}"
            )
        return None

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period); idempotent."""
        self._halt(keep_logs=False)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _command(self, port: int) -> list[str]:
        threads = str(threads_per_process(self.settings))
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model.path),
            "--model_alias",
            self.alias,
            "--host",
            HOST,
            "--port",
            str(port),
            "--n_ctx",
            str(self.settings.n_ctx),
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
            "--use_mlock",
            "False",  # mmap is enough; mlock of 1 GB fails under small limits
            # logits for every token are what logprobs need; without them a schema-constrained
            # answer is 2.5-4x faster (measured: benchmarks/local_server_start.py)
            "--logits_all",
            str(self.logprobs),
            "--verbose",
            "True",  # the log then says why a model failed to load
        ]

    def _launch(self, index: int) -> None:
        """Start process `index` (again, on a new port, if it is already there)."""
        with self._lock:
            if self._stopped or self._log_dir is None:
                raise self._stopped_error()
            port, log = _free_port(), self._log_dir / f"server-{index}.log"
            process = _Process(spawn(self._command(port), log), port, log)
            self._processes[index : index + 1] = [process]

    def _await_ready(self, index: int, deadline: float) -> None:
        tries = 1
        while True:
            with self._lock:
                if self._stopped:
                    raise self._stopped_error()
                process = self._processes[index]
            code = process.popen.poll()
            if code is not None:
                if tries < _PORT_TRIES and "address already in use" in _tail(process.log).lower():
                    tries += 1  # another program took the port between our probe and its bind
                    self._launch(index)
                    continue
                raise self._failure(f"it exited with code {code}", process)
            if _answers(process.port, self.alias):
                return
            if time.monotonic() > deadline:
                raise self._failure(
                    f"it did not answer within {self.settings.startup_timeout:g} s; a big model "
                    "on a slow machine may need a larger provider.local.startup_timeout",
                    process,
                )
            time.sleep(_POLL_SECONDS)

    def _failure(self, reason: str, process: _Process) -> ProviderError:
        return ProviderError(
            f"the local model server for {self.alias!r} ({self.model.path.name}) did not "
            f"start: {reason}. The end of its log ({process.log}):\n{_tail(process.log)}",
            fatal=True,
        )

    def _stopped_error(self) -> ProviderError:
        return ProviderError(f"the local model server for {self.alias!r} was stopped", fatal=True)

    def _halt(self, *, keep_logs: bool) -> None:
        with self._lock:
            self._stopped = True
            processes, self._processes = self._processes, []
            log_dir, self._log_dir = self._log_dir, None
        terminate([process.popen for process in processes])
        forget(self)
        if log_dir is not None and not keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)


def threads_per_process(settings: LocalServerSettings) -> int:
    """settings.n_threads (default: the usable cores) shared among the processes."""
    total = settings.n_threads or _usable_cores()
    return max(1, total // settings.parallel)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (Linux)
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _require_server_modules() -> None:
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"provider=local needs the llama.cpp server ({', '.join(missing)} not installed): "
            'pip install "labelwise[local]" (builds llama-cpp-python from source, about 5 minutes)'
        )


def _new_log_dir() -> Path:
    """A temporary folder for the logs, named after our pid; first sweep up after dead runs."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_LOG_PREFIX}*-*"):
        owner = folder.name.removeprefix(_LOG_PREFIX).partition("-")[0]
        if owner.isdigit() and not _running(int(owner)):  # killed before it could clean up
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_LOG_PREFIX}{os.getpid()}-"))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int, alias: str) -> bool:
    """True when our server lists `alias` at /v1/models (http.client: no proxy from the env)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/v1/models")
        response = connection.getresponse()
        listed = json.loads(response.read()) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        connection.close()
    models = listed.get("data") if isinstance(listed, dict) else None
    return isinstance(models, list) and any(
        isinstance(entry, dict) and entry.get("id") == alias for entry in models
    )


def _tail(log: Path) -> str:
    """The last lines of a server log, without Python traceback frames (they hide the cause)."""
    try:
        with log.open("rb") as stream:
            stream.seek(max(0, log.stat().st_size - 65536))
            lines = stream.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "    (no log)"
    kept, in_traceback = [], False
    for line in lines:
        if in_traceback and line.startswith((" ", "\t")):
            continue
        in_traceback = line.startswith("Traceback (most recent call last)")
        kept.append(line)
    return "\n".join(f"    {line}" for line in kept[-_LOG_LINES:]) or "    (empty)"
