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
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from framework.errors import ConfigError
from framework.providers.compile import CompiledRequest
from framework.providers.transports.base import Layer, Transport
from framework.records import Completion, TokenLogprob, Usage
from framework.resources import cache_dir

__all__ = ["CachingTransport", "ResponseCache", "open_cache_file", "use_wal"]

log = logging.getLogger("labelwise")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""
# How long opening waits for another run that is setting the same file up.
_OPEN_WAIT_S = 30.0


class ResponseCache:
    """get/put of Completions by request key; mode off makes both do nothing."""

    def __init__(
        self, path: str | Path | None = None, mode: Literal["on", "off", "refresh"] = "on"
    ) -> None:
        self.mode = mode
        self.path = Path(path).expanduser() if path else cache_dir() / "responses.sqlite"
        self.hits = 0
        self._warned: set[str] = set()
        self._db: sqlite3.Connection | None = None
        if mode != "off":
            self._db = self._open()

    def get(self, key: str) -> Completion | None:
        """The stored answer, or None; an entry that cannot be read is a miss (said once)."""
        if self._db is None or self.mode == "refresh":
            return None
        try:
            found = self._db.execute(
                "SELECT value FROM completions WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.DatabaseError as error:
            self._warn(f"the response cache {self.path} cannot be read ({error})")
            return None
        if found is None:
            return None
        try:
            completion = _completion(found[0])
        except (ValueError, TypeError, KeyError) as error:
            self._warn(f"an unreadable entry in the response cache {self.path} ({error})")
            return None
        self.hits += 1
        return completion

    def __contains__(self, key: str) -> bool:
        if self._db is None or self.mode == "refresh":
            return False
        try:
            found = self._db.execute("SELECT 1 FROM completions WHERE key = ?", (key,))
            return found.fetchone() is not None
        except sqlite3.DatabaseError:
            return False

    def put(self, key: str, completion: Completion) -> None:
        """Store an answer and commit at once (WAL: some 40 us): an idle run must never
        hold a write lock another run sharing the cache waits on."""
        if self._db is None:
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)",
                (key, _encode(completion), time.time()),
            )
            self._db.commit()
        except sqlite3.DatabaseError as error:  # a full disk, a damaged file: the run goes on
            self._warn(f"the response cache {self.path} cannot store answers ({error})")

    def _warn(self, message: str) -> None:
        """Say it once per kind of trouble: a run of a million rows must not print a million."""
        if message.split(" (", maxsplit=1)[0] not in self._warned:
            self._warned.add(message.split(" (", maxsplit=1)[0])
            log.warning(
                "%s; treated as a miss, the call is made again (cache.mode=off skips "
                "the cache, cache.mode=refresh rewrites it)",
                message,
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _open(self) -> sqlite3.Connection:
        return open_cache_file(self.path, _SCHEMA)


def open_cache_file(path: Path, schema: str) -> sqlite3.Connection:
    """The response cache's SQLite file (WAL, for runs that share it), with `schema`'s
    table made if missing: the completions' here, the embeddings' in
    framework.providers.embeddings."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        try:
            use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(schema)
            db.commit()
        except BaseException:
            db.close()
            raise
    except (OSError, sqlite3.Error) as error:
        raise ConfigError(
            f"cache.path: cannot open the response cache at {path} ({error}); "
            "point cache.path elsewhere or set cache.mode=off"
        ) from None
    return db


def use_wal(db: sqlite3.Connection) -> None:
    """Switch `db` to WAL, waiting (up to _OPEN_WAIT_S) while another run sets the same
    new file up. SQLite answers that switch with "database is locked" at once, without
    its busy wait: two runs started together on one fresh cache failed so about once in
    80 opens (tests/providers/test_cache.py), so the waiting is done here."""
    deadline = time.monotonic() + _OPEN_WAIT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class CachingTransport(Layer):
    """Answers a request made before from the cache; stores every new answer. `on_hit`
    may say how an answer from the cache counts (run.mode=batch: a job's answer this
    run pays for is its call, framework.providers.transports.batch)."""

    def __init__(
        self,
        inner: Transport,
        cache: ResponseCache,
        on_hit: Callable[[CompiledRequest, Completion], Completion] | None = None,
    ) -> None:
        super().__init__(inner)
        self.cache = cache
        self.on_hit = on_hit

    async def send(self, request: CompiledRequest) -> Completion:
        cached = self.cache.get(request.key)
        if cached is not None:
            return cached if self.on_hit is None else self.on_hit(request, cached)
        completion = await self.inner.send(request)
        self.cache.put(request.key, completion)
        return completion

    async def aclose(self) -> None:
        self.cache.close()
        await self.inner.aclose()


def _encode(completion: Completion) -> str:
    fields = asdict(completion)
    for transient in ("cached", "quota", "attempts"):
        fields.pop(transient, None)
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
    return Completion(usage=usage, logprobs=logprobs, cached=True, attempts=0, **fields)
