"""labelwise evaluate, reproduce and compare, run as a user runs them (subprocesses, the stub)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.testing import StubServer
from tests.support import read_jsonl, stub_overrides, write_jsonl
from tests.support.cli import NEWS, labelwise
from tests.support.leaks import SECRET, assert_nowhere
from tests.support.reports import answer_by_text

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer(responder=answer_by_text) as stub:
        yield stub


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture(scope="module")
def news_run(server: StubServer, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One classify run of the news examples (with gold), shared by the tests below."""
    folder = tmp_path_factory.mktemp("news") / "run"
    source = tmp_path_factory.mktemp("input") / "items.jsonl"
    shutil.copy(NEWS, source)
    result = labelwise(
        "classify",
        f"input={source}",
        *stub_overrides(server),
        f"hydra.run.dir={folder}",
        LABELWISE_CACHE_DIR=str(cache),
    )
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def sweep(server: StubServer, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep") / "multirun"
    result = labelwise(
        "classify",
        "-m",
        f"input={NEWS}",
        "prompt.few_shot=true,false",
        *stub_overrides(server),
        f"provider.api_key={SECRET}",
        f"hydra.sweep.dir={folder}",
        LABELWISE_CACHE_DIR=str(cache),
    )
    assert result.returncode == 0, result.stderr
    return folder


def one_line_error(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    assert getattr(result, "returncode", None) == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labelwise: error: "), stderr
    return lines[0]


# -- evaluate ----------------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_a_run_folder_prints_the_table_and_writes_metrics(
    news_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval" / "metrics.json"
    result = labelwise("evaluate", str(news_run), "--out", str(out), "--bootstrap", "200")
    assert result.returncode == 0, result.stderr
    assert "| macro-F1" in result.stdout and "| space" in result.stdout
    evaluated = json.loads(out.read_text())
    recorded = json.loads((news_run / "metrics.json").read_text())
    assert evaluated["macro"] == recorded["macro"] and evaluated["resamples"] == 200
    assert evaluated["labels"] == ["space", "science", "technology", "climate", "none"]
    report = (out.parent / "report.md").read_text()
    assert "## The 10 worst errors" in report and "> " in report  # texts joined from the input
    assert (out.parent / "per_label_f1.png").read_bytes().startswith(PNG)


@pytest.mark.slow
def test_evaluate_with_a_separate_gold_file_and_a_label_list(tmp_path: Path) -> None:
    results = write_jsonl(
        tmp_path / "results.jsonl",
        [
            {"id": "1", "labels": ["a"], "status": "ok"},
            {"id": "2", "labels": ["b"], "status": "ok"},
            {"id": "3", "labels": [], "status": "failed", "error": "timeout"},
        ],
    )
    gold = write_jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "1", "text": "first", "labels": ["a"]},
            {"id": "2", "text": "second", "labels": ["a"]},
            {"id": "3", "text": "third", "labels": ["b"]},
            {"id": "n99", "text": "of another run", "labels": ["b"]},
        ],
    )
    result = labelwise("evaluate", str(results), "--gold", str(gold), "--labels", "a,b,c")
    assert result.returncode == 0, result.stderr
    # case 125: a gold row that matches no result is said, not silently left unscored
    assert f"warning: 1 of 4 gold rows in {gold} match no result" in result.stderr
    assert "('n99')" in result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["labels"] == ["a", "b", "c"] and metrics["scored"] == 3
    assert metrics["subset_accuracy"] == pytest.approx(1 / 3) and metrics["failed"] == 1
    report = (tmp_path / "report.md").read_text()
    assert "> third" in report and "failed: timeout" in report


