"""labelwise review serve: the Label Studio ML backend protocol over real HTTP on
127.0.0.1 (the payloads Label Studio sends); the round trip with a real Label Studio is
in test_review_label_studio.py."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.evaluation.review.ml_backend import Backend, serve
from framework.learning.labeled_pool import LabeledPoolDir
from tests.support.news_pool import LABELS, pool_rows


def call(url: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[tuple[str, Backend]]:
    pool = LabeledPoolDir(tmp_path / "pool")
    pool.add(pool_rows(80), source="seed")
    found = Backend(pool, LABELS)
    server = serve(found, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", found
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_predict_then_an_annotation_becomes_a_pool_version_and_a_refit(
    backend: tuple[str, Backend],
) -> None:
    url, found = backend
    assert call(url, "/health") == (200, {"status": "UP", "model_class": "labelwise"})
    first = found.version
    assert call(url, "/setup", {"project": "1"}) == (200, {"model_version": first})
    tasks = [
        {"id": 1, "data": {"row_id": "n1", "text": "rocket orbit moon astronaut launch"}},
        {"id": 2, "data": {}},
    ]
    status, answer = call(url, "/predict", {"tasks": tasks})
    assert status == 200 and len(answer["results"]) == 2
    chosen = answer["results"][0]["result"][0]["value"]["choices"]
    assert "space" in chosen and answer["results"][0]["model_version"] == first
    assert answer["results"][1]["result"] == []  # no text: no prediction
    event = {
        "action": "ANNOTATION_CREATED",
        "task": {"id": 1, "data": {"row_id": "n1", "text": "rocket orbit moon astronaut launch"}},
        "annotation": {
            "result": [{"from_name": "labels", "value": {"choices": ["space", "science"]}}]
        },
    }
    assert call(url, "/webhook", event) == (201, {"status": "refitting"})
    assert found.refitting is not None
    found.refitting.join(timeout=120)
    assert found.version != first and found.pool.head().previous == first
    added = {r["id"]: r for r in found.pool.rows(found.version)}["n1"]
    assert added["labels"] == ["space", "science"] and added["text"].startswith("rocket")
    assert found.pool.head().history[-1]["source"] == "label-studio webhook"
    outside = {
        **event,
        "annotation": {"result": [{"from_name": "labels", "value": {"choices": ["gossip"]}}]},
    }
    assert call(url, "/webhook", outside) == (
        201,
        {"status": "skipped: a label outside the taxonomy"},
    )
    assert call(url, "/webhook", {"action": "PROJECT_UPDATED"}) == (
        201,
        {"status": "ignored: PROJECT_UPDATED"},
    )
    assert call(url, "/predict", {"nothing": 1})[0] == 400
