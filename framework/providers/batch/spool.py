"""Batch lines written to disk as they come, cut into files at the provider's limits.

    spool = Spool(directory, max_requests=50_000, max_bytes=200_000_000)
    spool.add(key, line)          # once per request key; a repeat is ignored (LineTooLarge
                                  # for a line larger than a whole file may be)
    for name, path, keys, size in spool.close(): ...   # the finished files, named by content
    spool.discard()               # or none of them: the round failed

A million requests never sit in memory: each line goes to the open part file, and a
part that would pass either limit is closed and a new one begun. A finished part is
renamed after its content and a nonce (job_name); the provider keeps the name, and a
file uploaded by a run killed before it heard back is found again by it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["LineTooLarge", "Spool", "SpoolFile", "job_name"]


class LineTooLarge(ValueError):
    """One request's line is larger than a whole job file may be."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"one request is {size:,} bytes, more than a job file may hold ({limit:,})"
        )
        self.size, self.limit = size, limit


def job_name(digest: str) -> str:
    """labelwise-<content hash>-<nonce>: the nonce keeps a job apart from an earlier one of
    the same requests (an expired job's, sent again), whose file the provider may still
    hold; a run killed mid-step finds its own file and job by this name alone."""
    return f"labelwise-{digest[:16]}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class SpoolFile:
    name: str
    path: Path
    keys: tuple[str, ...]
    size: int


class Spool:
    def __init__(self, directory: Path, *, max_requests: int, max_bytes: int) -> None:
        self.directory = directory
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.seen: set[str] = set()
        self.finished: list[SpoolFile] = []
        self._handle: IO[bytes] | None = None
        self._path: Path | None = None
        self._keys: list[str] = []
        self._size = 0
        self._hash = hashlib.sha256()

    def __len__(self) -> int:
        return len(self.seen)

    def add(self, key: str, line: dict[str, Any]) -> bool:
        """Write the line of a request not written yet; False for a repeat."""
        if key in self.seen:
            return False
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if len(data) > self.max_bytes:
            raise LineTooLarge(len(data), self.max_bytes)
        full = len(self._keys) >= self.max_requests or self._size + len(data) > self.max_bytes
        if self._handle is not None and full:
            self._finish()
        if self._handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = self.directory / f"part-{os.getpid()}-{len(self.finished)}.jsonl"
            self._handle = self._path.open("wb")
        self._handle.write(data)
        self._hash.update(data)
        self._keys.append(key)
        self._size += len(data)
        self.seen.add(key)
        return True

    def close(self) -> list[SpoolFile]:
        """Finish the open part; every file written, in order."""
        if self._handle is not None:
            self._finish()
        return self.finished

    def discard(self) -> None:
        """Delete every file written (a round that failed records no job of them)."""
        if self._handle is not None:
            self._handle.close()
        for path in [self._path, *(part.path for part in self.finished)]:
            if path is not None:
                path.unlink(missing_ok=True)
        self._handle, self._path, self.finished = None, None, []

    def _finish(self) -> None:
        assert self._handle is not None and self._path is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        name = job_name(self._hash.hexdigest())
        final = self.directory / f"{name}.jsonl"
        os.replace(self._path, final)
        self.finished.append(SpoolFile(name, final, tuple(self._keys), self._size))
        self._handle, self._path, self._keys, self._size = None, None, [], 0
        self._hash = hashlib.sha256()
