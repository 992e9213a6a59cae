"""labelwise review agreement (and lint --agreement): per-label Krippendorff's alpha with
bootstrap intervals, between annotators and between people and machines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import krippendorff
import numpy as np
import pytest

from framework.evaluation.review.agreement import agreement, annotations_of, raters_of
from framework.results import ResultRow
from tests.support.cli import labelwise

LABELS = ["space", "science", "technology", "climate"]


def annotation(who: int, choices: list[str], when: str = "2026-12-01") -> dict[str, object]:
    value = {
        "from_name": "labels",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": choices},
    }
    return {"completed_by": who, "updated_at": when, "result": [value]}


def two_annotator_export(
    count: int = 120, seed: int = 0
) -> tuple[list[dict[str, object]], list[list[str]]]:
    """Gold, and two annotators who each flip a label of it at random (science often)."""
    draw = random.Random(seed)
    tasks, gold = [], []
    for n in range(count):
        truth = sorted(draw.sample(LABELS, draw.choice([1, 1, 2])))
        gold.append(truth)

        def noisy(truth: list[str] = truth) -> list[str]:
            held = set(truth)
            for label in LABELS:
                if draw.random() < (0.3 if label == "science" else 0.03):
                    held ^= {label}
            return sorted(held) or [truth[0]]

        tasks.append(
            {
                "id": n,
                "data": {"row_id": f"r{n}", "text": f"text {n}"},
                "annotations": [annotation(1, noisy()), annotation(2, noisy(), "2026-12-02")],
            }
        )
    return tasks, gold


def test_alpha_per_label_matches_the_library_and_flags_the_noisy_label() -> None:
    tasks, _ = two_annotator_export()
    read = annotations_of(tasks, LABELS)
    found = {f.label: f for f in agreement(raters_of(read), LABELS, bootstrap=200)}
    for label, item in found.items():
        matrix = np.array(
            [
                [float(label in read.by_row[f"r{n}"][who]) for n in range(120)]
                for who in ("annotator 1", "annotator 2")
            ]
        )
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
        assert item.alpha == pytest.approx(expected)
        assert (
            item.low is not None and item.high is not None and item.low <= item.alpha <= item.high
        )
        assert item.units == 120 and item.comparison == "annotators"
    assert found["science"].alpha < 0.667 < found["space"].alpha


def test_people_against_machines_use_the_latest_annotation_and_the_run_sources() -> None:
    tasks, gold = two_annotator_export(40)
    read = annotations_of(tasks, LABELS)
    rows = [
        ResultRow(
            f"r{n}",
            tuple(labels),
            extra={
                "sources": {
                    "llm": {k: float(k in labels) for k in LABELS},
                    "trained": {k: 0.9 if k in labels else 0.1 for k in LABELS},
                }
            },
        )
        for n, labels in enumerate(gold)
    ]
    found = agreement(raters_of(read, rows), LABELS, bootstrap=50)
    by = {(f.comparison, f.label): f for f in found}
    assert by[("llm vs trained", "space")].alpha == pytest.approx(1.0)
    assert by[("annotator vs llm", "space")].units == 40
    assert read.latest["r0"] == read.by_row["r0"]["annotator 2"]  # the later one


def test_odd_annotations_are_counted_never_guessed() -> None:
    tasks = [
        {
            "data": {"row_id": "a"},
            "annotations": [annotation(1, ["space"]), annotation(1, ["climate"], "2026-12-09")],
        },
        {"data": {"row_id": "b"}, "annotations": [{"completed_by": 1, "result": []}]},
        {"data": {"row_id": "c"}, "annotations": [annotation(1, ["gossip"])]},
        {"data": {}, "annotations": [annotation(1, ["space"])]},
        {
            "data": {"row_id": "d"},
            "annotations": [{**annotation(2, ["space"]), "was_cancelled": True}],
        },
    ]
    read = annotations_of(tasks, LABELS)
    assert read.by_row == {"a": {"annotator 1": frozenset({"climate"})}}
    assert read.skipped == {
        "repeated annotations by one annotator (the latest kept)": 1,
        "empty annotations": 1,
        "annotations with labels outside the taxonomy": 1,
        "tasks without a row_id": 1,
        "cancelled annotations": 1,
    }


@pytest.mark.slow
def test_agreement_command_and_lint_flag_low_labels_with_their_description(tmp_path: Path) -> None:
    tasks, _ = two_annotator_export()
    for task in tasks:
        task["data"]["taxonomy"] = "news@1.0.0"  # type: ignore[index]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    result = labelwise(
        "review", "agreement", str(export), "--bootstrap", "100", "--json", str(tmp_path / "a.json")
    )
    assert result.returncode == 0, result.stderr
    assert "annotators         science" in result.stdout
    assert (
        "low agreement: science (annotators" in result.stdout
        and "its description: '" in result.stdout
    )
    figures = json.loads((tmp_path / "a.json").read_text())
    assert {f["label"] for f in figures} >= set(LABELS)
    linted = labelwise("lint", "taxonomy=news", "--agreement", str(export))
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert "warning  labels.science  annotators agree little on it" in linted.stdout
    bad = labelwise("review", "agreement", str(tmp_path / "none.json"))
    assert bad.returncode == 2 and "does not exist" in bad.stderr
