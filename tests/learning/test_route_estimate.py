"""The quality of a routed run: the estimate of its output per label (record.json
route.estimate, report.html, the summary line), `labelwise evaluate` setting it beside
gold, and `labelwise plan` of a routed config (rows per tier, the guarantee). Against
the stub, through the command line, on the made-up news pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.learning.route_estimate import estimate_output
from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import mislabeled, noisy, route_args


def test_the_trained_tiers_part_is_estimated_and_the_llms_only_bounded() -> None:
    rates = {"a": {"present": [90, 100], "absent": [5, 200]}}
    alone = {"decisions": {"a": {"trained": [50, 100], "llm": [0, 0]}}, "tiers": {}}
    estimate = estimate_output(rates, alone, alpha=0.05)["labels"]["a"]
    precision, low, high = estimate["precision"]
    assert precision == pytest.approx(0.9) and low < 0.9 < high
    recall, low, high = estimate["recall"]
    assert recall == pytest.approx(45 / (45 + 2.5), abs=1e-3) and low < recall < high
    mixed = {"decisions": {"a": {"trained": [50, 100], "llm": [50, 50]}}, "tiers": {}}
    result = estimate_output(rates, mixed, alpha=0.05)
    precision, low, high = result["labels"]["a"]["precision"]
    assert precision is None  # the LLM tier's part is not estimated: only bounded
    assert low < 0.5 and high > 0.9
    assert "not estimated" in result["llm"]


def test_the_realised_precision_falls_within_the_estimates_interval() -> None:
    """The interval is of the realised figure: draws at the calibration rate mostly land in it."""
    import numpy as np

    rng = np.random.default_rng(0)
    rates = {"a": {"present": [170, 200], "absent": [10, 400]}}  # p = 0.85, misses 0.025
    counted = {"decisions": {"a": {"trained": [300, 700], "llm": [0, 0]}}, "tiers": {}}
    about = estimate_output(rates, counted, alpha=0.05)["labels"]["a"]
    inside = 0
    for _ in range(200):
        true_p, true_q = rng.beta(171, 31), rng.beta(11, 391)  # rates as uncertain as the data
        tp, fn = rng.binomial(300, true_p), rng.binomial(700, true_q)
        precision, recall = tp / 300, tp / (tp + fn)
        inside += (
            about["precision"][1] <= precision <= about["precision"][2]
            and about["recall"][1] <= recall <= about["recall"][2]
        )
    assert inside >= 190


@pytest.mark.slow
def test_a_routed_run_records_reports_and_says_its_estimated_quality(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    rows = noisy([{**row, "id": f"in-{row['id']}"} for row in _pool(60, seed=9)])
    rows.append({"id": "blank", "text": "   ", "labels": ["none"]})
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    args = route_args(pool, "route.tiers=[trained,human]")
    result = run_cli(classify_command(source, out, stub, run, *args))
    assert result.returncode == 0, result.stderr
    written = {r["id"]: r for r in read_jsonl(out)}
    assert written["blank"]["tier"] == "trained"  # an empty text carries a tier too
    assert all("tier" in r for r in written.values())
    # the summary words rows by tier, not by the cascade's paths
    assert "settled by the trained tier" in result.stderr
    assert "left to people" in result.stderr
    assert "labeled by the trained model alone" not in result.stderr
    assert "lowest estimated precision" in result.stderr
    record = json.loads((run / "record.json").read_text())
    estimate = record["route"]["estimate"]
    people = sum(r["tier"] == "human" for r in written.values())
    assert estimate["tiers"]["human"]["rows"] == people
    assert estimate["tiers"]["trained"]["cost"] == 0.0
    assert estimate["llm"] is None  # no LLM tier: every decision is estimated
    for label, about in estimate["labels"].items():
        assert sum(about["decisions"]["trained"]) == len(written) - people - 1, label
        point, low, high = about["precision"]
        if about["decisions"]["trained"][0]:
            assert point is not None and low <= point <= high
    page = (run / "report.html").read_text()
    assert "Route: tiers and estimated quality" in page and "left to people" in page
    # gold is there (the input's labels): evaluate sets the estimate beside it
    scored = labelwise("evaluate", str(run))
    assert scored.returncode == 0, scored.stderr
    assert "Route: estimated" in scored.stdout
    table = scored.stdout.split("Route: estimated", 1)[1]
    for label in estimate["labels"]:
        assert f"| {label}" in table
    assert "Route: tiers and estimated quality" in (run / "report.html").read_text()


@pytest.mark.slow
def test_the_llm_tiers_part_is_said_to_be_not_estimated(stub: StubServer, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(_pool(40, seed=5)))
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    result = run_cli(classify_command(source, out, stub, run, *route_args(pool)))
    assert result.returncode == 0, result.stderr
    assert "asked of the LLM tier" in result.stderr
    assert "not estimated" in result.stderr
    written = read_jsonl(out)
    llm_rows = [r for r in written if r["tier"] == "llm"]
    assert llm_rows and all(isinstance(r["settled"], list) for r in llm_rows)
    estimate = json.loads((run / "record.json").read_text())["route"]["estimate"]
    assert "not estimated" in estimate["llm"]
    touched = [v for v in estimate["labels"].values() if sum(v["decisions"]["llm"])]
    assert touched and all(v["precision"][0] is None for v in touched)
    assert estimate["tiers"]["llm"]["rows"] == len(llm_rows)


@pytest.mark.slow
def test_plan_of_a_routed_config_says_rows_per_tier_and_the_guarantee(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(_pool(40, seed=5)))
    planned = labelwise("plan", f"input={source}", *stub_overrides(stub), *route_args(pool))
    assert planned.returncode == 0, planned.stderr
    assert stub.requests == []
    text = planned.stdout
    assert "tier trained" in text and "of the calibration rows" in text
    assert "tier llm" in text and "asked of the LLM tier" in text
    assert "rows for people" in text
    assert "every label's precision >= 0.8 with 95% confidence" in text
    counts = {
        tier: int(text.split(f"tier {tier}", 1)[1].split()[0].replace(",", ""))
        for tier in ("trained", "llm")
    }
    assert counts["trained"] + counts["llm"] == 40
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    out = tmp_path / "out.jsonl"
    ran = run_cli(classify_command(source, out, stub, tmp_path / "r", *route_args(pool)))
    assert ran.returncode == 0, ran.stderr
    tiers = [r["tier"] for r in read_jsonl(out)]
    assert tiers.count("trained") == counts["trained"]  # the plan counts what the run does
    assert tiers.count("llm") == counts["llm"]


def _pool(count: int, seed: int) -> list[dict[str, object]]:
    from tests.support.news_pool import pool_rows

    return pool_rows(count, seed=seed)
