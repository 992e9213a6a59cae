"""`labelwise tune`: recipes tried on a labeled dev file, the winner chosen on rows the
report never reads, written as an experiment config that runs.

The dev file is the made-up news rows of tests/support/news_pool.py; the "LLM" is the stub
answering like tests/learning/test_distill.py's teacher, wrong on every third row so that the
recipes differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from framework.testing import Reply, StubServer
from tests.support import cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.cli import tune_command
from tests.support.news_pool import pool_rows, topics_of


def sloppy_teacher(request: dict[str, Any]) -> Reply:
    prompt = request["messages"][-1]["content"]
    text = prompt.split("<text>\n", 1)[1].split("\n</text>", 1)[0]
    labels = topics_of(text)
    if sum(map(ord, text)) % 3 == 0:
        labels = ["none"]
    return Reply(content=json.dumps({"labels": labels}))


@pytest.mark.slow
def test_tune_chooses_on_calibration_rows_and_writes_an_experiment_that_runs(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.responder = sloppy_teacher
    dev = write_jsonl(tmp_path / "dev.jsonl", pool_rows(160))
    out = tmp_path / "tune"
    result = run_cli(tune_command(stub, dev, out, "tune.trained=[off,ensemble]"))
    assert result.returncode == 0, result.stderr
    state = json.loads((out / "tune.json").read_text())
    names = {(o["recipe"], o["thresholds"]) for o in state["outcomes"]}
    assert names == {
        ("labels_array.no-examples.trained-off", "default"),  # 0/1 answers: nothing to fit
        ("labels_array.no-examples.trained-ensemble", "default"),
        ("labels_array.no-examples.trained-ensemble", "calibrated"),
    }
    best = max(o["select_macro_f1"] for o in state["outcomes"])
    assert state["winner"]["select_macro_f1"] == best
    # The score part shares no row with the calibration part the choice read.
    score = {r["id"] for r in read_jsonl(out / "splits" / "score.jsonl")}
    calibration = {r["id"] for r in read_jsonl(out / "splits" / "calibrate.jsonl")}
    assert len(score) == len(calibration) == 60 and not score & calibration
    for outcome in state["outcomes"]:
        scored = read_jsonl(Path(outcome["score_run"]) / "results.jsonl")
        assert {r["id"] for r in scored} == score
    assert "(chosen)" in (out / "tune.md").read_text()
    assert (out / "leaderboard.html").is_file() and (out / "leaderboard.md").is_file()
    assert "chosen: " in result.stdout and "+experiment=tuned" in result.stdout

    # The experiment labels a new file as the winning recipe does.
    new = write_jsonl(tmp_path / "new.jsonl", pool_rows(20, seed=11))
    applied = run_cli(
        [
            sys.executable,
            "-m",
            "framework",
            "classify",
            f"hydra.searchpath=[file://{out}]",
            "+experiment=tuned",
            f"input={new}",
            f"output={tmp_path / 'new-out.jsonl'}",
            f"hydra.run.dir={tmp_path / 'applied'}",
        ]
    )
    assert applied.returncode == 0, applied.stderr
    record = json.loads((tmp_path / "applied" / "record.json").read_text())
    winner = state["winner"]
    assert (record["trained"] or {}).get("use", "off") == (
        "ensemble" if "ensemble" in winner["recipe"] else "off"
    )
    if winner["thresholds"] == "calibrated":
        assert record["config"]["thresholds"]["path"].endswith("tuned.thresholds.json")
    assert len(read_jsonl(tmp_path / "new-out.jsonl")) == 20

    # The same command again resumes: every run finished, no call, the same choice.
    stub.requests.clear()
    again = run_cli(tune_command(stub, dev, out, "tune.trained=[off,ensemble]"))
    assert again.returncode == 0, again.stderr
    assert stub.requests == []
    assert json.loads((out / "tune.json").read_text())["winner"] == state["winner"]


@pytest.mark.slow
def test_a_call_budget_stops_starting_recipes(stub: StubServer, tmp_path: Path) -> None:
    stub.responder = sloppy_teacher
    dev = write_jsonl(tmp_path / "dev.jsonl", pool_rows(160))
    out = tmp_path / "tune"
    command = tune_command(stub, dev, out, "tune.trained=[off,alone]", "tune.max_calls=1")
    result = run_cli(command)
    assert result.returncode == 0, result.stderr
    state = json.loads((out / "tune.json").read_text())
    assert [o["recipe"] for o in state["outcomes"]] == ["labels_array.no-examples.trained-off"]
    assert state["skipped"] == [
        "labels_array.no-examples.trained-alone: tune.max_calls (1) reached"
    ]
    assert "not run: labels_array.no-examples.trained-alone" in result.stdout


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("tune.trained=[sometimes]", "tune.trained"),
        ("tune.score_rows=5000", "tune.score_rows"),
        ("tune.k=[]", "tune.k"),
        ("tune.features=[words]", "tune.features"),
        ("tune.colour=red", "tune.colour"),
        # each k is a recipe's examples.k (1..64): checked before any recipe runs
        ("tune.k=[0]", "tune.k: Input should be greater than or equal to 1 (got 0)"),
        ("tune.k=[4,100000]", "tune.k: Input should be less than or equal to 64 (got 100000)"),
        ("tune.out=/dev/null/x", "tune.out: cannot make the folder /dev/null/x"),
    ],
)
def test_a_bad_tune_setting_names_its_key(
    stub: StubServer, tmp_path: Path, override: str, key: str
) -> None:
    dev = write_jsonl(tmp_path / "dev.jsonl", pool_rows(160))
    result = run_cli(tune_command(stub, dev, tmp_path / "tune", override), env=cli_env())
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == [] and not (tmp_path / "tune" / "runs").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("preset_cache")
def test_the_goemotions_best_preset_labels_a_new_file(stub: StubServer, tmp_path: Path) -> None:
    """The recipe tune chose on the shipped dev split, as shipped: the trained model
    (fit on the dev split on first use, some 35 s) fused with the LLM's answer."""
    from framework.digests import file_sha256
    from tests.support import REPO, classify_command

    stub.default = Reply(content=json.dumps({"labels": ["joy"]}))
    texts = [
        "I can't believe they cancelled the show, this is so annoying",
        "Thank you so much, this made my whole day!",
        "I'm terrified of what happens next",
        "It rained today and I stayed home",
    ]
    source = write_jsonl(
        tmp_path / "new.jsonl", [{"id": f"n{n}", "text": t} for n, t in enumerate(texts)]
    )
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    command = classify_command(source, out, stub, run, "+experiment=goemotions_ekman_best")
    result = run_cli([*command, "sample.size=null"])
    assert result.returncode == 0, result.stderr
    record = json.loads((run / "record.json").read_text())
    dev = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
    assert record["trained"]["use"] == "ensemble" and record["trained"]["rows"] == 5426
    assert record["trained"]["pool_sha256"] == file_sha256(dev)
    assert record["config"]["strategy"]["name"] == "labels_array" and record["examples"] is None
    written = read_jsonl(out)
    assert len(written) == len(stub.requests) == len(texts)
    for row in written:
        llm, model = row["sources"]["llm"], row["sources"]["trained"]
        assert llm["joy"] == 1.0 and row["confidence_method"] == "ensemble"
        for label, fused in row["confidence"].items():
            assert fused == pytest.approx(0.6 * model[label] + 0.4 * llm[label], abs=1e-3)
        # Thresholds 0.5 decide; "neutral" is the taxonomy's none label, never beside another.
        emotions = {k for k, p in row["confidence"].items() if p >= 0.5 and k != "neutral"}
        assert set(row["labels"]) == (emotions or {"neutral"})
