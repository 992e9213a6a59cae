"""A run's identity: what decides the labels a row gets, as flat dotted keys.

Two runs with equal identities send the same requests and read the answers by
the same rules, so their rows may share one results file; a resume into a file
written under another identity would mix two experiments in one file. What only
changes how a run goes (concurrency, budgets, retries, the cache, progress, the
input and output names) is not part of it.

    identity = run_identity(config, prompt_digest=..., output_mode="json_schema")
    differences(stored, identity)   # ["model.temperature: 0.0 then, 0.3 now", ...]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from framework.config.schema import RunConfig
from framework.digests import file_sha256
from framework.labels.taxonomy import taxonomy_hash

__all__ = ["differences", "run_identity"]

# Per group, the keys that do not decide a row's labels.
_NOT_IDENTITY: dict[str, set[str]] = {
    "provider": {"api_key", "api_key_env", "timeout", "local"},
    "model": {"input_cost_per_mtok", "output_cost_per_mtok"},
}
_GROUPS = (
    "provider",
    "model",
    "prompt",
    "validation",
    "strategy",
    "thresholds",
    "chunking",
    "columns",
)


def run_identity(config: RunConfig, *, prompt_digest: str, output_mode: str) -> dict[str, Any]:
    """The dotted keys and values that decide a row's labels."""
    from framework.secrets import redact_url

    found: dict[str, Any] = {}
    for group in _GROUPS:
        section = getattr(config, group).model_dump(mode="json", exclude=_NOT_IDENTITY.get(group))
        _flatten(section, group, found)
    if found.get("provider.api_base"):
        found["provider.api_base"] = redact_url(str(found["provider.api_base"]))
    found["provider.output_mode"] = output_mode  # what auto chose, not "auto"
    taxonomy = config.taxonomy
    found["taxonomy"] = f"{taxonomy.name}@{taxonomy.version}"
    found["taxonomy.hash"] = taxonomy_hash(taxonomy)
    found["prompt.digest"] = prompt_digest
    if config.thresholds.path:  # the file's thresholds decide labels, whatever its name
        path = Path(config.thresholds.path).expanduser()
        found["thresholds.sha256"] = file_sha256(path) if path.is_file() else None
    return found


def differences(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """One line per key whose value differs, in a stable order."""
    keys = sorted(set(before) | set(now))
    return [
        f"{key}: {before.get(key)!r} then, {now.get(key)!r} now"
        for key in keys
        if before.get(key) != now.get(key)
    ]


def _flatten(node: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}", into)
    else:
        into[prefix] = node
