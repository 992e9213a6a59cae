"""Who records what a batch job's answer cost: exactly one run record.

    payers = Payers(store, folder)      # one a run; payers.me names it in the job store
    with payers.row() as row:           # around one row's classification
        ...payers.pays(key, outcome)... # True: count the answer as this row's call
    payers.row_done(row, written=True)  # a written row's answers are counted for good
    payers.close()                      # at the end: let go of what was never counted

The provider bills each request of a job once; runs that share the cache may each read
its answer (several runs at once over overlapping rows, a rerun, batch.reask=batch's
later passes over the same row). The run that collected a request into a job is its
payer, recorded with the job in one transaction. A payer counts the answer as a call at
the batch price in the row it writes, and marks it counted in the job store; any other
run that reads it (from the job record or the response cache) counts a cache hit at $0.

A payer that ends without counting an answer (batch.wait ran out, a row still waiting)
lets go of it in `close`; one killed lets go by dying: while it runs it holds an
exclusive lock on runs/<its id>.lock in the batches folder, and a reader that finds the
lock free takes the answer over with a conditional UPDATE, so that of readers at once
exactly one wins. Within a run, an answer is counted by one written row: a row in
flight holds it, a row that waits for a job lets go of it for the next pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from framework.providers.batch.jobs import JobStore, Outcome

__all__ = ["Payers", "RowBill"]

_FLUSH_EVERY = 500  # counted answers marked in the job store at once
_LOOK_AGAIN = 1.0  # seconds a live payer is taken to be alive before looking again


@dataclass
class RowBill:
    """What one row read from batch jobs: the answers it pays for, and why it waits."""

    keys: list[str] = field(default_factory=list)
    waits: bool = False  # for a job running, or joining one now
    resend: bool = False  # its job ended without its request: the next run sends it


_ROW: ContextVar[RowBill | None] = ContextVar("labelwise_batch_row", default=None)


class Payers:
    def __init__(self, store: JobStore, folder: Path) -> None:
        self.store, self.folder = store, folder / "runs"
        self.me = uuid.uuid4().hex
        self._lock: int | None = None
        self._held: set[str] = set()  # counted by rows in flight
        self._counted: set[str] = set()  # counted by written rows, not marked yet
        self._alive: dict[str, float] = {}  # other payers seen alive, and when

    def start(self) -> None:
        """Hold this run's liveness lock (before it pays for anything)."""
        if self._lock is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{self.me}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock = fd

    @contextlib.contextmanager
    def row(self) -> Iterator[RowBill]:
        """The bill of the row classified inside (its tasks share it)."""
        bill = RowBill()
        token = _ROW.set(bill)
        try:
            yield bill
        finally:
            _ROW.reset(token)

    def pays(self, key: str, outcome: Outcome) -> bool:
        """Whether this run counts the answer (or failure) of `key` as its call now."""
        if outcome.counted or key in self._counted or key in self._held:
            return False
        if outcome.payer != self.me:
            if outcome.payer is not None and self._is_alive(outcome.payer):
                return False
            if not self.store.take(key, self.me, instead_of=outcome.payer):
                return False
        bill = _ROW.get()
        if bill is not None:
            self._held.add(key)
            bill.keys.append(key)
        return True

    def waits(self, *, resend: bool) -> None:
        """The current row waits: for a job (running, or joining one), or to be resent."""
        bill = _ROW.get()
        if bill is not None:
            bill.resend |= resend
            bill.waits |= not resend

    def row_done(self, bill: RowBill, *, written: bool) -> None:
        """A row came back: written, its answers are counted; else they are let go of,
        for the pass that writes it."""
        self._held.difference_update(bill.keys)
        if written:
            self._counted.update(bill.keys)
            if len(self._counted) >= _FLUSH_EVERY:
                self.flush()

    def flush(self) -> None:
        if self._counted:
            self.store.count(sorted(self._counted), self.me)
            self._counted.clear()

    def close(self) -> None:
        """Mark what was counted, let go of the rest, and of the liveness lock."""
        self.flush()
        self.store.release(self.me)
        if self._lock is not None:
            (self.folder / f"{self.me}.lock").unlink(missing_ok=True)
            os.close(self._lock)
            self._lock = None

    def _is_alive(self, run: str) -> bool:
        """Whether another payer's run still runs: its liveness lock is held."""
        seen = self._alive.get(run)
        if seen is not None and time.monotonic() - seen < _LOOK_AGAIN:
            return True
        path = self.folder / f"{run}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False  # it ended (and let go) or never began
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._alive[run] = time.monotonic()
            return True
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)  # killed: its lock is free
        return False
