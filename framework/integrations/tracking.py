"""tracking=mlflow: each run logged to MLflow; tune and compare as a parent with children.

    with TrackingObserver(settings).run(RunInfo(run_dir, config)):
        ...   # the MLflow run is made as the run starts, logged when the block is left

The MLflow calls are made by a worker process (framework.integrations.mlflow_worker),
started when the run starts: importing MLflow takes over a second on 2 cores, and in
another process it overlaps the run instead of lengthening it; an MLflow that hangs or
crashes cannot take the run with it. When the block is left record.json is final: the
worker logs the run from its folder (framework.integrations.run_folder). A store that
cannot be reached, an MLflow that is not installed, a worker that does not answer within
tracking.timeout: one warning line, and the run's own files are complete all the same.

Nesting: a group (a tune, its recipes, a compare) is an MLflow run whose id the runs
inside it take as their parent (a context variable, so a tune's recipes in this process
find it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from framework.errors import ConfigError
from framework.integrations.base import GroupInfo, GroupWatch, Observer, RunInfo, warn_once
from framework.integrations.run_folder import flatten, logged_run, metric_key

if TYPE_CHECKING:
    from framework.config.observe_settings import TrackingSettings
    from framework.config.schema import RunConfig

__all__ = ["TrackingObserver", "tracking_uri"]

_PARENT: ContextVar[str | None] = ContextVar("labelwise_mlflow_parent", default=None)
_DEFAULT_FOLDER = "mlruns"


def tracking_uri(settings: TrackingSettings, environ: Mapping[str, str] = os.environ) -> str:
    """tracking.uri, else MLFLOW_TRACKING_URI, else ./mlruns; a folder as an absolute
    file: URI (the worker may not share our idea of the current folder)."""
    uri = settings.uri or environ.get("MLFLOW_TRACKING_URI") or _DEFAULT_FOLDER
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return Path(urlparse(uri).path).resolve().as_uri()
    if uri == "databricks":  # MLflow's name for a Databricks workspace, not a folder
        return uri
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter: a folder
        return Path(uri).expanduser().resolve().as_uri()
    return uri


class TrackingObserver(Observer):
    name = "tracking"

    def __init__(self, settings: TrackingSettings) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError(
                "tracking.kind: mlflow needs MLflow, which is not installed: "
                "pip install 'labelwise[tracking]' (or run with tracking=none)"
            )
        self.settings = settings
        self.uri = tracking_uri(settings)
        self.warmed: _Worker | None = None

    def warm(self) -> None:
        if self.warmed is None:
            self.warmed = _Worker.start(self.uri, self.settings)

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        worker, self.warmed = self.warmed or _Worker.start(self.uri, self.settings), None
        name = self.settings.run_name or info.name or info.run_dir.resolve().name
        if worker is not None:
            worker.send({"op": "start", "name": name, "parent": _PARENT.get(), "tags": {}})
        try:
            yield
        finally:
            if worker is not None:
                run_id = worker.answer("run_id")
                if run_id is not None:
                    _log_folder(worker, run_id, info.run_dir, info.config)
                worker.close()

    @contextmanager
    def group(self, info: GroupInfo) -> Iterator[GroupWatch]:
        worker = _Worker.start(self.uri, self.settings)
        run_id = None
        if worker is not None:
            tags = {"labelwise.kind": info.kind}
            worker.send({"op": "start", "name": info.name, "parent": _PARENT.get(), "tags": tags})
            run_id = worker.answer("run_id")
        watch = _TrackedGroup(worker, run_id)
        token = _PARENT.set(run_id) if run_id is not None else None
        status = "FINISHED"
        try:
            yield watch
        except BaseException as error:
            status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            raise
        finally:
            if token is not None:
                _PARENT.reset(token)
            if worker is not None and run_id is not None:
                params = {k: _text(v) for k, v in flatten(dict(info.params)).items()}
                worker.send(
                    {
                        "op": "log",
                        "run_id": run_id,
                        "params": params,
                        "metrics": watch.values,
                        "files": watch.files,
                        "texts": {},
                        "status": status,
                    }
                )
                worker.answer("ok")
            if worker is not None:
                worker.close()


class _TrackedGroup(GroupWatch):
    def __init__(self, worker: _Worker | None, run_id: str | None) -> None:
        self.worker, self.run_id = worker, run_id
        self.files: list[str] = []
        self.values: dict[str, float] = {}

    def add_run(self, run_dir: Path, name: str | None = None) -> None:
        if self.worker is None or self.run_id is None:
            return
        named = name or run_dir.resolve().name
        self.worker.send({"op": "start", "name": named, "parent": self.run_id})
        child = self.worker.answer("run_id")
        if child is not None:
            _log_folder(self.worker, child, run_dir, None)

    def attach(self, path: Path) -> None:
        self.files.append(str(path))

    def metrics(self, values: Mapping[str, float]) -> None:
        self.values.update({metric_key(k): float(v) for k, v in values.items()})


def _log_folder(worker: _Worker, run_id: str, run_dir: Path, config: RunConfig | None) -> None:
    """Log a run from its folder; a folder that cannot be read is a warning, not an error
    of the run (whose own outcome stands)."""
    try:
        logged = logged_run(run_dir, config)
    except Exception as error:
        worker.fail(f"{run_dir} could not be read ({error})")
        return
    worker.send(_log_command(run_id, logged))
    worker.answer("ok")


def _log_command(run_id: str, logged: Any) -> dict[str, Any]:
    return {
        "op": "log",
        "run_id": run_id,
        "params": logged.params,
        "metrics": logged.metrics,
        "files": logged.files,
        "texts": logged.texts,
        "tags": logged.tags,
        "status": logged.status,
    }


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Worker:
    """The MLflow worker process, spoken to in JSON lines; every wait bounded."""

    def __init__(self, process: subprocess.Popen[str], uri: str, timeout: float) -> None:
        self.process, self.uri, self.timeout = process, uri, timeout
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.errors: deque[str] = deque(maxlen=5)
        self.failed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    @classmethod
    def start(cls, uri: str, settings: TrackingSettings) -> _Worker | None:
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
