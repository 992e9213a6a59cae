"""tracking=mlflow: runs logged to a real MLflow folder store (params the resolved config,
metrics metrics.json and the totals, artifacts report.html, record.json, the taxonomy);
compare and tune as parent runs with children; a store that cannot be reached costs one
warning line and nothing of the run."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from framework.testing import StubServer
from tests.support import cli_env, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.cli import NEWS, tune_command
from tests.support.news_pool import pool_rows

pytest.importorskip("mlflow", reason="tracking needs labelwise[tracking]")

pytestmark = pytest.mark.slow  # each test runs the CLI and an MLflow worker process


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client of the folder store the runs log to (MLflow 3 keeps folders behind an opt-in)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder = tmp_path / "mlruns"
    client = MlflowClient(tracking_uri=folder.resolve().as_uri())
    client.folder = folder
    return client


def runs_of(client: Any, experiment: str = "labelwise") -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return list(client.search_runs([found.experiment_id]))


def artifacts(client: Any, run_id: str) -> set[str]:
    return {entry.path for entry in client.list_artifacts(run_id)}


def classify(stub: StubServer, run: Path, *extra: str) -> Any:
    return run_cli(
        [sys.executable, "-m", "framework", "classify", f"input={NEWS}", *stub_overrides(stub),
         f"hydra.run.dir={run}", *extra],
    )  # fmt: skip


def test_a_run_is_logged_with_its_config_metrics_and_files(
    store: Any, stub: StubServer, tmp_path: Path
) -> None:
    long_system = "Label the text. " * 500  # 8,000 characters: over MLflow's value limit
    done = classify(
        stub, tmp_path / "run", "tracking=mlflow", f"tracking.uri={store.folder}",
        f"prompt.system='{long_system}'",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tracking:" not in done.stderr
    (run,) = runs_of(store)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    params, metrics = run.data.params, run.data.metrics
    assert params["model.name"] == "stub-model"
    assert params["provider.kind"] == "openai_compatible"
    assert params["run.concurrency"] == "4"
    assert json.loads(params["taxonomy.labels"]) == [
        "space", "science", "technology", "climate", "none"
    ]  # fmt: skip
    assert params["prompt.system"].endswith(f"({len(long_system)} characters)")
    assert len(params["prompt.system"]) < len(long_system)
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["macro.f1"] == pytest.approx(scores["macro"]["f1"])
    assert metrics["per_label.space.f1"] == pytest.approx(scores["per_label"][0]["f1"])
    assert metrics["run.ok"] == 20 and metrics["run.calls"] == 20
    assert metrics["run.cache_hits"] == 0
    files = artifacts(store, run.info.run_id)
    assert {"report.html", "record.json", "metrics.json", "taxonomy.yaml"} <= files
    assert run.data.tags["labelwise.status"] == "finished"


def test_a_store_that_cannot_be_reached_is_one_warning_and_the_run_is_whole(
    stub: StubServer, tmp_path: Path
) -> None:
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    run = tmp_path / "run"
    done = classify(stub, run, "tracking=mlflow", f"tracking.uri=http://127.0.0.1:{closed}")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "tracking:" in line]
    assert len(warnings) == 1, done.stderr
    assert "not logged to MLflow" in warnings[0] and "own files are complete" in warnings[0]
    assert len(read_jsonl(run / "results.jsonl")) == 20
    assert json.loads((run / "record.json").read_text())["status"] == "finished"
    assert (run / "report.html").is_file() and (run / "metrics.json").is_file()


def test_a_folder_store_that_cannot_be_made_warns_and_the_run_is_whole(
    stub: StubServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = tmp_path / "run"
    done = classify(stub, run, "tracking=mlflow", f"tracking.uri={blocker / 'mlruns'}")
    assert done.returncode == 0, done.stderr
    assert sum("tracking:" in line for line in done.stderr.splitlines()) == 1, done.stderr
    assert json.loads((run / "record.json").read_text())["status"] == "finished"


def test_compare_logs_a_parent_with_a_child_per_run(
    store: Any, stub: StubServer, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        assert classify(stub, tmp_path / name, f"model.temperature=0.{len(name)}").returncode == 0
    done = run_cli(
        [sys.executable, "-m", "framework", "compare", str(tmp_path / "a"), str(tmp_path / "b"),
         "--out", str(tmp_path / "board"), "tracking=mlflow", f"tracking.uri={store.folder}",
         "tracking.experiment=boards"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = runs_of(store, "boards")
    (parent,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["a", "b"]
    assert all(r.info.status == "FINISHED" for r in found)
    assert all(r.data.params["model.name"] == "stub-model" for r in children)
    assert all("macro.f1" in r.data.metrics for r in children)
    assert {"leaderboard.html", "leaderboard.md"} <= artifacts(store, parent.info.run_id)
    assert parent.data.tags["labelwise.kind"] == "compare"


def test_compare_refuses_an_override_that_is_not_tracking(tmp_path: Path) -> None:
    done = run_cli(
        [sys.executable, "-m", "framework", "compare", str(tmp_path), "model.name=x"],
        env=cli_env(),
    )
    assert done.returncode == 2
    assert "compare takes only tracking overrides" in done.stderr


def test_tune_logs_the_search_its_recipes_and_their_runs_as_nested_runs(
    store: Any, stub: StubServer, tmp_path: Path
) -> None:
    dev = write_jsonl(tmp_path / "dev.jsonl", pool_rows(120))
    command = tune_command(stub, dev, tmp_path / "tune", "tune.trained=[off]")
    command = [a for a in command if not a.startswith(("tune.calibrate_rows", "tune.score_rows"))]
    command += ["tune.calibrate_rows=40", "tune.score_rows=40"]
    done = run_cli([*command, "tracking=mlflow", f"tracking.uri={store.folder}"])
    assert done.returncode == 0, done.stderr
    found = runs_of(store)
    by_id = {r.info.run_id: r for r in found}
    (search,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert search.data.tags["labelwise.kind"] == "tune"
    assert "winner.score_macro_f1" in search.data.metrics
    assert {"tune.md", "leaderboard.html", "tune.json"} <= artifacts(store, search.info.run_id)
    recipes = [r for r in found if r.data.tags.get("mlflow.parentRunId") == search.info.run_id]
    assert [r.info.run_name for r in recipes] == ["labels_array.no-examples.trained-off"]
    runs = [r for r in found if r.data.tags.get("mlflow.parentRunId") == recipes[0].info.run_id]
    assert {r.info.run_name for r in runs} >= {"calibrate", "score"}
    assert all("run.ok" in r.data.metrics for r in runs)
    assert len(by_id) == 2 + len(runs)
