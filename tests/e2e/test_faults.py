"""Fault injection against the loopback stub, and a run killed with SIGKILL.

Whatever the provider throws (500s, 429s with Retry-After, timeouts, resets,
malformed JSON, labels outside the taxonomy), every input id comes out exactly
once, ok or failed with a reason, and no label outside the taxonomy appears.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from framework import Classifier
from framework.runner.run import classify_file
from framework.testing import Reply, StubServer
from tests.support import REPO, read_jsonl, stub_overrides, write_jsonl

NEWS_LABELS = {"space", "science", "technology", "climate", "none"}


def chaos(seed: int) -> Any:
    rng = random.Random(seed)
    faults = [
        Reply(status=500, error="upstream exploded"),
        Reply(status=503, error="overloaded"),
        Reply(status=429, headers={"retry-after-ms": "50"}),
        Reply(delay=2.0),  # longer than provider.timeout
        Reply(drop=True),
        Reply(content='{"labels": ["space", '),
        Reply(content="I think it is about space."),
        Reply(content='{"labels": ["astrology", "space", "space"]}'),
        Reply(content='{"labels": ["none", "climate"]}'),
        Reply(content='{"labels": "science"}'),
        Reply(status=400, error="this one is malformed"),
    ]
    good = [
        Reply(content='{"labels": ["space"]}'),
        Reply(content='{"labels": ["science", "technology"]}'),
        Reply(content='{"labels": ["none"]}'),
    ]

    def respond(request: dict[str, Any]) -> Reply:
        return rng.choice(faults) if rng.random() < 0.45 else rng.choice(good)

    return respond


def check_exactly_once(rows: list[dict[str, Any]], ids: list[str]) -> None:
    counts = Counter(r["id"] for r in rows)
    assert set(counts) == set(ids), "ids lost or invented"
    assert max(counts.values()) == 1, f"duplicated ids: {[i for i, n in counts.items() if n > 1]}"
    for row in rows:
        assert row["status"] in ("ok", "failed")
        assert set(row["labels"]) <= NEWS_LABELS
        assert not ("none" in row["labels"] and len(row["labels"]) > 1)
        if row["status"] == "failed":
            assert row["error"] and row["labels"] == []
        else:
            assert row["labels"]


@pytest.mark.slow
def test_mixed_faults_lose_nothing_and_leak_no_label(tmp_path: Path) -> None:
    ids = [f"row-{n}" for n in range(300)]
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"headline {i}"} for i in ids])
    output = tmp_path / "out.jsonl"
    with StubServer(responder=chaos(7)) as stub:
        overrides = stub_overrides(
            stub,
            "provider.timeout=0.5",
            "run.concurrency=16",
            "run.retry.max_attempts=3",
            "validation.max_retries=1",
            "validation=strict",
        )
        with Classifier.from_config(overrides) as classifier:
            totals = asyncio.run(classify_file(classifier, source, output))
    rows = read_jsonl(output)
    check_exactly_once(rows, ids)
    assert totals.ok > 100 and totals.failed > 10  # the mix really hit both ways
    reasons = " ".join(r["error"] for r in rows if r["status"] == "failed")
    assert "not valid JSON" in reasons or "not one of the labels" in reasons
    assert totals.calls >= len(ids)


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates_or_losses(tmp_path: Path) -> None:
    ids = [f"k{n}" for n in range(1500)]
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"story {i}"} for i in ids])
    output = tmp_path / "out.jsonl"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with StubServer(default=Reply(content='{"labels": ["science"]}', delay=0.02)) as stub:
        command = [
            sys.executable,
            "-m",
            "framework",
            "classify",
            f"input={source}",
            f"output={output}",
            "run.concurrency=8",
            f"hydra.run.dir={tmp_path / 'run'}",
            *stub_overrides(stub),
        ]
        first = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if output.exists() and output.read_bytes().count(b"\n") >= 200:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        written = output.read_bytes().count(b"\n")
        assert 200 <= written < len(ids), "the run should be killed part way"
        second = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
    assert second.returncode == 0, second.stderr
    check_exactly_once(read_jsonl(output), ids)
    assert "already done" in second.stderr
    assert len(stub.requests) < len(ids) + 50  # the killed run's rows were not asked again
