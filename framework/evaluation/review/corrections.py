"""Annotators' Label Studio export -> gold rows {"id", "text", "labels"}.

    found = read_corrections(Path("project-1-at-2026-12-02.json"))
    found.rows, found.unannotated, found.left_out      # GoldRow list, 3, {reason: Tally}

Reads Label Studio's JSON export (a list of tasks, each with its `data` and
`annotations`) and its JSON_MIN export (flat rows). A task's gold is its latest
annotation that was not cancelled; a task nobody annotated is skipped and
counted. A task that is malformed (its data not an object, a value that is not
an object, a choice that is not a string, no row_id, ...) is left out and
counted under its reason: one odd task never stops the import nor turns into a
made-up label. The rows keep the task's taxonomy stamp, so evaluate refuses to
score them against results of another taxonomy version. Which labels a row may
hold is checked afterwards (framework.evaluation.review.gold_check).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import InputError
from framework.evaluation.review.tasks import FROM_NAME

__all__ = ["Corrections", "GoldRow", "Tally", "corrections_of", "read_corrections"]


@dataclass(frozen=True)
class GoldRow:
    id: str
    text: str
    labels: tuple[str, ...]
    taxonomy: str = ""
    taxonomy_hash: str = ""
    task: int = field(default=0, compare=False)  # its number in the export (for messages)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "text": self.text, "labels": list(self.labels)}
        if self.taxonomy_hash:
            row.update(taxonomy=self.taxonomy, taxonomy_hash=self.taxonomy_hash)
        row["source"] = "label-studio"
        return row


@dataclass
class Tally:
    """How many tasks were left out for one reason, and the first of them."""

    count: int = 0
    first: int = 0


@dataclass
class Corrections:
    rows: list[GoldRow] = field(default_factory=list)
    unannotated: int = 0  # tasks nobody annotated (or every annotation cancelled)
    left_out: dict[str, Tally] = field(default_factory=dict)  # reason -> tasks

    def leave_out(self, reason: str, task: int) -> None:
        tally = self.left_out.setdefault(reason, Tally(first=task))
        tally.count += 1


class _Malformed(Exception):
    """A task that cannot be read as gold; `reason` says why, in the summary's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_corrections(path: Path) -> Corrections:
    """The gold rows of an export file, and the tasks left out."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist; give the JSON file Label Studio exported"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give the JSON file Label Studio exported") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not JSON ({error}); export the project as JSON") from None
    except RecursionError:  # json.loads recurses once per nesting level
        raise InputError(
            f"{path} is nested too deeply to be a Label Studio export; export the project as JSON"
        ) from None
    return corrections_of(tasks, str(path))


def corrections_of(tasks: Any, source: str = "the export") -> Corrections:
    """Gold rows from an export already parsed (a list of tasks)."""
    if not isinstance(tasks, list) or (tasks and not any(map(_looks_like_task, tasks))):
        raise InputError(
            f"{source} is not a Label Studio export (a JSON list of tasks, each with its data "
            "or row_id); export the project as JSON or JSON_MIN"
        )
    found = Corrections()
    rows: dict[str, GoldRow] = {}  # a row exported twice: the later task wins
    for number, task in enumerate(tasks, start=1):
        try:
            row = _gold_of(task, number)
        except _Malformed as problem:
            found.leave_out(problem.reason, number)
            continue
        if row is None:
            found.unannotated += 1
        else:
            rows[row.id] = row
    found.rows = list(rows.values())
    return found


def _looks_like_task(task: Any) -> bool:
    return isinstance(task, Mapping) and any(k in task for k in ("data", "row_id", "annotations"))


def _gold_of(task: Any, number: int) -> GoldRow | None:
    if not isinstance(task, Mapping):
        raise _Malformed("the task is not a JSON object")
    if "data" not in task:
        return _from_min(task, number)
    data = task["data"]
    if not isinstance(data, Mapping):
        raise _Malformed("its data is not an object")
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise _Malformed("its annotations are not a list")
    if not all(isinstance(a, Mapping) for a in annotations):
        raise _Malformed("an annotation is not an object")
    done = [(n, a) for n, a in enumerate(annotations) if not a.get("was_cancelled")]
    if not done:
        return None
    _, latest = max(done, key=_recency)
    result = latest.get("result") or []
    if not isinstance(result, list):
        raise _Malformed("an annotation's result is not a list")
    labels: dict[str, None] = {}
    for item in result:
        if not isinstance(item, Mapping):
            raise _Malformed("a result is not an object")
        if item.get("from_name", FROM_NAME) != FROM_NAME:
            continue  # another control of the labeling config (a comment, say)
        value = item.get("value")
        if not isinstance(value, Mapping):
            raise _Malformed("a result's value is not an object")
        labels.update(dict.fromkeys(_choices(value.get("choices"))))
    return _row(data, tuple(labels), number)


def _recency(entry: tuple[int, Mapping[str, Any]]) -> tuple[str, int, int]:
    """Latest first by time, then by id (a whole number; Label Studio's), then by place."""
    position, annotation = entry
    when = annotation.get("updated_at") or annotation.get("created_at") or ""
    ident = annotation.get("id")
    number = ident if isinstance(ident, int) and not isinstance(ident, bool) else -1
    return str(when), number, position


def _from_min(task: Mapping[str, Any], number: int) -> GoldRow | None:
    if FROM_NAME not in task:
        return None  # JSON_MIN leaves the field out of a task nobody labeled
    value = task[FROM_NAME]
    if isinstance(value, Mapping):
        value = value.get("choices")
    elif isinstance(value, str):
        value = [value]  # a single choice
    return _row(task, tuple(dict.fromkeys(_choices(value))), number)


def _choices(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Malformed("a result's value has no list of choices")
    if not all(isinstance(choice, str) for choice in value):
        raise _Malformed("a choice is not a string (a list, an object, a number or null)")
    return value


def _row(data: Mapping[str, Any], labels: tuple[str, ...], number: int) -> GoldRow:
    row_id = data.get("row_id")
    if row_id is None or row_id == "":
        raise _Malformed("it has no row_id (tasks come from labelwise review export)")
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        raise _Malformed("its row_id is not a string or a whole number")
    return GoldRow(
        id=str(row_id),
        text=_text(data.get("text")),
        labels=labels,
        taxonomy=_text(data.get("taxonomy")),
        taxonomy_hash=_text(data.get("taxonomy_hash")),
        task=number,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
