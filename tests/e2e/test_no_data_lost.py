"""Nothing overwritten, doubled or mixed: the output never clobbers the input, two runs
never write one file, one bad row never blocks a file, a resume never mixes configs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.testing import Reply, StubServer
from tests.support import REPO, cli_env, read_jsonl, stub_overrides, write_jsonl
from tests.support.cli import labelwise


def answer(*labels: str, delay: float = 0.0) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}), delay=delay)


def rows(n: int) -> list[dict[str, str]]:
    return [{"id": f"r{k}", "text": f"story number {k}"} for k in range(n)]


# -- 1. the output is never the input ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(
    stub: StubServer, tmp_path: Path, suffix: str
) -> None:
    source = tmp_path / f"same{suffix}"
    if suffix == ".jsonl":
        write_jsonl(source, rows(3))
    elif suffix == ".csv":
        with source.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "text"])
            writer.writeheader()
            writer.writerows(rows(3))
    else:
        pq.write_table(pa.Table.from_pylist(rows(3)), source)
    before = source.read_bytes()
    link = tmp_path / f"link{suffix}"
    link.symlink_to(source)
    for output in (source, link, tmp_path / "." / f"same{suffix}"):
        result = labelwise(
            "classify",
            f"input={source}",
            f"output={output}",
            *stub_overrides(stub),
            f"hydra.run.dir={tmp_path / 'run'}",
        )
        assert result.returncode == 2, result.stderr
        assert "is the input file" in result.stderr and "Traceback" not in result.stderr
        assert source.read_bytes() == before
    assert stub.requests == []


# -- 2. two runs never write one output ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(
    tmp_path: Path, suffix: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", rows(60))
    output = tmp_path / f"out{suffix}"
    with StubServer(default=answer("science", delay=0.3)) as stub:
        common = [f"input={source}", f"output={output}", "run.concurrency=2", *stub_overrides(stub)]
        first = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "framework",
                "classify",
                *common,
                f"hydra.run.dir={tmp_path / 'one'}",
            ],
            cwd=REPO,
            env=cli_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        journal = output if suffix == ".jsonl" else Path(f"{output}.jsonl")
        deadline = time.monotonic() + 60
        while not (journal.exists() and journal.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = labelwise("classify", *common, f"hydra.run.dir={tmp_path / 'two'}")
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 2
    assert str(journal) in second.stderr and f"process {first.pid}" in second.stderr
    ids = Counter(row["id"] for row in read_jsonl(journal))
    assert set(ids) == {f"r{k}" for k in range(60)} and max(ids.values()) == 1


def test_evaluate_refuses_a_results_file_with_repeated_ids(tmp_path: Path) -> None:
    row = {"id": "a", "labels": ["space"], "status": "ok", "gold": ["space"]}
    results = write_jsonl(tmp_path / "results.jsonl", [row, {**row, "id": "b"}, row])
    result = labelwise("evaluate", str(results), "--labels", "space,science")
    assert result.returncode == 2
    assert "id 'a' appears more than once" in result.stderr and "line 3" in result.stderr
    assert not (tmp_path / "metrics.json").exists()


# -- 3. one bad row never blocks the file ----------------------------------------------


@pytest.mark.slow
def test_lone_surrogates_in_a_text_or_an_id_fail_that_row_only(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = answer("space")
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "ok1", "text": "rocket"}\n'
        '{"id": "bad-text", "text": "half an emoji \\ud83d here"}\n'
        '{"id": "bad\\udc00id", "text": "fine text"}\n'
        '{"id": "ok2", "text": "launch"}\n',
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    args = ["classify", f"input={source}", f"output={output}", *stub_overrides(stub)]
    for attempt in ("first", "rerun"):
        result = labelwise(*args, f"hydra.run.dir={tmp_path / attempt}")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    found = {row["id"]: row for row in read_jsonl(output)}
    assert set(found) == {"ok1", "bad-text", "bad\udc00id", "ok2"}
    assert found["ok1"]["status"] == found["ok2"]["status"] == "ok"
    assert found["bad-text"]["status"] == "failed"
    assert "lone surrogate" in found["bad-text"]["error"]
    assert "line 2" in found["bad-text"]["error"]
    assert found["bad\udc00id"]["status"] == "failed"
    assert "lone surrogate" in found["bad\udc00id"]["error"]
    assert len(stub.requests) == 2  # the bad rows made no call, the rerun none at all
    output.read_bytes().decode("utf-8")  # the results file is valid UTF-8


# -- 4. a resume never mixes two configs ---------------------------------------------------


@pytest.mark.slow
def test_resuming_with_another_config_is_refused_unless_forced(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = answer("space")
    source = write_jsonl(tmp_path / "in.jsonl", rows(6))
    output = tmp_path / "out.jsonl"
    base = ["classify", f"input={source}", f"output={output}", *stub_overrides(stub)]
    first = labelwise(*base, "budget.max_tokens=1", f"hydra.run.dir={tmp_path / 'a'}")
    assert first.returncode == 0, first.stderr
    done = len(read_jsonl(output))
    assert 0 < done < 6
    other = labelwise(
        *base, "validation=lenient", "model.temperature=0.3", f"hydra.run.dir={tmp_path / 'b'}"
    )
    assert other.returncode == 2
    assert "made by a different config" in other.stderr
    assert "model.temperature" in other.stderr and "validation" in other.stderr
    assert "run.resume=force" in other.stderr and "run.resume=never" in other.stderr
    assert len(read_jsonl(output)) == done
    same = labelwise(*base, f"hydra.run.dir={tmp_path / 'c'}")  # the first run's config
    assert same.returncode == 0, same.stderr
    assert len(read_jsonl(output)) == 6


@pytest.mark.slow
def test_resume_force_continues_and_never_starts_a_new_file(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = answer("space")
    source = write_jsonl(tmp_path / "in.jsonl", rows(6))
    output = tmp_path / "out.jsonl"
    base = ["classify", f"input={source}", f"output={output}", *stub_overrides(stub)]
    assert (
        labelwise(*base, "budget.max_tokens=1", f"hydra.run.dir={tmp_path / 'a'}").returncode == 0
    )
    done = len(read_jsonl(output))
    forced = labelwise(
        *base, "model.temperature=0.3", "run.resume=force", f"hydra.run.dir={tmp_path / 'b'}"
    )
    assert forced.returncode == 0, forced.stderr
    assert len(read_jsonl(output)) == 6 and "model.temperature" in forced.stderr
    record = json.loads((tmp_path / "b" / "record.json").read_text())
    assert record["resumed_from"]["forced"] is True
    assert "model.temperature" in " ".join(record["resumed_from"]["differences"])
    fresh = labelwise(
        *base, "model.temperature=0.5", "run.resume=never", f"hydra.run.dir={tmp_path / 'c'}"
    )
    assert fresh.returncode == 0, fresh.stderr
    assert len(read_jsonl(output)) == 6  # all six again, in a new file
    kept = [
        p
        for p in tmp_path.iterdir()
        if p.name.startswith("out.") and p != output and p.suffix == ".jsonl"
    ]
    assert len(kept) == 1 and len(read_jsonl(kept[0])) == 6  # the old file, moved aside
    assert str(kept[0].name) in fresh.stderr
    assert done < 6
