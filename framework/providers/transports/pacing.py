"""Pacing shared by the throttles of several worker processes of one run.

A run's requests-per-minute and tokens-per-minute budgets, its 429 back-off and a
provider's "quota spent" hold are the run's, not each worker's: the throttles of
all workers read and write them here, in shared memory under one lock. The
buckets refill on CLOCK_MONOTONIC, which every process on the machine shares.

    pacing = SharedPacing.create(multiprocessing.get_context("spawn"), rpm=600, tpm=None)
    Throttle(16, shared=pacing)          # in each worker
"""

from __future__ import annotations

import time
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["SharedBucket", "SharedPacing"]

# Slots of the shared array.
_LAST_CUT, _EPOCH, _PAUSED_UNTIL, _REQ_LEVEL, _REQ_STAMP, _TOK_LEVEL, _TOK_STAMP = range(7)


class SharedPacing:
    def __init__(self, values: Any, lock: Any, rpm: float | None, tpm: float | None) -> None:
        self._values, self._lock = values, lock
        self.rpm, self.tpm = rpm, tpm

    @classmethod
    def create(cls, context: BaseContext, *, rpm: float | None, tpm: float | None) -> SharedPacing:
        now = time.monotonic()
        values = context.RawArray("d", [-1e9, 0.0, 0.0, rpm or 0.0, now, tpm or 0.0, now])
        return cls(values, context.Lock(), rpm, tpm)

    def __getstate__(self) -> dict[str, Any]:  # handed to a worker at its start
        return {"values": self._values, "lock": self._lock, "rpm": self.rpm, "tpm": self.tpm}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["values"], state["lock"], state["rpm"], state["tpm"])  # type: ignore[misc]

    @property
    def epoch(self) -> int:
        """How many times the run's window was cut: a worker halves its own on each."""
        return int(self._values[_EPOCH])

    def cut(self, now: float, interval: float) -> None:
        """Count a 429 towards a cut of every worker's window, at most once per interval."""
        with self._lock:
            if now - self._values[_LAST_CUT] >= interval:
                self._values[_LAST_CUT] = now
                self._values[_EPOCH] += 1

    @property
    def paused_until(self) -> float:
        return float(self._values[_PAUSED_UNTIL])

    def hold_until(self, until: float) -> None:
        with self._lock:
            self._values[_PAUSED_UNTIL] = max(self._values[_PAUSED_UNTIL], until)

    def bucket(self, which: str) -> SharedBucket | None:
        per_minute = self.rpm if which == "requests" else self.tpm
        if not per_minute:
            return None
        slots = (_REQ_LEVEL, _REQ_STAMP) if which == "requests" else (_TOK_LEVEL, _TOK_STAMP)
        return SharedBucket(self, per_minute, *slots)


class SharedBucket:
    """A token bucket (framework.providers.transports.throttle's) in shared memory."""

    def __init__(self, pacing: SharedPacing, per_minute: float, level: int, stamp: int) -> None:
        self._pacing, self._level, self._stamp = pacing, level, stamp
        self.rate, self.capacity = per_minute / 60.0, per_minute

    def wait_for(self, amount: float) -> float:
        values = self._pacing._values
        with self._pacing._lock:
            now = time.monotonic()
            elapsed = now - values[self._stamp]
            values[self._level] = min(self.capacity, values[self._level] + elapsed * self.rate)
            values[self._stamp] = now
            needed = float(min(amount, self.capacity) - values[self._level])
        return max(0.0, needed / self.rate)

    def take(self, amount: float) -> None:
        with self._pacing._lock:
            self._pacing._values[self._level] -= amount
