"""Output strategies, confidence, thresholds and chunks, end to end through the stub."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from framework import Classifier, ConfigError
from framework.runner.run import classify_file
from framework.testing import Reply, StubServer
from tests.support import REPO, read_jsonl, stub_overrides, write_jsonl

NEWS = ["space", "science", "technology", "climate", "none"]


def asked_about(request: dict[str, Any]) -> str:
    """The label a per-label question is about (the last quoted label id)."""
    content = request["messages"][-1]["content"]
    return content.split('Does the label "')[1].split('"')[0]


def yes_no(probabilities: dict[str, float]) -> Any:
    """A per-label responder: yes when p(yes) > 0.5, with top_logprobs saying p(yes)."""

    def respond(request: dict[str, Any]) -> Reply:
        p = probabilities.get(asked_about(request), 0.05)
        word = "yes" if p > 0.5 else "no"
        top = (("yes", math.log(p)), ("no", math.log(1 - p)))
        logprobs = (
            ('{"answer": "', 0.0, ()),
            (word, math.log(max(p, 1 - p)), top),
            ('"}', 0.0, ()),
        )
        return Reply(content=json.dumps({"answer": word}), logprobs=logprobs)

    return respond


def test_checklist_asks_one_boolean_per_label_in_order(stub: StubServer) -> None:
    stub.enqueue(
        Reply(
            content=json.dumps(
                {
                    "space": True,
                    "science": True,
                    "technology": False,
                    "climate": False,
                    "none": False,
                }
            )
        )
    )
    with Classifier.from_config(stub_overrides(stub, "strategy=checklist")) as classifier:
        prediction = classifier.classify("Mars rover finds water")
    assert prediction.labels == ("space", "science")
    schema = stub.requests[0]["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == NEWS and schema["required"] == NEWS
    assert all(p == {"type": "boolean"} for p in schema["properties"].values())
    assert (
        '"space": true|false, "science": true|false' in stub.requests[0]["messages"][-1]["content"]
    )


def test_checklist_with_a_missing_label_is_asked_again(stub: StubServer) -> None:
    stub.enqueue(
        Reply(content='{"space": true}'), Reply(content=json.dumps(dict.fromkeys(NEWS, False)))
    )
    with Classifier.from_config(stub_overrides(stub, "strategy=checklist")) as classifier:
        prediction = classifier.classify("x")
    assert prediction.labels == ("none",) and prediction.attempts == 2
    assert "labels missing from the answer: science" in stub.requests[1]["messages"][-1]["content"]


def test_per_label_asks_each_label_with_a_shared_prefix(stub: StubServer) -> None:
    stub.responder = yes_no({"space": 0.9, "science": 0.7})
    overrides = stub_overrides(stub, "strategy=per_label", "strategy.confidence=none")
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("Telescope spots a new moon of Jupiter")
    assert prediction.labels == ("space", "science")
    assert prediction.attempts == len(NEWS) and prediction.confidence is None
    prompts = [r["messages"][-1]["content"] for r in stub.requests]
    assert sorted(asked_about(r) for r in stub.requests) == sorted(NEWS)
    prefix = prompts[0].split("Does the label")[0]
    assert all(p.startswith(prefix) for p in prompts) and len(prefix) > 300
    assert all(r["max_tokens"] == 16 for r in stub.requests)


def test_per_label_confidence_comes_from_logprobs(stub: StubServer) -> None:
    stub.responder = yes_no({"space": 0.9, "science": 0.55, "climate": 0.3})
    overrides = stub_overrides(stub, "strategy=per_label", "strategy.confidence=logprobs")
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("x")
    assert prediction.confidence == pytest.approx(
        {"space": 0.9, "science": 0.55, "technology": 0.05, "climate": 0.3, "none": 0.05}, abs=1e-3
    )
    assert prediction.labels == ("space", "science")
    assert prediction.confidence_method == "logprobs"
    assert all(r["logprobs"] is True and r["top_logprobs"] == 5 for r in stub.requests)


def test_thresholds_trade_recall_for_precision(stub: StubServer) -> None:
    stub.responder = yes_no({"space": 0.9, "science": 0.55, "climate": 0.3})
    overrides = stub_overrides(
        stub,
        "strategy=per_label",
        "strategy.confidence=logprobs",
        "++thresholds.per_label={science: 0.6, climate: 0.25}",
    )
    with Classifier.from_config(overrides) as classifier:
        assert classifier.classify("x").labels == ("space", "climate")


def test_self_consistency_votes_over_warm_samples(stub: StubServer) -> None:
    votes = iter([["space"], ["space", "science"], ["space"], ["climate"], ["space"]])
    stub.responder = lambda request: Reply(content=json.dumps({"labels": next(votes)}))
    overrides = stub_overrides(
        stub,
        "strategy.confidence=self_consistency",
        "strategy.samples=5",
        "validation.none_exclusive=drop_none",
    )
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("x")
    assert prediction.confidence == {
        "space": 0.8,
        "science": 0.2,
        "technology": 0.0,
        "climate": 0.2,
        "none": 0.0,
    }
    assert prediction.labels == ("space",)
    assert sorted(r["seed"] for r in stub.requests) == [0, 1, 2, 3, 4]
    assert {r["temperature"] for r in stub.requests} == {0.7}


def test_logprobs_from_a_provider_without_them_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="logprobs is not possible with provider anthropic"):
        Classifier.from_config(
            [
                "provider=anthropic",
                "model=claude-haiku-4-5",
                "strategy=per_label",
                "strategy.confidence=logprobs",
            ]
        )


def test_thresholds_without_a_confidence_are_a_config_error(stub: StubServer) -> None:
    with pytest.raises(ConfigError, match="thresholds: they need a per-label confidence"):
        Classifier.from_config(stub_overrides(stub, "+thresholds.per_label.space=0.3"))


@pytest.mark.slow
def test_long_texts_are_split_and_confidence_combined(stub: StubServer) -> None:
    def respond(request: dict[str, Any]) -> Reply:
        text = request["messages"][-1]["content"].split("<text>\n")[1]
        p = 0.9 if "rocket" in text and asked_about(request) == "space" else 0.1
        return yes_no({asked_about(request): p})(request)

    stub.responder = respond
    text = "rocket " * 150 + "filler words here " * 300
    for how, expected in (("max", ("space",)), ("mean", ("none",))):
        overrides = stub_overrides(
            stub,
            "strategy=per_label",
            "strategy.confidence=logprobs",
            "chunking.max_tokens=200",
            f"chunking.aggregate={how}",
        )
        with Classifier.from_config(overrides) as classifier:
            prediction = classifier.classify(text)
        assert prediction.chunks is not None and prediction.chunks >= 4
        assert prediction.labels == expected


@pytest.mark.slow
def test_calibrate_writes_thresholds_a_later_run_loads(stub: StubServer, tmp_path: Path) -> None:
    rows = [
        {"id": f"r{n}", "text": f"text {n}", "labels": ["space"] if n % 2 else ["none"]}
        for n in range(12)
    ]
    source = write_jsonl(tmp_path / "dev.jsonl", rows)

    # space gets p(yes) 0.4 on the rows where it applies, 0.2 elsewhere: below 0.5, yet it separates.
    def respond(request: dict[str, Any]) -> Reply:
        n = int(request["messages"][-1]["content"].split("<text>\ntext ")[1].split("\n")[0])
        label = asked_about(request)
        p = {"space": 0.4 if n % 2 else 0.2, "none": 0.45 if not n % 2 else 0.1}.get(label, 0.05)
        return yes_no({label: p})(request)

    stub.responder = respond
    run = tmp_path / "dev-run"
    common = [
        *stub_overrides(stub, "strategy=per_label", "strategy.confidence=logprobs"),
        "run.progress=off",
    ]
    cli = [sys.executable, "-m", "framework"]
    first = subprocess.run(
        [*cli, "classify", f"input={source}", *common, f"hydra.run.dir={run}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    before = json.loads((run / "metrics.json").read_text())["subset_accuracy"]
    thresholds = tmp_path / "thresholds.json"
    calibrated = subprocess.run(
        [*cli, "calibrate", str(run), "--out", str(thresholds)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert calibrated.returncode == 0, calibrated.stderr
    artifact = json.loads(thresholds.read_text())
    assert artifact["format"] == "labelwise-thresholds/1" and artifact["taxonomy"]["name"] == "news"
    assert 0.2 < artifact["thresholds"]["space"] <= 0.4
    again = tmp_path / "again"
    second = subprocess.run(
        [
            *cli,
            "classify",
            f"input={source}",
            *common,
            f"thresholds.path={thresholds}",
            f"hydra.run.dir={again}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    after = json.loads((again / "metrics.json").read_text())["subset_accuracy"]
    assert before < 0.6 and after == pytest.approx(1.0)
    assert "answers from cache" in second.stderr  # the same questions: no new calls
    other = subprocess.run(
        [
            *cli,
            "classify",
            f"input={source}",
            *common,
            f"thresholds.path={thresholds}",
            "taxonomy.labels.space.description=Rockets only.",
            f"hydra.run.dir={tmp_path / 'x'}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert other.returncode == 2 and "was tuned for taxonomy news@1.0.0" in other.stderr


def test_the_abstain_band_writes_uncertain_rows_for_review(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = yes_no({"space": 0.52})
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "borderline"}])
    overrides = stub_overrides(
        stub, "strategy=per_label", "strategy.confidence=logprobs", "thresholds.abstain_band=0.05"
    )
    with Classifier.from_config(overrides) as classifier:
        asyncio.run(
            classify_file(
                classifier, source, tmp_path / "out.jsonl", review=tmp_path / "review.jsonl"
            )
        )
    assert read_jsonl(tmp_path / "out.jsonl")[0]["review"] is True
    flagged = read_jsonl(tmp_path / "review.jsonl")
    assert flagged[0]["id"] == "a" and flagged[0]["text"] == "borderline"
