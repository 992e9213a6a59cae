"""Writing a file so a reader never sees half of it: the text goes to a new file beside
the target, is synced, then renamed over it (a failure leaves the target as it was).

    write_text_atomic(path, text)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """`text` to `path`, whole or not at all (a lone surrogate is written as \\udc00)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed after)
        "w",
        encoding="utf-8",
        errors="backslashreplace",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
