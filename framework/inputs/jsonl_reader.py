"""JSON Lines input (.jsonl, .ndjson, .json): one object a line, or one JSON array of
objects read whole; a byte-order mark is read away; a line that is not UTF-8 or not JSON
is a row that failed with its reason, not a reason to stop the run."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import BinaryIO

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.inputs.rows import InputRow, row_from_record

__all__ = ["read_jsonl"]

_BOM = b"\xef\xbb\xbf"


def read_jsonl(handle: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
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