@pytest.mark.slow
def test_evaluate_a_run_folder_writes_into_it_when_its_results_lie_elsewhere(
    server: StubServer, cache: Path, tmp_path: Path
) -> None:
    """Case 135: two runs whose output= share a folder keep their own metrics and reports."""
    shared = tmp_path / "shared"
    runs = [tmp_path / "run-a", tmp_path / "run-b"]
    for run in runs:
        result = labelwise(
            "classify",
            f"input={NEWS}",
            f"output={shared / (run.name + '.jsonl')}",
            *stub_overrides(server),
            f"hydra.run.dir={run}",
            LABELWISE_CACHE_DIR=str(cache),
        )
        assert result.returncode == 0, result.stderr
    for run, bootstrap in zip(runs, ("20", "30"), strict=True):
        for name in ("metrics.json", "report.md", "report.html"):
            (run / name).unlink()  # classify scored into the run folder; evaluate again
        result = labelwise("evaluate", str(run), "--bootstrap", bootstrap)
        assert result.returncode == 0, result.stderr
        assert f"{run / 'report.html'} (open it in a browser)" in result.stdout
        assert json.loads((run / "metrics.json").read_text())["resamples"] == int(bootstrap)
        assert (run / "report.md").is_file() and (run / "per_label_f1.png").is_file()
    assert sorted(p.name for p in shared.iterdir()) == sorted(
        f"{run.name}.jsonl{suffix}" for run in runs for suffix in ("", ".run.json")
    )


@pytest.mark.slow
def test_evaluate_without_a_label_set_warns_and_uses_the_labels_seen(tmp_path: Path) -> None:
    results = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "labels": ["x"], "gold": ["y"]}])
    result = labelwise("evaluate", str(results), "--bootstrap", "10")
    assert result.returncode == 0, result.stderr
    assert "warning: no label set given" in result.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["labels"] == ["x", "y"]


@pytest.mark.slow
def test_evaluate_mistakes_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = one_line_error(labelwise("evaluate", str(tmp_path / "nope.jsonl")))
    assert "nope.jsonl does not exist" in missing
    no_gold = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "labels": ["a"], "status": "ok"}])
    assert "no gold labels" in one_line_error(labelwise("evaluate", str(no_gold), "--labels", "a"))
    unknown = one_line_error(labelwise("evaluate", str(no_gold), "--taxonomy", "newz"))
    assert "taxonomy=newz: no such option (did you mean news?)" in unknown
    not_results = write_jsonl(tmp_path / "x.jsonl", [{"something": "else"}])
    assert "is not a labelwise result row" in one_line_error(
        labelwise("evaluate", str(not_results))
    )


# -- reproduce ---------------------------------------------------------------------


@pytest.mark.slow
def test_reproduce_sends_identical_requests_from_the_cache(
    news_run: Path, server: StubServer, cache: Path, tmp_path: Path
) -> None:
    calls_before = len(server.requests)
    out = tmp_path / "again"
    result = labelwise(
        "reproduce", str(news_run), "--out", str(out), LABELWISE_CACHE_DIR=str(cache)
    )
    assert result.returncode == 0, result.stderr
    assert "rows compared       20 of 20" in result.stdout
    assert "identical requests  20" in result.stdout and "identical labels    20" in result.stdout
    assert "answers from the cache: 20" in result.stdout
    assert len(server.requests) == calls_before  # not one call
    assert json.loads((out / "record.json").read_text())["status"] == "finished"
    assert json.loads((out / "reproduce.json").read_text())["identical_requests"] == 20


