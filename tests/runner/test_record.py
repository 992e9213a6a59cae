"""The run record: its fields, its status, and no secret anywhere in a run folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from framework.config.load import compose, load_run_config
from framework.digests import file_sha256
from framework.engine.classifier import Classifier
from framework.labels.taxonomy import taxonomy_hash
from framework.runner.recorder import PACKAGES, RunRecorder, source_version
from framework.secrets import redact_overrides, redact_tree, scrub_secrets
from framework.testing import Reply, StubServer
from tests.support import stub_overrides
from tests.support.cli import NEWS, labelwise
from tests.support.leaks import SECRET, assert_nowhere

RECORD_KEYS = {
    "format",
    "status",
    "started_at",
    "finished_at",
    "run_dir",
    "overrides",
    "config",
    "prompt",
    "taxonomy",
    "model",
    "output_mode",
    "sampling",
    "sample",
    "versions",
    "source",
    "input",
    "results",
    "totals",
    "metrics",
}


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


# -- redaction -------------------------------------------------------------------


def test_redact_tree_hides_values_but_keeps_references() -> None:
    tree = {
        "provider": {"api_key": "sk-1", "api_key_env": "OPENAI_API_KEY", "timeout": 5},
        "other": [{"token": "t-1", "password": None}],
        "env": {"api_key": "${oc.env:MY_KEY}"},
    }
    assert redact_tree(tree) == {
        "provider": {"api_key": "***", "api_key_env": "OPENAI_API_KEY", "timeout": 5},
        "other": [{"token": "***", "password": None}],
        "env": {"api_key": "${oc.env:MY_KEY}"},
    }


def test_redact_overrides() -> None:
    given = [
        "provider.api_key=sk-1",
        "+provider.api_key=sk-2",
        "model.max_tokens=5",
        "provider.api_key=${oc.env:K}",
    ]
    assert redact_overrides(given) == [
        "provider.api_key=***",
        "+provider.api_key=***",
        "model.max_tokens=5",
        "provider.api_key=${oc.env:K}",
    ]


def test_scrub_secrets_rewrites_hydras_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LW_RESOLVED", "resolved-secret-value")
    cfg = OmegaConf.create({"provider": {"api_key": "${oc.env:LW_RESOLVED}"}})
    hydra = tmp_path / "run" / ".hydra"
    hydra.mkdir(parents=True)
    (hydra / "overrides.yaml").write_text(
        "- provider.api_key='it''s-secret'\n- x=resolved-secret-value\n"
    )
    (tmp_path / "multirun.yaml").write_text("task: [provider.api_key=it's-secret]\n")
    scrub_secrets(cfg, ["provider.api_key=it's-secret"], tmp_path / "run", tmp_path)
    assert (hydra / "overrides.yaml").read_text() == "- provider.api_key='***'\n- x=***\n"
    assert (tmp_path / "multirun.yaml").read_text() == "task: [provider.api_key=***]\n"


# -- provenance ------------------------------------------------------------------


def test_file_sha256_streams_the_whole_file(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "big").write_bytes(data)
    assert file_sha256(tmp_path / "big") == hashlib.sha256(data).hexdigest()


def test_source_version_is_none_outside_a_checkout(tmp_path: Path) -> None:
    assert source_version(tmp_path) is None
    found = source_version()
    assert found is None or set(found) == {"commit", "dirty"}


# -- the recorder ------------------------------------------------------------------


@pytest.fixture
def classifier() -> Any:
    cfg = compose(
        [
            "provider=openai_compatible",
            "provider.api_base=http://127.0.0.1:9/v1",
            "model.name=m",
            f"input={NEWS}",
        ]
    )
    with Classifier(load_run_config(cfg)) as built:
        yield cfg, built


def test_the_record_says_running_then_failed_when_the_job_raises(
    classifier: Any, tmp_path: Path
) -> None:
    cfg, built = classifier
    with (
        pytest.raises(RuntimeError),
        RunRecorder(cfg, built, run_dir=tmp_path, output=tmp_path / "r.jsonl"),
    ):
        assert json.loads((tmp_path / "record.json").read_text())["status"] == "running"
        raise RuntimeError("boom")
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: boom"
    assert record["finished_at"] is not None and record["totals"] is None


def test_an_interrupted_run_is_recorded_as_interrupted(classifier: Any, tmp_path: Path) -> None:
    cfg, built = classifier
    with (
        pytest.raises(KeyboardInterrupt),
        RunRecorder(cfg, built, run_dir=tmp_path, output=tmp_path / "r.jsonl"),
    ):
        raise KeyboardInterrupt
    assert json.loads((tmp_path / "record.json").read_text())["status"] == "interrupted"


# -- through the command line ------------------------------------------------------


@pytest.mark.slow
def test_a_run_records_everything_and_no_key(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space")
    run = tmp_path / "run"
    result = labelwise(
        "classify",
        f"input={NEWS}",
        *stub_overrides(stub),
        f"provider.api_key={SECRET}",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr
    assert_nowhere(run, SECRET)
    assert "provider.api_key=***" in (run / ".hydra" / "overrides.yaml").read_text()
    record = json.loads((run / "record.json").read_text())
    assert set(record) >= RECORD_KEYS
    assert record["status"] == "finished"
    assert record["config"]["provider"]["api_key"] == "***"
    assert "provider.api_key=***" in record["overrides"]
    config = load_run_config(compose(stub_overrides(stub)))
    assert record["taxonomy"] == {
        "name": "news",
        "version": "1.0.0",
        "hash": taxonomy_hash(config.taxonomy),
        "labels": ["space", "science", "technology", "climate", "none"],
        "none_label": "none",
        "lineage": {},
        "label_keys": {
            "by_index": False,
            "reason": "5 labels fit the provider's enum limit of 500",
        },
    }
    assert re.fullmatch(r"[0-9a-f]{64}", record["prompt"]["digest"])
    assert record["model"] == {
        "name": "stub-model",
        "provider": "openai_compatible",
        "api_base": stub.url,
    }
    assert record["output_mode"]["mode"] == "json_schema" and record["output_mode"]["reason"]
    assert record["sampling"] == {
        "temperature": 0.0,
        "max_tokens": config.model.max_tokens,
        "seed": 0,
    }
    assert set(record["versions"]) == set(PACKAGES) and record["versions"]["labelwise"]
    assert record["input"]["sha256"] == file_sha256(NEWS)
    assert record["input"]["path"] == str(NEWS)
    assert record["results"] == str(run / "results.jsonl")
    totals = record["totals"]
    assert (totals["ok"], totals["failed"], totals["calls"], totals["total_tokens"]) == (
        20,
        0,
        20,
        300,
    )
    assert totals["rows_per_s"] > 0 and totals["elapsed"] > 0
    assert record["metrics"]["file"] == "metrics.json"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scored"] == 20 and metrics["labels"] == record["taxonomy"]["labels"]
    assert "![F1 by label](per_label_f1.png)" in (run / "report.md").read_text()
    assert (run / "per_label_f1.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_an_env_reference_is_recorded_unresolved(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("science")
    run = tmp_path / "run"
    result = labelwise(
        "classify",
        f"input={NEWS}",
        *stub_overrides(stub),
        "provider.api_key=${oc.env:LW_TEST_KEY}",
        f"hydra.run.dir={run}",
        LW_TEST_KEY=SECRET,
    )
    assert result.returncode == 0, result.stderr
    assert_nowhere(run, SECRET)
    record = json.loads((run / "record.json").read_text())
    assert record["config"]["provider"]["api_key"] == "${oc.env:LW_TEST_KEY}"


@pytest.mark.slow
def test_a_run_that_stops_is_recorded_as_failed(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(status=401, error="invalid api key")
    run = tmp_path / "run"
    result = labelwise(
        "classify",
        f"input={NEWS}",
        *stub_overrides(stub),
        f"provider.api_key={SECRET}",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 2
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "failed" and "AuthError" in record["error"]
    assert_nowhere(run, SECRET)
