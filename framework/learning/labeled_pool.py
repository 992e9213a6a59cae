"""A team's labeled pool, versioned: every correction adds a version, none is lost.

    pool = LabeledPoolDir(Path("pool"))
    added = pool.add(rows, source="review import export.json")   # a new version, or None
    pool.head().version, pool.head().previous, pool.rows(pool.head().version)

Layout of the folder:

    versions/<hash>.jsonl   the rows of each version ({"id", "text", "labels", ...}),
                            named by the first 16 hex digits of its content's sha256;
                            never changed once written (usable as trained.pool)
    HEAD.json               the current version, the one before it and every version's
                            history (rows, added, changed, where from, when)
    models/<hash>.skops     the trained model `labelwise learn` fit on that version

Adding rows: a row whose id the pool holds replaces that row's labels (a correction),
the others are appended. The version file is written to a temporary file, synced and
renamed into place before HEAD.json is replaced the same way, under an exclusive lock
of the folder: a crash leaves the previous version current and whole, and two imports
at once take turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import InputError
from framework.files import write_text_atomic

__all__ = ["Added", "Head", "LabeledPoolDir"]

HEAD_FILE, VERSIONS, MODELS = "HEAD.json", "versions", "models"


@dataclass(frozen=True)
class Head:
    version: str | None
    previous: str | None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Added:
    version: str
    previous: str | None
    rows: int
    added: int
    changed: int


class LabeledPoolDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def head(self) -> Head:
        file = self.path / HEAD_FILE
        if not file.exists():
            return Head(None, None)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            return Head(data["version"], data.get("previous"), list(data.get("history") or []))
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{file} is not a labelwise pool's HEAD.json; give the folder review import "
                "--pool made, or a new folder"
            ) from None

    def version_file(self, version: str) -> Path:
        return self.path / VERSIONS / f"{version}.jsonl"

    def model_file(self, version: str) -> Path:
        return self.path / MODELS / f"{version}.skops"

    def rows(self, version: str | None) -> list[dict[str, Any]]:
        if version is None:
            return []
        file = self.version_file(version)
        if not file.is_file():
            raise InputError(f"{file} is missing: the pool's version {version} was removed")
        return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]

    def add(self, rows: Iterable[Mapping[str, Any]], *, source: str) -> Added | None:
        """The rows added as a new version (corrections replace a row of the same id);
        None when they change nothing."""
        with self._locked():
            head = self.head()
            current = {str(row["id"]): row for row in self.rows(head.version)}
            added = changed = 0
            for row in rows:
                kept = {"id": str(row["id"]), "text": row.get("text", ""), **_rest(row)}
                before = current.get(kept["id"])
                if before is None:
                    added += 1
                elif sorted(before.get("labels") or []) != sorted(kept["labels"]):
                    changed += 1
                else:
                    continue
                if before is not None and not kept["text"]:
                    kept["text"] = before.get("text", "")  # a correction without its text
                current[kept["id"]] = kept
            if not added and not changed:
                return None
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in current.values())
            version = hashlib.sha256(body.encode("utf-8", "backslashreplace")).hexdigest()[:16]
            write_text_atomic(self.version_file(version), body)
            entry = {
                "version": version,
                "previous": head.version,
                "rows": len(current),
                "added": added,
                "changed": changed,
                "source": source,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            state = {
                "version": version,
                "previous": head.version,
                "history": [*head.history, entry],
            }
            write_text_atomic(self.path / HEAD_FILE, json.dumps(state, indent=1) + "\n")
            return Added(version, head.version, len(current), added, changed)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = (self.path / ".lock").open("a")
        except OSError as error:
            raise InputError(f"--pool {self.path}: cannot be written ({error.strerror})") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _rest(row: Mapping[str, Any]) -> dict[str, Any]:
    labels = row.get("labels") or []
    kept: dict[str, Any] = {"labels": list(labels) if isinstance(labels, Sequence) else []}
    for key in ("taxonomy", "taxonomy_hash", "source"):
        if row.get(key):
            kept[key] = row[key]
    return kept
