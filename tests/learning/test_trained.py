"""trained.use: a classifier fit on labeled rows, beside the LLM (ensemble) or alone.

The pool here is small and made up (news topics with plain cue words), so a fit takes
milliseconds; the shipped GoEmotions-Ekman figures are in benchmarks/ensemble.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.errors import ConfigError
from framework.learning.trained import fuse
from framework.records import Item
from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import LABELS, fitted, news_input, pool_rows, trained_args


def test_a_row_of_the_pool_is_scored_by_the_model_that_never_saw_it() -> None:
    rows = pool_rows(120)
    model = fitted(rows)
    first = rows[0]
    item = Item(str(first["id"]), str(first["text"]))
    fold = model.fold_of_id[item.id]
    by_fold = model.by_fold[fold][0].predict_proba([item.text])[0]
    full = model.full[0].predict_proba([item.text])[0]
    got = model.probabilities(item)
    assert [got[label] for label in LABELS] == pytest.approx(list(by_fold))
    assert list(by_fold) != pytest.approx(list(full))  # the whole pool's model saw the row
    # The same text under another id is its row still; a new text gets the whole pool's model.
    twin = model.probabilities(Item("another-id", "  " + item.text.upper() + " "))
    assert twin == pytest.approx(got)
    new_text = "rocket orbit carbon emissions today"
    fresh = model.probabilities(Item("new", new_text))
    assert [fresh[label] for label in LABELS] == pytest.approx(
        list(model.full[0].predict_proba([new_text])[0])
    )
    assert fresh["space"] > 0.5 and fresh["climate"] > 0.5 and fresh["none"] < 0.5


def test_cross_fitted_scores_on_the_pool_are_honest() -> None:
    """Rows whose gold contradicts their words: the model that saw them leans to their
    gold, the cross-fitted score of the row does not."""
    rows = pool_rows(150)
    contradicted = [r for r in rows if r["labels"] in (["science"], ["technology"])][:4]
    for row in contradicted:
        row["text"] = f"rocket orbit astronaut moon {row['text']}"
        row["labels"] = ["climate"]
    model = fitted(rows)
    for row in contradicted:
        item = Item(str(row["id"]), str(row["text"]))
        seen = model.full[0].predict_proba([item.text])[0][LABELS.index("climate")]
        assert model.probabilities(item)["climate"] < seen - 0.05


def test_a_pool_that_cannot_teach_every_label_is_refused() -> None:
    rows = [r for r in pool_rows(80) if "none" not in r["labels"]]  # type: ignore[operator]
    with pytest.raises(ConfigError, match=r"trained.pool: no row is labeled none"):
        fitted(rows)
    with pytest.raises(ConfigError, match=r"trained.pool: 6 labeled rows are too few"):
        fitted(pool_rows(6))


def test_fuse_weighs_each_label() -> None:
    fused = fuse({"a": 1.0, "b": 0.2}, {"a": 0.0, "b": 1.0}, 0.6)
    assert fused == {"a": 0.6, "b": pytest.approx(0.52)}
    assert fuse({"a": 0.9}, {}, 0.25) == {"a": pytest.approx(0.225)}


# -- through the command line, against the stub --------------------------------------------


def artifacts(cache: Path) -> list[Path]:
    return sorted((cache / "models").glob("trained-*.skops"))


@pytest.mark.slow
def test_alone_labels_every_row_without_a_call(
    stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp_path), tmp_path / "out.jsonl"
    run = tmp_path / "run"
    args = classify_command(source, out, stub, run, *trained_args(pool, "trained.use=alone"))
    result = run_cli(args)
    assert result.returncode == 0, result.stderr
    assert stub.requests == []
    rows = read_jsonl(out)
    assert len(rows) == 30 and all(r["status"] == "ok" for r in rows)
    assert all(r["confidence_method"] == "trained" for r in rows)
    for row in rows:
        chosen = {label for label, p in row["confidence"].items() if p >= 0.5}
        assert set(row["labels"]) == chosen or row["labels"] == ["none"]
    # the cues are plain: the model gets most topics right
    right = sum(set(r["labels"]) == set(r["gold"]) for r in rows)
    assert right >= 20, right
    record = json.loads((run / "record.json").read_text())
    trained = record["trained"]
    assert trained["use"] == "alone" and trained["rows"] == 150 and trained["folds"] == 5
    assert trained["pool_sha256"] == __import__("hashlib").sha256(pool.read_bytes()).hexdigest()
    assert Path(trained["artifact"]).is_file() and len(trained["artifact_sha256"]) == 64
    assert "trained model fit on 150 rows" in result.stderr

    # A second run loads the artifact it left; a changed pool fits a new one.
    again = run_cli(
        classify_command(
            source,
            tmp_path / "b.jsonl",
            stub,
            tmp_path / "r2",
            *trained_args(pool, "trained.use=alone"),
        )
    )
    assert again.returncode == 0, again.stderr
    assert "trained model fit" not in again.stderr
    assert [(r["id"], r["labels"], r["confidence"]) for r in read_jsonl(tmp_path / "b.jsonl")] == [
        (r["id"], r["labels"], r["confidence"]) for r in rows
    ]
    cache = Path(trained["artifact"]).parent.parent
    assert len(artifacts(cache)) == 1
    write_jsonl(pool, pool_rows(150, seed=3))
    changed = run_cli(
        classify_command(
            source,
            tmp_path / "c.jsonl",
            stub,
            tmp_path / "r3",
            *trained_args(pool, "trained.use=alone"),
        )
    )
    assert changed.returncode == 0, changed.stderr
    assert "trained model fit on 150 rows" in changed.stderr and len(artifacts(cache)) == 2


@pytest.mark.slow
def test_ensemble_fuses_each_label_and_keeps_both_sources(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp_path), tmp_path / "out.jsonl"
    args = classify_command(
        source, out, stub, tmp_path / "run", *trained_args(pool, "trained.use=ensemble")
    )
    result = run_cli(args)
    assert result.returncode == 0, result.stderr
    assert len(stub.requests) == 30  # the LLM is asked once per row, as without the model
    rows = read_jsonl(out)
    assert all(r["confidence_method"] == "ensemble" for r in rows)
    for row in rows:
        llm, model = row["sources"]["llm"], row["sources"]["trained"]
        assert llm == {label: float(label == "space") for label in LABELS}
        assert row["confidence"] == pytest.approx(fuse(model, llm, 0.6), abs=2e-4)
        chosen = {label for label, p in row["confidence"].items() if p >= 0.5}
        assert set(row["labels"]) == chosen - {"none"} or row["labels"] == ["none"]
    # The LLM says space for all; the model adds what it is sure of and drops space
    # where it is sure there is none.
    assert any(set(r["labels"]) - {"space"} for r in rows)
    assert any("space" not in r["labels"] for r in rows)
    assert sum(set(r["labels"]) == set(r["gold"]) for r in rows) > sum(
        r["gold"] == ["space"] for r in rows
    )


@pytest.mark.slow
def test_per_label_thresholds_apply_to_the_fused_confidence(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp_path), tmp_path / "out.jsonl"
    # space at 0.45: the LLM's yes (0.4 of the fused) no longer carries it alone
    extra = trained_args(pool, "trained.use=ensemble", "+thresholds.per_label.space=0.45")
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *extra))
    assert result.returncode == 0, result.stderr
    for row in read_jsonl(out):
        assert ("space" in row["labels"]) == (row["confidence"]["space"] >= 0.45)


@pytest.mark.slow
def test_without_a_pool_the_run_stops_naming_the_key(stub: StubServer, tmp_path: Path) -> None:
    source = news_input(tmp_path)
    base = classify_command(source, tmp_path / "o.jsonl", stub, tmp_path / "run", "taxonomy=news")
    missing = run_cli([*base, "trained.use=ensemble"])
    assert missing.returncode == 2 and "trained.pool" in missing.stderr
    assert "Traceback" not in missing.stderr
    absent = run_cli([*base, "trained.use=alone", f"trained.pool={tmp_path / 'nope.jsonl'}"])
    assert absent.returncode == 2 and "trained.pool:" in absent.stderr
    assert "is not a file" in absent.stderr and "Traceback" not in absent.stderr
    unlabeled = write_jsonl(
        tmp_path / "u.jsonl", [{"id": "1", "text": "x"}, {"id": "2", "text": "y"}]
    )
    bare = run_cli([*base, "trained.use=alone", f"trained.pool={unlabeled}"])
    assert bare.returncode == 2 and "has no rows with gold labels" in bare.stderr
    assert stub.requests == [] and not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_turning_the_model_on_refuses_to_resume_an_llm_only_file(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp_path), tmp_path / "out.jsonl"
    first = run_cli(classify_command(source, out, stub, tmp_path / "a", "taxonomy=news"))
    assert first.returncode == 0, first.stderr
    before = out.read_text()
    args = classify_command(
        source, out, stub, tmp_path / "b", *trained_args(pool, "trained.use=ensemble")
    )
    second = run_cli(args)
    assert second.returncode == 2 and "made by a different config" in second.stderr
    assert "trained.use" in second.stderr and out.read_text() == before
