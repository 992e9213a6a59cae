"""A taxonomy's identity: its current label ids and a content hash that tells two
versions apart. What a run makes of the labels (what is offered, how answers may
spell them, the rules between them, the schema) is framework.labels.label_set."""

from __future__ import annotations

import hashlib
import json

from framework.config.schema import TaxonomyConfig

__all__ = ["label_ids", "short_hash", "taxonomy_hash"]


def label_ids(taxonomy: TaxonomyConfig) -> tuple[str, ...]:
    """The current labels' ids (deprecated ones left out), in taxonomy order."""
    return tuple(label.id for label in taxonomy.current)


def taxonomy_hash(taxonomy: TaxonomyConfig) -> str:
    """sha256 of what the labels mean, in canonical JSON; name, version and lineage
    are left out, so equal hashes mean the same labels, however they were named."""
    content = taxonomy.model_dump(mode="json", exclude={"name", "version", "lineage", "remove"})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def short_hash(taxonomy: TaxonomyConfig) -> str:
    """The first 16 hex digits of taxonomy_hash, stamped on every result row."""
    return taxonomy_hash(taxonomy)[:16]
