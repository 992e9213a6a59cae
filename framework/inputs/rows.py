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
from framework.records import ImageRef, Item

__all__ = ["InputRow", "image_refs", "row_from_record"]


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
    images: tuple[ImageRef, ...] = ()
    if names.image is not None:
        found = image_refs(record.get(names.image))
        if isinstance(found, str):
            return InputRow(line, row_id, error=f"{where} {line}: {names.image} {found}")
        images = found
    text = record.get(names.text)
    if images and text is None:
        text = ""  # an image alone is a row
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
    labels = tuple(gold) if gold is not None else None
    return InputRow(line, row_id, Item(row_id, text, labels, images))


def image_refs(cell: Any) -> tuple[ImageRef, ...] | str:
    """The images a cell names (a string, bytes, {"bytes", "path"} as Hugging Face writes
    Parquet images, or a list of these), or what is wrong with it. Nothing is read here:
    framework.inputs.images reads and checks each image when its row is classified."""
    cells = cell if isinstance(cell, list | tuple) else [] if cell is None else [cell]
    refs = []
    for each in cells:
        # {"bytes": b"...", "path": "x.jpg"} (Hugging Face's image struct): the bytes win
        one = each.get("bytes") or each.get("path") if isinstance(each, dict) else each
        if isinstance(one, bytes | bytearray | memoryview):
            refs.append(ImageRef("bytes", bytes(one)))
        elif isinstance(one, str) and one.strip():
            refs.append(ImageRef(one.strip()))
        elif one not in (None, ""):
            return f"holds a {type(one).__name__}; give a path, an https:// URL or a data: URI"
    return tuple(refs)


def _lone_surrogate(value: str) -> str | None:
    """'\\ud83d at character 14' when the string holds a lone surrogate, else None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"{value[error.start]!r} at character {error.start + 1}"
    return None
