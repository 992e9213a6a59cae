"""Where the bundled conf/ and prompts/ folders are.

In a wheel they are packaged inside `framework/` (see pyproject.toml); in a
source checkout or an editable install they sit beside it, at the top of the
repository. Both layouts are looked up the same way, package first.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "conf_dir", "prompts_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"labelwise's bundled {name}/ folder is missing next to {_PACKAGE}; reinstall labelwise"
    )


def conf_dir() -> Path:
    """The folder of Hydra config groups (provider/, model/, taxonomy/, ...)."""
    return _bundled("conf")


def prompts_dir() -> Path:
    """The folder of versioned Jinja2 prompt templates."""
    return _bundled("prompts")


def cache_dir() -> Path:
    """Where labelwise keeps what outlives a run (the response cache, assembled models):
    $LABELWISE_CACHE_DIR, else $XDG_CACHE_HOME/labelwise, else ~/.cache/labelwise."""
    if explicit := os.environ.get("LABELWISE_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "labelwise"
