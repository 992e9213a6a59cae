"""Completed calls, stored in SQLite by the content hash of their request.

The key is CompiledRequest.key: model, messages, schema, sampling and the
endpoint's identity, never the API key. The same request in a later run (a
rerun, a reproduction, a sweep that shares a configuration) is answered from
here without a call. Each answer is committed as it is stored, so runs sharing
the cache (a sweep, two terminals) never wait on each other, and a killed run
loses no answer that came back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from framework.errors import ConfigError
from framework.records import Completion, TokenLogprob, Usage
from framework.resources import cache_dir

__all__ = ["ResponseCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseCache:
    """get/put of Completions by request key; mode off makes both do nothing."""

    def __init__(
        self, path: str | Path | None = None, mode: Literal["on", "off", "refresh"] = "on"
    ) -> None:
        self.mode = mode
        self.path = Path(path).expanduser() if path else cache_dir() / "responses.sqlite"
        self.hits = 0
        self._db: sqlite3.Connection | None = None
        if mode != "off":
            self._db = self._open()

    def get(self, key: str) -> Completion | None:
        if self._db is None or self.mode == "refresh":
            return None
        found = self._db.execute("SELECT value FROM completions WHERE key = ?", (key,)).fetchone()
        if found is None:
            return None
        self.hits += 1
        return _completion(found[0])

    def __contains__(self, key: str) -> bool:
        if self._db is None or self.mode == "refresh":
            return False
        found = self._db.execute("SELECT 1 FROM completions WHERE key = ?", (key,)).fetchone()
        return found is not None

    def put(self, key: str, completion: Completion) -> None:
        """Store an answer and commit at once (WAL: some 40 us): an idle run must never
        hold a write lock another run sharing the cache waits on."""
        if self._db is None:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)",
            (key, _encode(completion), time.time()),
        )
        self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.commit()
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"cache.path: cannot open the response cache at {self.path} ({error}); "
                "point cache.path elsewhere or set cache.mode=off"
            ) from None
        return db


def _encode(completion: Completion) -> str:
    fields = asdict(completion)
    fields.pop("cached", None)
    fields.pop("quota", None)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _completion(value: str) -> Completion:
    fields = json.loads(value)
    usage = Usage(**fields.pop("usage"))
    logprobs = tuple(
        TokenLogprob(
            str(t["token"]), float(t["logprob"]), tuple((str(a), float(b)) for a, b in t["top"])
        )
        for t in fields.pop("logprobs")
    )
    return Completion(usage=usage, logprobs=logprobs, cached=True, **fields)
