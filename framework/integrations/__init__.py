"""The one door for what watches runs from outside: experiment tracking and tracing.

    observers = observers_for(config)   # the ones the config turns on (framework.integrations.base)

OBSERVERS names each kind, in the order its observers wrap a run: the config section that
turns it on, and what builds its observer when that section's `kind` is not "none". A new
integration (another tracker, another tracer) is one module here and one entry below; the
engine, the runner and the commands call only `observers_for` and the Observers it gives.
The modules behind an entry are imported only when a config turns it on, so a run without
tracking or tracing imports neither MLflow nor OpenTelemetry.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from framework.errors import ConfigError
from framework.integrations.base import GroupInfo, GroupWatch, Observer, Observers, RunInfo

if TYPE_CHECKING:
    from framework.config.schema import RunConfig

__all__ = [
    "OBSERVERS",
    "GroupInfo",
    "GroupWatch",
    "Observer",
    "Observers",
    "RunInfo",
    "observers_for",
]


def _tracking(config: RunConfig) -> Observer:
    from framework.integrations.tracking import TrackingObserver

    return TrackingObserver(config.tracking)


def _tracing(config: RunConfig) -> Observer:
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        raise ConfigError(
            "tracing.kind: otel needs the OpenTelemetry SDK, which is not installed: "
            "pip install 'labelwise[tracing]' (or run with tracing=none)"
        )
    from framework.integrations.tracing import TracingObserver

    return TracingObserver(config)


# section of RunConfig -> what builds its observer (when section.kind is not "none")
OBSERVERS: dict[str, Callable[[RunConfig], Observer]] = {
    "tracing": _tracing,
    "tracking": _tracking,
}


def observers_for(config: RunConfig) -> Observers:
    """The observers the config turns on; none (the default) costs nothing."""
    chosen = [
        build(config)
        for section, build in OBSERVERS.items()
        if getattr(config, section).kind != "none"
    ]
    return Observers(tuple(chosen))
