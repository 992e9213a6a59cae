"""The embedded llama.cpp server behind provider=local.

    with LocalServer(model_file, settings, alias="smollm2-135m") as server:
        server.urls   # ["http://127.0.0.1:PORT/v1", ...]: OpenAI-compatible, one per process

The runtime (xllamacpp's prebuilt llama.cpp, or llama-cpp-python built from source) is
chosen by framework.providers.local.runtimes, the processes, threads and slots by
framework.providers.local.layout; `start()` starts every process, blocks until each
answers GET /v1/models, logs one line saying what runs and why, and returns the first
URL. A start that fails raises a fatal ProviderError of one line: the cause from the
server's log, and the log's path. `died()` says in one line what became of a process
that exited while it should be serving, and `revive()` starts it again.

No server outlives labelwise (framework.providers.local.process): each runs in its own
session, `stop()` ends its process group (SIGTERM, then SIGKILL), atexit and
SIGTERM stop what is left, and on Linux the kernel kills it if labelwise dies
by SIGKILL. `stop()` may be called from another thread while `start()` waits.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.config.schema import LocalServerSettings
from framework.errors import ConfigError, ProviderError
from framework.providers.local.layout import Layout, choose_layout
from framework.providers.local.logs import cause, new_log_dir, read_end
from framework.providers.local.models import ModelFile
from framework.providers.local.ports import HOST, answers, free_port, reported_port
from framework.providers.local.process import forget, spawn, stop_at_exit, terminate
from framework.providers.local.runtimes import Launch, RuntimeChoice, choose_runtime

__all__ = ["LocalServer"]

log = logging.getLogger("labelwise")

_POLL_SECONDS = 0.05
_PORT_TRIES = 3
_CRASHES = (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)


@dataclass(frozen=True)
class _Process:
    popen: subprocess.Popen[bytes]
    port: int  # 0 until a runtime that picks its own port has reported it
    log: Path
    ready: Path  # where such a runtime reports it


class LocalServer:
    """The llama.cpp server processes serving one GGUF file on 127.0.0.1."""

    def __init__(
        self, model: ModelFile, settings: LocalServerSettings, *, alias: str, logprobs: bool = False
    ) -> None:
        self.model = model
        self.settings = settings
        self.alias = alias
        self.logprobs = logprobs  # llama-cpp-python: False makes logprobs requests fail
        self.startup_seconds: float | None = None  # from start() until every process answered
        self.revivals = 0  # processes started again after they died
        self._choice: RuntimeChoice | None = None
        self._processes: list[_Process] = []
        self._launches = 0
        self._log_dir: Path | None = None
        self._keep_logs = False  # a process died: its log outlives the run
        self._stopped = False
        self._lock = threading.RLock()  # reentrant: a SIGTERM handler may stop() inside stop()
        self._start_lock = threading.Lock()

    @property
    def runtime(self) -> RuntimeChoice:
        """The runtime provider.local.runtime names here; a ConfigError says what to install."""
        if self._choice is None:
            self._choice = choose_runtime(self.settings.runtime)
        return self._choice

    @property
    def layout(self) -> Layout:
        return choose_layout(self.settings, runtime=self.runtime.runtime.name)

    def describe(self) -> dict[str, Any]:
        """What record.json keeps: the runtime, its version, why, and the layout."""
        try:
            return {**self.runtime.describe(), "layout": self.layout.describe()}
        except ConfigError as error:  # said again, and stopping the run, at the first call
            return {"name": None, "version": None, "reason": str(error)}

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
            choice, layout = self.runtime, self.layout
            began = time.monotonic()
            self._stopped, self._keep_logs = False, False
            self._log_dir = new_log_dir()
            stop_at_exit(self)
            try:
                for index in range(layout.processes):
                    self._launch(index)
                deadline = began + self.settings.startup_timeout
                for index in range(layout.processes):
                    self._await_ready(index, deadline)
            except ProviderError:
                self._halt(keep_logs=True)  # the error names the log
                raise
            except BaseException:
                self._halt(keep_logs=False)
                raise
            self.startup_seconds = time.monotonic() - began
            log.info("%s", self._started_line(choice, layout))
            return self.urls[0]

    def died(self) -> str | None:
        """One line on a process that exited while it should be serving, or None."""
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            code = process.popen.poll()
            if code is None:
                continue
            self._keep_logs = True  # the line names the log
            return (
                f"the local model server (pid {process.popen.pid}, port {process.port}) exited "
                f"with {_how(code)}{self._crash_hint(code)} (its log: {process.log})"
            )
        return None

    def revive(self) -> list[str]:
        """Start the processes that died again (on new ports); return every api_base."""
        with self._start_lock:
            dead = [i for i, p in enumerate(self._processes) if p.popen.poll() is not None]
            deadline = time.monotonic() + self.settings.startup_timeout
            for index in dead:
                self._launch(index)
                self._await_ready(index, deadline)
                self.revivals += 1
            return self.urls

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period); idempotent."""
        self._halt(keep_logs=self._keep_logs)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _launch(self, index: int) -> None:
        """Start process `index` (again, if it is already there)."""
        runtime, layout = self.runtime.runtime, self.layout
        with self._lock:
            if self._stopped or self._log_dir is None:
                raise self._stopped_error()
            port = 0 if runtime.picks_port else free_port()
            self._launches += 1  # a process started again keeps the log of the one it replaces
            log_file = self._log_dir / f"server-{index}-{self._launches}.log"
            ready = log_file.with_suffix(".ready")
            launch = Launch(self.model.path, self.alias, layout, port, ready, self.logprobs)
            command = runtime.command(launch)
            process = _Process(spawn(command, log_file), port, log_file, ready)
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
                if tries < _PORT_TRIES and _port_was_taken(process):
                    tries += 1  # another program took the port between our probe and its bind
                    self._launch(index)
                    continue
                raise self._failure(f"it exited with {_how(code)}{self._crash_hint(code)}", process)
            port = process.port or reported_port(process.ready)
            if port and answers(port, self.alias):
                with self._lock:
                    self._processes[index] = dataclasses.replace(process, port=port)
                return
            if time.monotonic() > deadline:
                raise self._failure(
                    f"it did not answer within {self.settings.startup_timeout:g} s; a big model "
                    "on a slow machine may need a larger provider.local.startup_timeout",
                    process,
                )
            time.sleep(_POLL_SECONDS)

    def _started_line(self, choice: RuntimeChoice, layout: Layout) -> str:
        return (
            f"local model {self.alias} on {choice.runtime.name} {choice.version or '(version ?)'}"
            f" ({choice.reason}): {_count(layout.processes, 'process')} x "
            f"{_count(layout.threads, 'thread')}, {_count(layout.slots, 'slot')} each "
            f"({layout.reason}); ready in {self.startup_seconds:.1f} s"
        )

    def _failure(self, reason: str, process: _Process) -> ProviderError:
        return ProviderError(
            f"the local model server for {self.alias!r} ({self.model.path.name}) did not "
            f"start: {reason}: {cause(process.log)} (its log: {process.log}); if the file is "
            "your own (model.gguf.path), check that it is a whole GGUF model llama.cpp can load",
            fatal=True,
        )

    def _crash_hint(self, code: int) -> str:
        return f"; {self.runtime.runtime.crash_hint}" if code in _CRASHES else ""

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


def _count(number: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{number} {noun if number == 1 else plural}"


def _how(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"


def _port_was_taken(process: _Process) -> bool:
    """Whether a server given a port (llama-cpp-python) found it taken."""
    return process.port != 0 and "address already in use" in read_end(process.log).lower()
