"""labelwise audit: gold rows whose labels are likely wrong, ranked by cleanlab's
multi-label issue finder on cross-fitted probabilities, with the evidence."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.evaluation.review.audit import audit_gold
from tests.support import read_jsonl, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import LABELS, pool_rows


def noisy_pool(count: int = 200, flips: int = 12) -> tuple[list[dict[str, object]], set[str]]:
    rows = pool_rows(count, seed=11)
    draw = random.Random(4)
    flipped = set()
    for row in draw.sample(rows, flips):
        wrong = sorted(set(LABELS[:4]) - set(row["labels"]))  # type: ignore[arg-type]
        row["labels"] = [draw.choice(wrong)]
        flipped.add(str(row["id"]))
    return rows, flipped


def test_flipped_gold_rows_rank_first_with_the_suspect_label_and_evidence() -> None:
    rows, flipped = noisy_pool()
    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in rows]  # type: ignore[call-overload]
    ranked = audit_gold(triples, LABELS, llm={next(iter(flipped)): ["space"]})
    top = {row.id for row in ranked[: len(flipped)]}
    assert len(top & flipped) >= len(flipped) * 0.7  # a random ranking finds 6% of them
    first = ranked[0]
    assert first.issue and first.suspects
    suspect = first.suspects[0]
    assert suspect.gold != (suspect.model >= 0.5)  # the gold says one thing, the model another
    with_llm = next(row for row in ranked if row.id in flipped and row.suspects[0].llm is not None)
    assert isinstance(with_llm.suspects[0].llm, bool)


def test_a_label_no_row_holds_is_one_line_of_what_to_do() -> None:
    rows = [(f"r{n}", f"text {n} words here", ["space"]) for n in range(20)]
    with pytest.raises(
        InputError, match=r"no gold row holds \(or every row holds\) space, climate; "
    ):
        audit_gold(rows, ["space", "climate"])


@pytest.mark.slow
def test_audit_command_writes_the_ranking_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    rows, flipped = noisy_pool()
    gold = write_jsonl(tmp_path / "gold.jsonl", [*rows, {"id": "x", "text": "no gold here"}])
    with gold.open("a") as handle:
        handle.write("not json\n")
    out = tmp_path / "ranked.jsonl"
    tasks = tmp_path / "tasks"
    result = labelwise(
        "audit",
        str(gold),
        "--taxonomy",
        "news",
        "--out",
        str(out),
        "--top",
        "3",
        "--export",
        str(tasks),
    )
    assert result.returncode == 0, result.stderr
    assert (
        "200 gold rows audited" in result.stdout and "1 rows without gold skipped" in result.stdout
    )
    assert "unreadable lines skipped" in result.stderr
    ranked = read_jsonl(out)
    assert [r["rank"] for r in ranked] == list(range(1, 201))
    assert sum(r["id"] in flipped for r in ranked[:12]) >= 8
    assert {"id", "labels", "issue", "quality", "suspects", "text"} <= set(ranked[0])
    assert json.dumps(ranked[0]["suspects"][0]).startswith('{"label"')
    exported = json.loads((tasks / "tasks.json").read_text())
    assert [t["data"]["row_id"] for t in exported] == [r["id"] for r in ranked[:3]]
    assert exported[0]["data"]["why"].startswith("suspect gold: ")
    assert 'choice="multiple"' in (tasks / "labeling-config.xml").read_text()
    missing = labelwise("audit", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "is not a file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
