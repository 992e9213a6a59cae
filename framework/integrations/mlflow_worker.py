"""The process that talks to MLflow for a run (or a group of runs): started by
framework.integrations.tracking when the run starts, so that importing MLflow (over a
second on 2 cores) happens beside the run, not after it.

    python -m framework.integrations.mlflow_worker URI EXPERIMENT

It reads one JSON command a line on stdin and answers each with one JSON line on its
stdout ({"error": "..."} when MLflow refused or could not be reached):

    {"op": "start", "name": NAME, "parent": RUN_ID|null, "tags": {...}}  -> {"run_id": ID}
    {"op": "log", "run_id": ID, "params": {...}, "metrics": {...}, "files": [PATH...],
     "texts": {NAME: TEXT}, "status": "FINISHED"|"FAILED"|"KILLED"}        -> {"ok": true}

It ends when stdin closes. Whatever MLflow prints goes to stderr, never into the answers.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["main"]

# MLflow's batch limits (mlflow.utils.validation), read from the installed version; the
# older 500-character value limit where a version does not say.
_FALLBACK_VALUE_LENGTH = 500


def main(argv: list[str]) -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr  # MLflow's own prints must not mix with the answers
    uri, experiment = argv[0], argv[1]
    try:
        session: _Session | None = _Session(uri, experiment)
        opened: str | None = None
    except Exception as error:  # any failure to reach or open the store: said, not raised
        session, opened = None, _describe(error)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if session is None:
            _answer(answers, {"error": opened})
            continue
        try:
            _answer(answers, session.do(command))
        except Exception as error:  # the answer carries it to the run, which warns
            _answer(answers, {"error": _describe(error)})
    answers.close()
    os._exit(0)  # every answer is out; MLflow's teardown would only keep the run waiting


class _Session:
    def __init__(self, uri: str, experiment: str) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (
            found.experiment_id if found is not None else self.client.create_experiment(experiment)
        )

    def do(self, command: dict[str, Any]) -> dict[str, Any]:
        if command["op"] == "start":
            tags = dict(command.get("tags") or {})
            if command.get("parent"):
                tags["mlflow.parentRunId"] = command["parent"]
            run = self.client.create_run(self.experiment_id, run_name=command["name"], tags=tags)
            return {"run_id": run.info.run_id}
        if command["op"] == "log":
            self.log(command)
            return {"ok": True}
        return {"error": f"unknown command {command['op']!r}"}

    def log(self, command: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.utils import validation

        run_id = command["run_id"]
        longest = getattr(validation, "MAX_PARAM_VAL_LENGTH", _FALLBACK_VALUE_LENGTH)
        per_batch = getattr(validation, "MAX_PARAMS_TAGS_PER_BATCH", 100)
        params = [Param(k, _fit(str(v), longest)) for k, v in command.get("params", {}).items()]
        for start in range(0, len(params), per_batch):
            self.client.log_batch(run_id, params=params[start : start + per_batch])
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in command.get("metrics", {}).items()]
        per_batch = getattr(validation, "MAX_METRICS_PER_BATCH", 1000)
        for start in range(0, len(metrics), per_batch):
            self.client.log_batch(run_id, metrics=metrics[start : start + per_batch])
        tags = [RunTag(k, _fit(str(v), 5000)) for k, v in (command.get("tags") or {}).items()]
        if tags:
            self.client.log_batch(run_id, tags=tags)
        for path in command.get("files", []):
            if Path(path).is_file():
                self.client.log_artifact(run_id, path)
        texts = command.get("texts") or {}
        if texts:
            with tempfile.TemporaryDirectory() as folder:
                for name, text in texts.items():
                    (Path(folder) / name).write_text(text, encoding="utf-8")
                self.client.log_artifacts(run_id, folder)
        self.client.set_terminated(run_id, status=command.get("status", "FINISHED"))


def _fit(value: str, longest: int) -> str:
    """A parameter value cut to what the store takes, saying that it was cut."""
    if len(value) <= longest:
        return value
    tail = f"... ({len(value)} characters)"
    return value[: longest - len(tail)] + tail


def _describe(error: Exception) -> str:
    if isinstance(error, ImportError):
        return f"MLflow cannot be imported ({error}): pip install 'labelwise[tracking]'"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def _answer(answers: IO[str], answer: dict[str, Any]) -> None:
    answers.write(json.dumps(answer) + "\n")
    answers.flush()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
