"""Reading the items to classify, streamed a row at a time: one reader per input kind.

    for row in read_rows("items.jsonl", config.columns): row.item or row.error

Each reader yields InputRows (framework.inputs.rows): an Item, or the reason the row
cannot be one. A row that cannot be read (not UTF-8, not JSON, no text) is not a
reason to stop a run of a million rows; it is recorded as failed with that reason.
A new input kind is one module with a reader `(binary handle, source, columns) ->
rows` and one entry in READERS (and its file suffixes in FORMATS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.inputs.csv_reader import read_csv
from framework.inputs.jsonl_reader import read_jsonl
from framework.inputs.parquet_reader import parquet_file, read_parquet
from framework.inputs.rows import InputRow

__all__ = ["FORMATS", "READERS", "count_rows", "input_format", "is_uri", "read_rows", "read_stream"]

Reader = Callable[[BinaryIO, str, ColumnNames], Iterator[InputRow]]

READERS: dict[str, Reader] = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet}
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}


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
        parquet_file(source, str(source))  # a file that is not Parquet: refused before any row
    return rows()


def read_stream(
    handle: BinaryIO, kind: str, names: ColumnNames, *, source: str
) -> Iterator[InputRow]:
    """The rows of an open binary file of the given format (`source` names it in errors):
    the one reader of input rows, for this process and for the Ray executor's read tasks."""
    return READERS[kind](handle, source, names)


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
