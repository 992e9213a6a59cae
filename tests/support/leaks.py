"""A secret to configure, and the check that it is in no file a run wrote."""

from __future__ import annotations

from pathlib import Path

SECRET = "sk-test-0123456789abcdef"


def assert_nowhere(folder: Path, secret: str) -> None:
    """Not in any file under `folder`, whatever its name or format."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    leaks = [str(path) for path in files if secret.encode() in path.read_bytes()]
    assert not leaks, f"{secret} found in {leaks}"
