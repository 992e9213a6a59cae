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
a copy for `labelwise batch status` (framework.runner.batch_run).

A job's name is its file's content hash and a nonce (spool.job_name), recorded before
anything is sent. A request (its cache key, the batch line's custom_id) belongs to one
job at a time; a job that expired or was cancelled lets go of its unanswered requests,
which a later run sends again.
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

from framework.errors import ConfigError

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
    """CREATE TABLE IF NOT EXISTS batch_requests (
        key TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        outcome TEXT,
        value TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS batch_requests_job ON batch_requests (job)",
)


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


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._db.commit()
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"cache.path: cannot keep the batch record in {path} ({error}); point "
                "cache.path at a writable place (run.mode=batch needs the cache)"
            ) from None

    def add_job(self, job: BatchJob, keys: Iterable[str]) -> BatchJob:
        """Record a job and claim its requests, in one transaction (all or nothing)."""
        now = time.time()
        job = replace(job, created=job.created or now, updated=now)
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO batch_jobs (name, endpoint, record, created) "
                "VALUES (?, ?, ?, ?)",
                (job.name, job.endpoint, json.dumps(job.to_json()), job.created),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO batch_requests (key, job, outcome, value) "
                "VALUES (?, ?, NULL, NULL)",
                ((key, job.name) for key in keys),
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
            "SELECT job, outcome, value FROM batch_requests WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        job, kind, value = row
        return Outcome(job, kind or "waiting", json.loads(value) if value else None)

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
