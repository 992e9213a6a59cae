"""What a taxonomy means to the engine: the labels on offer, how an answer may
name them, the output schema, the hierarchy, and a content hash that tells
two versions apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from framework.config.schema import LabelSpec, TaxonomyConfig, ValidationConfig

__all__ = [
    "LabelKeys",
    "ancestors",
    "choose_label_keys",
    "label_ids",
    "label_names",
    "offered_labels",
    "output_schema",
    "replacements",
    "short_hash",
    "taxonomy_hash",
]


def label_ids(taxonomy: TaxonomyConfig) -> tuple[str, ...]:
    """The current labels' ids (deprecated ones left out), in taxonomy order."""
    return tuple(label.id for label in taxonomy.current)


def offered_labels(taxonomy: TaxonomyConfig, policy: ValidationConfig) -> list[LabelSpec]:
    """The labels an answer may hold: current ones, and with `leaves_only` no category."""
    current = taxonomy.current
    if policy.hierarchy != "leaves_only":
        return current
    parents = {label.parent for label in current if label.parent}
    return [label for label in current if label.id not in parents]


@dataclass(frozen=True)
class LabelKeys:
    """Whether answers name labels by number (index into the offered labels) and why."""

    by_index: bool
    reason: str


def choose_label_keys(setting: str, offered: int, max_enum: int) -> LabelKeys:
    if setting == "index":
        return LabelKeys(True, "set in prompt.label_keys")
    if setting == "id":
        return LabelKeys(False, "set in prompt.label_keys")
    if offered > max_enum:
        return LabelKeys(
            True, f"{offered} labels exceed the provider's enum limit of {max_enum}: by number"
        )
    return LabelKeys(False, f"{offered} labels fit the provider's enum limit of {max_enum}")


def output_schema(
    taxonomy: TaxonomyConfig, policy: ValidationConfig, *, by_index: bool = False
) -> dict[str, Any]:
    """The JSON schema every answer must satisfy: {"labels": [unique offered labels]}.

    maxItems and uniqueItems matter beyond validation: without them small models
    repeat one label until they run out of tokens. By number, the items are
    integers in range instead of an enum of ids, which no provider limits.
    """
    ids = [label.id for label in offered_labels(taxonomy, policy)]
    # "none" stands alone, so at most all the other labels fit in one answer.
    most = len(ids) - (1 if taxonomy.none_label in ids else 0)
    if policy.max_labels is not None:
        most = min(most, policy.max_labels)
    # "none" alone is always an answer, so with a none label min_labels is left
    # to the policy check; without one, an empty list is allowed only if asked.
    if taxonomy.none_label:
        least = 1
    else:
        least = policy.min_labels if taxonomy.allow_empty else max(policy.min_labels, 1)
    items: dict[str, Any] = (
        {"type": "integer", "minimum": 0, "maximum": len(ids) - 1}
        if by_index
        else {"type": "string", "enum": ids}
    )
    labels: dict[str, Any] = {
        "type": "array",
        "items": items,
        "uniqueItems": True,
        "maxItems": max(most, 1),
    }
    if least:
        labels["minItems"] = least
    return {
        "type": "object",
        "properties": {"labels": labels},
        "required": ["labels"],
        "additionalProperties": False,
    }


def label_names(taxonomy: TaxonomyConfig, *, case: bool, aliases: bool) -> Mapping[str, str]:
    """Every spelling a model may use for a current label, mapped to the label's id."""
    names: dict[str, str] = {}
    for label in taxonomy.current:
        for spelling in (label.id, *(label.aliases if aliases else [])):
            names[spelling.casefold() if case else spelling] = label.id
    return names


def replacements(taxonomy: TaxonomyConfig, *, case: bool) -> Mapping[str, tuple[str, str]]:
    """Spellings of deprecated labels -> (the deprecated id, the id that replaces it)."""
    found: dict[str, tuple[str, str]] = {}
    for label in taxonomy.labels:
        if label.deprecated and label.replaced_by:
            for spelling in (label.id, *label.aliases):
                found[spelling.casefold() if case else spelling] = (label.id, label.replaced_by)
    return found


def ancestors(taxonomy: TaxonomyConfig) -> Mapping[str, tuple[str, ...]]:
    """Each current label's parent, grandparent, ... (the schema rules out cycles)."""
    parent_of = {label.id: label.parent for label in taxonomy.current}
    chains: dict[str, tuple[str, ...]] = {}
    for label_id, parent in parent_of.items():
        chain, node = [], parent
        while node is not None:
            chain.append(node)
            node = parent_of.get(node)
        chains[label_id] = tuple(chain)
    return chains


def taxonomy_hash(taxonomy: TaxonomyConfig) -> str:
    """sha256 of what the labels mean, in canonical JSON; name, version and lineage
    are left out, so equal hashes mean the same labels, however they were named."""
    content = taxonomy.model_dump(mode="json", exclude={"name", "version", "lineage", "remove"})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def short_hash(taxonomy: TaxonomyConfig) -> str:
    """The first 16 hex digits of taxonomy_hash, stamped on every result row."""
    return taxonomy_hash(taxonomy)[:16]
