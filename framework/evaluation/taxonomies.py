"""The label set a file is checked or scored against: a taxonomy of conf/, or a run's record.

    known = from_conf("news")                      # conf/taxonomy/news.yaml (or an installed one)
    known = from_record(load_record(run_dir), run_dir)
    known.labels, known.none_label, known.short_hash, known.name   # ("space", ...), "none", ...

`labelwise evaluate --taxonomy` and `labelwise review import` read taxonomies
through here, so both find the same labels for the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from framework.errors import ConfigError
from framework.run_record import RunRecord

__all__ = ["KnownTaxonomy", "from_conf", "from_record", "is_taxonomy_name"]

# A taxonomy option name as conf/taxonomy holds them; anything else (a path, an override,
# an interpolation) read from a file someone sent is never handed to the config loader.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class KnownTaxonomy:
    name: str  # "news@1.0.0", for messages
    labels: tuple[str, ...]  # the current labels' ids, in taxonomy order
    none_label: str | None
    hash: str  # taxonomy_hash: full sha256 from conf/, as recorded from a record
    source: str  # where it was read, for messages: "conf/taxonomy/news", "RUN/record.json"

    @property
    def short_hash(self) -> str:
        """The 16 hex digits stamped on result rows and review tasks."""
        return self.hash[:16]


def is_taxonomy_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and ".." not in name


def from_conf(name: str | None) -> KnownTaxonomy:
    """conf/taxonomy/NAME, validated (None: the default taxonomy of conf/config.yaml);
    ConfigError naming the option when it is not there."""
    from omegaconf import OmegaConf
    from pydantic import ValidationError

    from framework.config.load import compose
    from framework.config.schema import TaxonomyConfig
    from framework.labels.taxonomy import label_ids, taxonomy_hash

    if name is not None and not is_taxonomy_name(name):
        raise ConfigError(f"taxonomy={name!r}: not a taxonomy name; give one of conf/taxonomy")
    overrides = [] if name is None else [f"taxonomy={name}"]
    tree = OmegaConf.to_container(compose(overrides).taxonomy, resolve=True)
    try:
        taxonomy = TaxonomyConfig.model_validate(tree)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ConfigError(f"taxonomy={name}: {where}: {problem['msg']}") from None
    return KnownTaxonomy(
        name=f"{taxonomy.name}@{taxonomy.version}",
        labels=label_ids(taxonomy),
        none_label=taxonomy.none_label,
        hash=taxonomy_hash(taxonomy),
        source="the default taxonomy" if name is None else f"conf/taxonomy/{name}",
    )


def from_record(record: RunRecord | None, where: str) -> KnownTaxonomy | None:
    """The taxonomy a run's record.json names, or None when it names no labels."""
    if record is None or not record.taxonomy.labels:
        return None
    recorded = record.taxonomy
    return KnownTaxonomy(
        name=f"{recorded.name or '?'}@{recorded.version or '?'}",
        labels=tuple(recorded.labels),
        none_label=recorded.none_label,
        hash=recorded.hash or "",
        source=where,
    )
