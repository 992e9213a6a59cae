"""route.llms: a further LLM tier, certified on the sampled rows the llm tier leaves
open and asked the labels it leaves open on input rows. Through the command line against
two stub servers (the run's LLM and the further tier's), on the made-up news pool: the
run's LLM answers wrong, so the llm tier settles little; the further tier answers each
text's gold labels (or, where said, wrong)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from framework.testing import Reply, StubServer
from tests.support import classify_command, cli_env, read_jsonl, run_cli
from tests.support.news_pool import text_of
from tests.support.route_calibration import answering, args, further, in_batch, setup


@pytest.mark.slow
def test_rows_the_llm_tier_leaves_open_are_decided_by_the_further_tier(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 40)
    stub.responder = answering(table, right=False)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    with StubServer(responder=answering(table, right=True)) as strong:
        command = classify_command(source, out, stub, run, *args(pool, *further(strong)))
        done = run_cli(command)
        assert done.returncode == 0, done.stderr
        written = read_jsonl(out)
        tiers = Counter(str(row["tier"]) for row in written)
        assert tiers["strong"] > len(written) // 2  # the wrong llm tier settles little
        assert tiers["human"] == 0  # a further tier right on its sample settles all
        calibration_texts = {str(r["text"]) for r in read_jsonl(pool)}
        phase = [text_of(r) for r in strong.requests if text_of(r) in calibration_texts]
        assert phase and len(phase) == len(set(phase)) <= 320  # the sample's open rows
        assert len(strong.requests) == len(phase) + tiers["strong"]
        for row in written:
            if row["tier"] != "strong":
                continue
            by = row["settled_by"]
            assert set(by.values()) <= {"trained", "llm", "strong"} and "strong" in by.values()
            gold = table[_text(source, str(row["id"]))]
            for label, tier in by.items():
                if tier == "strong":  # its open labels: the further tier's (right) answer
                    assert (label in row["labels"]) == (label in gold)
            assert row["attempts"] == 2  # the llm tier's call and the further tier's
        assert "strong tier" in done.stderr  # the summary counts its rows by name
        record = json.loads((run / "record.json").read_text())
        route = record["route"]
        assert route["further"]["strong"]["certified"] is True
        assert route["further"]["strong"]["phase"]["rows"] == len(phase)
        assert any(rule["hi"] is not None for rule in route["certified"]["strong"].values())
        assert route["reference"].startswith("strong:")
        assert route["estimate"]["tiers"]["strong"]["rows"] == tiers["strong"]
        labels = route["estimate"]["labels"].values()
        assert any(one["decisions"]["strong"] != [0, 0] for one in labels)
        assert all(one["estimated"] for one in labels)  # every tier certified: estimated
        kept = read_jsonl(tmp_path / "out.route" / "strong.jsonl")
        assert len(kept) == len(phase)
        asked = len(stub.requests) + len(strong.requests)
        assert record["totals"]["calls"] == asked  # both tiers' calls in the ledger
        # a rerun pays nothing twice
        again = run_cli(
            classify_command(source, out, stub, tmp_path / "r2", *args(pool, *further(strong)))
        )
        assert again.returncode == 0, again.stderr
        assert len(stub.requests) + len(strong.requests) == asked
        # another further tier is another run: refused, naming its key
        other = further(strong, "model.temperature=0.5")
        refused = run_cli(classify_command(source, out, stub, tmp_path / "r3", *args(pool, *other)))
        assert refused.returncode == 2 and "route.llms.strong" in refused.stderr
        assert len(stub.requests) + len(strong.requests) == asked


@pytest.mark.slow
def test_rows_a_certified_further_tier_cannot_settle_go_to_people(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 30)
    stub.responder = answering(table, right=False)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    with StubServer(responder=answering(table, right=False)) as strong:
        done = run_cli(classify_command(source, out, stub, run, *args(pool, *further(strong))))
        assert done.returncode == 0, done.stderr
        written = read_jsonl(out)
        people = [row for row in written if row["tier"] == "human"]
        assert len(people) > len(written) // 2  # wrong on its sample: it settles little
        for row in people:
            assert row["labels"] == [] and row["review"]
            assert "the strong tier is unsure of" in str(row["sent_because"])
            assert row["attempts"] == 2  # both LLM tiers were asked


def _text(source: Path, row_id: str) -> str:
    return next(str(r["text"]) for r in read_jsonl(source) if r["id"] == row_id)


@pytest.mark.slow
@pytest.mark.parametrize("on_failure", ["wait", "next"])
def test_a_failing_further_tier_fails_the_row_or_hands_it_on_as_allowed(
    stub: StubServer, tmp_path: Path, on_failure: str
) -> None:
    pool, source, table = setup(tmp_path, 20)
    stub.responder = answering(table, right=False)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    # Right on the calibration sample, then an answer that is no answer on input rows (a
    # provider that is down stops the run instead, its rows left for a rerun, whatever
    # the route allows: the transport's health check).
    right = answering(table, right=True)

    def broken_on_input(request: dict[str, Any]) -> Reply:
        if text_of(request).endswith(" input"):
            return Reply(content="not an answer")
        return right(request)

    with StubServer(responder=broken_on_input) as strong:
        extra = args(
            pool, *further(strong), f"route.on_failure={on_failure}", "run.retry.max_attempts=1"
        )
        done = run_cli(classify_command(source, out, stub, run, *extra))
        written = read_jsonl(out)
        reached = [row for row in written if row["tier"] in ("strong", "human")]
        assert reached and strong.requests
        for row in reached:
            assert row["labels"] == []
            if on_failure == "wait":  # failed: a rerun asks the further tier again
                assert row["status"] == "failed" and "the strong tier failed" in row["error"]
            else:  # to people, never labeled by a tier the route did not allow
                assert row["status"] == "ok" and row["tier"] == "human" and row["review"]
                assert "the strong tier failed" in row["sent_because"]
        assert done.returncode == 0, done.stderr
        if on_failure == "wait":  # said, with how to ask them again
            assert f"{len(reached)} rows failed" in done.stderr


def test_a_further_tier_needs_a_certified_llm_tier_and_a_known_name(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, _ = setup(tmp_path, 5)
    out = tmp_path / "out.jsonl"
    cases = {
        "quality.llm_rows": [*args(pool, *further(stub)), "quality.llm_rows=0"],
        "route.tiers": [*args(pool), "route.tiers=[trained,llm,stronger,human]"],
        "route.llms.strong": [*args(pool, *further(stub, "'taxonomy=news'"))],
        # a name that could not name its answers' file
        "route.llms: 'calibration'": [
            *args(pool),
            "route.tiers=[trained,llm,calibration,human]",
            "+route.llms.calibration={model.temperature:0}",
        ],
        # its own provider's key missing (conftest unsets them): said with the tier's key
        "route.llms.strong: no API key": [
            *args(pool),
            "route.tiers=[trained,llm,strong,human]",
            "+route.llms.strong={provider:openai,model:gpt-4o-mini}",
        ],
    }
    for key, extra in cases.items():
        refused = run_cli(classify_command(source, out, stub, tmp_path / key, *extra))
        assert refused.returncode == 2, (key, refused.stderr)
        assert key in refused.stderr and "Traceback" not in refused.stderr
    assert not stub.requests and not out.exists()


def test_plan_says_what_a_further_tier_may_cost_and_sends_nothing(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, _ = setup(tmp_path, 10)
    with StubServer() as strong:
        command = [
            *classify_command(source, tmp_path / "out.jsonl", stub, tmp_path / "run"),
            *args(pool, *further(strong)),
        ]
        command[command.index("classify")] = "plan"
        planned = run_cli([part for part in command if not part.startswith("hydra.")])
        assert planned.returncode == 0, planned.stderr
        assert "strong tier" in planned.stdout and "tier strong" in planned.stdout
        assert "the strong tier likewise" in planned.stdout
        assert not stub.requests and not strong.requests


@pytest.mark.slow
def test_a_tier_cap_stops_new_rows_once_that_tier_reaches_it(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 30)
    stub.responder = answering(table, right=False)
    out = tmp_path / "out.jsonl"
    with StubServer(responder=answering(table, right=True)) as strong:
        capped = args(pool, *further(strong), "run.concurrency=1")
        stopped = run_cli(
            classify_command(
                source, out, stub, tmp_path / "r1", *capped, "+budget.tiers.strong.max_tokens=1"
            )
        )
        # reached in the calibration phase: it stops there, no input row is asked
        assert stopped.returncode == 1, stopped.stderr
        assert "budget.tiers.strong.max_tokens (1) reached" in stopped.stderr
        assert len(strong.requests) == 1 and (not out.exists() or not read_jsonl(out))
        # the llm tier's own cap, reached on input rows (its phase's answers from the cache)
        other = tmp_path / "o2.jsonl"
        llm_cap = "+budget.tiers.llm.max_tokens=100"
        phase = run_cli(classify_command(source, other, stub, tmp_path / "r2", *capped, llm_cap))
        assert "budget.tiers.llm.max_tokens (100) reached" in phase.stderr, phase.stderr
        assert 0 < len(read_jsonl(other)) < 30
        # a cap for a tier that makes no call, or not in the route: exit 2 naming it
        for bad in ("+budget.tiers.trained.max_cost=1", "+budget.tiers.other.max_cost=1"):
            refused = run_cli(classify_command(source, out, stub, tmp_path / "r3", *capped, bad))
            assert refused.returncode == 2 and "budget.tiers." in refused.stderr, bad
        # the rerun with the cap raised goes on: every id once, no answer paid twice
        done = run_cli(classify_command(source, out, stub, tmp_path / "r4", *capped))
        assert done.returncode == 0, done.stderr
        ids = [row["id"] for row in read_jsonl(out)]
        assert len(ids) == len(set(ids)) == 30
        asked = [text_of(request) for request in strong.requests]
        assert len(asked) == len(set(asked))


@pytest.mark.slow
def test_a_further_tier_failing_in_the_phase_fails_it_before_any_input_row(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 10)
    stub.responder = answering(table, right=False)
    out = tmp_path / "out.jsonl"
    with StubServer(responder=lambda _request: Reply(content="not an answer")) as strong:
        extra = args(pool, *further(strong), "run.retry.max_attempts=1")
        failed = run_cli(classify_command(source, out, stub, tmp_path / "run", *extra))
        assert failed.returncode == 1, failed.stderr
        assert "calibration calls of the strong tier failed" in failed.stderr
        assert not out.exists() or not read_jsonl(out)  # no input row was asked
        # the llm tier's answers are kept: the rerun asks none of them again
        kept = read_jsonl(tmp_path / "out.route" / "calibration.jsonl")
        assert len(kept) == 320


@pytest.mark.slow
def test_worker_processes_route_every_row_as_the_run_s_own_process_does(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path, 40)
    stub.responder = answering(table, right=False)
    with StubServer(responder=answering(table, right=True)) as strong:
        found = {}
        for workers in (1, 2):
            out = tmp_path / f"w{workers}.jsonl"
            extra = args(pool, *further(strong), f"run.workers={workers}")
            done = run_cli(classify_command(source, out, stub, tmp_path / f"r{workers}", *extra))
            assert done.returncode == 0, done.stderr
            found[workers] = {row["id"]: (row["tier"], row["labels"]) for row in read_jsonl(out)}
        # each worker's route certified on the same answers (carried from the run's
        # process): the same tier and labels for every row
        record = json.loads((tmp_path / "r2" / "record.json").read_text())
        assert record["executor"] == {"name": "local", "workers": 2}
        assert found[2] == found[1] and len(found[1]) == 40
        assert {tier for tier, _ in found[2].values()} >= {"strong"}


@pytest.mark.slow
def test_in_a_batch_run_the_further_tier_is_asked_online(tmp_path: Path) -> None:
    pool, source, table = setup(tmp_path, 30)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    env = {**cli_env(), "OPENAI_API_KEY": "sk-test"}
    with (
        StubServer(responder=answering(table, right=False)) as stub,
        StubServer(responder=answering(table, right=True)) as strong,
    ):
        stub.batches.polls_per_step = 0
        command = classify_command(source, out, stub, run, *args(pool, *further(strong)))
        done = run_cli(in_batch(command), env=env)
        assert done.returncode == 0, done.stderr
        tiers = Counter(str(row["tier"]) for row in read_jsonl(out))
        assert tiers["strong"] > 0 and sum(tiers.values()) == 30
        assert len(stub.batches.created) == 1  # the run's LLM: the rows in a job
        assert not strong.batches.created  # the further tier: online
        assert len(strong.headers) == len(strong.requests) > tiers["strong"]  # phase + rows
