"""The taxonomy schema: labels, their hierarchy and groups, versions and lineage."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from framework.config.label_spec import LabelSpec
from framework.config.strict import Strict
from framework.config.taxonomy_checks import read_labels, structural_problems

__all__ = ["LabelSpec", "TaxonomyConfig"]


class TaxonomyConfig(Strict):
    """A versioned label set.

    labels: {id: {description, aliases, examples, negative_examples, parent,
        deprecated, replaced_by, name}}; a list of {id: ..., ...} is read too.
    A taxonomy that lists another in its Hydra defaults extends it: labels are
    merged by id (add one, override its description), `remove: [id]` takes
    labels out, `deprecated: true` with `replaced_by` retires one. `lineage`
    is merged too, so it names every taxonomy the result was built from.
    exclusive: named groups of labels of which an answer may hold one at most.
    """

    name: str = Field(
        min_length=1,
        description="The taxonomy's name: with version, on every result row (name@version) "
        "and in the prompt.",
    )
    version: str = Field(
        min_length=1,
        description="The taxonomy's version: with name, on every result row and in the run's "
        "identity (run.resume=auto refuses to mix two versions in one output).",
    )
    description: str = Field(
        default="",
        description="What the taxonomy is about, shown to the model at the top of the prompt "
        "(empty: nothing).",
    )
    labels: list[LabelSpec]
    none_label: str | None = Field(
        default=None,
        description="The id of the label that means no other applies: it stands alone, and "
        "an empty answer or text gets it; null: no such label.",
    )
    allow_empty: bool = Field(
        default=False,
        description="Accept an answer with no label (an empty text gets none too); false: at "
        "least one label, or the none_label.",
    )
    exclusive: dict[str, list[str]] = Field(default_factory=dict)
    remove: list[str] = Field(
        default_factory=list,
        description="Ids of labels to take out of the taxonomies this one extends (labels "
        "given as a mapping); an id not among them is an error.",
    )
    lineage: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _labels_by_id(cls, data: Any) -> Any:
        """The mapping form (id -> fields) read into a list, minus `remove`d labels; a
        problem with one label is reported by its id, not its place in the list."""
        if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
            return data
        labels, problems = read_labels(data)
        if problems:
            raise ValueError(str(problems[0]))
        return {**data, "labels": labels}

    @model_validator(mode="after")
    def _coherent(self) -> TaxonomyConfig:
        problems = structural_problems(
            self.labels, none_label=self.none_label, exclusive=self.exclusive
        )
        if problems:
            raise ValueError(str(problems[0]))
        return self

    @property
    def current(self) -> list[LabelSpec]:
        """The labels on offer: all but the deprecated ones, in order."""
        return [label for label in self.labels if not label.deprecated]
