"""labelwise as a Label Studio ML backend: the pool's trained model pre-annotates tasks,
and every annotation is added to the pool and refits it.

    server = serve(LabeledPoolDir(path), labels, host="127.0.0.1", port=9090)
    server.serve_forever()          # labelwise review serve POOL_DIR --taxonomy NAME

The ML backend protocol of Label Studio (JSON over HTTP; what its `label-studio-ml`
package serves, written here on the standard library's threaded HTTP server, so the
backend needs nothing beyond labelwise's own dependencies):

  GET  /health     {"status": "UP", "model_class": "labelwise"}
  POST /setup      {"model_version": the pool version the model was fit on}
  POST /predict    {"tasks": [task, ...]} -> {"results": [{"result": [choices], "score",
                   "model_version"}, ...]}, one per task: the labels at probability 0.5
                   or more, the score the least sure decision (as review export's)
  POST /webhook    an ANNOTATION_CREATED/UPDATED event: the task's row_id, text and the
                   annotation's choices are added to the pool (a new version), and the
                   model is refit on it in the background (one refit at a time)

A task is read as review export writes it (`data.text`, `data.row_id`); a task without
a text is given no prediction, an annotation without choices is not added.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from framework.evaluation.review.tasks import FROM_NAME, TO_NAME
from framework.learning.labeled_pool import LabeledPoolDir

__all__ = ["Backend", "serve"]

LEARN_ON = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING"})


class Backend:
    """The model of the pool's newest version, refit as annotations arrive."""

    def __init__(
        self,
        pool: LabeledPoolDir,
        labels: Sequence[str],
        on_refit: Callable[[str], None] | None = None,
    ) -> None:
        self.pool, self.labels = pool, list(labels)
        self.on_refit = on_refit  # told the version of each model fit
        self.model: Any = None
        self.version = ""
        self._refit = threading.Lock()
        self.refitting: threading.Thread | None = None  # the latest background refit
        self.refit()

    def refit(self) -> None:
        from framework.learning.relearn import relearn

        with self._refit:
            found = relearn(self.pool, self.labels)
            from framework.learning.trained import TrainedModel

            self.model = TrainedModel.load(self.pool.model_file(found.version), named=True)
            self.version = found.version
        if self.on_refit is not None:
            self.on_refit(found.version)

    def predict(self, tasks: Sequence[Any]) -> list[dict[str, Any]]:
        from framework.evaluation.review.tasks import decision_score
        from framework.records import Item
        from framework.results import ResultRow

        results = []
        model, version = self.model, self.version
        for task in tasks:
            data = task.get("data") if isinstance(task, Mapping) else None
            text = data.get("text") if isinstance(data, Mapping) else None
            if not isinstance(text, str):
                results.append({"result": [], "score": 0.0, "model_version": version})
                continue
            assert isinstance(data, Mapping)
            row_id = str(data.get("row_id") or task.get("id") or "")
            scores = model.probabilities(Item(id=f"ls-{row_id}", text=text))
            chosen = [label for label, p in scores.items() if p >= 0.5]
            row = ResultRow(row_id, tuple(chosen), confidence=scores)
            results.append(
                {
                    "result": [
                        {
                            "from_name": FROM_NAME,
                            "to_name": TO_NAME,
                            "type": "choices",
                            "value": {"choices": chosen},
                        }
                    ],
                    "score": decision_score(row) or 0.0,
                    "model_version": version,
                }
            )
        return results

    def learn(self, event: Mapping[str, Any]) -> str:
        """Add the event's annotation to the pool and refit in the background."""
        task, annotation = event.get("task"), event.get("annotation")
        if isinstance(task, Mapping) and isinstance(annotation, Mapping):
            found = task.get("data")
            data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            choices = [
                choice
                for item in annotation.get("result") or []
                if isinstance(item, Mapping) and item.get("from_name", FROM_NAME) == FROM_NAME
                for choice in (item.get("value") or {}).get("choices") or []
                if isinstance(choice, str)
            ]
            row_id = data.get("row_id") or task.get("id")
            if row_id is None or not choices:
                return "skipped: no row_id or no choices"
            known = [c for c in choices if c in self.labels]
            if len(known) != len(choices):
                return "skipped: a label outside the taxonomy"
            row = {"id": str(row_id), "text": str(data.get("text") or ""), "labels": known}
            if self.pool.add([row], source="label-studio webhook") is None:
                return "nothing new"
        self.refitting = threading.Thread(target=self._refit_quietly, daemon=True)
        self.refitting.start()
        return "refitting"

    def _refit_quietly(self) -> None:
        import logging

        try:
            self.refit()
        except Exception as error:  # a refit that fails keeps the model it had
            logging.getLogger("labelwise").warning("refit failed: %s", error)


def serve(backend: Backend, *, host: str = "127.0.0.1", port: int = 9090) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/health", ""):
                self._send(200, {"status": "UP", "model_class": "labelwise"})
            else:
                self._send(404, {"error": f"no {self.path}"})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, {"error": "the body is not JSON"})
                return
            path = self.path.rstrip("/")
            if path == "/setup":
                self._send(200, {"model_version": backend.version})
            elif path == "/predict":
                tasks = body.get("tasks") if isinstance(body, Mapping) else None
                if not isinstance(tasks, list):
                    self._send(400, {"error": "give {'tasks': [...]}"})
                    return
                self._send(200, {"results": backend.predict(tasks)})
            elif path in ("/webhook", "/train"):
                action = body.get("action") if isinstance(body, Mapping) else None
                said = backend.learn(body) if action in LEARN_ON else f"ignored: {action}"
                self._send(201, {"status": said})
            else:
                self._send(404, {"error": f"no {self.path}"})

        def _send(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log
            return

    return ThreadingHTTPServer((host, port), Handler)
