"""Runs worth a report: a stub responder whose labels depend on the text, and a results
file with every kind of error and a hostile text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from framework.testing import Reply
from tests.support import write_jsonl

HOSTILE = (
    '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    "<b>bold</b> & 'quotes'"
)


def answer_by_text(request: dict[str, object]) -> Reply:
    """Labels that depend on the text, so runs are scored on something."""
    messages = request["messages"]
    assert isinstance(messages, list)
    text = str(messages[-1]["content"]).lower()
    labels = [
        name
        for name, words in (
            ("space", ("nasa", "moon", "mars", "orbit")),
            ("climate", ("heat", "emission", "climate")),
            ("technology", ("chip", "ai ", "software")),
        )
        if any(word in text for word in words)
    ]
    return Reply(content=json.dumps({"labels": labels or ["none"]}))


def scored_run(folder: Path) -> Path:
    """A results file and its input: errors of each kind, a failed row, a hostile text."""
    rows: list[dict[str, Any]] = [
        {"id": "a", "labels": ["x"], "gold": ["x"], "confidence": {"x": 0.9, "y": 0.1}},
        {"id": "b", "labels": ["x", "y"], "gold": ["x"], "confidence": {"x": 0.8, "y": 0.95}},
        {"id": "c", "labels": [], "gold": ["y"], "confidence": {"x": 0.1, "y": 0.3}},
        {"id": "evil", "labels": ["y"], "gold": ["x"]},
        {
            "id": "f",
            "labels": [],
            "status": "failed",
            "error": "timeout",
            "error_kind": "timeout",
            "gold": ["x"],
        },
    ]
    results = write_jsonl(folder / "results.jsonl", [{"status": "ok", **row} for row in rows])
    texts = {"a": "first", "b": "second", "c": "third", "evil": HOSTILE, "f": "fifth"}
    write_jsonl(folder / "input.jsonl", [{"id": k, "text": v} for k, v in texts.items()])
    return results
