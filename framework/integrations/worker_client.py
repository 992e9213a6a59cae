"""The MLflow worker process (framework.integrations.mlflow_worker), seen from the run:
started with the run's environment, spoken to in JSON lines, every wait bounded by
tracking.timeout, every failure one warning line (said once).

    worker = Worker.start(uri, settings)       # None (warned) when it cannot start
    worker.send({"op": "start", ...}); worker.answer("run_id")
    worker.close()
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from framework.integrations.base import warn_once

if TYPE_CHECKING:
    from framework.config.observe_settings import TrackingSettings

__all__ = ["Worker"]


class Worker:
    """The MLflow worker process, spoken to in JSON lines; every wait bounded."""

    def __init__(self, process: subprocess.Popen[str], uri: str, timeout: float) -> None:
        self.process, self.uri, self.timeout = process, uri, timeout
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.errors: deque[str] = deque(maxlen=5)
        self.failed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    @classmethod
    def start(cls, uri: str, settings: TrackingSettings) -> Worker | None:
        env = dict(os.environ)
        if uri.startswith("file:"):
            # MLflow 3 keeps its folder store behind this opt-in; a folder is what
            # tracking.uri defaults to (docs/tracking.md says why not SQLite).
            env.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        # A tracking server that does not answer: a few quick tries, not MLflow's minutes.
        env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        env.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(settings.timeout / 4))))
        command = [sys.executable, "-m", "framework.integrations.mlflow_worker"]
        try:
            process = subprocess.Popen(
                [*command, uri, settings.experiment],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                env=env,
            )
        except OSError as error:
            _warn(uri, f"the tracking worker did not start ({error})")
            return None
        return cls(process, uri, settings.timeout)

    def send(self, command: dict[str, Any]) -> None:
        if self.failed or self.process.stdin is None:
            return
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except OSError:
            self.fail("the tracking worker ended early")

    def answer(self, key: str) -> Any:
        """The next answer's `key`, or None (warned once) when it failed or is late."""
        if self.failed:
            return None
        try:
            line = self.answers.get(timeout=self.timeout)
        except queue.Empty:
            self.fail(f"no answer within tracking.timeout={self.timeout:g} s")
            return None
        if line is None:
            self.fail("the tracking worker ended: " + " | ".join(self.errors))
            return None
        reply = json.loads(line)
        if "error" in reply:
            self.fail(str(reply["error"]))
            return None
        return reply.get(key)

    def close(self) -> None:
        """Let the worker go: once it has answered it has logged everything, and its
        exit (MLflow's teardown) is not waited for; a worker that failed is stopped."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        if self.failed:
            self.process.kill()
            self.process.wait()

    def fail(self, why: str) -> None:
        self.failed = True
        _warn(self.uri, why)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self.errors.append(line.strip()[:300])


def _warn(uri: str, why: str) -> None:
    from framework.secrets import redact_url, scrub

    warn_once(
        f"tracking {uri}",
        f"tracking: this run was not logged to MLflow at {redact_url(uri)} ({scrub(why)}); "
        "the run's own files are complete",
    )
