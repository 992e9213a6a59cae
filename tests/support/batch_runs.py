"""run.mode=batch against the stub: items whose labels the stub answers by their number,
the overrides, an in-process classify, and the phases a run can be killed in."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from framework.cli.main import main
from framework.testing import Reply, StubServer
from tests.support import read_jsonl, write_jsonl

LABELS = ("space", "science", "technology", "climate")
ITEM = re.compile(r"item-(\d+)")


def labels_of(number: int) -> list[str]:
    first = LABELS[number % 4]
    return [first, LABELS[(number + 1) % 4]] if number % 3 == 0 else [first]


def answer_by_item(body: dict[str, Any]) -> Reply:
    """The labels of the item the prompt is about (its text says item-N)."""
    user = " ".join(str(m.get("content")) for m in body["messages"] if m["role"] == "user")
    found = ITEM.findall(user)
    number = int(found[-1]) if found else 0
    return Reply(content=json.dumps({"labels": labels_of(number)}), prompt_tokens=200)


def items(path: Path, count: int) -> Path:
    rows = [
        {"id": f"r{n}", "text": f"item-{n}: a news story", "labels": labels_of(n)}
        for n in range(count)
    ]
    return write_jsonl(path, rows)


def overrides(stub: StubServer, *extra: str, provider: str = "openai_compatible") -> list[str]:
    model = "gpt-4o-mini" if provider == "openai" else "stub-model"
    return [
        f"provider={provider}",
        f"provider.api_base={stub.url}",
        f"model.name={model}",
        "run.retry.base_delay=0",
        "run.progress=off",
        "batch.poll_interval=0.01",
        "batch.max_poll_interval=0.05",
        *extra,
    ]


def classify(source: Path, run_dir: Path, stub: StubServer, *extra: str, **kw: Any) -> int:
    """`labelwise classify` in this process; its exit code."""
    argv = ["classify", f"input={source}", f"hydra.run.dir={run_dir}"]
    return main([*argv, *overrides(stub, *extra, **kw)])


def results(run_dir: Path) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(run_dir / "results.jsonl")
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "an id twice in the results"
    return {row["id"]: row for row in rows}


def totals(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "record.json").read_text())["totals"])


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the phase"
        time.sleep(0.02)


PHASES: dict[str, tuple[Callable[[StubServer], None], Callable[[StubServer], bool]]] = {
    # what the stub does to hold the run in the phase, and how the test knows it is there
    "after upload": (lambda s: s.batches.hang.add("upload"), lambda s: len(s.batches.uploads) == 1),
    "after create": (lambda s: s.batches.hang.add("create"), lambda s: len(s.batches.created) == 1),
    "while polling": (
        lambda s: setattr(s.batches, "fault", "stuck"),
        lambda s: any(b["status"] == "in_progress" for b in list(s.batches.batches.values())),
    ),
    "while downloading": (
        lambda s: s.batches.hang.add("content"),
        lambda s: any(b["status"] == "completed" for b in list(s.batches.batches.values())),
    ),
}
