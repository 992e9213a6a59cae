"""Checking one answer against the schema and the validation policy.

    AnswerValidator(LabelSet.build(taxonomy, policy)).check(text) -> Verdict

A Verdict either accepts a label set or lists the problems to quote back to
the model. What the policy may fix by itself (a label in the wrong case, an
alias, a deprecated id, a repeat, an unknown label to drop, a missing parent)
is fixed and noted as a repair. Whatever the model said, an accepted label set
holds only offered taxonomy ids, each once, at most one of each exclusive
group, and "none" never beside another label: the schema's rules
(LabelSet.breaks_schema) check the answer last, every time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from framework.labels.label_set import LabelSet

__all__ = ["AnswerValidator", "Verdict", "parse_answer", "read_json"]

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    labels: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
    fatal: bool = False

    @property
    def accepted(self) -> bool:
        return not self.problems


def parse_answer(text: str) -> tuple[Any, str | None]:
    """The JSON value in an answer, and a repair note if it had to be dug out of prose."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        first_error = error
    candidates = [m.group(1) for m in _FENCED.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate), "took the JSON object out of surrounding text"
        except json.JSONDecodeError:
            continue
    raise ValueError(
        f"the answer is not valid JSON ({first_error.msg} at character {first_error.pos})"
    )


def read_json(text: str | None) -> tuple[Any, list[str]] | Verdict:
    """An answer's JSON value with its repair notes, or the Verdict saying why there is none."""
    if text is None or not text.strip():
        return Verdict(problems=("the answer was empty",))
    try:
        value, note = parse_answer(text)
    except ValueError as error:
        return Verdict(problems=(str(error),))
    return value, [note] if note else []


class AnswerValidator:
    """Built once per run: the compiled validators over the run's LabelSet."""

    def __init__(self, labels: LabelSet) -> None:
        self.labels = labels
        self._policy = labels.policy
        kind = ["string", "integer"] if labels.by_index else "string"
        item_shape = {"type": "array", "items": {"type": kind}}
        shape = {"type": "object", "required": ["labels"], "properties": {"labels": item_shape}}
        self._shape = Draft202012Validator(shape)

    def check(self, text: str | None) -> Verdict:
        parsed = read_json(text)
        if isinstance(parsed, Verdict):
            return parsed
        value, repairs = parsed
        if isinstance(value, list):
            value = {"labels": value}
            repairs.append("read a bare list as the labels")
        if not _labels_shaped(value, self.labels.by_index):
            shape_errors = sorted(self._shape.iter_errors(value), key=lambda e: list(e.path))
        else:  # the usual answer: no need to walk the shape schema (about 0.1 ms a check)
            shape_errors = []
        if shape_errors:
            where = "/".join(str(p) for p in shape_errors[0].path) or "answer"
            return Verdict(
                problems=(
                    'the answer must be a JSON object {"labels": [strings]}; '
                    f"at {where}: {shape_errors[0].message}",
                )
            )
        return self._apply_policy(list(value["labels"]), repairs)

    def _apply_policy(self, said: list[Any], repairs: list[str]) -> Verdict:
        rules = self.labels
        labels, problems, fatal = self._to_ids(said, repairs)
        if fatal:
            return Verdict(problems=tuple(problems), fatal=True)
        none = rules.none
        if rules.none_beside_others(labels):
            if self._policy.none_exclusive == "drop_none":
                labels.remove(str(none))
                repairs.append(f"removed {none!r}, which cannot stand beside other labels")
            else:
                problems.append(
                    f"{none!r} cannot stand beside other labels; answer {none!r} alone "
                    "or leave it out"
                )
        if not labels and not problems and none is not None:
            labels = [none]
            repairs.append(f"read an empty answer as {none!r}")
        for group, present in rules.exclusive_conflicts(labels):
            problems.append(
                f"{', '.join(map(repr, present))} exclude each other (group {group!r}); "
                f"keep at most one of {', '.join(rules.exclusive[group])}"
            )
        if not problems and labels != [none]:
            count = rules.count_problem(labels)
            problems.extend([count] if count else [])
        if not problems:
            invariant = rules.breaks_schema(labels)
            if invariant is not None:
                problems.append(f"the labels do not satisfy the schema: {invariant}")
        if not problems and self._policy.hierarchy == "add_parents":
            labels, added = rules.with_parents(labels)
            repairs.extend(f"added {parent!r}, the parent of {child!r}" for parent, child in added)
        return Verdict(
            labels=tuple(labels) if not problems else (),
            problems=tuple(problems),
            repairs=tuple(dict.fromkeys(repairs)),
        )

    def _to_ids(self, said: list[Any], repairs: list[str]) -> tuple[list[str], list[str], bool]:
        """Each answered name resolved to an offered id: (ids, problems, fatal)."""
        labels: list[str] = []
        problems: list[str] = []
        offered = set(self.labels.ids)
        for raw in said:
            label, note = self.labels.resolve(raw)
            if note:
                repairs.append(note)
            if label is None or label not in offered:
                if self._policy.on_unknown_label == "drop":
                    repairs.append(
                        f"dropped {raw!r}, which is not a label"
                        if label is None
                        else f"dropped {label!r}, a category rather than a label"
                    )
                    continue
                problems.append(
                    f"{raw!r} is not one of the labels"
                    if label is None
                    else f"{label!r} is a category, not a label; choose among its labels"
                )
                if self._policy.on_unknown_label == "fail":
                    return [], problems[-1:], True
                continue
            if label in labels:
                if self._policy.dedupe:
                    repairs.append(f"merged repeats of {label!r}")
                else:
                    problems.append(f"{label!r} is listed more than once; list each label once")
                continue
            labels.append(label)
        return labels, problems, False


def _labels_shaped(value: Any, by_index: bool) -> bool:
    """{"labels": [str, ...]} (ints too, by number): what the shape schema accepts."""
    if not isinstance(value, dict):
        return False
    labels = value.get("labels")
    if not isinstance(labels, list):
        return False
    kinds = (str, int) if by_index else (str,)
    return all(isinstance(x, kinds) and not isinstance(x, bool) for x in labels)
