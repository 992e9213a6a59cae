"""Parquet input, read in record batches of the id, text, labels (and image) columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.inputs.rows import InputRow, row_from_record

__all__ = ["parquet_file", "read_parquet"]

_BATCH = 2048


def read_parquet(handle: BinaryIO, source: str, names: ColumnNames) -> Iterator[InputRow]:
    table = parquet_file(handle, source)
    present = set(table.schema_arrow.names)
    if names.text not in present and names.image not in present:  # an image alone is a row
        raise InputError(
            f"{source}: no {names.text!r} column (columns: {', '.join(sorted(present))}); "
            "name the text column with columns.text=NAME"
        )
    wanted = [c for c in (names.id, names.text, names.labels, names.image) if c in present]
    line = 0
    for batch in table.iter_batches(batch_size=_BATCH, columns=wanted):
        for record in batch.to_pylist():
            line += 1
            yield row_from_record(record, line, names)


def parquet_file(handle: Any, source: str) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(handle)
    except Exception as error:
        raise InputError(f"{source} cannot be read as Parquet: {error}") from None
