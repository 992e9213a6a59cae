"""The joblib files labelwise fits from a run's pools: a trained model, an examples index.

    save_artifact(path, FORMAT, "model", model)
    model = load_artifact(path, FORMAT, "model", TrainedModel, key="trained.artifact", ...)

Each is written atomically (a temporary file of this process, then renamed), so two runs
fitting at once never leave half a file. They are pickles: load only labelwise's own; a
missing, truncated or foreign file is a ConfigError naming the config key behind it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from framework.errors import ConfigError

__all__ = ["load_artifact", "save_artifact"]

T = TypeVar("T")


def save_artifact(path: Path, format: str, field: str, value: Any) -> None:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    joblib.dump({"format": format, field: value}, temporary, compress=3)
    temporary.replace(path)


def load_artifact(
    path: Path,
    format: str,
    field: str,
    kind: type[T],
    *,
    key: str,
    what: str,
    missing: str,
    remake: str,
) -> T:
    """The `kind` stored under `field` in a `format` file; `missing` is the error when
    there is none, `what` and `remake` word the one for a file that is not one."""
    import joblib

    try:
        data = joblib.load(path)
    except FileNotFoundError:
        raise ConfigError(f"{key}: {missing}") from None
    except Exception as error:  # a truncated or foreign file
        raise ConfigError(
            f"{key}: {path} is not a labelwise {what} ({error}); delete it and run again "
            f"to {remake}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != format:
        raise ConfigError(f"{key}: {path} is not a {format} file")
    value = data[field]
    assert isinstance(value, kind)
    return value
