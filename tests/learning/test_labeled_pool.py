"""The versioned labeled pool (review import --pool) and `labelwise learn`: corrections
become a new version by content hash, the previous kept, nothing half-written; learn
refits and says per label what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.learning.labeled_pool import LabeledPoolDir
from framework.learning.relearn import relearn
from tests.support import write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import LABELS, pool_rows


def test_a_correction_is_a_new_version_and_the_previous_is_kept(tmp_path: Path) -> None:
    pool = LabeledPoolDir(tmp_path / "pool")
    first = pool.add(pool_rows(20), source="seed")
    assert first is not None and first.previous is None and first.added == 20
    assert pool.add(pool_rows(20), source="again") is None  # nothing new: no version
    second = pool.add(
        [{"id": "p1", "labels": ["climate"]}, {"id": "new", "text": "t", "labels": ["none"]}],
        source="review",
    )
    assert second is not None and (second.added, second.changed, second.rows) == (1, 1, 21)
    assert second.previous == first.version and pool.head().version == second.version
    old = {r["id"]: r for r in pool.rows(first.version)}
    new = {r["id"]: r for r in pool.rows(second.version)}
    assert new["p1"]["labels"] == ["climate"] and new["p1"]["text"] == old["p1"]["text"]
    assert old["p1"]["labels"] != ["climate"]  # the earlier version is as it was
    assert [h["version"] for h in pool.head().history] == [first.version, second.version]


def test_a_failed_add_leaves_the_pool_as_it_was(tmp_path: Path) -> None:
    pool = LabeledPoolDir(tmp_path / "pool")
    pool.add(pool_rows(5), source="seed")
    before = (tmp_path / "pool" / "HEAD.json").read_bytes()
    with pytest.raises(TypeError):
        pool.add([{"id": "x", "text": "t", "labels": ["space"], "source": object()}], source="bad")
    assert (tmp_path / "pool" / "HEAD.json").read_bytes() == before
    assert not list((tmp_path / "pool").rglob("*.tmp"))


class MovedDuringFit(LabeledPoolDir):
    """A pool another import adds to while learn fits (a real second add, on disk)."""

    calls = 0

    def model_file(self, version: str) -> Path:
        MovedDuringFit.calls += 1
        if MovedDuringFit.calls == 1:
            LabeledPoolDir(self.path).add(
                [{"id": "late", "text": "rocket moon", "labels": ["space"]}], source="beside"
            )
        return super().model_file(version)


@pytest.mark.slow
def test_learn_refuses_when_the_pool_moved_under_it(tmp_path: Path) -> None:
    LabeledPoolDir(tmp_path / "pool").add(pool_rows(60), source="seed")
    with pytest.raises(InputError, match=r"changed while learning .* run labelwise learn again"):
        relearn(MovedDuringFit(tmp_path / "pool"), LABELS)
    assert LabeledPoolDir(tmp_path / "pool").head().history[-1]["source"] == "beside"


@pytest.mark.slow
def test_import_into_the_pool_then_learn_prints_what_changed(tmp_path: Path) -> None:
    rows = pool_rows(120)
    for row in rows[:30]:  # a pool whose first rows carry wrong gold
        row["labels"] = ["none"]
    seed = write_jsonl(tmp_path / "seed.jsonl", rows)
    first = labelwise("learn", str(tmp_path / "pool"), "--add", str(seed), "--taxonomy", "news")
    assert first.returncode == 0, first.stderr
    assert "120 rows added" in first.stdout and "the first version" in first.stdout
    truth = pool_rows(120)
    tasks = [
        {
            "id": n,
            "data": {"row_id": row["id"], "text": row["text"]},
            "annotations": [
                {"result": [{"from_name": "labels", "value": {"choices": row["labels"]}}]}
            ],
        }
        for n, row in enumerate(truth[:30])
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    imported = labelwise(
        "review",
        "import",
        str(export),
        "--to",
        str(tmp_path / "gold.jsonl"),
        "--taxonomy",
        "news",
        "--pool",
        str(tmp_path / "pool"),
    )
    assert imported.returncode == 0, imported.stderr
    assert "corrected" in imported.stdout and "labelwise learn" in imported.stdout
    learned = labelwise("learn", str(tmp_path / "pool"), "--taxonomy", "news")
    assert learned.returncode == 0, learned.stderr
    line = next(x for x in learned.stdout.splitlines() if x.startswith("none "))
    before, after = (float(x) for x in line.split()[1:4:2])  # precision of none: before -> after
    assert after > before  # the wrong "none" gold was corrected
    assert "trained.artifact=" in learned.stdout
    empty = labelwise("learn", str(tmp_path / "nothing"))
    assert empty.returncode == 2 and "holds no labeled pool yet" in empty.stderr
