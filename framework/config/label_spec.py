"""One label of a taxonomy, as the YAML gives it."""

from __future__ import annotations

import unicodedata

from pydantic import Field, field_validator

from framework.config.strict import Strict

__all__ = ["LabelSpec", "shown"]

# Characters an id or alias may not hold: controls (a newline, a tab), format characters
# (a zero-width space, a bidi mark, a soft hyphen) and line or paragraph separators.
# Unseen in print, they make two ids look the same, and a line break in an id starts a
# line of its own in the prompt's label list.
_UNSEEN = frozenset({"Cc", "Cf", "Zl", "Zp"})
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB"}


class LabelSpec(Strict):
    """One label. In YAML the labels are a mapping from id to these fields, so a
    team taxonomy can extend a shared one key by key (see TaxonomyConfig)."""

    id: str = Field(
        min_length=1,
        description="The label's id (in YAML, its key): what answers name and results hold; "
        "visible characters only, no leading or trailing spaces.",
    )
    name: str | None = Field(default=None, description="display name; the id if unset")
    description: str = Field(
        default="",
        description="What the label means, shown to the model beside its id (lint warns when "
        "it is empty).",
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names an answer may give it, read as its id "
        "(validation.normalize_aliases); no two labels share a name, whatever its case.",
    )
    examples: list[str] = Field(
        default_factory=list,
        description="Texts that have the label, shown in the prompt with prompt.few_shot.",
    )
    negative_examples: list[str] = Field(
        default_factory=list,
        description="Texts that do not have it, shown in the prompt with prompt.few_shot (not "
        "by multilabel.v1).",
    )
    parent: str | None = Field(
        default=None,
        description="The id of the label this one is a kind of (validation.hierarchy says what "
        "that implies); no cycles.",
    )
    deprecated: bool = Field(
        default=False,
        description="Retired: not offered to the model, nor accepted in an answer unless "
        "replaced_by names its successor.",
    )
    replaced_by: str | None = Field(
        default=None,
        description="The current label a deprecated one is read as when an answer names it "
        "(by id or alias); only with deprecated: true.",
    )

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        _refuse_unseen(value)
        if value != value.strip() or not value.strip():
            raise ValueError(f"{value!r} has leading or trailing spaces")
        return value

    @field_validator("aliases")
    @classmethod
    def _plain_aliases(cls, value: list[str]) -> list[str]:
        for alias in value:
            _refuse_unseen(alias)
        return value


def shown(text: str) -> str:
    """text with its unseen characters escaped (\\n, \\u200b), for a key in a message."""
    return "".join(
        _ESCAPES.get(c, f"\\u{ord(c):04x}") if unicodedata.category(c) in _UNSEEN else c
        for c in text
    )


def _refuse_unseen(value: str) -> None:
    unseen = [c for c in dict.fromkeys(value) if unicodedata.category(c) in _UNSEEN]
    if unseen:
        names = ", ".join(
            f"U+{ord(c):04X} {_CONTROLS.get(c) or unicodedata.name(c, 'CONTROL')}" for c in unseen
        )
        raise ValueError(
            f"{value!r} holds a character that does not show ({names}); "
            "write names with visible characters only"
        )
