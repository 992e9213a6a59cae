"""Per-label thresholds: what turns a confidence into a label.

`labelwise calibrate` writes them as a versioned file, stamped with the
taxonomy they were tuned for; a later run loads it with thresholds.path=FILE
and refuses one tuned for another version of the taxonomy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.config.schema import RunConfig
from framework.errors import ConfigError
from framework.labels.taxonomy import label_ids, taxonomy_hash

__all__ = ["FORMAT", "Thresholds", "load_thresholds", "read_thresholds_file"]

FORMAT = "labelwise-thresholds/1"


@dataclass(frozen=True)
class Thresholds:
    values: dict[str, float] = field(default_factory=dict)
    source: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.values)


def read_thresholds_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"thresholds.path: {path} does not exist; run labelwise calibrate"
        ) from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"thresholds.path: {path} is not readable JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"thresholds.path: {path} is not a labelwise thresholds file ({FORMAT})")
    return data


def load_thresholds(config: RunConfig) -> Thresholds:
    """The file's thresholds (if any), overridden by thresholds.per_label."""
    known = set(label_ids(config.taxonomy))
    values: dict[str, float] = {}
    source = None
    if config.thresholds.path:
        path = Path(config.thresholds.path).expanduser()
        data = read_thresholds_file(path)
        ours = taxonomy_hash(config.taxonomy)
        if data.get("taxonomy", {}).get("hash") != ours:
            tuned = data.get("taxonomy", {})
            raise ConfigError(
                f"thresholds.path: {path} was tuned for taxonomy {tuned.get('name')}@"
                f"{tuned.get('version')} ({str(tuned.get('hash'))[:16]}), not this one "
                f"({config.taxonomy.name}@{config.taxonomy.version}, {ours[:16]}); calibrate again"
            )
        values = {str(k): float(v) for k, v in data["thresholds"].items()}
        source = str(path)
    unknown = sorted(set(config.thresholds.per_label) - known)
    if unknown:
        raise ConfigError(f"thresholds.per_label: {', '.join(map(repr, unknown))} not label ids")
    return Thresholds({**values, **config.thresholds.per_label}, source)
