"""The server processes' logs: a temporary folder per run, and the one line that says why.

    folder = new_log_dir()    # /tmp/labelwise-llama-PID-xxxx, after sweeping dead runs' folders
    cause(log)                # "gguf_init_from_reader: failed to read header", or the last line

llama.cpp writes its log to the process's stderr, which goes to a file here, never to
labelwise's console; a failure quotes the one line of it that names the cause, and the
file's path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["cause", "new_log_dir", "read_end"]

_LOG_PREFIX = "labelwise-llama-"
_READ_BYTES = 65536
# llama.cpp's lines start with a time stamp and a level: "0.00.008.791 E gguf_init_...".
_STAMP = re.compile(r"^\d+\.\d+\.\d+\.\d+ ([A-Z]) +")
_ERROR = re.compile(r"\berror\b|\bfailed\b|exception|couldn't|cannot|not within", re.IGNORECASE)
# The generic lines that follow the cause: they say something failed, not what.
_GENERIC = re.compile(
    r"failed to load model|exiting due to|Failed to init server|cleaning up|did not start|"
    r"^\s*(File |Traceback|\^)",
    re.IGNORECASE,
)


def new_log_dir() -> Path:
    """A temporary folder for the logs, named after our pid; first sweep up after dead runs."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_LOG_PREFIX}*-*"):
        owner = folder.name.removeprefix(_LOG_PREFIX).partition("-")[0]
        if owner.isdigit() and not _running(int(owner)):  # killed before it could clean up
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_LOG_PREFIX}{os.getpid()}-"))


def cause(log: Path) -> str:
    """The log line that names why the server failed: the first error line that is not a
    generic one, else the last error line, else the last line."""
    lines, errors = [], []
    for raw in _lines(log):
        stamp = _STAMP.match(raw)
        line = raw[stamp.end() :].strip() if stamp else raw.strip()
        if line:
            lines.append(line)
            if (stamp and stamp.group(1) == "E") or _ERROR.search(line):
                errors.append(line)
    specific = [line for line in errors if not _GENERIC.search(line)]
    found = specific or errors or lines[-1:]
    return found[0][:300] if found else "its log is empty"


def read_end(log: Path) -> str:
    """The end of a log (its last 64 KiB), or "" when it cannot be read."""
    try:
        with log.open("rb") as stream:
            stream.seek(max(0, log.stat().st_size - _READ_BYTES))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _lines(log: Path) -> list[str]:
    return read_end(log).splitlines()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True
