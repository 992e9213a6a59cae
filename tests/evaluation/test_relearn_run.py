"""`labelwise learn POOL --run RUN_DIR [--relabel]`: a routed run's model refit on the
pool's new version, its route recertified (thresholds and estimates before -> after on
the same rows), and the rows whose trained-model decision changes relabeled in place,
the LLM's answers from the response cache; a kill -9 and a rerun: every id once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.batch_runs import wait_for
from tests.support.cli import labelwise
from tests.support.news_pool import pool_rows, trained_args

TOPICS = ["space", "science", "technology", "climate"]


def mislabeled(count: int) -> list[dict[str, object]]:
    """The pool with every sixth row's labels wrong: the run's model is unsure of much."""
    rows = pool_rows(count)
    for n, row in enumerate(rows):
        if n % 6 == 1:
            row["labels"] = [TOPICS[n % 4]]
    return rows


def routed_run(
    stub: StubServer, tmp_path: Path, *, clean_first: bool = False
) -> tuple[Path, Path, Path]:
    """A run routed trained -> llm -> people on the mislabeled pool, its pool folder
    holding that pool as its first version, and the corrected pool (to add next); or,
    `clean_first`, the other way round (the new version leaves more rows to the LLM)."""
    first_rows, next_rows = (pool_rows(400), mislabeled(400))
    if not clean_first:
        first_rows, next_rows = next_rows, first_rows
    pool_file = write_jsonl(tmp_path / "pool.jsonl", first_rows)
    rows = pool_rows(60, seed=9)
    for n, row in enumerate(rows):
        row["id"] = f"in-{row['id']}"
        if n % 4 == 0:
            row["text"] = f"quokka marmalade xylophone {n}"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    run = tmp_path / "run"
    args = trained_args(
        pool_file,
        "trained.use=ensemble",
        "route.tiers=[trained,llm,human]",
        "quality.precision=0.8",
    )
    done = run_cli(classify_command(source, tmp_path / "out.jsonl", stub, run, *args))
    assert done.returncode == 0, done.stderr
    pool = tmp_path / "pool"
    first = labelwise("learn", str(pool), "--add", str(pool_file), "--taxonomy", "news")
    assert first.returncode == 0, first.stderr
    return run, pool, write_jsonl(tmp_path / "next.jsonl", next_rows)


@pytest.mark.slow
def test_learn_with_the_run_recertifies_its_route_and_relabels_only_changed_rows(
    stub: StubServer, tmp_path: Path
) -> None:
    run, pool, fixed = routed_run(stub, tmp_path)
    out = tmp_path / "out.jsonl"
    before = {r["id"]: r for r in read_jsonl(out)}
    asked = len(stub.requests)
    learned = labelwise("learn", str(pool), "--add", str(fixed), "--run", str(run))
    assert learned.returncode == 0, learned.stderr
    assert "before (the run's model) and after on the same 400 rows" in learned.stdout
    record = json.loads((run / "record.json").read_text())
    certified = record["route"]["certified"]["trained"]
    space = next(x for x in learned.stdout.splitlines() if x.startswith("space "))
    hi = "none" if certified["space"]["hi"] is None else f"{certified['space']['hi']:.2f}"
    assert f"{hi} -> " in space  # the run's threshold, then the recertified one
    assert "the trained tier settles" in learned.stdout
    assert read_jsonl(out) == list(before.values())  # --run alone changes no row
    assert len(stub.requests) == asked

    relabeled = labelwise("learn", str(pool), "--run", str(run), "--relabel")
    assert relabeled.returncode == 0, relabeled.stderr
    after = read_jsonl(out)
    assert [r["id"] for r in after] == list(before)  # every id once, in its place
    record = json.loads((run / "record.json").read_text())
    entry = record["relabeled"][-1]
    assert 0 < entry["rerun"] < len(before)
    assert f"relabeled {entry['rerun']} of 60 rows" in relabeled.stdout
    moved = [r["id"] for r in after if r != before[r["id"]]]
    assert 0 < len(moved) <= entry["rerun"]
    # only rows the trained tier no longer settles are asked: the others' LLM answers
    # come from the response cache (or need none)
    newly_asked = [
        i for i in moved if before[i]["tier"] == "trained" and after_of(after, i) == "llm"
    ]
    assert len(stub.requests) - asked == len(newly_asked)
    metrics = json.loads((run / "metrics.json").read_text())  # scored on the rows as they are
    assert metrics["rows"] == len(after)
    assert "Gold that may be wrong" in (run / "report.html").read_text()
    again = labelwise("learn", str(pool), "--run", str(run), "--relabel")
    assert again.returncode == 0, again.stderr
    assert "relabeled with version" in again.stdout and "nothing changed" in again.stdout
    assert read_jsonl(out) == after


def after_of(rows: list[dict[str, object]], row_id: str) -> object:
    return next(r["tier"] for r in rows if r["id"] == row_id)


@pytest.mark.slow
def test_a_relabel_killed_mid_way_and_run_again_leaves_every_id_once(
    stub: StubServer, tmp_path: Path
) -> None:
    run, pool, fixed = routed_run(stub, tmp_path, clean_first=True)
    out = tmp_path / "out.jsonl"
    ids = [r["id"] for r in read_jsonl(out)]
    added = labelwise("learn", str(pool), "--add", str(fixed), "--taxonomy", "news")
    assert added.returncode == 0, added.stderr
    asked = len(stub.requests)
    stub.default = Reply(content=json.dumps({"labels": ["space"]}), delay=10)  # held past the kill
    argv = [sys.executable, "-m", "framework", "learn", str(pool), "--run", str(run), "--relabel"]
    process = subprocess.Popen(
        argv, cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: len(stub.requests) > asked, process)  # a row is being asked
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    at_kill = len(stub.requests)
    assert [r["id"] for r in read_jsonl(out)] == ids  # the results untouched by the kill
    plan = json.loads(next((run / "relabel").glob("*/plan.json")).read_text())
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    again = labelwise("learn", str(pool), "--run", str(run), "--relabel")
    assert again.returncode == 0, again.stderr
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ids  # every id once
    entry = json.loads((run / "record.json").read_text())["relabeled"][-1]
    assert entry["rerun"] == len(plan["ids"]) > 0
    # the rows asked when the kill came got no answer: asked once more, the rest once
    by_llm = [r for r in rows if r["id"] in plan["ids"] and r["tier"] == "llm"]
    assert by_llm and len(stub.requests) - at_kill == len(by_llm)


def test_relabel_needs_a_run_and_a_run_folder_needs_its_record(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "rows.jsonl", pool_rows(20))
    alone = labelwise("learn", str(tmp_path / "pool"), "--relabel")
    assert alone.returncode == 2 and "--relabel needs --run RUN_DIR" in alone.stderr
    (tmp_path / "empty").mkdir()
    missing = labelwise("learn", str(tmp_path / "pool"), "--run", str(tmp_path / "empty"))
    assert missing.returncode == 2 and "has no record.json" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "pool").exists()  # nothing written
