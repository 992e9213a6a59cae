"""One input row, and how a decoded record becomes one (shared by every reader).

    row = row_from_record({"id": "n1", "text": "..."}, line=1, names=ColumnNames())
    row.item      # the Item to classify, or None
    row.error     # why it cannot be one (written as the row's failure)

A row without an id gets "line:N" (N counts data rows from 1, after a CSV header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from framework.config.schema import ColumnNames
from framework.records import Item

__all__ = ["InputRow", "row_from_record"]


@dataclass(frozen=True)
class InputRow:
    """One input row: an Item to classify, or the reason it cannot be."""

    line: int
    id: str
    item: Item | None = None
    error: str | None = None


def row_from_record(
    record: dict[str, Any], line: int, names: ColumnNames | None = None, *, where: str = "line"
) -> InputRow:
    """An InputRow from one decoded record (shared by the readers)."""
    names = names or ColumnNames()
    raw_id = record.get(names.id)
    if raw_id is None or raw_id == "":
        row_id = f"line:{line}"
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int | float):
        return InputRow(
            line,
            f"line:{line}",
            error=f"{where} {line}: the id is {type(raw_id).__name__}, not a string or a number",
        )
    else:
        row_id = str(raw_id)
    text = record.get(names.text)
    if not isinstance(text, str):
        what = "has no text field" if text is None else f"has a text that is {type(text).__name__}"
        return InputRow(line, row_id, error=f"{where} {line} {what}; each row needs a text string")
    for field, value in (("id", row_id), ("text", text)):
        bad = _lone_surrogate(value)
        if bad is not None:
            return InputRow(
                line,
                row_id,
                error=f"{where} {line}: the {field} holds a lone "
                f"surrogate ({bad}), half of a character such as an emoji, which "
                "cannot be sent; fix the text where it was written",
            )
    gold = record.get(names.labels)
    if gold is not None and not (isinstance(gold, list) and all(isinstance(g, str) for g in gold)):
        return InputRow(line, row_id, error=f"{where} {line}: labels must be a list of strings")
    return InputRow(line, row_id, Item(row_id, text, tuple(gold) if gold is not None else None))


def _lone_surrogate(value: str) -> str | None:
    """'\\ud83d at character 14' when the string holds a lone surrogate, else None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"{value[error.start]!r} at character {error.start + 1}"
    return None
