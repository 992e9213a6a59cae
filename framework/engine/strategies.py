"""How the question is put to the model: the shape of the answer decides accuracy.

    labels_array  one call: {"labels": [ids]}
    checklist     one call: {"<id>": true|false, ...} for every label, in taxonomy order
    per_label     one call per label: {"answer": "yes"|"no"}

Each strategy makes the questions for a text, reads one answer into a Verdict
(the labels that answer says apply, or the problems to ask again about), and
reads per-label confidence from the answer's token log-probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.engine.confidence import binary_probabilities, first_token_probabilities
from framework.labels.label_set import LabelSet
from framework.labels.validate import AnswerValidator, Verdict, parse_answer, read_json
from framework.records import TokenLogprob

__all__ = ["STRATEGIES", "Question", "Strategy"]


@dataclass(frozen=True)
class Question:
    """One call's worth of asking; `topic` is the label a per-label question is about."""

    text: str
    topic: str | None = None


class Strategy:
    """labels_array: the base the other two vary."""

    name = "labels_array"

    def __init__(self, labels: LabelSet) -> None:
        self.labels = labels
        self.offered = list(labels.ids)
        self.validator = AnswerValidator(labels)

    @property
    def schema(self) -> dict[str, Any]:
        return self.labels.schema()

    @property
    def answer_form(self) -> str | None:
        return None  # the renderer's default: {"labels": [...]} with the label ids

    def questions(self, text: str) -> list[Question]:
        return [Question(text)]

    def example_answer(self, labels: int) -> str:
        """An answer of the usual size, holding `labels` labels (for estimates)."""
        return json.dumps({"labels": self.offered[:labels]})

    def read(self, question: Question, answer: str | None) -> Verdict:
        return self.validator.check(answer)

    def confidence(
        self, question: Question, logprobs: Sequence[TokenLogprob], verdict: Verdict
    ) -> dict[str, float] | None:
        """Labels in the answer: the probability of their first token; the rest: 0."""
        if not logprobs:
            return None
        found = first_token_probabilities(logprobs, verdict.labels)
        return {label: found.get(label, 0.0) for label in self.offered}


class Checklist(Strategy):
    name = "checklist"

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {label: {"type": "boolean"} for label in self.offered},
            "required": list(self.offered),
            "additionalProperties": False,
        }

    def example_answer(self, labels: int) -> str:
        return json.dumps({label: n < labels for n, label in enumerate(self.offered)})

    @property
    def answer_form(self) -> str:
        fields = ", ".join(f'"{label}": true|false' for label in self.offered)
        return "a JSON object with every label: {" + fields + "}"

    def read(self, question: Question, answer: str | None) -> Verdict:
        parsed = read_json(answer)
        if isinstance(parsed, Verdict):
            return parsed
        value, _ = parsed
        problems = _checklist_problems(value, self.offered)
        if problems:
            return Verdict(problems=tuple(problems))
        chosen = [label for label in self.offered if value[label] is True]
        return self.validator.check(json.dumps({"labels": chosen}))

    def confidence(
        self, question: Question, logprobs: Sequence[TokenLogprob], verdict: Verdict
    ) -> dict[str, float] | None:
        found = binary_probabilities(logprobs, count=len(self.offered), kind="boolean")
        return dict(zip(self.offered, found, strict=True)) if found else None


class PerLabel(Strategy):
    name = "per_label"
    schema_yes_no: Mapping[str, Any] = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.schema_yes_no)

    @property
    def answer_form(self) -> str:
        return '{"answer": "yes"} or {"answer": "no"}'

    def questions(self, text: str) -> list[Question]:
        return [Question(text, topic=label) for label in self.offered]

    def example_answer(self, labels: int) -> str:
        return '{"answer": "no"}'

    def read(self, question: Question, answer: str | None) -> Verdict:
        """The topic when the answer is yes, nothing when no; the policy comes later."""
        bare = (answer or "").strip().strip('."').lower()
        try:
            value, _ = parse_answer(answer or "") if bare not in ("yes", "no") else (bare, None)
        except ValueError as error:
            return Verdict(problems=(str(error),))
        said = value.get("answer") if isinstance(value, dict) else value
        word = str(said).strip().lower() if isinstance(said, str | bool) else ""
        if word in ("yes", "true"):
            return Verdict(labels=(str(question.topic),))
        if word in ("no", "false"):
            return Verdict()
        return Verdict(
            problems=(f'the answer must be {{"answer": "yes"}} or "no", not {answer!r}',)
        )

    def confidence(
        self, question: Question, logprobs: Sequence[TokenLogprob], verdict: Verdict
    ) -> dict[str, float] | None:
        found = binary_probabilities(logprobs, count=1, kind="yesno")
        return {str(question.topic): found[0]} if found else None


def _checklist_problems(value: Any, labels: Sequence[str]) -> list[str]:
    if not isinstance(value, dict):
        return ["the answer must be a JSON object with one true or false per label"]
    missing = [label for label in labels if label not in value]
    wrong = [label for label in labels if label in value and not isinstance(value[label], bool)]
    extra = [key for key in value if key not in labels]
    problems = []
    if missing:
        problems.append(f"labels missing from the answer: {', '.join(missing)}")
    if wrong:
        problems.append(f"not true or false: {', '.join(wrong)}")
    if extra:
        problems.append(f"not labels: {', '.join(map(repr, extra))}")
    return problems


STRATEGIES: dict[str, type[Strategy]] = {
    "labels_array": Strategy,
    "checklist": Checklist,
    "per_label": PerLabel,
}
