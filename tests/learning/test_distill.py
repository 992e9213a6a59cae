"""trained.distill: no gold; the LLM labels a sample, a model fit on its answers the rest.

The "LLM" is the stub answering like a teacher that knows the made-up news topics of
tests/support/news_pool.py by their cue words, so what the model learns can be checked
against what the teacher would have said. GoEmotions-Ekman figures with the local
model are in benchmarks/distill.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from framework.config.load import compose, load_run_config
from framework.digests import file_sha256
from framework.engine.classifier import Classifier
from framework.errors import ConfigError
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
from tests.support.news_pool import pool_rows, topics_of

SAMPLE = 60


def teacher(delay: float = 0.0) -> Any:
    """Answers each request with the topics its text's cue words name."""

    def respond(request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        labels = topics_of(prompt.split("<text>\n", 1)[1].split("\n</text>", 1)[0])
        return Reply(content=json.dumps({"labels": labels}), delay=delay)

    return respond


def unlabeled_input(tmp_path: Path, count: int = 200) -> tuple[Path, dict[str, str]]:
    rows = [{"id": r["id"], "text": r["text"]} for r in pool_rows(count, seed=3)]
    return write_jsonl(tmp_path / "items.jsonl", rows), {str(r["id"]): str(r["text"]) for r in rows}


def distill_args(*extra: str) -> list[str]:
    return [
        "taxonomy=news",
        "validation=lenient",
        "trained.use=cascade",
        f"trained.distill.sample={SAMPLE}",
        "run.progress=off",
        *extra,
    ]


@pytest.mark.slow
def test_the_llm_labels_the_sample_and_the_model_learns_from_its_answers(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = teacher()
    source, texts = unlabeled_input(tmp_path)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    result = run_cli(classify_command(source, out, stub, run, *distill_args()))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(texts)  # every id once
    sample = [r for r in written if r.get("sent_because") == "distillation sample"]
    by_llm = [r for r in written if r["path"] == "llm" and r not in sample]
    by_model = [r for r in written if r["path"] == "trained"]
    assert len(sample) == SAMPLE and len(sample) + len(by_llm) + len(by_model) == 200
    assert len(stub.requests) == SAMPLE + len(by_llm)  # one call a row sent, none for the rest
    assert 0 < len(by_llm) < 140 and len(by_model) > 70
    for row in by_llm:  # the teacher's answer stands on the rows it was asked
        assert sorted(row["labels"]) == topics_of(texts[row["id"]])
        assert set(row["sources"]) == {"llm", "trained"}
    agree = sum(sorted(r["labels"]) == topics_of(texts[r["id"]]) for r in by_model)
    assert agree >= 0.8 * len(by_model), f"{agree} of {len(by_model)} as the teacher says"
    assert f"the LLM labeled a sample of {SAMPLE} rows" in result.stderr

    record = json.loads((run / "record.json").read_text())
    assert record["totals"]["by_path"] == {"llm": SAMPLE + len(by_llm), "trained": len(by_model)}
    distill = record["trained"]["distill"]
    assert distill["sample"] == SAMPLE and distill["sampled"] == SAMPLE
    [fit] = distill["fits"]
    assert fit["rows"] == SAMPLE and fit["after_rows"] == 0
    pool = Path(fit["pool"])
    assert file_sha256(pool) == fit["pool_sha256"]
    assert file_sha256(Path(fit["artifact"])) == fit["artifact_sha256"]
    assert {r["id"]: r["labels"] for r in read_jsonl(pool)} == {
        r["id"]: r["labels"] for r in sample
    }
    assert 0 < fit["cascade"]["band"] < 1

    # The same command again: nothing left to do, no call, the same model.
    stub.requests.clear()
    again = run_cli(classify_command(source, out, stub, tmp_path / "run2", *distill_args()))
    assert again.returncode == 0, again.stderr
    assert stub.requests == [] and read_jsonl(out) == written
    rerun = json.loads((tmp_path / "run2" / "record.json").read_text())
    assert rerun["trained"]["distill"]["fits"][0]["artifact_sha256"] == fit["artifact_sha256"]


@pytest.mark.slow
def test_refit_every_teaches_the_model_the_rows_the_llm_was_asked(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = teacher()
    source, _ = unlabeled_input(tmp_path)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    args = distill_args("trained.distill.refit_every=50", "cascade.llm_share=0.4")
    result = run_cli(classify_command(source, out, stub, run, *args))
    assert result.returncode == 0, result.stderr
    written = read_jsonl(out)
    assert len(written) == 200 and len({r["id"] for r in written}) == 200
    fits = json.loads((run / "record.json").read_text())["trained"]["distill"]["fits"]
    assert len(fits) >= 2
    assert [f["after_rows"] for f in fits] == sorted({f["after_rows"] for f in fits})
    assert {f["after_rows"] for f in fits} <= {0, 50, 100}
    # Each fit learns from the sample and the LLM's answers in the rounds before it.
    order = [r["id"] for r in read_jsonl(source)]
    in_sample = {r["id"] for r in written if r.get("sent_because") == "distillation sample"}
    rest = [i for i in order if i not in in_sample]
    asked = {r["id"] for r in written if r["path"] == "llm"} - in_sample
    for fit in fits:
        before = [i for i in rest[: fit["after_rows"]] if i in asked]
        assert fit["rows"] == SAMPLE + len(before)
        assert [r["id"] for r in read_jsonl(Path(fit["pool"]))][SAMPLE:] == before


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [25, 110], ids=["in-the-sample", "past-the-sample"])
def test_a_killed_distillation_resumes_with_every_row_once(tmp_path: Path, kill_after: int) -> None:
    source, texts = unlabeled_input(tmp_path)
    out = tmp_path / "out.jsonl"
    args = distill_args("run.concurrency=2", "trained.distill.refit_every=70")
    with StubServer(responder=teacher(delay=0.05)) as stub:
        first = subprocess.Popen(
            classify_command(source, out, stub, tmp_path / "run", *args),
            cwd=REPO,
            env=cli_env(),
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= kill_after:
                break
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        lines = out.read_bytes().count(b"\n")
        assert kill_after <= lines < 200, "the run should be killed part way"
        second = run_cli(classify_command(source, out, stub, tmp_path / "run2", *args))
        assert second.returncode == 0, second.stderr
    written = read_jsonl(out)
    assert sorted(r["id"] for r in written) == sorted(texts)
    # The resumed run fit its models on the same answers as a run never killed.
    with StubServer(responder=teacher()) as stub:
        whole = tmp_path / "whole.jsonl"
        env = cli_env(LABELWISE_CACHE_DIR=str(tmp_path / "fresh-cache"))
        fresh = run_cli(classify_command(source, whole, stub, tmp_path / "run3", *args), env=env)
        assert fresh.returncode == 0, fresh.stderr
    resumed = json.loads((tmp_path / "run2" / "record.json").read_text())
    unbroken = json.loads((tmp_path / "run3" / "record.json").read_text())
    hashes = [f["pool_sha256"] for f in resumed["trained"]["distill"]["fits"]]
    assert hashes == [f["pool_sha256"] for f in unbroken["trained"]["distill"]["fits"]]
    by_id = {r["id"]: (r["labels"], r["path"]) for r in read_jsonl(whole)}
    assert {r["id"]: (r["labels"], r["path"]) for r in written} == by_id


@pytest.mark.slow
def test_distilled_alone_asks_the_llm_about_the_sample_only(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = teacher()
    source, _ = unlabeled_input(tmp_path)
    out = tmp_path / "out.jsonl"
    args = [a for a in distill_args() if a != "trained.use=cascade"] + ["trained.use=alone"]
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *args))
    assert result.returncode == 0, result.stderr
    assert len(stub.requests) == SAMPLE
    written = read_jsonl(out)
    paths = [r["path"] for r in written]
    assert paths.count("llm") == SAMPLE and paths.count("trained") == 200 - SAMPLE


@pytest.mark.slow
def test_the_distilled_cascade_in_batch_mode_labels_as_online(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = teacher()
    stub.batches.polls_per_step = 0
    source, _ = unlabeled_input(tmp_path)
    online_out, batch_out = tmp_path / "online.jsonl", tmp_path / "batch.jsonl"
    online = run_cli(classify_command(source, online_out, stub, tmp_path / "a", *distill_args()))
    assert online.returncode == 0, online.stderr
    sent = len(stub.requests)
    stub.requests.clear()
    batch = run_cli(
        classify_command(
            source,
            batch_out,
            stub,
            tmp_path / "b",
            *distill_args("run.mode=batch", "batch.poll_interval=0.01"),
            f"cache.path={tmp_path / 'other.sqlite'}",
        )
    )
    assert batch.returncode == 0, batch.stderr
    # One job for the sample, one for the rows the cascade sends; each request once.
    assert len(stub.batches.created) == 2 and len(stub.requests) == sent
    by_id = {r["id"]: (r["labels"], r["path"]) for r in read_jsonl(online_out)}
    assert {r["id"]: (r["labels"], r["path"]) for r in read_jsonl(batch_out)} == by_id


@pytest.mark.slow
def test_plan_counts_the_sample_and_the_share_of_the_rest(stub: StubServer, tmp_path: Path) -> None:
    source, _ = unlabeled_input(tmp_path)
    result = labelwise(
        "plan", f"input={source}", *stub_overrides(stub), *distill_args("cascade.llm_share=0.25")
    )
    assert result.returncode == 0, result.stderr
    assert stub.requests == []
    assert numbers(result.stdout, "rows")[:2] == [200, SAMPLE + 35]  # 60 + 25% of 140
    assert "labeled by the trained model" in result.stdout
    assert f"the LLM labels a sample of {SAMPLE} rows, then about 25% of the other 140" in (
        result.stdout
    )


@pytest.mark.slow
def test_a_sample_the_llm_cannot_answer_stops_with_its_rows_kept(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content="this is not JSON")
    source, _ = unlabeled_input(tmp_path)
    out = tmp_path / "out.jsonl"
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *distill_args()))
    assert result.returncode == 2
    assert "trained.distill.sample: the LLM answered 0 rows of the sample" in result.stderr
    assert "Traceback" not in result.stderr
    written = read_jsonl(out)
    assert len(written) == SAMPLE and all(r["status"] == "failed" for r in written)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        (["trained.use=ensemble"], "trained.use"),
        (["trained.use=off"], "trained.use"),
        (["trained.pool=pool.jsonl"], "trained.pool"),
        (["trained.artifact=model.joblib"], "trained.artifact"),
        (["trained.use=alone", "trained.distill.refit_every=10"], "trained.distill.refit_every"),
        (["trained.distill.sample=5"], "trained.distill.sample"),
        (["run.executor=ray"], "run.executor"),
    ],
)
@pytest.mark.slow
def test_a_distillation_it_cannot_run_names_the_key(
    stub: StubServer, tmp_path: Path, override: list[str], key: str
) -> None:
    source, _ = unlabeled_input(tmp_path, 30)
    out = tmp_path / "out.jsonl"
    result = run_cli(
        classify_command(source, out, stub, tmp_path / "run", *distill_args(*override))
    )
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == [] and not out.exists()


@pytest.mark.slow
def test_another_sample_refuses_to_resume_the_output(stub: StubServer, tmp_path: Path) -> None:
    stub.responder = teacher()
    source, _ = unlabeled_input(tmp_path, 100)
    out = tmp_path / "out.jsonl"
    first = run_cli(classify_command(source, out, stub, tmp_path / "a", *distill_args()))
    assert first.returncode == 0, first.stderr
    before = out.read_text()
    args = distill_args("trained.distill.sample=70")
    second = run_cli(classify_command(source, out, stub, tmp_path / "b", *args))
    assert second.returncode == 2 and "trained.distill.sample" in second.stderr
    assert out.read_text() == before


def test_single_texts_cannot_be_distilled(stub: StubServer) -> None:
    config = load_run_config(compose([*stub_overrides(stub), *distill_args()]))
    with Classifier(config) as classifier, pytest.raises(ConfigError, match=r"trained\.distill"):
        classifier.classify("rocket orbit today")
