"""The record of provider batch jobs, kept in the response cache's SQLite file.

    store = JobStore(cache.path)
    store.add_job(job, keys)          # before anything is sent: the keys are claimed
    store.update(job.name, state="uploaded", file_id="file-1")
    store.outcome(key)                # where a request stands: waiting, answered, failed

Every step is committed as soon as it succeeds, so a run killed at any moment finds
what it had done: a job written but not uploaded is uploaded (after looking for the
file at the provider, by its name), one uploaded but not created is created (after
looking for a batch of that file), one created is polled, one finished is read.
Hydra gives each invocation a new run folder, so the record lives beside the answers
in the cache database, where the same command finds it again; the run folder keeps
a copy for `labelwise batch status` (framework.runner.drivers.batch).

A job's name is its file's content hash and a nonce (spool.job_name), recorded before
anything is sent. A request (its cache key, the batch line's custom_id) belongs to one
job at a time; a job that expired or was cancelled lets go of its unanswered requests,
which a later run sends again. Each request also names the run that pays for its answer
and whether a run record counted it (framework.providers.batch.payers).

`JobStore.existing(path)` opens a job store that is there already and makes nothing
(`labelwise batch status` reads the path from a run folder, which anyone may have written).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from framework.errors import ConfigError, InputError
from framework.providers.transports.cache import use_wal

__all__ = ["BatchJob", "JobState", "JobStore", "Outcome"]

# written: its JSONL is on disk and its requests claimed; uploaded: the provider holds
# the file; submitted: the job exists at the provider; ended: the provider finished it
# (completed, expired, cancelled or failed); read: its answers and errors are stored.
JobState = Literal["written", "uploaded", "submitted", "ended", "read"]
ACTIVE: tuple[JobState, ...] = ("written", "uploaded", "submitted", "ended")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS batch_jobs (
        name TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        record TEXT NOT NULL,
        created REAL NOT NULL
    )""",
    # outcome: NULL while its job runs; answer (value: the Completion), error (value: kind,
    # status, message) or unanswered (the job ended without it: expired, cancelled).
    # payer: the run that records the answer's cost (payers.py); counted: 1 once a run
    # record holds it (then every later reader counts a cache hit at $0).
    """CREATE TABLE IF NOT EXISTS batch_requests (
        key TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        outcome TEXT,
        value TEXT,
        payer TEXT,
        counted INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS batch_requests_job ON batch_requests (job)",
)
# A store written before payers were kept: its settled answers were counted when read.
_PAYER_COLUMNS = (
    "ALTER TABLE batch_requests ADD COLUMN payer TEXT",
    "ALTER TABLE batch_requests ADD COLUMN counted INTEGER NOT NULL DEFAULT 0",
    "UPDATE batch_requests SET counted = 1 WHERE outcome IS NOT NULL",
)
_PAYER_INDEX = "CREATE INDEX IF NOT EXISTS batch_requests_payer ON batch_requests (payer)"


@dataclass(frozen=True)
class BatchJob:
    """One provider job: what was sent, where it is, how far it got."""

    name: str  # labelwise-<sha256 of the file, 16 hex>-<nonce>
    api: str  # openai | anthropic
    endpoint: str  # the provider and server it went to (jobs are found again by it)
    path: str  # the JSONL file on disk
    requests: int
    size: int  # bytes
    state: JobState = "written"
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None  # the provider's word: validating, in_progress, completed, ...
    counts: dict[str, int] = field(default_factory=dict)
    errors: str | None = None  # why the provider failed the whole job
    created: float = 0.0
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchJob:
        return cls(**data)


@dataclass(frozen=True)
class Outcome:
    """Where one request stands in the batch record."""

    job: str
    kind: Literal["waiting", "answer", "error", "unanswered"]
    value: dict[str, Any] | None = None
    payer: str | None = None  # the run that records its cost (None: nobody yet)
    counted: bool = False  # a run record holds its cost already


class JobStore:
    def __init__(self, path: Path, *, db: sqlite3.Connection | None = None) -> None:
        self.path = path
        try:
            if db is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db = db
            use_wal(self._db)
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._add_payer_columns()
            self._db.commit()
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"cache.path: cannot keep the batch record in {path} ({error}); point "
                "cache.path at a writable place (run.mode=batch needs the cache)"
            ) from None

    @classmethod
    def existing(cls, path: Path) -> JobStore:
        """The job store at `path`, which must be there already: nothing is made (no
        folder, no file) and a file that is not a labelwise job store is refused."""
        if not path.is_file():
            raise InputError(f"{path} does not exist")
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
            found = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('batch_jobs', 'batch_requests')"
            ).fetchone()
        except sqlite3.Error as error:
            raise InputError(f"{path} is not a labelwise job store ({error})") from None
        if found[0] != 2:
            db.close()
            raise InputError(f"{path} is not a labelwise job store (no batch record in it)")
        return cls(path, db=db)

    def _add_payer_columns(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(batch_requests)")}
        if "payer" not in columns:
            try:
                with self._db:
                    for statement in _PAYER_COLUMNS:
                        self._db.execute(statement)
            except sqlite3.OperationalError as error:  # another run added them meanwhile
                if "duplicate column" not in str(error):
                    raise
        self._db.execute(_PAYER_INDEX)

    def add_job(self, job: BatchJob, keys: Iterable[str], payer: str | None = None) -> BatchJob:
        """Record a job and claim its requests, in one transaction (all or nothing); the
        `payer` run records what their answers cost."""
        now = time.time()
        job = replace(job, created=job.created or now, updated=now)
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO batch_jobs (name, endpoint, record, created) "
                "VALUES (?, ?, ?, ?)",
                (job.name, job.endpoint, json.dumps(job.to_json()), job.created),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO batch_requests (key, job, outcome, value, payer, counted) "
                "VALUES (?, ?, NULL, NULL, ?, 0)",
                ((key, job.name, payer) for key in keys),
            )
        return self.job(job.name) or job

    def job(self, name: str) -> BatchJob | None:
        found = self._db.execute("SELECT record FROM batch_jobs WHERE name = ?", (name,))
        row = found.fetchone()
        return BatchJob.from_json(json.loads(row[0])) if row else None

    def jobs(self, *, endpoint: str | None = None, active: bool = False) -> list[BatchJob]:
        rows = self._db.execute("SELECT record FROM batch_jobs ORDER BY created").fetchall()
        jobs = [BatchJob.from_json(json.loads(row[0])) for row in rows]
        return [
            job
            for job in jobs
            if (endpoint is None or job.endpoint == endpoint)
            and (not active or job.state in ACTIVE)
        ]

    def update(self, name: str, **changes: Any) -> BatchJob:
        """Change a job's record and commit at once; the new record."""
        job = self.job(name)
        if job is None:
            raise KeyError(name)
        job = replace(job, **changes, updated=time.time())
        with self._db:
            self._db.execute(
                "UPDATE batch_jobs SET record = ? WHERE name = ?",
                (json.dumps(job.to_json()), name),
            )
        return job

    def outcome(self, key: str) -> Outcome | None:
        row = self._db.execute(
            "SELECT job, outcome, value, payer, counted FROM batch_requests WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        job, kind, value, payer, counted = row
        loaded = json.loads(value) if value else None
        return Outcome(job, kind or "waiting", loaded, payer, bool(counted))

    def take(self, key: str, payer: str, *, instead_of: str | None) -> bool:
        """Make `payer` the payer of a request not counted yet, if `instead_of` still is
        (one conditional UPDATE: of runs taking it at once, exactly one wins)."""
        with self._db:
            taken = self._db.execute(
                "UPDATE batch_requests SET payer = ? WHERE key = ? AND payer IS ? AND counted = 0",
                (payer, key, instead_of),
            ).rowcount
        return bool(taken == 1)

    def count(self, keys: Iterable[str], payer: str) -> None:
        """Mark requests whose cost `payer`'s run record holds."""
        with self._db:
            self._db.executemany(
                "UPDATE batch_requests SET counted = 1 WHERE key = ? AND payer = ?",
                ((key, payer) for key in keys),
            )

    def release(self, payer: str) -> None:
        """Let go of what `payer` collected or took and never counted: the next run that
        reads those answers pays for them."""
        with self._db:
            self._db.execute(
                "UPDATE batch_requests SET payer = NULL WHERE payer = ? AND counted = 0",
                (payer,),
            )

    def settle(
        self,
        name: str,
        answers: Sequence[tuple[str, dict[str, Any]]],
        errors: Sequence[tuple[str, dict[str, Any]]],
    ) -> int:
        """Store a job's answers and per-request errors; its requests with neither are
        unanswered (left to a later run). The job is then read. How many were unanswered."""
        with self._db:
            self._db.executemany(
                "UPDATE batch_requests SET outcome = 'answer', value = ? WHERE key = ? AND job = ?",
                ((json.dumps(value), key, name) for key, value in answers),
            )
            self._db.executemany(
                "UPDATE batch_requests SET outcome = 'error', value = ? WHERE key = ? AND job = ?",
                ((json.dumps(value), key, name) for key, value in errors),
            )
            left = self._db.execute(
                "UPDATE batch_requests SET outcome = 'unanswered' "
                "WHERE job = ? AND outcome IS NULL",
                (name,),
            ).rowcount
        self.update(name, state="read")
        return int(left)

    @contextlib.contextmanager
    def submitting(self, name: str) -> Iterator[bool]:
        """Whether this process may submit the job now: an exclusive lock on
        batches/<name>.lock beside the database, given up on leaving (or by a kill)."""
        folder = self.path.parent / "batches"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def keys(self, name: str) -> list[str]:
        rows = self._db.execute("SELECT key FROM batch_requests WHERE job = ?", (name,))
        return [row[0] for row in rows.fetchall()]

    def close(self) -> None:
        self._db.close()
