"""One run at a time per results file, and the identity of the run that wrote it.

Beside each journal lies `<journal>.run.json`, the claim: which process holds the
file now and the identity (framework.engine.identity) of the runs that wrote its rows.
A run holds an exclusive lock (flock) on the claim from the moment it opens the
journal until it closes it, so a second run on the same output is refused at
once, naming the process that holds it; the lock goes with the process, so a
killed run never leaves a stale claim behind.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from framework.errors import InputError

__all__ = ["CLAIM_SUFFIX", "JournalClaim", "claim_path"]

CLAIM_SUFFIX = ".run.json"
FORMAT = "labelwise-claim/1"


def claim_path(journal: Path) -> Path:
    return journal.with_name(journal.name + CLAIM_SUFFIX)


class JournalClaim:
    """The lock on a journal and what it says about the runs that wrote the file."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.path = claim_path(journal)
        self._fd: int | None = None
        self.previous: dict[str, Any] = {}  # what the claim held when we took it

    def acquire(self) -> None:
        """Take the lock, or raise InputError naming the process that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise InputError(
                f"output {self.journal}: cannot write beside it ({error.strerror}); "
                "choose another output= or make the folder writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = _read(self.path).get("pid")
            who = f"process {holder}" if holder else "another labelwise process"
            raise InputError(
                f"output {self.journal} is being written by {who} (see {self.path.name}); "
                "wait for it to finish, or choose another output="
            ) from None
        self._fd = fd
        self.previous = _read(self.path)

    def write(self, identity: dict[str, Any] | None, **extra: Any) -> None:
        """Say who holds the file now, and the identity its rows are written under."""
        assert self._fd is not None, "acquire() first"
        content = {
            "format": FORMAT,
            "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "identity": identity,
            **extra,
        }
        data = (json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def _read(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}
