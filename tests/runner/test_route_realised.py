"""quality.guarantee=realised through the command line: a [trained, human] route on the
made-up news pool, certified for the realised precision of the rows the trained tier
decides (framework.learning.certify_realised); the output's size from the input file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from framework.testing import StubServer
from tests.support import classify_command, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.cli import labelwise
from tests.support.news_pool import mislabeled, noisy, pool_rows, route_args

pytestmark = pytest.mark.slow


def routed(
    stub: StubServer, tmp_path: Path, name: str, *extra: str
) -> tuple[Counter[str], dict[str, Any]]:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(pool_rows(120, seed=5)))
    out, run = tmp_path / f"{name}.jsonl", tmp_path / name
    args = route_args(pool, "route.tiers=[trained,human]", "quality.precision=0.7", *extra)
    done = run_cli(classify_command(source, out, stub, run, *args))
    assert done.returncode == 0, done.stderr
    tiers = Counter(str(row["tier"]) for row in read_jsonl(out))
    return tiers, json.loads((run / "record.json").read_text())["route"]


def test_realised_settles_rows_by_machine_and_says_what_it_holds_for(
    stub: StubServer, tmp_path: Path
) -> None:
    rate, rate_section = routed(stub, tmp_path, "rate")
    realised, section = routed(stub, tmp_path, "realised", "quality.guarantee=realised")
    assert stub.requests == []  # no llm tier: no call either way
    assert section["quality"]["guarantee"] == "realised"
    assert rate_section["quality"]["guarantee"] == "rate"
    assert realised["trained"] > 0 and realised["human"] > 0
    certified = section["certified"]["trained"]
    assert all(rule["hi"] is None or rule["hi"] >= 0.5 for rule in certified.values())
    # 120 output rows: a few dozen decisions a label, so it asks more than the rate does
    assert realised["trained"] < rate["trained"]


def test_plan_words_the_realised_guarantee(stub: StubServer, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))
    source = write_jsonl(tmp_path / "in.jsonl", noisy(pool_rows(40, seed=5)))
    args = route_args(pool, "route.tiers=[trained,human]", "quality.guarantee=realised")
    planned = labelwise("plan", f"input={source}", *stub_overrides(stub), *args)
    assert planned.returncode == 0, planned.stderr
    assert (
        "every label's realised precision >= 0.8 with 95% confidence on the rows of this "
        "run's output the trained tier decides (quality.guarantee=realised)"
    ) in planned.stdout
    assert stub.requests == []
