"""Annotators' Label Studio export -> gold rows {"id", "text", "labels"}.

    rows, skipped = read_corrections(Path("project-1-at-2026-12-02.json"))
    write_gold(rows, Path("gold.jsonl"))   # labelwise evaluate RUN --gold gold.jsonl

Reads Label Studio's JSON export (a list of tasks, each with its `data` and
`annotations`) and its JSON_MIN export (flat rows). A task's gold is its latest
annotation that was not cancelled; a task nobody annotated is skipped and
counted. The rows keep the task's taxonomy stamp, so evaluate refuses to score
them against results of another taxonomy version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.errors import InputError
from framework.evaluation.review.tasks import FROM_NAME

__all__ = ["GoldRow", "corrections_of", "read_corrections", "write_gold"]


@dataclass(frozen=True)
class GoldRow:
    id: str
    text: str
    labels: tuple[str, ...]
    taxonomy: str = ""
    taxonomy_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "text": self.text, "labels": list(self.labels)}
        if self.taxonomy_hash:
            row.update(taxonomy=self.taxonomy, taxonomy_hash=self.taxonomy_hash)
        row["source"] = "label-studio"
        return row


def read_corrections(path: Path) -> tuple[list[GoldRow], int]:
    """The gold rows of an export file, and how many tasks had no annotation."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist; give the JSON file Label Studio exported"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not JSON ({error}); export the project as JSON") from None
    return corrections_of(tasks, str(path))


def corrections_of(tasks: Any, source: str = "the export") -> tuple[list[GoldRow], int]:
    """Gold rows from an export already parsed (a list of tasks)."""
    if not isinstance(tasks, list):
        raise InputError(
            f"{source} is not a Label Studio export (a JSON list of tasks); export the "
            "project as JSON or JSON_MIN"
        )
    rows: dict[str, GoldRow] = {}  # a row exported twice: the later task wins
    skipped = 0
    for number, task in enumerate(tasks, start=1):
        if not isinstance(task, Mapping):
            raise InputError(f"{source}: task {number} is not a JSON object")
        row = _from_full(task) if "data" in task else _from_min(task)
        if row is None:
            skipped += 1
            continue
        if not row.id:
            raise InputError(
                f"{source}: task {number} has no row_id; export tasks made by "
                "labelwise review export"
            )
        rows[row.id] = row
    return list(rows.values()), skipped


def _from_full(task: Mapping[str, Any]) -> GoldRow | None:
    data = task.get("data") or {}
    done = [
        a
        for a in task.get("annotations") or ()
        if isinstance(a, Mapping) and not a.get("was_cancelled")
    ]
    if not done:
        return None
    latest = max(
        done,
        key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0),
    )
    labels = _choices(
        item.get("value", {}).get("choices")
        for item in latest.get("result") or ()
        if isinstance(item, Mapping) and item.get("from_name", FROM_NAME) == FROM_NAME
    )
    return _row(data, labels)


def _from_min(task: Mapping[str, Any]) -> GoldRow | None:
    if FROM_NAME not in task:
        return None  # JSON_MIN leaves the field out of a task nobody labeled
    value = task[FROM_NAME]
    if isinstance(value, Mapping):
        value = value.get("choices")
    return _row(task, _choices([value]))


def _choices(groups: Iterable[Any]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for group in groups:
        if isinstance(group, str):
            found[group] = None
        elif isinstance(group, list):
            found.update(dict.fromkeys(str(choice) for choice in group))
    return tuple(found)


def _row(data: Mapping[str, Any], labels: tuple[str, ...]) -> GoldRow:
    return GoldRow(
        id=str(data.get("row_id") or ""),
        text=str(data.get("text") or ""),
        labels=labels,
        taxonomy=str(data.get("taxonomy") or ""),
        taxonomy_hash=str(data.get("taxonomy_hash") or ""),
    )


def write_gold(rows: Iterable[GoldRow], path: Path) -> int:
    """Write gold rows as JSONL (usable as input= and as evaluate --gold); how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", errors="backslashreplace") as handle:
        for row in rows:
            handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
