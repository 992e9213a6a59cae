"""One label of a taxonomy, as the YAML gives it."""

from __future__ import annotations

from pydantic import Field, field_validator

from framework.config.strict import Strict

__all__ = ["LabelSpec"]


class LabelSpec(Strict):
    """One label. In YAML the labels are a mapping from id to these fields, so a
    team taxonomy can extend a shared one key by key (see TaxonomyConfig)."""

    id: str = Field(min_length=1)
    name: str | None = Field(default=None, description="display name; the id if unset")
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    negative_examples: list[str] = Field(default_factory=list)
    parent: str | None = None
    deprecated: bool = False
    replaced_by: str | None = None

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if value != value.strip() or not value.strip():
            raise ValueError(f"{value!r} has leading or trailing spaces")
        return value
