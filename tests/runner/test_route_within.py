"""quality.f1_within: the trained tier certified so each label's F1 of the output stays
within a delta of the llm tier's, on the LLM's answers to a sample of labeled rows
asked first (framework.engine.components.route_reference.within_llm). Through the
command line against the stub, on the made-up news pool."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import mislabeled, noisy, pool_rows, route_args, text_of

pytestmark = pytest.mark.slow

SAMPLE = 320


def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, list[str]]]:
    pool_rows_ = noisy(mislabeled(400))
    rows = noisy(pool_rows(60, seed=9))
    for row in rows:
        row["id"], row["text"] = f"in-{row['id']}", f"{row['text']} input"
    table = {str(r["text"]): list(r["labels"]) for r in pool_rows_ + rows}  # type: ignore[call-overload]
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows_)
    return pool, write_jsonl(tmp_path / "in.jsonl", rows), table


def within(pool: Path, *extra: str) -> list[str]:
    return route_args(
        pool,
        "route.tiers=[trained,llm]",
        "quality.precision=null",
        "quality.f1_within=0.2",
        f"quality.llm_rows={SAMPLE}",
        *extra,
    )


def test_the_trained_tier_is_certified_within_the_llms_f1_on_its_sample(
    stub: StubServer, tmp_path: Path
) -> None:
    pool, source, table = setup(tmp_path)
    stub.responder = lambda request: Reply(content=json.dumps({"labels": table[text_of(request)]}))
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    done = run_cli(classify_command(source, out, stub, run, *within(pool)))
    assert done.returncode == 0, done.stderr
    asked = len(stub.requests)
    tiers = Counter(str(row["tier"]) for row in read_jsonl(out))
    assert tiers["trained"] > 0 and tiers["human"] == 0  # rows it settles: no call
    assert asked == SAMPLE + tiers["llm"]
    section = json.loads((run / "record.json").read_text())["route"]
    assert "quality.f1_within" in section["reference"]
    certified = section["certified"]["trained"].values()
    assert any(rule["hi"] is not None for rule in certified)
    assert all(
        rule["lo"] is None or rule["hi"] is None or rule["lo"] <= rule["hi"] for rule in certified
    )
    # another delta is another run: refused, naming the key, no call made
    other = within(pool, "quality.f1_within=0.1")
    refused = run_cli(classify_command(source, out, stub, tmp_path / "r2", *other))
    assert refused.returncode == 2 and "quality.f1_within" in refused.stderr
    assert len(stub.requests) == asked


@pytest.mark.parametrize(
    "extra",
    [
        ["quality.precision=0.8"],  # floors and F1 within: one target
        ["quality.llm_rows=0"],  # no answers to certify on
        ["route.tiers=[trained,zero_shot,llm]", "embeddings=local"],  # one tier before it
        ["quality.f1_within=1.5"],
    ],
)
def test_a_bad_f1_within_exits_2_naming_the_key(
    stub: StubServer, tmp_path: Path, extra: list[str]
) -> None:
    pool, source, _ = setup(tmp_path)
    out = tmp_path / "out.jsonl"
    refused = run_cli(classify_command(source, out, stub, tmp_path / "run", *within(pool, *extra)))
    assert refused.returncode == 2, refused.stderr
    assert "quality.f1_within" in refused.stderr and "Traceback" not in refused.stderr
    assert stub.requests == []
