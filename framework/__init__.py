"""labelwise: declarative multi-label text classification with LLMs.

from framework import Classifier
with Classifier.from_config(overrides=["taxonomy=news"]) as clf:
    print(clf.classify("NASA's probe reaches Europa").labels)

The names below are imported when first used, so `import framework` (and the command
line's start, `labelwise --help`) stays instant: the engine, Hydra and pydantic come
in with the first of them that is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framework.config.schema import RunConfig
    from framework.engine.classifier import Classifier
    from framework.errors import (
        ConfigError,
        InputError,
        LabelwiseError,
        OutputError,
        ProviderError,
    )
    from framework.records import Item, Prediction, Usage

__all__ = [
    "Classifier",
    "ConfigError",
    "InputError",
    "Item",
    "LabelwiseError",
    "OutputError",
    "Prediction",
    "ProviderError",
    "RunConfig",
    "Usage",
]

# Where each public name lives.
_HOMES = {
    "Classifier": "framework.engine.classifier",
    "RunConfig": "framework.config.schema",
    "ConfigError": "framework.errors",
    "InputError": "framework.errors",
    "LabelwiseError": "framework.errors",
    "OutputError": "framework.errors",
    "ProviderError": "framework.errors",
    "Item": "framework.records",
    "Prediction": "framework.records",
    "Usage": "framework.records",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'framework' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
