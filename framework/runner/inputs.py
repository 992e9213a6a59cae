"""Reading the items to classify, streamed a row at a time, from JSONL, CSV or Parquet.

Each format yields InputRows: an Item, or the reason the row cannot be one. A
row that cannot be read (not UTF-8, not JSON, no text) is not a reason to
stop a run of a million rows; it is recorded as failed with that reason. A row
without an id gets "line:N" (N counts data rows from 1, after a CSV header).
Column names come from the `columns` config (id, text, labels).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.records import Item

__all__ = [
    "FORMATS",
    "InputRow",
    "count_rows",
    "input_format",
    "is_uri",
    "read_rows",
    "read_stream",
    "row_from_record",
]

FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
_BATCH = 2048
_BOM = b"\xef\xbb\xbf"
# Characters surrogateescape made of bytes that are not UTF-8.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
# A text of a million characters is an odd input, not a reason to refuse the file.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class InputRow:
    """One input row: an Item to classify, or the reason it cannot be."""

    line: int
    id: str
    item: Item | None = None
    error: str | None = None


def input_format(path: str | Path) -> str:
    suffix = Path(str(path).rstrip("/")).suffix
    found = FORMATS.get(suffix.lower())
    if found is None:
        raise InputError(
            f"input {path}: unknown format {suffix or '(no extension)'}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    return found


def is_uri(path: str | Path) -> bool:
    """s3://bucket/items.jsonl and the like: read by run.executor=ray, not by this process."""
    return "://" in str(path)


def read_rows(path: str | Path, columns: ColumnNames | None = None) -> Iterator[InputRow]:
    """The rows of an input file, streamed; InputError if the file cannot be opened."""
    if is_uri(path):
        raise InputError(
            f"input {path}: an object-store URI is read by run.executor=ray (pip install "
            "'labelwise[ray]'); for a run on this machine, download the file and give its path"
        )
    source = _existing(Path(path))
    kind = input_format(source)
    names = columns or ColumnNames()

    def rows() -> Iterator[InputRow]:
        with source.open("rb") as handle:
            yield from read_stream(handle, kind, names, source=str(source))

    if kind == "parquet":
        _parquet_file(source, str(source))  # a file that is not Parquet: refused before any row
    return rows()


def read_stream(
    handle: BinaryIO, kind: str, names: ColumnNames, *, source: str
) -> Iterator[InputRow]:
    """The rows of an open binary file of the given format (`source` names it in errors):
    the one reader of input rows, for this process and for the Ray executor's read tasks."""
    reader = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[kind]
    return reader(handle, source, names)


def count_rows(path: str | Path) -> int | None:
    """The number of rows, cheaply (for progress and ETA); None if that would be costly."""
    if is_uri(path):
        return None
    source = _existing(Path(path))
    kind = input_format(source)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(source).metadata.num_rows)
    if kind == "jsonl":
        with source.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return None


def _existing(source: Path) -> Path:
    if not source.exists():
        raise InputError(f"input file {source} does not exist")
    if not source.is_file():
        raise InputError(f"input {source} is not a file")
    return source


def _jsonl(handle: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
    head = handle.read(4096)
    if head.removeprefix(_BOM).lstrip().startswith(b"["):  # one JSON array, not lines
        yield from _json_array(head + handle.read(), source, names)
        return
    # Read on from the head (no seek: an object-store stream cannot go back).
    chunks = itertools.chain((head,), iter(lambda: handle.read(1 << 16), b""))
    for number, line in enumerate(_lines(chunks), start=1):
        # A byte-order mark is not part of the first row.
        raw = line.removeprefix(_BOM) if number == 1 else line
        if raw.strip():
            yield _parse_line(raw, number, names)


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines split at b"\\n" only (JSON strings may hold U+2028, which str.splitlines
    would take for a line end)."""
    rest = b""
    for chunk in chunks:
        *complete, rest = (rest + chunk).split(b"\n")
        for line in complete:
            yield line + b"\n"
    if rest:
        yield rest


def _json_array(data: bytes, source: str, names: ColumnNames) -> Iterator[InputRow]:
    """A .json file holding one array of {"id", "text"} objects (read whole)."""
    try:
        records = json.loads(data.removeprefix(_BOM).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"{source}: starts like a JSON array but does not parse ({error}); give one "
            "JSON object per line (JSONL) or a valid array of objects"
        ) from None
    if not isinstance(records, list):
        raise InputError(f"{source}: not a JSON array of records")
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield row_from_record(record, number, names, where="item")
        else:
            yield InputRow(number, f"line:{number}", error=f"item {number} is not a JSON object")


def _parse_line(raw: bytes, line: int, names: ColumnNames) -> InputRow:
    problem = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = (
            f"line {line} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
            f"{error.start + 1}); save the file as UTF-8"
        )
        text = raw.decode("utf-8", errors="replace")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return InputRow(
            line, f"line:{line}", error=problem or f"line {line} is not JSON: {error.msg}"
        )
    if not isinstance(record, dict):
        return InputRow(line, f"line:{line}", error=f"line {line} is not a JSON object")
    row = row_from_record(record, line, names)
    return InputRow(line, row.id, error=problem) if problem else row


def _csv(raw: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
    # utf-8-sig reads a byte-order mark away; surrogateescape keeps a row that is not
    # UTF-8 readable, so that row (not the whole file) is recorded as failed.
    handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    if any(_NOT_UTF8.search(name) for name in header):
        raise InputError(f"{source}: the header is not UTF-8; save the file as UTF-8")
    if names.text not in header:
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


def _parquet(handle: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
    table = _parquet_file(handle, source)
    present = set(table.schema_arrow.names)
    if names.text not in present:
        raise InputError(
            f"{source}: no {names.text!r} column (columns: {', '.join(sorted(present))}); "
            "name the text column with columns.text=NAME"
        )
    wanted = [c for c in (names.id, names.text, names.labels) if c in present]
    line = 0
    for batch in table.iter_batches(batch_size=_BATCH, columns=wanted):
        for record in batch.to_pylist():
            line += 1
            yield row_from_record(record, line, names)


def _parquet_file(handle: Any, source: str) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(handle)
    except Exception as error:
        raise InputError(f"{source} cannot be read as Parquet: {error}") from None


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
