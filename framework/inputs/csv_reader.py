"""CSV input: a header row naming the columns; a labels cell is a JSON list or names
separated by |. A row that is not UTF-8 is a row that failed with its reason."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.inputs.rows import InputRow, row_from_record

__all__ = ["read_csv"]

# Characters surrogateescape made of bytes that are not UTF-8.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
# A text of a million characters is an odd input, not a reason to refuse the file.
csv.field_size_limit(2**31 - 1)


def read_csv(raw: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
    # utf-8-sig reads a byte-order mark away; surrogateescape keeps a row that is not
    # UTF-8 readable, so that row (not the whole file) is recorded as failed.
    handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    if any(_NOT_UTF8.search(name) for name in header):
        raise InputError(f"{source}: the header is not UTF-8; save the file as UTF-8")
    if names.text not in header and names.image not in header:  # an image alone is a row
        raise InputError(
            f"{source}: no {names.text!r} column (columns: {', '.join(header)}); "
            f"name the text column with columns.text=NAME"
        )
    for line, record in enumerate(reader, start=1):
        cells = [cell for cell in record.values() if isinstance(cell, str)]
        if any(_NOT_UTF8.search(cell) for cell in cells):
            row_id = record.get(names.id)
            clean_id = row_id if row_id and not _NOT_UTF8.search(row_id) else f"line:{line}"
            yield InputRow(
                line, clean_id, error=f"row {line} is not valid UTF-8; save the file as UTF-8"
            )
            continue
        gold = record.get(names.labels)
        if isinstance(gold, str):
            record[names.labels] = _csv_labels(gold)
        yield row_from_record(record, line, names, where="row")


def _csv_labels(cell: str) -> Any:
    """A CSV labels cell: a JSON list, or names separated by |; empty means no gold."""
    cell = cell.strip()
    if not cell:
        return None
    if cell.startswith("["):
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell
    return [part.strip() for part in cell.split("|") if part.strip()]
