"""labelwise review queue: the rows worth a person's time, picked by a documented mix of
signals (uncertainty, disagreement between sources, failures) and rare-label coverage;
seeded, and each task says why it was picked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.evaluation.review.queue import SIGNALS, Signal, pick_rows, score_row
from framework.results import ResultRow
from framework.testing import Reply, StubServer
from tests.support import classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import LABELS, news_input, pool_rows, trained_args


def row(ident: str, trained: dict[str, float], llm: dict[str, float] | None = None) -> ResultRow:
    sources = {"trained": trained, **({"llm": llm} if llm is not None else {})}
    labels = tuple(label for label, p in trained.items() if p >= 0.5)
    return ResultRow(ident, labels, extra={"sources": sources})


def test_a_row_scores_by_uncertainty_disagreement_and_failure_and_says_why() -> None:
    sure = score_row(row("a", {"x": 0.99, "y": 0.01}, {"x": 1.0, "y": 0.0}))
    unsure = score_row(row("b", {"x": 0.5, "y": 0.02}))
    split = score_row(row("c", {"x": 0.9, "y": 0.1}, {"x": 0.0, "y": 0.0}))
    failed = score_row(ResultRow("d", (), status="failed", error="timeout"))
    assert sure.score < 0.05 and unsure.signals["uncertainty"] == 0.52  # mean of 1 and 0.04
    assert unsure.why.startswith("uncertain: trained 0.52 over its labels (most: x 0.50)")
    assert split.signals["disagreement"] == 0.9
    assert "disagree: x llm 0.00 vs trained 0.90" in split.why
    assert failed.signals["failed"] == 1.0 and failed.why == "failed: timeout"


def test_a_new_signal_is_one_entry_of_the_table() -> None:
    marked = ResultRow("m", ("x",), extra={"uncertified": True})
    plain = ResultRow("p", ("x",))
    table = {
        **SIGNALS,
        "uncertified": Signal(
            2.0, lambda r, s: (1.0, "uncertified") if r.extra.get("uncertified") else (0.0, "")
        ),
    }
    (first,) = pick_rows([plain, marked], ["x"], budget=1, coverage=0.0, signals=table)
    assert first.row.id == "m" and first.why == "uncertified" and first.score == 2.0


def test_every_label_gets_rows_rarest_first_and_the_pick_is_seeded() -> None:
    rows = [row(f"common{n}", {"common": 0.5 + n / 1000, "rare": 0.01}) for n in range(40)]
    rows += [
        row("rare1", {"common": 0.01, "rare": 0.97}),
        row("rare2", {"common": 0.0, "rare": 0.9}),
    ]
    picked = pick_rows(rows, ["common", "rare"], budget=10, seed=1, coverage=0.2)
    ids = [p.row.id for p in picked]
    assert len(ids) == 10 == len(set(ids))
    # one row a label from the coverage share (10 x 0.2 over 2 labels): rare's least sure
    assert ids[0] == "rare2" and picked[0].why.startswith("covers rare label rare (2 rows")
    assert picked[1].why.startswith("covers rare label common (40 rows")
    assert all(i.startswith("common") for i in ids[1:])  # the rest: the most uncertain
    without = pick_rows(rows, ["common", "rare"], budget=10, seed=1, coverage=0.0)
    assert not {"rare1", "rare2"} & {p.row.id for p in without}  # sure rows: never by score
    ties = [row(f"t{n}", {"x": 0.5}) for n in range(30)]
    once = [p.row.id for p in pick_rows(ties, ["x"], budget=5, seed=3)]
    assert once == [p.row.id for p in pick_rows(ties, ["x"], budget=5, seed=3)]
    assert once != [p.row.id for p in pick_rows(ties, ["x"], budget=5, seed=4)]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("queue")
    pool = write_jsonl(tmp / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp), tmp / "out.jsonl"
    with StubServer() as stub:
        stub.default = Reply(content=json.dumps({"labels": ["space"]}))
        args = classify_command(
            source, out, stub, tmp / "run", *trained_args(pool, "trained.use=ensemble")
        )
        result = run_cli(args, cli_env(LABELWISE_CACHE_DIR=str(tmp / "cache")))
    assert result.returncode == 0, result.stderr
    return tmp / "run"


@pytest.mark.slow
def test_review_queue_exports_the_budget_with_why_each_was_picked(
    ensemble_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "q"
    first = labelwise(
        "review", "queue", str(ensemble_run), "--budget", "8", "--seed", "5", "--out", str(out)
    )
    assert first.returncode == 0, first.stderr
    assert "8 tasks (" in first.stdout and "for rare labels" in first.stdout
    tasks = json.loads((out / "tasks.json").read_text())
    assert len(tasks) == 8
    for task in tasks:
        assert task["data"]["why"] and "picked: " in task["data"]["labelwise"]
        assert isinstance(task["data"]["queue_score"], float)
    # the LLM said space for every row: the model disagrees on many, and says why
    assert any("disagree:" in t["data"]["why"] for t in tasks)
    listing = read_jsonl(out / "queue.jsonl")
    assert [r["id"] for r in listing] == [t["data"]["row_id"] for t in tasks]
    again = labelwise(
        "review",
        "queue",
        str(ensemble_run),
        "--budget",
        "8",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "q2"),
    )
    assert again.returncode == 0 and read_jsonl(tmp_path / "q2" / "queue.jsonl") == listing
    bad = labelwise("review", "queue", str(ensemble_run), "--budget", "0")
    assert bad.returncode == 2 and "above 0" in bad.stderr
    assert set(LABELS) >= {
        label for t in tasks for label in t["predictions"][0]["result"][0]["value"]["choices"]
    }


@pytest.mark.slow
def test_agreement_of_the_queued_rows_against_the_run_and_its_odd_tasks(
    ensemble_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "q"
    queued = labelwise("review", "queue", str(ensemble_run), "--budget", "12", "--out", str(out))
    assert queued.returncode == 0, queued.stderr
    tasks = json.loads((out / "tasks.json").read_text())
    for n, task in enumerate(tasks):  # two annotators: the run's labels, and space or not
        said = task["predictions"][0]["result"][0]["value"]["choices"]
        other = sorted(set(said) ^ {"space"}) if n % 3 else said
        task["annotations"] = [
            {"completed_by": 1, "result": [{"from_name": "labels", "value": {"choices": said}}]},
            {
                "completed_by": 2,
                "result": [{"from_name": "labels", "value": {"choices": other or ["none"]}}],
            },
        ]
    stranger = {**tasks[0], "data": {**tasks[0]["data"], "row_id": "not-in-run"}}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([*tasks, stranger]))
    result = labelwise(
        "review", "agreement", str(export), "--run", str(ensemble_run), "--bootstrap", "50"
    )
    assert result.returncode == 0, result.stderr
    for comparison in ("annotators", "annotator vs llm", "llm vs trained"):
        assert f"\n{comparison:<18} space" in result.stdout
    assert "1 skipped: tasks whose ids are not in the run" in result.stderr
    for task in tasks:
        task["data"]["taxonomy_hash"] = "0" * 64
    export.write_text(json.dumps(tasks))
    other = labelwise("review", "agreement", str(export), "--run", str(ensemble_run))
    assert other.returncode == 2 and "made with another taxonomy" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
