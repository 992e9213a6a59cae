"""The GGUF models of conf/model/ the local-model tests use."""

from __future__ import annotations

from omegaconf import OmegaConf

from framework.config.schema import GgufSource, ModelConfig
from tests.support import REPO

CATALOG = REPO / "conf" / "model"


def catalog_source(name: str) -> GgufSource:
    """The gguf source of conf/model/NAME.yaml, validated like a run's config."""
    entry = ModelConfig.model_validate(
        OmegaConf.to_container(OmegaConf.load(CATALOG / f"{name}.yaml"))
    )
    assert entry.name == name
    assert entry.gguf is not None
    return entry.gguf


SMOLLM2 = catalog_source("smollm2-135m")