@pytest.mark.slow
def test_reproduce_refuses_a_changed_input_unless_allowed(news_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(news_run, copy)
    record = json.loads((copy / "record.json").read_text())
    changed = tmp_path / "items.jsonl"
    shutil.copy(record["input"]["path"], changed)
    with changed.open("a") as handle:
        handle.write(json.dumps({"id": "extra", "text": "A new comet is seen from Mars"}) + "\n")
    record["input"]["path"] = str(changed)
    (copy / "record.json").write_text(json.dumps(record))
    refused = one_line_error(labelwise("reproduce", str(copy)))
    assert "changed since the run" in refused and "--allow-changed-input" in refused
    allowed = labelwise(
        "reproduce", str(copy), "--allow-changed-input", "--out", str(tmp_path / "o")
    )
    assert allowed.returncode == 0, allowed.stderr + allowed.stdout  # the 20 old rows still match
    assert len(read_jsonl(tmp_path / "o" / "results.jsonl")) == 21


@pytest.mark.slow
def test_reproduce_a_doctored_record_finds_different_requests(
    news_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(news_run, copy)
    record = json.loads((copy / "record.json").read_text())
    record["config"]["model"]["seed"] = 7
    (copy / "record.json").write_text(json.dumps(record))
    result = labelwise("reproduce", str(copy), "--out", str(tmp_path / "o"))
    assert result.returncode == 1, result.stderr
    assert "identical requests  0" in result.stdout and "NOT identical" in result.stdout


def test_reproduce_without_a_record_exits_2(tmp_path: Path) -> None:
    assert "has no record.json" in one_line_error(labelwise("reproduce", str(tmp_path)))


# -- sweeps and compare -------------------------------------------------------------


@pytest.mark.slow
def test_each_sweep_job_has_its_own_record_and_metrics_and_no_key(sweep: Path) -> None:
    for job in ("0", "1"):
        record = json.loads((sweep / job / "record.json").read_text())
        assert record["status"] == "finished" and record["metrics"]["scored"] == 20
        assert (sweep / job / "metrics.json").is_file() and (sweep / job / "report.md").is_file()
    assert_nowhere(sweep, SECRET)


@pytest.mark.slow
def test_compare_a_sweep_writes_a_leaderboard_and_two_charts(sweep: Path) -> None:
    result = labelwise("compare", str(sweep))
    assert result.returncode == 0, result.stderr
    board = (sweep / "leaderboard.md").read_text()
    # the runs are named by what the sweep varied (Hydra writes booleans as True/False)
    assert "prompt.few_shot=true" in board.lower() and "prompt.few_shot=false" in board.lower()
    assert "macro-F1 [95% CI]" in board and "rows/s" in board
    assert "![F1 by label by run](per_label_f1.png)" in board
    for chart in ("per_label_f1.png", "cost_vs_macro_f1.png"):
        assert (sweep / chart).read_bytes().startswith(PNG)
    import matplotlib.image

    assert matplotlib.image.imread(sweep / "cost_vs_macro_f1.png").shape[2] in (3, 4)
    assert "| 1 " in result.stdout and "| 2 " in result.stdout


@pytest.mark.slow
def test_compare_runs_given_one_by_one_into_out(
    sweep: Path, news_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    result = labelwise("compare", str(sweep / "0"), str(news_run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "leaderboard.md").is_file() and (out / "per_label_f1.png").is_file()


def test_compare_a_folder_without_runs_exits_2(tmp_path: Path) -> None:
    assert "neither a run folder" in one_line_error(labelwise("compare", str(tmp_path)))


@pytest.mark.slow
def test_evaluate_refuses_to_mix_taxonomy_versions(tmp_path: Path) -> None:
    from framework.config.load import compose, load_run_config
    from framework.labels.taxonomy import short_hash

    news = load_run_config(compose([])).taxonomy
    ours = {"taxonomy": "news@1.0.0", "taxonomy_hash": short_hash(news)}
    other = {"taxonomy": "news@0.9.0", "taxonomy_hash": "0123456789abcdef"}
    base = {"status": "ok", "attempts": 1, "labels": ["space"], "gold": ["space"]}
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl", [{"id": "a", **base, **ours}, {"id": "b", **base, **other}]
    )
    result = labelwise("evaluate", str(mixed), "--taxonomy", "news")
    assert (
        result.returncode == 2 and "mixes rows labeled with different taxonomies" in result.stderr
    )
    assert (
        labelwise(
            "evaluate", str(mixed), "--taxonomy", "news", "--allow-taxonomy-mismatch"
        ).returncode
        == 0
    )
    stale = write_jsonl(tmp_path / "stale.jsonl", [{"id": "a", **base, **other}])
    result = labelwise("evaluate", str(stale), "--taxonomy", "news")
    assert result.returncode == 2 and "was labeled with taxonomy news@0.9.0" in result.stderr
    fresh = write_jsonl(tmp_path / "fresh.jsonl", [{"id": "a", **base, **ours}])
    assert labelwise("evaluate", str(fresh), "--taxonomy", "news").returncode == 0
    gold = write_jsonl(tmp_path / "gold.jsonl", [{"id": "a", "labels": ["space"], **other}])
    result = labelwise("evaluate", str(fresh), "--gold", str(gold), "--labels", "space,none")
    assert result.returncode == 2 and "gold file" in result.stderr
