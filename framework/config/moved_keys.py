"""Config keys that moved, kept working under their old names.

The rule: the settings of a driver or an engine component sit at the top level under
its own name (batch, cascade, examples, embeddings, ray, distill), beside the switch
that turns it on (run.mode=batch, trained.use=cascade, examples.selection, run.executor,
distill.sample). Two sat elsewhere and moved:

    run.ray.*          -> ray.*        (run.executor=ray's cluster and actors)
    trained.distill.*  -> distill.*    (a trained model taught by the LLM's answers)

The old paths are still accepted (on the command line, in YAML, in experiments and in
configs that tune wrote): their values move to the new place, a one-line notice says so
once a process, and an error about a moved value names the key as it was written.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["MOVED", "add_old_paths", "move_keys", "said_as_written"]

log = logging.getLogger("labelwise")

MOVED = {"run.ray": "ray", "trained.distill": "distill"}
_SAID: set[str] = set()  # the old paths used in this process


def add_old_paths(node: dict[str, Any]) -> None:
    """Give the schema's defaults node the old paths too (with the new keys' defaults),
    so Hydra accepts an override of an old key."""
    for old, new in MOVED.items():
        parent, _, leaf = old.rpartition(".")
        node[parent][leaf] = dict(node[new])


def move_keys(container: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Move the values set under an old path to the new one (in place); the old paths
    that were used. Both set, differently: ValueError naming both."""
    used = []
    for old, new in MOVED.items():
        parent, _, leaf = old.rpartition(".")
        section = container.get(parent)
        given = section.pop(leaf, None) if isinstance(section, dict) else None
        if given is None or given == defaults[new]:
            continue
        if container.get(new, defaults[new]) not in (defaults[new], given):
            raise ValueError(f"{old}: moved to {new}, and both are set; keep {new} and drop {old}")
        container[new] = given
        used.append(old)
        if old not in _SAID:
            _SAID.add(old)
            log.warning("%s.* is now %s.* (the old key still works, for now)", old, new)
    return used


def said_as_written(message: str, used: list[str] | None = None) -> str:
    """An error message with each moved key named as the user wrote it (`used`: the old
    paths a config used; None: every one used in this process so far)."""
    for old in sorted(_SAID) if used is None else used:
        new = MOVED[old]
        message = re.sub(rf"(?<![\w.]){re.escape(new)}\.", f"{old}.", message)
    return message
