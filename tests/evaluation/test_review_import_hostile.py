"""labelwise review import on hostile exports (turn 3, cases 117-124, 130, 132):
malformed tasks are left out and counted by reason, labels are checked against the
taxonomy, and --to never destroys a file it should not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from framework.cli.main import main
from framework.evaluation.review.corrections import GoldRow
from tests.support import read_jsonl, write_jsonl
from tests.support.cli import labelwise

NEWS = {"taxonomy": "news@1.0.0", "taxonomy_hash": "5a9aebe9b5ee3502"}  # conf/taxonomy/news


def task(row_id: Any, choices: Any, **data: Any) -> dict[str, Any]:
    """A full-export task whose one annotation chose `choices`."""
    result = [{"from_name": "labels", "to_name": "text", "value": {"choices": choices}}]
    return {
        "data": {"row_id": row_id, "text": f"text {row_id}", **NEWS, **data},
        "annotations": [{"id": 1, "result": result, "updated_at": "2026-12-01T10:00"}],
    }


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def imported(capsys: pytest.CaptureFixture[str]) -> Any:
    """`labelwise review import EXPORT --to TO ...` run by the CLI's own entry point in this
    process (an exception would fail the test: no traceback can hide); its result and the
    gold rows written. The subprocess test below runs the same through `python -m`."""

    def run(export: Path, to: Path, *extra: str) -> tuple[Result, list[dict[str, Any]]]:
        capsys.readouterr()
        code = main(["review", "import", str(export), "--to", str(to), *extra])
        out, err = capsys.readouterr()
        return Result(code, out, err), (read_jsonl(to) if to.exists() else [])

    return run


def one_line(result: Any) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labelwise: error: "), result.stderr
    return str(lines[0])


def test_malformed_tasks_are_left_out_and_counted_by_reason(tmp_path: Path, imported: Any) -> None:
    """Cases 117-121 and 127: each odd task is left out with its reason; the good ones stay."""
    value_null = task("n02", None)
    value_null["annotations"][0]["result"][0]["value"] = None
    value_string = task("n03", None)
    value_string["annotations"][0]["result"][0]["value"] = "space"
    result_object = task("n04", None)
    result_object["annotations"][0]["result"] = {"from_name": "labels"}
    mixed_ids = task("n05", ["climate"])  # equal times, ids of two types: the int id wins
    mixed_ids["annotations"].append({"id": "x", "result": [], "updated_at": "2026-12-01T10:00"})
    tasks = [
        task("n01", ["space"]),
        value_null,
        value_string,
        {"data": ["n06", "text"], "annotations": []},  # data a list
        result_object,
        mixed_ids,
        "not a task",
        task(None, ["space"]),
        task(0, ["science"]),  # case 130: a numeric row_id is an id
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    result, gold = imported(export, tmp_path / "gold.jsonl")
    assert result.returncode == 0, result.stderr
    assert [(g["id"], g["labels"]) for g in gold] == [
        ("n01", ["space"]),
        ("n05", ["climate"]),
        ("0", ["science"]),
    ]
    warnings = result.stderr.strip().splitlines()
    assert all(line.startswith("labelwise: warning: ") for line in warnings), result.stderr
    assert "1 task left out: its data is not an object (first: task 4)" in result.stderr
    assert "an annotation's result is not a list (first: task 5)" in result.stderr
    assert "the task is not a JSON object (first: task 7)" in result.stderr
    assert "it has no row_id" in result.stderr
    # value null and value a string share one reason: one line, counted twice
    assert "2 tasks left out: a result's value is not an object" in result.stderr
    assert len(warnings) == 5


def test_an_export_of_only_malformed_tasks_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    """Case 117 as reported, through `python -m framework`: value null in the only task."""
    export = tmp_path / "a.json"
    export.write_text(
        '[{"data": {"row_id": "n01"}, "annotations": [{"result": '
        '[{"from_name": "labels", "value": null}]}]}]'
    )
    result = labelwise("review", "import", str(export), "--to", str(tmp_path / "g.jsonl"))
    line = one_line(result)
    assert "no gold rows from" in line and "a result's value is not an object" in line
    assert not (tmp_path / "g.jsonl").exists()


def test_deep_nesting_exits_2_with_one_line(tmp_path: Path, imported: Any) -> None:
    """Case 121: 100,000 nested lists (json.loads itself raises RecursionError)."""
    export = tmp_path / "deep.json"
    export.write_text("[" * 100_000 + "]" * 100_000)
    result, _ = imported(export, tmp_path / "g.jsonl")
    assert "nested too deeply" in one_line(result)
    not_tasks = tmp_path / "numbers.json"
    not_tasks.write_text("[1, 2, 3]")
    result, _ = imported(not_tasks, tmp_path / "g.jsonl")
    assert "is not a Label Studio export" in one_line(result)


def test_labels_outside_the_taxonomy_and_odd_choices_are_refused(
    tmp_path: Path, imported: Any
) -> None:
    """Cases 122-124: NOT_A_LABEL and <script> refused and named; nested choices refused;
    'none' beside 'space' dropped and counted."""
    tasks = [
        task("n01", ["space", "NOT_A_LABEL"]),
        task("n02", ["<script>alert(1)</script>"]),
        task("n03", ["space", ["space"]]),
        task("n04", [{"a": 1}, 5, None]),
        task("n05", ["space", "none"]),
        task("n06", ["climate"]),
    ]
    export = write_json(tmp_path / "export.json", tasks)
    result, gold = imported(export, tmp_path / "gold.jsonl")
    assert result.returncode == 0, result.stderr
    assert [(g["id"], g["labels"]) for g in gold] == [("n05", ["space"]), ("n06", ["climate"])]
    assert (
        "2 tasks left out: a label outside taxonomy news@1.0.0 ('NOT_A_LABEL', "
        "'<script>alert(1)</script>'); --allow-unknown-labels keeps them (first: task 1)"
    ) in result.stderr
    assert "2 tasks left out: a choice is not a string" in result.stderr
    assert "1 task had 'none' beside other labels: 'none' dropped" in result.stderr
    assert "labels checked against taxonomy news@1.0.0" in result.stdout

    kept, gold = imported(export, tmp_path / "gold.jsonl", "--allow-unknown-labels")
    assert kept.returncode == 0, kept.stderr
    assert ("n01", ["space", "NOT_A_LABEL"]) in [(g["id"], g["labels"]) for g in gold]
    assert "2 tasks kept with labels outside taxonomy news@1.0.0" in kept.stderr
    assert not any("['space']" in g["labels"] or "None" in g["labels"] for g in gold)


def test_the_taxonomy_comes_from_the_stamp_the_run_or_the_name(
    tmp_path: Path, imported: Any
) -> None:
    other = {"taxonomy": "tickets@3", "taxonomy_hash": "0123456789abcdef"}
    export = write_json(tmp_path / "export.json", [task("t1", ["refund"], **other)])
    unknown, _ = imported(export, tmp_path / "gold.jsonl")
    line = one_line(unknown)
    assert "taxonomy 'tickets@3' (0123456789abcdef)" in line and "--run RUN_DIR" in line

    run = tmp_path / "run"
    run.mkdir()
    record = {"taxonomy": {"name": "tickets", "version": "3", "labels": ["refund", "other"]}}
    (run / "record.json").write_text(json.dumps(record))
    by_run, gold = imported(export, tmp_path / "gold.jsonl", "--run", str(run))
    assert by_run.returncode == 0, by_run.stderr
    assert [g["labels"] for g in gold] == [["refund"]]

    by_name, _ = imported(export, tmp_path / "g2.jsonl", "--taxonomy", "news")
    assert "a label outside taxonomy news@1.0.0 ('refund')" in one_line(by_name)


def test_to_never_replaces_the_export_or_a_runs_results(tmp_path: Path, imported: Any) -> None:
    """Case 132: --to the export itself, a run's results, a journal, another file."""
    export = write_json(tmp_path / "export.json", [task("n01", ["space"])])
    before = export.read_bytes()
    same, _ = imported(export, export)
    assert "is the export being read" in one_line(same) and export.read_bytes() == before

    results = write_jsonl(
        tmp_path / "results.jsonl",
        [{"id": str(n), "labels": ["space"], "status": "ok"} for n in range(20)],
    )
    kept = results.read_bytes()
    for extra in ((), ("--force",)):
        refused, _ = imported(export, results, *extra)
        assert "holds a run's results" in one_line(refused) and results.read_bytes() == kept

    journal = tmp_path / "out" / "results.jsonl"  # a run's journal before its first row
    journal.parent.mkdir()
    journal.write_text("")
    (journal.parent / "results.jsonl.run.json").write_text('{"format": "labelwise-claim/1"}')
    assert "is a run's results file" in one_line(imported(export, journal)[0])

    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": "1", "text": "mine"}\n')
    assert "--force" in one_line(imported(export, notes)[0])
    assert notes.read_text() == '{"id": "1", "text": "mine"}\n'
    forced, gold = imported(export, notes, "--force")
    assert forced.returncode == 0 and [g["id"] for g in gold] == ["n01"]

    again, gold = imported(export, notes)  # written by review import: replaced freely
    assert again.returncode == 0 and [g["id"] for g in gold] == ["n01"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_write_gold_is_atomic(tmp_path: Path) -> None:
    from framework.evaluation.review.gold_file import write_gold

    target = tmp_path / "gold.jsonl"
    target.write_text('{"id": "old", "labels": [], "source": "label-studio"}\n')

    def rows() -> Any:
        yield GoldRow("1", "t", ("space",))
        raise RuntimeError("the disk went away")

    with pytest.raises(RuntimeError):
        write_gold(rows(), target)
    assert target.read_text() == '{"id": "old", "labels": [], "source": "label-studio"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["gold.jsonl"]  # no temporary file left


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
