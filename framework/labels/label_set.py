"""The labels a run offers, and every rule about them, built once from the taxonomy and
the validation policy.

    labels = LabelSet.build(taxonomy, policy)           # by id; .asked_by_number() for big ones
    labels.ids, labels.schema(), labels.resolve("Space")
    labels.exclusive_conflicts(["LOW", "HIGH"]), labels.with_parents(["REFUND"])

The validator (one answer), the decider (per-label confidence), the strategies and
the prompt all read this one object, so each rule is written once: which labels are
on offer, how an answer may spell them, which ones exclude each other, what a child
implies, and how many labels an answer holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from framework.config.schema import LabelSpec, TaxonomyConfig, ValidationConfig

__all__ = ["LabelKeys", "LabelSet", "choose_label_keys"]


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


@dataclass(frozen=True)
class LabelSet:
    taxonomy: TaxonomyConfig
    policy: ValidationConfig
    specs: tuple[LabelSpec, ...]  # the labels an answer may hold, in taxonomy order
    spellings: Mapping[str, str]  # every accepted spelling (case-folded if the policy says) -> id
    replaced: Mapping[str, tuple[str, str]]  # a deprecated label's spelling -> (old id, new id)
    ancestors: Mapping[str, tuple[str, ...]]  # each current label's parent, grandparent, ...
    by_index: bool = False  # answers name labels by their number in `ids`

    @classmethod
    def build(cls, taxonomy: TaxonomyConfig, policy: ValidationConfig) -> LabelSet:
        current = taxonomy.current
        parents = {label.parent for label in current if label.parent}
        offered = [
            label
            for label in current
            if policy.hierarchy != "leaves_only" or label.id not in parents
        ]
        fold = policy.normalize_case
        spellings: dict[str, str] = {}
        for label in current:
            for spelling in (label.id, *(label.aliases if policy.normalize_aliases else [])):
                spellings[spelling.casefold() if fold else spelling] = label.id
        replaced: dict[str, tuple[str, str]] = {}
        for label in taxonomy.labels:
            if label.deprecated and label.replaced_by:
                for spelling in (label.id, *label.aliases):
                    replaced[spelling.casefold() if fold else spelling] = (
                        label.id,
                        label.replaced_by,
                    )
        parent_of = {label.id: label.parent for label in current}
        chains: dict[str, tuple[str, ...]] = {}
        for label_id, parent in parent_of.items():
            chain, node = [], parent
            while node is not None:  # the schema rules out cycles
                chain.append(node)
                node = parent_of.get(node)
            chains[label_id] = tuple(chain)
        return cls(taxonomy, policy, tuple(offered), spellings, replaced, chains)

    def asked_by_number(self, by_index: bool = True) -> LabelSet:
        """The same labels, named in answers by their number (taxonomies past an enum limit)."""
        return replace(self, by_index=by_index)

    # -- what is on offer ------------------------------------------------------------

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.specs)

    @property
    def none(self) -> str | None:
        return self.taxonomy.none_label

    @cached_property
    def categories(self) -> frozenset[str]:
        """Labels that are the parent of another: under leaves_only, not answers."""
        return frozenset(parent for chain in self.ancestors.values() for parent in chain)

    @property
    def exclusive(self) -> Mapping[str, list[str]]:
        return self.taxonomy.exclusive

    def key(self, label_id: str) -> int | str:
        """How an answer names a label: its id, or its number."""
        return self.ids.index(label_id) if self.by_index else label_id

    # -- how many labels an answer holds ---------------------------------------------

    @property
    def most(self) -> int:
        """The most labels an answer may hold ("none" stands alone, so not counted)."""
        most = len(self.specs) - (1 if self.none in self.ids else 0)
        if self.policy.max_labels is not None:
            most = min(most, self.policy.max_labels)
        return max(most, 1)

    @property
    def least(self) -> int:
        """The fewest labels an answer other than "none" alone may hold."""
        return max(self.policy.min_labels, 0 if self.taxonomy.allow_empty else 1)

    def count_problem(self, labels: Sequence[str]) -> str | None:
        """What is wrong with the number of labels in an answer (not "none" alone), if anything."""
        if len(labels) < self.least:
            if not labels:
                return f"no label was given; give at least {self.least}"
            return f"{len(labels)} labels given; give at least {self.least}"
        if len(labels) > self.most:
            return f"{len(labels)} labels given; give at most {self.most}"
        return None

    def breaks_schema(self, labels: Sequence[str]) -> str | None:
        """What in an answer's labels (by id) the schema (`schema(by_id=True)`) refuses, or
        None: the invariant every accepted answer is checked against last. Written by hand
        because walking the compiled JSON-schema validator cost 0.1 ms an answer (13% of a
        row's CPU at 2,000 rows/s); tests/labels/test_label_set.py checks it agrees with
        jsonschema."""
        offered = set(self.ids)
        unknown = [label for label in labels if label not in offered]
        if unknown:
            return f"{unknown[0]!r} is not one of {sorted(offered)}"
        if len(set(labels)) != len(labels):
            return "the labels have non-unique elements"
        least = 1 if self.none else self.least
        if len(labels) < least:
            return f"{list(labels)} should be non-empty" if least == 1 else "too few labels"
        if len(labels) > self.most:
            return f"{list(labels)} is too long (at most {self.most})"
        return None

    # -- the rules between labels -----------------------------------------------------

    def none_beside_others(self, labels: Sequence[str]) -> bool:
        return self.none is not None and self.none in labels and len(labels) > 1

    def exclusive_conflicts(self, labels: Sequence[str]) -> list[tuple[str, list[str]]]:
        """(group, the group's labels present, in the order given) for each group broken."""
        found = []
        for group, members in self.exclusive.items():
            present = [label for label in labels if label in members]
            if len(present) > 1:
                found.append((group, present))
        return found

    def with_parents(self, labels: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """A child implies its parents: the labels with them added, and (parent, child) added."""
        result, added = list(labels), []
        for label in labels:
            for parent in self.ancestors.get(label, ()):
                if parent not in result:
                    result.append(parent)
                    added.append((parent, label))
        return result, added

    def resolve(self, raw: Any) -> tuple[str | None, str | None]:
        """The label an answered item names (an offered id, or a category to refuse), and a
        note when it was read other than exactly: an alias, a case, a number, a replacement."""
        if self.by_index and (isinstance(raw, int) or str(raw).strip().isdigit()):
            index = int(raw)
            return (self.ids[index] if 0 <= index < len(self.ids) else None), None
        name = str(raw).strip()
        if name in self.ids or name in self.categories:
            return name, None
        key = name.casefold() if self.policy.normalize_case else name
        found = self.spellings.get(key)
        if found is not None:
            return found, f"read {raw!r} as {found!r}"
        if key in self.replaced:
            old, new = self.replaced[key]
            return new, f"read the deprecated {old!r} as its replacement {new!r}"
        return None, None

    # -- the schema ------------------------------------------------------------------

    def schema(self, *, by_id: bool = False) -> dict[str, Any]:
        """The JSON schema every answer must satisfy: {"labels": [unique offered labels]}.

        maxItems and uniqueItems matter beyond validation: without them small models
        repeat one label until they run out of tokens. By number, the items are
        integers in range instead of an enum of ids, which no provider limits.
        `by_id` gives the schema by id whatever is asked (the local invariant).
        """
        numbered = self.by_index and not by_id
        items: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": len(self.specs) - 1}
            if numbered
            else {"type": "string", "enum": list(self.ids)}
        )
        labels: dict[str, Any] = {
            "type": "array",
            "items": items,
            "uniqueItems": True,
            "maxItems": self.most,
        }
        # "none" alone is always an answer, so with a none label min_labels is left
        # to the policy check; without one, an empty list is allowed only if asked.
        least = 1 if self.none else self.least
        if least:
            labels["minItems"] = least
        return {
            "type": "object",
            "properties": {"labels": labels},
            "required": ["labels"],
            "additionalProperties": False,
        }
