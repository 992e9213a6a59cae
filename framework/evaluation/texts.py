"""The texts of some rows, streamed from a run's input file (for the reports and review),
and how the reports show the control characters a text may hold."""

from __future__ import annotations

import re
from pathlib import Path

from framework.config.schema import ColumnNames
from framework.errors import InputError

__all__ = ["read_texts", "visible_controls"]

# C0 controls but tab, newline and carriage return; DEL; C1 controls. A NUL or an escape
# sequence read from a row's text must not reach a page or a terminal as itself.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible_controls(text: str) -> str:
    """Control characters (NUL, ESC, ...) as \\x00-style escapes; other text unchanged."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def read_texts(path: Path, ids: set[str], columns: ColumnNames | None = None) -> dict[str, str]:
    """The texts of these ids, streamed from an input file; {} if it cannot be read."""
    from framework.inputs.readers import read_rows

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
