"""labelwise: declarative multi-label text classification with LLMs.

The distribution's own name for the package `framework`: the same public names, and
`classify` for DataFrames (pandas or polars):

    import labelwise
    out = labelwise.classify(df, text="text", taxonomy="news")   # + labels, status, error

Names are imported when first used, so `import labelwise` stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import framework

if TYPE_CHECKING:
    from framework import (
        Classifier,
        ConfigError,
        InputError,
        Item,
        LabelwiseError,
        OutputError,
        Prediction,
        ProviderError,
        RunConfig,
        Usage,
    )
    from framework.runner.frames import classify_frame as classify

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
    "classify",
]


def __getattr__(name: str) -> Any:
    if name == "classify":
        value = importlib.import_module("framework.runner.frames").classify_frame
    elif name in framework.__all__:
        value = getattr(framework, name)
    else:
        raise AttributeError(f"module 'labelwise' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
