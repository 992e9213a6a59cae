"""Processes a test started, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether the process runs: a zombie nobody has reaped yet counts as gone."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def workers_of(pid: int) -> list[int]:
    """The worker processes a labelwise process started (not multiprocessing's tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and b"spawn_main" in argv:
                found.append(int(entry.name))
    return found
