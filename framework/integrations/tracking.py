"""tracking=mlflow: each run logged to MLflow; tune and compare as a parent with children.

    with TrackingObserver(settings).run(RunInfo(run_dir, config)):
        ...   # the MLflow run is made as the run starts, logged when the block is left

The MLflow calls are made by a worker process (framework.integrations.mlflow_worker,
spoken to through framework.integrations.worker_client), started as the run is prepared
(`warm`): importing MLflow takes over a second on 2 cores, and in
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from framework.errors import ConfigError
from framework.integrations.base import GroupInfo, GroupWatch, Observer, RunInfo
from framework.integrations.run_folder import flatten, logged_run, metric_key
from framework.integrations.worker_client import Worker

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
        self.warmed: Worker | None = None

    def warm(self) -> None:
        if self.warmed is None:
            self.warmed = Worker.start(self.uri, self.settings)

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        worker, self.warmed = self.warmed or Worker.start(self.uri, self.settings), None
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
        worker = Worker.start(self.uri, self.settings)
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
    def __init__(self, worker: Worker | None, run_id: str | None) -> None:
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


def _log_folder(worker: Worker, run_id: str, run_dir: Path, config: RunConfig | None) -> None:
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
