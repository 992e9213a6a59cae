"""Where a config value came from, for messages: the command line, or the YAML file
that set it. A group option can be merged from several files (a team taxonomy
extends a shared one through its defaults list); Hydra's own defaults list
says which, and the last of them that sets a key is the one to name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

__all__ = ["GROUPS", "Layer", "Origins"]

GROUPS = ("provider", "model", "taxonomy", "prompt", "validation", "strategy")

Layer = tuple[str, dict[str, Any]]  # (file name, its content)


@dataclass
class Origins:
    cfg: DictConfig
    _layers: dict[str, list[Layer]] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: DictConfig) -> Origins:
        return cls(cfg)

    @property
    def overridden(self) -> frozenset[str]:
        """Keys given a value on the command line (choosing a group option sets none)."""
        overrides = OmegaConf.select(self.cfg, "hydra.overrides.task", default=None) or []
        keys = {str(o).split("=", 1)[0].lstrip("+~") for o in overrides}
        return frozenset(keys - set(GROUPS))

    def describe(self, key: str) -> str:
        """A second line for a message about `key`: where its value was set."""
        if any(key == o or key.startswith(o + ".") for o in self.overridden):
            return "\n  set on the command line"
        group = key.split(".", maxsplit=1)[0]
        layers = self.layers(group) if group in GROUPS else []
        if not layers:
            option = OmegaConf.select(self.cfg, f"hydra.runtime.choices.{group}", default=None)
            return f"\n  in {group}={option}" if option else ""
        where = self.origin(key, layers) or layers[-1][0]
        bases = [Path(name).stem for name, _ in layers if name != where]
        return f"\n  in {where}" + (f" (which extends {', '.join(bases)})" if bases else "")

    def layers(self, group: str) -> list[Layer]:
        """The files a group's option was merged from, bases first, with their content."""
        if group not in self._layers:
            self._layers[group] = self._find_layers(group)
        return self._layers[group]

    @staticmethod
    def origin(key: str, layers: Sequence[Layer]) -> str | None:
        """The last file that sets the longest part of a dotted key (taxonomy.labels.X.parent)."""
        parts = key.split(".")[1:]
        for depth in range(len(parts), 0, -1):
            setting = [name for name, content in layers if _has(content, parts[:depth])]
            if setting:
                return setting[-1]
        return None

    def _find_layers(self, group: str) -> list[Layer]:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra._internal.utils import create_config_search_path
        from hydra.types import RunMode

        sources = OmegaConf.select(self.cfg, "hydra.runtime.config_sources", default=None) or []
        main = next((s.path for s in sources if s.provider == "main"), None)
        overrides = [
            *(OmegaConf.select(self.cfg, "hydra.overrides.hydra", default=None) or []),
            *(OmegaConf.select(self.cfg, "hydra.overrides.task", default=None) or []),
        ]
        try:
            loader = ConfigLoaderImpl(config_search_path=create_config_search_path(main))
            found = loader.compute_defaults_list("config", list(overrides), RunMode.RUN).defaults
        except Exception:  # a message's second line is not worth a second error
            return []
        paths = [d.config_path for d in found if (d.config_path or "").startswith(f"{group}/")]
        return [layer for p in paths if (layer := _locate(str(p), sources)) is not None]


def _locate(config_path: str, sources: Sequence[Any]) -> Layer | None:
    """The first search-path folder or package holding config_path, as Hydra looks it up."""
    for source in sources:
        if source.schema == "file":
            where: Any = Path(source.path) / f"{config_path}.yaml"
            name = str(where)
        elif source.schema == "pkg":
            try:
                where = resources.files(source.path.replace("/", ".")) / f"{config_path}.yaml"
            except (ModuleNotFoundError, ValueError, TypeError):
                continue
            name = f"pkg://{source.path}/{config_path}.yaml"
        else:
            continue
        if where.is_file():
            try:
                content = yaml.safe_load(where.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                content = None
            return name, content if isinstance(content, dict) else {}
    return None


def _has(content: dict[str, Any], path: list[str]) -> bool:
    node: Any = content
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node is not None
