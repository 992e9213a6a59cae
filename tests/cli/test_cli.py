"""The command line, run as a user runs it: a real subprocess against the stub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework.testing import Reply, StubServer
from tests.support import REPO, read_jsonl, stub_overrides, write_jsonl
from tests.support.cli import NEWS, labelwise


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


@pytest.mark.slow
def test_classify_writes_one_row_per_input_id(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space", "not-a-label", "space")
    out = tmp_path / "results.jsonl"
    result = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        "validation=lenient",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    inputs = read_jsonl(NEWS)
    assert sorted(r["id"] for r in rows) == sorted(i["id"] for i in inputs)
    assert all(r["labels"] == ["space"] and r["status"] == "ok" for r in rows)
    assert all(
        r["gold"] == i["labels"]
        for r, i in zip(sorted(rows, key=lambda r: r["id"]), inputs, strict=True)
    )
    assert "20 rows" in result.stderr and "20 ok, 0 failed" in result.stderr
    assert (tmp_path / "run" / "labelwise.log").exists()


@pytest.mark.slow
def test_default_output_goes_to_the_run_folder(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("science")
    run = tmp_path / "run"
    result = labelwise("classify", f"input={NEWS}", *stub_overrides(stub), f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    assert len(read_jsonl(run / "results.jsonl")) == 20


@pytest.mark.slow
def test_strict_policy_reasks_then_records_the_failure(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space", "not-a-label", "space")
    out = tmp_path / "results.jsonl"
    result = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        "validation=strict",
        "validation.max_retries=1",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    assert all(r["status"] == "failed" and r["attempts"] == 2 for r in rows)
    assert all("'not-a-label' is not one of the labels" in r["error"] for r in rows)
    assert len(stub.requests) == 40


@pytest.mark.slow
def test_bad_rows_are_recorded_as_failed_and_the_run_goes_on(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = answer("climate")
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"id": "a", "text": "heatwave"}\n'
        b'{"id": "b", "text": "caf\xe9 latte"}\n'
        b"not json\n"
        b'{"id": "c"}\n'
        b'{"id": "a", "text": "repeated id"}\n'
        b'{"id": "d", "text": ""}\n'
        b'{"text": "no id"}\n'
    )
    out = tmp_path / "out.jsonl"
    result = labelwise(
        "classify",
        f"input={source}",
        f"output={out}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert set(rows) == {"a", "b", "line:3", "c", "d", "line:7"}
    assert rows["a"]["labels"] == ["climate"]
    assert rows["b"]["status"] == "failed"
    assert "line 2 is not valid UTF-8 (byte 0xe9 at column 25)" in rows["b"]["error"]
    assert "line 3 is not JSON" in rows["line:3"]["error"]
    assert "line 4 has no text field" in rows["c"]["error"]
    assert rows["d"]["labels"] == ["none"] and rows["d"]["attempts"] == 0
    assert rows["line:7"]["status"] == "ok"
    assert "line 5: id 'a' repeats; skipped" in result.stderr
    assert "line 2 is not valid UTF-8" in result.stderr


@pytest.mark.slow
def test_rerun_resumes_without_duplicates(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("technology")
    out = tmp_path / "out.jsonl"
    from framework.config.load import compose, load_run_config
    from framework.labels.taxonomy import short_hash

    news = load_run_config(compose([])).taxonomy
    stamp = {"taxonomy": "news@1.0.0", "taxonomy_hash": short_hash(news)}
    done = [{"id": "n01", "labels": ["space"], "status": "ok", "attempts": 1, **stamp}]
    out.write_text(json.dumps(done[0]) + "\n" + '{"id": "n02", "lab', encoding="utf-8")  # torn line
    result = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 20
    assert rows[0] == done[0]
    assert len(stub.requests) == 19
    assert "1 already done" in result.stderr


@pytest.mark.slow
def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    result = labelwise(
        "classify",
        "input=nope.jsonl",
        "provider=openai_compatible",
        "provider.api_base=http://127.0.0.1:9/v1",
        "model.name=m",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 2
    assert "labelwise: error: input file nope.jsonl does not exist" in result.stderr


@pytest.mark.slow
def test_output_that_is_not_a_results_file_is_refused(stub: StubServer, tmp_path: Path) -> None:
    out = write_jsonl(tmp_path / "mine.jsonl", [{"something": "else"}])
    result = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 2
    assert "is not a labelwise results file" in result.stderr
    assert read_jsonl(out) == [{"something": "else"}]


@pytest.mark.slow
def test_unauthorised_key_stops_with_exit_2(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(status=401, error="invalid api key")
    result = labelwise(
        "classify", f"input={NEWS}", *stub_overrides(stub), f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2
    assert "refused the credentials" in result.stderr and "Traceback" not in result.stderr


def test_hydra_flags_keep_working(tmp_path: Path) -> None:
    shown = labelwise("classify", "--cfg", "job", "taxonomy=support_tickets")
    assert shown.returncode == 0
    assert "name: support_tickets" in shown.stdout
    helped = labelwise("classify", "--help")
    assert helped.returncode == 0 and "provider" in helped.stdout


@pytest.mark.slow
def test_multirun_gives_each_run_its_own_folder(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("none")
    sweep = tmp_path / "sweep"
    result = labelwise(
        "classify",
        "-m",
        f"input={NEWS}",
        "validation=strict,lenient",
        *stub_overrides(stub),
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr
    for job in ("0", "1"):
        assert len(read_jsonl(sweep / job / "results.jsonl")) == 20


def test_console_script_and_module_are_the_same_program() -> None:
    script = Path(sys.executable).parent / "labelwise"
    if not script.exists():
        pytest.skip("the labelwise console script is not installed in this environment")
    by_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert by_script.returncode == 0
    assert by_script.stdout == labelwise("--help").stdout


def test_unknown_command_suggests_the_right_one() -> None:
    result = labelwise("clasify")
    assert result.returncode == 2
    assert "unknown command 'clasify' (did you mean classify?)" in result.stderr


@pytest.mark.slow
def test_results_of_another_taxonomy_version_are_never_mixed(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = answer("technology")
    out = tmp_path / "out.jsonl"
    first = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path / 'a'}",
    )
    assert first.returncode == 0, first.stderr
    rows = read_jsonl(out)
    assert {r["taxonomy"] for r in rows} == {"news@1.0.0"} and len(
        {r["taxonomy_hash"] for r in rows}
    ) == 1
    changed = labelwise(
        "classify",
        f"input={NEWS}",
        f"output={out}",
        *stub_overrides(stub),
        "taxonomy.labels.science.description=Only peer-reviewed research.",
        f"hydra.run.dir={tmp_path / 'b'}",
    )
    assert changed.returncode == 2
    assert "holds rows labeled with news@1.0.0" in changed.stderr
    assert read_jsonl(out) == rows


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_the_run_resumes(stub: StubServer, tmp_path: Path) -> None:
    import signal
    import time

    stub.default = Reply(content='{"labels": ["space"]}', delay=0.3)
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={NEWS}",
        f"output={out}",
        "run.concurrency=1",
        *stub_overrides(stub),
        f"hydra.run.dir={tmp_path}",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 3):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; run the same command again to resume" in stderr
    done = len(read_jsonl(out))
    assert 3 <= done < 20
    stub.default = Reply(content='{"labels": ["space"]}')
    again = labelwise(*command[3:])
    assert again.returncode == 0, again.stderr
    assert len(read_jsonl(out)) == 20
