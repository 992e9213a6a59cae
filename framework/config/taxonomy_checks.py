"""What makes a taxonomy unusable, found in one pass.

The schema raises the first problem when a config is loaded; `labelwise lint`
reports them all. Each problem names its key (labels.BILLING.parent) so the
message can point at the label and the file that defined it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from framework.config.label_spec import LabelSpec, shown
from framework.errors import did_you_mean

__all__ = ["Problem", "read_labels", "structural_problems"]


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def read_labels(raw: Mapping[str, Any]) -> tuple[list[LabelSpec], list[Problem]]:
    """The labels of a raw taxonomy as the schema reads them, after `remove`, each
    validated on its own and keyed by id; a label with a bad field is kept without it,
    so one typo does not set off follow-on problems."""
    given, problems = raw.get("labels"), []
    if isinstance(given, Mapping):
        removed = [str(r) for r in raw.get("remove") or []]
        unknown = [r for r in removed if r not in given]
        if unknown:
            problems.append(
                Problem(
                    "remove",
                    f"{', '.join(map(repr, unknown))} not in the labels of the taxonomies "
                    "this one extends",
                )
            )
        entries = [(str(k), v) for k, v in given.items() if str(k) not in removed and v is not None]
        entries = [(k, {"id": k, **v} if isinstance(v, Mapping) else v) for k, v in entries]
    elif isinstance(given, list):
        entries = [
            (str(e.get("id", i)) if isinstance(e, Mapping) else str(i), e)
            for i, e in enumerate(given)
        ]
    else:
        what = "required but not set" if given in (None, "???") else f"got {given!r}"
        return [], [Problem("labels", f"{what}; give a mapping of label id -> fields")]
    labels = []
    for label_id, fields in entries:
        key = f"labels.{shown(label_id)}"
        if not isinstance(fields, Mapping):
            problems.append(
                Problem(
                    key,
                    f"got {fields!r}; give the label's fields (description, aliases, ...)",
                )
            )
            continue
        try:
            labels.append(LabelSpec.model_validate(fields))
        except ValidationError as error:
            problems += _field_problems(error, key, list(LabelSpec.model_fields))
            bad = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}
            with suppress(ValidationError):
                labels.append(
                    LabelSpec.model_validate({k: v for k, v in fields.items() if k not in bad})
                )
    return labels, problems


def _field_problems(error: Any, prefix: str, known: Sequence[str]) -> list[Problem]:
    found = []
    for problem in error.errors():
        key = ".".join([prefix, *map(str, problem["loc"])])
        message = {
            "missing": "required but not set",
            "extra_forbidden": f"not a known key{did_you_mean(key.split('.')[-1], known)}",
            "value_error": str(problem["msg"]).removeprefix("Value error, "),  # says the value
        }.get(problem["type"], f"{problem['msg']} (got {problem.get('input')!r})")
        found.append(Problem(key, message))
    return found


def structural_problems(
    labels: Sequence[LabelSpec],
    *,
    none_label: str | None,
    exclusive: Mapping[str, Sequence[str]],
) -> list[Problem]:
    problems: list[Problem] = []
    by_id: dict[str, LabelSpec] = {}
    for label in labels:
        if label.id in by_id:
            problems.append(
                Problem("labels", f"duplicate id {label.id!r}; label ids must be unique")
            )
        by_id[label.id] = label
    active = {i for i, label in by_id.items() if not label.deprecated}
    if not active:
        problems.append(Problem("labels", "no labels left; a taxonomy needs at least one label"))
    problems += _names(labels)
    problems += _parents(by_id)
    problems += _replacements(by_id, active)
    if none_label is not None and none_label not in active:
        what = "deprecated" if none_label in by_id else "not a label id"
        problems.append(
            Problem("none_label", f"{none_label!r} is {what}; add it to labels or set null")
        )
    problems += _exclusive(exclusive, by_id, active, none_label)
    return problems


def _names(labels: Sequence[LabelSpec]) -> list[Problem]:
    """An id or alias must name one label, whatever its case."""
    owners: dict[str, str] = {}
    found = []
    for label in labels:
        for name in (label.id, *label.aliases):
            owner = owners.setdefault(name.casefold(), label.id)
            if owner != label.id:
                found.append(
                    Problem(
                        f"labels.{label.id}",
                        f"{name!r} names both {owner!r} and {label.id!r} "
                        "(ids and aliases are matched without regard to case)",
                    )
                )
    return found


def _parents(by_id: Mapping[str, LabelSpec]) -> list[Problem]:
    found = []
    for label in by_id.values():
        if label.parent is None:
            continue
        key = f"labels.{label.id}.parent"
        if label.parent not in by_id:
            found.append(Problem(key, f"{label.parent!r} is not a label id"))
        elif label.parent == label.id:
            found.append(Problem(key, "a label cannot be its own parent"))
        elif by_id[label.parent].deprecated and not label.deprecated:
            found.append(Problem(key, f"{label.parent!r} is deprecated; choose a current parent"))
    cycles = _cycles(by_id)
    if cycles:  # the one through the earliest label, from that label
        order = {label_id: place for place, label_id in enumerate(by_id)}
        cycle = min(cycles, key=lambda ids: order[ids[0]])
        steps = [*cycle, cycle[0]]
        if len(steps) > 12:  # a long cycle in one readable line
            steps = [*steps[:8], f"... ({len(cycle)} labels)", *steps[-2:]]
        text = " -> ".join(steps)
        found.append(Problem(f"labels.{cycle[0]}.parent", f"the parents form a cycle: {text}"))
    return found


def _cycles(by_id: Mapping[str, LabelSpec]) -> list[list[str]]:
    """Every cycle of two labels or more that parents form, each from its earliest label;
    each label is walked once, so a chain of 10,000 parents costs 10,000 steps."""
    order = {label_id: place for place, label_id in enumerate(by_id)}
    walked: dict[str, bool] = {}  # True while on the walk under way
    cycles = []
    for start in by_id:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in by_id and node not in walked:
            walked[node] = True
            path.append(node)
            node = by_id[node].parent
        if node is not None and walked.get(node):  # back onto this walk
            cycle = path[path.index(node) :]  # once per cycle: linear
            first = cycle.index(min(cycle, key=order.__getitem__))
            if len(cycle) > 1:
                cycles.append(cycle[first:] + cycle[:first])
        walked.update(dict.fromkeys(path, False))
    return cycles


def _replacements(by_id: Mapping[str, LabelSpec], active: set[str]) -> list[Problem]:
    found = []
    for label in by_id.values():
        key = f"labels.{label.id}.replaced_by"
        if label.replaced_by is None:
            continue
        if not label.deprecated:
            found.append(
                Problem(key, "only a deprecated label has a replacement; set deprecated: true")
            )
        elif label.replaced_by not in active:
            found.append(Problem(key, f"{label.replaced_by!r} is not a current label id"))
    return found


def _exclusive(
    groups: Mapping[str, Sequence[str]],
    by_id: Mapping[str, LabelSpec],
    active: set[str],
    none_label: str | None,
) -> list[Problem]:
    found = []
    for name, members in groups.items():
        key = f"exclusive.{name}"
        unknown = [m for m in members if m not in active]
        if unknown:
            what = "is not a current label id" if len(unknown) == 1 else "are not current label ids"
            found.append(Problem(key, f"{', '.join(map(repr, unknown))} {what}"))
        if len(set(members)) < 2:
            found.append(Problem(key, "an exclusive group needs two labels or more"))
        if none_label in members:
            found.append(Problem(key, f"{none_label!r} is exclusive of every label already"))
        for member in members:
            parent = by_id[member].parent if member in by_id else None
            if parent in members:
                found.append(
                    Problem(
                        key,
                        f"{member!r} implies its parent {parent!r}, so they cannot exclude "
                        "each other",
                    )
                )
    return found
