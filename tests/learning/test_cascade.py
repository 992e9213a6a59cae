"""trained.use=cascade: the trained model labels the rows it is sure of, the LLM the rest.

The pool is the made-up news rows of tests/support/news_pool.py; the GoEmotions-Ekman figures are
in benchmarks/ensemble.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from framework.config.schema import CascadeSettings
from framework.learning.cascade import cascade_gate
from framework.records import Item
from framework.testing import Reply, StubServer
from tests.support import (
    REPO,
    classify_command,
    cli_env,
    read_jsonl,
    run_cli,
    stub_overrides,
    write_jsonl,
)
from tests.support.cli import labelwise, numbers
from tests.support.news_pool import LABELS, fitted, news_input, pool_rows, trained_args

HALVES = dict.fromkeys(LABELS, 0.5)


@pytest.mark.slow
def test_the_band_sends_the_asked_share_of_the_pool() -> None:
    model = fitted(pool_rows(200))
    for share in (0.1, 0.3, 0.5):
        gate = cascade_gate(model, HALVES, CascadeSettings(llm_share=share))
        assert gate.pool_share == pytest.approx(share, abs=0.01)
        # The pool's own rows, scored as a run scores them, go where the band says.
        sent = sum(
            gate.why_ask(
                Item(str(row["id"]), str(row["text"])),
                model.probabilities(Item(str(row["id"]), str(row["text"]))),
            )
            is not None
            for row in pool_rows(200)
        )
        assert sent == round(gate.pool_share * 200)
    wider = cascade_gate(model, HALVES, CascadeSettings(llm_share=0.5))
    narrower = cascade_gate(model, HALVES, CascadeSettings(llm_share=0.1))
    assert narrower.band < wider.band


@pytest.mark.slow
def test_a_band_set_directly_overrides_the_share() -> None:
    model = fitted(pool_rows(200))
    everything = cascade_gate(model, HALVES, CascadeSettings(band=0.5, llm_share=0.1))
    assert everything.band == 0.5 and everything.pool_share == 1.0
    nothing = cascade_gate(model, HALVES, CascadeSettings(band=0.0))
    assert nothing.pool_share == 0.0
    item = Item("x", "rocket orbit today")
    assert nothing.why_ask(item, model.probabilities(item)) is None


@pytest.mark.slow
def test_the_reason_names_the_labels_or_the_unfamiliar_text() -> None:
    model = fitted(pool_rows(200))
    gate = cascade_gate(model, HALVES, CascadeSettings(band=0.2))
    item = Item("x", "rocket orbit today")
    reason = gate.why_ask(item, {**dict.fromkeys(LABELS, 0.01), "science": 0.55, "space": 0.62})
    assert reason == "unsure of space, science"
    assert gate.why_ask(item, {**dict.fromkeys(LABELS, 0.01), "space": 0.95}) is None
    picky = cascade_gate(model, HALVES, CascadeSettings(band=0.2, min_similarity=0.3))
    sure = {**dict.fromkeys(LABELS, 0.01), "space": 0.95}
    strange = picky.why_ask(Item("y", "quokka marmalade xylophone"), sure)
    assert strange is not None and strange.startswith("unlike the pool (nearest row 0.")
    familiar = pool_rows(200)[3]
    assert picky.why_ask(Item("z", str(familiar["text"])), sure) is None


# -- through the command line, against the stub --------------------------------------------


def cascade_args(pool: Path, *extra: str) -> list[str]:
    return trained_args(pool, "trained.use=cascade", *extra)


@pytest.mark.slow
def test_the_llm_labels_only_the_rows_the_model_is_unsure_of(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    rows = pool_rows(150)
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    # The pool as the input: each row is scored by the model fit without it, as in the
    # band's choice, so the share sent is the pool's share exactly.
    args = classify_command(pool, out, stub, run, *cascade_args(pool, "cascade.llm_share=0.3"))
    result = run_cli(args)
    assert result.returncode == 0, result.stderr
    record = json.loads((run / "record.json").read_text())
    cascade = record["trained"]["cascade"]
    assert cascade["llm_share"] == 0.3 and cascade["pool_share"] == pytest.approx(0.3, abs=0.01)
    sent = round(cascade["pool_share"] * 150)
    assert len(stub.requests) == sent
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(str(r["id"]) for r in rows)
    by_llm = [r for r in written if r["path"] == "llm"]
    by_model = [r for r in written if r["path"] == "trained"]
    assert len(by_llm) == sent and len(by_model) == 150 - sent
    for row in by_llm:
        assert row["confidence_method"] == "ensemble" and row["attempts"] >= 1
        assert set(row["sources"]) == {"llm", "trained"}
        assert row["sent_because"].startswith("unsure of ")
    for row in by_model:
        assert row["confidence_method"] == "trained" and row["attempts"] == 0
        assert set(row["sources"]) == {"trained"} and "sent_because" not in row
    assert record["totals"]["by_path"] == {"llm": sent, "trained": 150 - sent}
    assert f"{150 - sent} labeled by the trained model alone" in result.stderr
    assert f"{sent} sent to the LLM by the cascade" in result.stderr
    # metrics by path: what each part contributes
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["by_path"]["llm"]["rows"] == sent
    assert metrics["by_path"]["trained"]["rows"] == 150 - sent
    low, high = metrics["by_path"]["trained"]["macro_f1_ci"]
    assert low <= metrics["by_path"]["trained"]["macro_f1"] <= high
    assert "## By path" in (run / "report.md").read_text()
    board = labelwise("compare", str(run), "--out", str(tmp_path / "board"))
    assert board.returncode == 0, board.stderr
    assert re.search(rf"\|\s+{sent} \({sent / 150:.0%}\)\s+\|", board.stdout)  # to the LLM
    llm_part, model_part = metrics["by_path"]["llm"], metrics["by_path"]["trained"]
    assert (
        f"llm {llm_part['macro_f1']:.3f} ({sent} rows) · "
        f"trained {model_part['macro_f1']:.3f} ({150 - sent} rows)"
    ) in board.stdout

    # plan says the same before any call; a finished output leaves nothing to send.
    stub.requests.clear()
    fresh = labelwise(
        "plan",
        f"input={pool}",
        *stub_overrides(stub),
        *cascade_args(pool, "cascade.llm_share=0.3"),
    )
    assert fresh.returncode == 0, fresh.stderr
    assert stub.requests == []
    assert numbers(fresh.stdout, "rows")[:2] == [150, 0]  # the cache answers all it sent
    assert f"{150 - sent} labeled by the trained model" in fresh.stdout


@pytest.mark.slow
def test_plan_counts_the_calls_the_cascade_saves(stub: StubServer, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source = news_input(tmp_path)
    base = ["plan", f"input={source}", *stub_overrides(stub)]
    alone = labelwise(*base, "taxonomy=news", "validation=lenient")
    cascade = labelwise(*base, *cascade_args(pool, "cascade.llm_share=0.3"))
    assert alone.returncode == 0 and cascade.returncode == 0, cascade.stderr
    assert stub.requests == []
    every = numbers(alone.stdout, "rows")
    some = numbers(cascade.stdout, "rows")
    trained = some[-1]
    assert every[1] == 30 and 0 < some[1] < 30 and some[1] + trained == 30
    assert numbers(cascade.stdout, "calls")[0] == some[1]


@pytest.mark.slow
def test_a_failed_llm_row_keeps_its_path(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(status=400, error="bad request: this row")
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    args = classify_command(pool, out, stub, run, *cascade_args(pool, "cascade.llm_share=0.1"))
    result = run_cli(args)
    assert result.returncode != 2, result.stderr
    written = read_jsonl(out)
    failed = [r for r in written if r["status"] == "failed"]
    assert failed and all(r["path"] == "llm" and r["sent_because"] for r in failed)
    assert all(r["status"] == "ok" for r in written if r["path"] == "trained")
    assert len(written) == 150


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("cascade.llm_share=0", "cascade.llm_share"),
        ("cascade.llm_share=1.5", "cascade.llm_share"),
        ("cascade.band=2", "cascade.band"),
        ("cascade.min_similarity=1", "cascade.min_similarity"),
    ],
)
@pytest.mark.slow
def test_a_bad_cascade_setting_names_its_key(
    stub: StubServer, tmp_path: Path, override: str, key: str
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source = news_input(tmp_path)
    out = tmp_path / "out.jsonl"
    args = classify_command(source, out, stub, tmp_path / "run", *cascade_args(pool, override))
    result = run_cli(args)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == [] and not out.exists()


@pytest.mark.slow
def test_another_share_refuses_to_resume_the_output(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    source, out = news_input(tmp_path), tmp_path / "out.jsonl"
    first = run_cli(classify_command(source, out, stub, tmp_path / "a", *cascade_args(pool)))
    assert first.returncode == 0, first.stderr
    before = out.read_text()
    args = classify_command(
        source, out, stub, tmp_path / "b", *cascade_args(pool, "cascade.llm_share=0.5")
    )
    second = run_cli(args)
    assert second.returncode == 2 and "made by a different config" in second.stderr
    assert "cascade." in second.stderr and out.read_text() == before


@pytest.mark.slow
def test_a_killed_cascade_resumes_with_every_row_once(tmp_path: Path) -> None:
    rows = pool_rows(150)
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    out = tmp_path / "out.jsonl"
    slow = Reply(content=json.dumps({"labels": ["space"]}), delay=0.25)
    with StubServer(default=slow) as stub:
        args = classify_command(
            pool, out, stub, tmp_path / "run", *cascade_args(pool), "run.concurrency=2"
        )
        first = subprocess.Popen(args, cwd=REPO, env=cli_env(), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 40:
                break
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert 40 <= out.read_bytes().count(b"\n") < 150, "the run should be killed part way"
        second = run_cli(classify_command(pool, out, stub, tmp_path / "run2", *cascade_args(pool)))
        assert second.returncode == 0, second.stderr
        asked = len(stub.requests)
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(str(r["id"]) for r in rows)
    sent = sum(r["path"] == "llm" for r in written)
    assert sent <= asked <= sent + 2  # at most the two calls in flight at the kill, again


@pytest.mark.slow
@pytest.mark.usefixtures("preset_cache")
def test_the_goemotions_cascade_preset_labels_a_new_file(
    stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped preset, its pool the shipped dev split (fit once, some 35 s), on rows
    that are not in the pool; then the same model from Python, as the README shows."""
    stub.default = Reply(content=json.dumps({"labels": ["joy"]}))
    texts = [
        "I can't believe they cancelled the show, this is so annoying",
        "Thank you so much, this made my whole day!",
        "I'm terrified of what happens next",
        "What a gross thing to say",
        "Wow, I did not see that coming at all",
        "It rained today and I stayed home",
    ]
    source = write_jsonl(
        tmp_path / "new.jsonl",
        [{"id": f"n{n}", "text": f"{t} #{n}"} for n, t in enumerate(texts * 5)],
    )
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    args = [
        *classify_command(source, out, stub, run, "+experiment=goemotions_ekman_cascade"),
        "sample.size=null",
    ]
    result = run_cli(args)
    assert result.returncode == 0, result.stderr
    assert "trained model fit on 5426 rows" in result.stderr
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(f"n{n}" for n in range(30))
    record = json.loads((run / "record.json").read_text())
    assert record["trained"]["use"] == "cascade" and record["trained"]["rows"] == 5426
    assert record["trained"]["cascade"]["llm_share"] == 0.3
    sent = record["totals"]["by_path"].get("llm", 0)
    assert len(stub.requests) == sent == sum(r["path"] == "llm" for r in written)

    from framework.config.load import compose, load_run_config
    from framework.engine.classifier import Classifier
    from framework.learning.prepare import ensure_trained_model

    monkeypatch.chdir(REPO)
    overrides = ["+experiment=goemotions_ekman_cascade", *stub_overrides(stub)]
    config = load_run_config(compose(overrides))
    assert ensure_trained_model(config) == Path(record["trained"]["artifact"])  # no new fit
    with Classifier(config) as classifier:
        again = classifier.classify(f"{texts[1]} #1")
    first = next(r for r in written if r["id"] == "n1")
    assert again.labels == tuple(first["labels"]) and again.extra["path"] == first["path"]


