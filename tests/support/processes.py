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


SERVER_MARKERS = (b"serve_xllamacpp.py", b"llama_cpp.server")


def local_servers(*, parent: int | None = None, marker: str | None = None) -> list[int]:
    """Live llama.cpp server processes (either runtime): children of `parent`, or those
    whose environment holds `marker` (a labelwise subprocess's servers inherit it, and keep
    it after labelwise is gone: an orphan is found even once re-parented)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes() if marker else b""
        except OSError:
            continue
        if stat[0] == "Z" or not any(name in command for name in SERVER_MARKERS):
            continue
        if parent is not None and int(stat[1]) != parent:
            continue
        if marker is not None and marker.encode() not in environ.split(b"\0"):
            continue
        found.append(int(entry.name))
    return found
