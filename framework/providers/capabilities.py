"""What litellm's capability map says of a model, remembered between runs.

    capability("gpt-4o-mini", "openai")   # (known to litellm, response schema, tool calls)

The answer comes from litellm's bundled map; it is stored in the cache folder
(capabilities.json), keyed by litellm's version, the provider and the model, so a
later run does not import litellm just to ask again: the import costs about 2.5 s
of every process (measured on 2 cores), and with the HTTP transport nothing else
in a run may need litellm. A model litellm's map does not hold (a server of the
user's own) is known to be unknown without asking it: the map is read as data
(framework.providers.price_table).
"""

from __future__ import annotations

import json
import os
from importlib import metadata

from framework.resources import cache_dir

__all__ = ["capability"]

_FILE = "capabilities.json"


def capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    path = cache_dir() / _FILE
    key = f"{_litellm_version()}|{prefix}|{model}"
    known = _read(path)
    if key in known:
        found = known[key]
        return bool(found[0]), bool(found[1]), bool(found[2])
    from framework.providers.price_table import known_model

    if not known_model(model, prefix):  # litellm's map has no such model: it knows nothing
        return False, False, False
    from framework.providers.litellm_api import capability as ask_litellm

    answer = ask_litellm(model, prefix)
    known[key] = list(answer)
    try:  # written whole, then moved: two runs writing at once never leave half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{_FILE}.{os.getpid()}.partial")
        partial.write_text(json.dumps(known, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # a read-only cache folder costs the import next time, nothing more
    return answer


def _litellm_version() -> str:
    try:
        return metadata.version("litellm")
    except metadata.PackageNotFoundError:
        return "unknown"


def _read(path: os.PathLike[str]) -> dict[str, list[bool]]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
