"""route.tiers: rows down certified tiers (trained -> LLM -> people), through the command
line against the stub, on the made-up news pool of tests/support/news_pool.py. The
certification's own guarantee is tested in test_certify.py; the GoEmotions-Ekman
figures are in benchmarks/routing.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import mislabeled, noisy, pool_rows, route_args


@pytest.mark.slow
def test_rows_go_down_the_tiers_and_each_says_which_decided_it(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    rows = noisy(pool_rows(60, seed=9))
    for row in rows:
        row["id"] = f"in-{row['id']}"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    result = run_cli(classify_command(source, out, stub, run, *route_args(pool)))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(str(r["id"]) for r in rows)
    tiers = {r["id"]: r["tier"] for r in written}
    assert set(tiers.values()) <= {"trained", "llm"}
    by_trained = [r for r in written if r["tier"] == "trained"]
    by_llm = [r for r in written if r["tier"] == "llm"]
    assert by_trained and by_llm
    assert len(stub.requests) == len(by_llm)  # no call for the rows the model settles
    assert all(r["attempts"] == 0 for r in by_trained)
    record = json.loads((run / "record.json").read_text())
    route = record["route"]
    assert route["tiers"] == ["trained", "llm", "human"]
    assert route["calibration"]["rows"] == 400
    certified = route["certified"]["trained"]
    assert all(rule["hi"] is None or rule["hi"] >= 0.5 for rule in certified.values())
    expected = route["expected"]["trained"]
    for label, rule in certified.items():  # what the settled labels are worth, with intervals
        if rule["hi"] is not None:
            estimate, low, high = expected[label]["precision"]
            assert 0.8 <= low <= estimate <= high
    assert record["totals"]["by_path"] == {"trained": len(by_trained), "llm": len(by_llm)}
    cost = record["totals"]["cost_by_path"]  # the cost per tier
    assert cost["trained"] == 0.0 and set(cost) == {"trained", "llm"}
    # a seeded spot check of each tier, for a person to confirm the expected quality
    picked = []
    for attempt in ("a", "b"):
        out_dir = tmp_path / f"spot-{attempt}"
        done = labelwise(
            "review", "export", str(run), "--rows", "spot-check", "--out", str(out_dir)
        )
        assert done.returncode == 0, done.stderr
        tasks = json.loads((out_dir / "tasks.json").read_text())
        picked.append(sorted(task["data"]["row_id"] for task in tasks))
    assert picked[0] == picked[1]
    chosen_tiers = [tiers[row_id] for row_id in picked[0]]
    for tier, rows_of_tier in (("trained", by_trained), ("llm", by_llm)):
        assert chosen_tiers.count(tier) == min(20, len(rows_of_tier))


@pytest.mark.slow
def test_without_an_llm_tier_the_unsure_rows_go_to_people_unlabeled(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(pool_rows(40, seed=5)))
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    args = route_args(pool, "route.tiers=[trained,human]")
    result = run_cli(classify_command(source, out, stub, run, *args))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    people = [r for r in written if r["tier"] == "human"]
    assert people and len(people) < len(written)
    assert all(r["labels"] == [] and r["review"] for r in people)
    assert stub.requests == []
    done = labelwise("review", "export", str(run), "--out", str(tmp_path / "queue"))
    assert done.returncode == 0, done.stderr  # people's rows are the review queue
    tasks = json.loads((tmp_path / "queue" / "tasks.json").read_text())
    assert sorted(task["data"]["row_id"] for task in tasks) == sorted(r["id"] for r in people)


@pytest.mark.slow
def test_a_failed_llm_hands_its_rows_to_people_only_when_allowed(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(pool_rows(40, seed=5)))
    stub.default = Reply(status=400, error="the provider refuses")
    waiting = tmp_path / "wait.jsonl"
    result = run_cli(classify_command(source, waiting, stub, tmp_path / "r1", *route_args(pool)))
    assert result.returncode == 0, result.stderr
    failed = [r for r in read_jsonl(waiting) if r["status"] == "failed"]
    assert failed and all(r["tier"] == "llm" for r in failed)
    handed = tmp_path / "next.jsonl"
    args = route_args(pool, "route.on_failure=next")
    result = run_cli(classify_command(source, handed, stub, tmp_path / "r2", *args))
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in read_jsonl(handed)}
    for row in failed:
        assert rows[row["id"]]["tier"] == "human" and rows[row["id"]]["status"] == "ok"
        assert rows[row["id"]]["labels"] == []


@pytest.mark.slow
def test_a_rerun_pays_nothing_twice_and_a_changed_route_refuses_to_resume(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(pool_rows(20, seed=3)))
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    out = tmp_path / "out.jsonl"
    first = run_cli(classify_command(source, out, stub, tmp_path / "r1", *route_args(pool)))
    assert first.returncode == 0, first.stderr
    asked = len(stub.requests)
    assert asked > 0
    again = run_cli(classify_command(source, out, stub, tmp_path / "r2", *route_args(pool)))
    assert again.returncode == 0, again.stderr
    assert len(stub.requests) == asked  # nothing asked twice
    assert sorted(r["id"] for r in read_jsonl(out)) == sorted(f"p{n}" for n in range(20))
    calibration = write_jsonl(tmp_path / "calibration.jsonl", mislabeled(300))
    for change, key in (
        ("quality.precision=0.7", "quality.precision"),
        ("route.tiers=[trained,human]", "route.tiers"),
        (f"quality.calibration={calibration}", "quality.calibration"),
    ):
        args = route_args(pool, change)
        refused = run_cli(classify_command(source, out, stub, tmp_path / "r3", *args))
        assert refused.returncode == 2, refused.stderr
        assert key in refused.stderr
    assert len(stub.requests) == asked


BAD = [
    (["route.tiers=[trained,oracle]"], "route.tiers"),
    (["route.tiers=[trained,human,llm]"], "route.tiers"),
    (["quality.precision=1.5"], "quality.precision"),
    (["quality.precision={anger: 0.8}"], "quality.precision"),
    (["quality.precision=null"], "quality.precision"),
    (["trained.use=cascade"], "trained.use"),
]


@pytest.mark.parametrize(("extra", "key"), BAD)
def test_bad_routes_and_targets_exit_2_naming_the_key_before_any_call(
    stub: StubServer, tmp_path: Path, extra: list[str], key: str
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(40))
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(5, seed=3))
    args = classify_command(
        source, tmp_path / "o.jsonl", stub, tmp_path / "r", *route_args(pool, *extra)
    )
    result = run_cli(args)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == []


@pytest.mark.slow
def test_calibration_rows_that_cannot_support_the_target_are_named(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    few = write_jsonl(tmp_path / "few.jsonl", pool_rows(30, seed=4))
    outside = write_jsonl(
        tmp_path / "outside.jsonl", [{"id": "x", "text": "a", "labels": ["sports"]}]
    )
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(5, seed=3))
    for calibration, words in ((few, "more)"), (outside, "sports")):
        args = route_args(pool, f"quality.calibration={calibration}")
        result = run_cli(
            classify_command(source, tmp_path / "o.jsonl", stub, tmp_path / "r", *args)
        )
        assert result.returncode == 2, result.stderr
        assert "quality." in result.stderr and words in result.stderr
    assert stub.requests == []


def test_the_route_preset_certifies_the_dev_taxonomy_at_08_with_95_confidence() -> None:
    from framework.config.load import compose, load_run_config

    config = load_run_config(compose(["+experiment=goemotions_ekman_route", "input=new.jsonl"]))
    assert config.route.tiers == ["trained", "llm", "human"]
    assert (config.quality.precision, config.quality.alpha) == (0.8, 0.05)
    assert config.taxonomy.name == "goemotions_ekman" and config.input == "new.jsonl"
    assert config.trained.pool == "examples/goemotions_ekman/dev.jsonl"
