"""Content digests of files: a model's identity, an input's fingerprint in the run record."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (never the whole file in memory)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
