"""What a taxonomy means to the engine: the output schema, the names a label
answers to, and a content hash that identifies its exact version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from framework.config.schema import TaxonomyConfig, ValidationConfig

__all__ = ["label_ids", "label_names", "output_schema", "taxonomy_hash"]


def label_ids(taxonomy: TaxonomyConfig) -> tuple[str, ...]:
    return tuple(label.id for label in taxonomy.labels)


def output_schema(taxonomy: TaxonomyConfig, policy: ValidationConfig) -> dict[str, Any]:
    """The JSON schema every answer must satisfy: {"labels": [unique ids from the taxonomy]}.

    maxItems and uniqueItems matter beyond validation: without them small models
    repeat one label until they run out of tokens.
    """
    ids = label_ids(taxonomy)
    # "none" stands alone, so at most all the other labels fit in one answer.
    most = len(ids) - (1 if taxonomy.none_label else 0)
    if policy.max_labels is not None:
        most = min(most, policy.max_labels)
    # "none" alone is always an answer, so with a none label min_labels is left
    # to the policy check; without one, an empty list is allowed only if asked.
    if taxonomy.none_label:
        least = 1
    else:
        least = policy.min_labels if taxonomy.allow_empty else max(policy.min_labels, 1)
    labels: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "enum": list(ids)},
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
    """Every spelling a model may use for a label, mapped to the label's id."""
    names: dict[str, str] = {}
    for label in taxonomy.labels:
        spellings = [label.id, *(label.aliases if aliases else [])]
        for spelling in spellings:
            names[spelling.casefold() if case else spelling] = label.id
    return names


def taxonomy_hash(taxonomy: TaxonomyConfig) -> str:
    """sha256 of the taxonomy's canonical JSON: equal hashes, equal taxonomies."""
    canonical = json.dumps(
        taxonomy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
