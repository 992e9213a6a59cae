"""The texts of some rows, streamed from a run's input file (for the reports and review)."""

from __future__ import annotations

from pathlib import Path

from framework.config.schema import ColumnNames
from framework.errors import InputError

__all__ = ["read_texts"]


def read_texts(path: Path, ids: set[str], columns: ColumnNames | None = None) -> dict[str, str]:
    """The texts of these ids, streamed from an input file; {} if it cannot be read."""
    from framework.runner.inputs import read_rows

    texts: dict[str, str] = {}
    try:
        for row in read_rows(path, columns):
            if row.id in ids and row.item is not None:
                texts[row.id] = row.item.text
                if len(texts) == len(ids):
                    break
    except (InputError, OSError):
        return texts
    return texts