@pytest.mark.slow
def test_the_llm_part_of_a_cascade_goes_in_one_batch_job(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    stub.batches.polls_per_step = 0  # a job is done as soon as it is created
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    online_out, batch_out = tmp_path / "online.jsonl", tmp_path / "batch.jsonl"
    args = cascade_args(pool, "run.progress=off")
    online = run_cli(classify_command(pool, online_out, stub, tmp_path / "a", *args))
    assert online.returncode == 0, online.stderr
    sent = len(stub.requests)
    stub.requests.clear()
    batch = run_cli(
        classify_command(
            pool,
            batch_out,
            stub,
            tmp_path / "b",
            *args,
            "run.mode=batch",
            f"cache.path={tmp_path / 'other.sqlite'}",
            "batch.poll_interval=0.01",
        )
    )
    assert batch.returncode == 0, batch.stderr
    assert len(stub.batches.created) == 1 and len(stub.requests) == sent
    by_id = {r["id"]: r for r in read_jsonl(online_out)}
    for row in read_jsonl(batch_out):
        assert (row["labels"], row["path"]) == (
            by_id[row["id"]]["labels"],
            by_id[row["id"]]["path"],
        )
    record = json.loads((tmp_path / "b" / "record.json").read_text())
    assert record["totals"]["by_path"] == {"llm": sent, "trained": 150 - sent}
