"""Refusing YAML alias bombs before Hydra reads a config file.

    refuse_alias_bombs(overrides, config_dir=conf_dir())   # ConfigError naming the file

A YAML alias (*name) repeats the node its anchor (&name) marks. PyYAML keeps a
repeat as one more reference to the same object, which costs nothing; OmegaConf
then copies every reference into nodes of its own, so nine levels of
`&b [*a, *a, ...]` in a file of one kilobyte become hundreds of millions of
nodes, and Hydra runs for hours. Neither has a limit to set, so before Hydra
composes, every YAML file it could read (the conf folder and each folder or
package of hydra.searchpath, whichever option the overrides choose) is composed
here into PyYAML's node graph, where an anchored node exists once, and its size
with every alias expanded is counted, each node's size once. A file whose
aliases add more than MAX_ALIAS_NODES nodes is refused. Own code, because no
YAML library offers such a limit (PyYAML, ruamel.yaml and OmegaConf have none).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from framework.errors import ConfigError

__all__ = ["MAX_ALIAS_NODES", "MAX_ENTRIES", "alias_nodes", "refuse_alias_bombs"]

# Nodes aliases may add to one file: far above any use of anchors for shared values,
# far below the 6-level bomb (590,000 nodes) that keeps OmegaConf busy for minutes.
MAX_ALIAS_NODES = 100_000
# Files and folders looked at under one search-path folder.
MAX_ENTRIES = 20_000

# An alias or an anchor where a node starts; a file without both holds no alias.
_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*[^\s,\[\]{}]", re.MULTILINE)
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&[^\s,\[\]{}]", re.MULTILINE)
_CONFIG_DIR_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp")


def refuse_alias_bombs(argv: Sequence[str], *, config_dir: Path) -> None:
    """Raise ConfigError for the first YAML file Hydra could load whose aliases expand
    past MAX_ALIAS_NODES; `argv` is the command line (overrides and Hydra's flags)."""
    for folder in _search_folders(argv, config_dir):
        for path in _yaml_files(folder):
            _check(path)


def alias_nodes(text: str) -> int:
    """How many nodes the aliases of a YAML document add when expanded (0 without any);
    at most MAX_ALIAS_NODES + 1, as counting stops there."""
    total = distinct = 0
    # The pure-Python loader: libyaml's composer recurses in C and crashes the process
    # on deeply nested input, where this one raises RecursionError.
    for root in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if root is not None:
            size, count = _expanded_size(root)
            total, distinct = total + size, distinct + count
            if total - distinct > MAX_ALIAS_NODES:
                break
    return min(total - distinct, MAX_ALIAS_NODES + 1)


def _check(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # Hydra says what is wrong with a file it cannot read, if it reads it
    if not (_ALIAS.search(text) and _ANCHOR.search(text)):
        return
    try:
        added = alias_nodes(text)
    except yaml.YAMLError:
        return  # Hydra reports the syntax error with its line, if it reads the file
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read; flatten it") from None
    if added > MAX_ALIAS_NODES:
        raise ConfigError(
            f"{path}: its YAML aliases (*name) expand to more than {MAX_ALIAS_NODES:,} "
            "values (an alias bomb, or an alias inside its own anchor); write the values out"
        )


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(nodes with every alias expanded, distinct nodes) under root, capped just past the
    limit; each node is sized once (post-order, without recursion: depth is the input's)."""
    cap = MAX_ALIAS_NODES * 2
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being sized: the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            sizes[key] = min(cap, 1 + sum(sizes[id(child)] for child in _children(node)))
            open_.discard(key)
        elif key in open_:  # an alias inside its own anchor's node: endless when expanded
            return cap, len(sizes)
        elif key not in sizes:
            open_.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)], len(sizes)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _search_folders(argv: Sequence[str], config_dir: Path) -> list[Path]:
    folders = [config_dir]
    for i, arg in enumerate(argv):
        flag, equals, value = arg.partition("=")
        if flag in _CONFIG_DIR_FLAGS:
            given = value if equals else (argv[i + 1] if i + 1 < len(argv) else "")
            folders.append(Path(given))
        elif equals and not arg.startswith("-") and flag.lstrip("+~") == "hydra.searchpath":
            folders += [f for entry in _entries(arg) if (f := _folder(entry)) is not None]
    return [folder for folder in folders if folder.is_dir()]


def _entries(override: str) -> list[str]:
    """The search-path entries an override gives, through Hydra's own parser (a list, or
    a sweep of lists); an override it cannot parse is Hydra's to report."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([override])[0]
        values: Any = (
            list(parsed.sweep_iterator()) if parsed.is_sweep_override() else parsed.value()
        )
    except (HydraException, ValueError, TypeError):
        return []
    found: list[str] = []
    pending = [values]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return found


def _folder(entry: str) -> Path | None:
    scheme, _, where = entry.partition("://")
    if scheme == "file":
        return Path(where)
    if scheme == "pkg":
        try:
            spec = importlib.util.find_spec(where.replace("/", ".").strip("."))
        except (ImportError, ValueError):
            return None
        locations = list(spec.submodule_search_locations or []) if spec else []
        return Path(locations[0]) if locations else None
    return None


def _yaml_files(folder: Path) -> Iterator[Path]:
    """Every *.yaml file under folder, following links once; a folder too big to be a
    config folder (a home, a root) is refused rather than searched."""
    seen: set[str] = set()
    entries = 0
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        entries += len(dirs) + len(files)
        if entries > MAX_ENTRIES:
            raise ConfigError(
                f"hydra.searchpath: {folder} holds more than {MAX_ENTRIES:,} files and "
                "folders; point it at the folder of your config groups (taxonomy/, ...)"
            )
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".yaml"):
                yield Path(root) / name
