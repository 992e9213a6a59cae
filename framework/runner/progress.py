"""Showing a run's progress: a bar redrawn in place on a terminal, a log line every
few seconds elsewhere (CI, a pipe, a file), nothing when asked for quiet.

    rows done, rows failed, rows/s, tokens, cost and the time left
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Literal, Protocol, TextIO

from framework.records import Usage

__all__ = ["Progress"]

log = logging.getLogger("labelwise")


class Counts(Protocol):
    """What progress reads from a run's totals (framework.runner.run.RunTotals)."""

    failed: int
    resumed: int  # rows a previous run finished, counted done but not in the rate
    usage: Usage
    cost: float | None
    by_path: dict[str, int]  # trained.use=cascade: rows by who labeled them

    @property
    def done(self) -> int: ...


class Progress:
    def __init__(
        self,
        total: int | None,
        *,
        style: Literal["auto", "bar", "log", "off"] = "auto",
        interval: float = 10.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self._stream = stream or sys.stderr
        if style == "auto":
            style = "bar" if self._stream.isatty() else "log"
        self.style = style
        self._interval = interval if style == "log" else 0.1
        self._started = time.monotonic()
        self._last = self._started
        self._drawn = False
        self._note: str | None = None

    def update(self, counts: Counts, *, force: bool = False, note: str | None = None) -> None:
        """Show the counts; `note` says why the run is slower than it could be."""
        if note is not None:
            self._note = note
        now = time.monotonic()
        if self.style == "off" or (not force and now - self._last < self._interval):
            return
        self._last = now
        line = self.describe(counts, now - self._started)
        if self._note:
            line += f" | {self._note}"
            self._note = None
        if self.style == "bar":
            self._stream.write("\r" + line + "\x1b[K")
            self._stream.flush()
            self._drawn = True
        else:
            log.info("progress: %s", line)

    def close(self, counts: Counts) -> None:
        if self.style == "bar":
            self.update(counts, force=True)
            if self._drawn:
                self._stream.write("\n")
                self._stream.flush()

    def describe(self, counts: Counts, elapsed: float) -> str:
        done = counts.resumed + counts.done
        rate = counts.done / elapsed if elapsed > 0 else 0.0
        parts = []
        if self.total:
            share = min(1.0, done / self.total)
            if self.style == "bar":
                filled = int(share * 20)
                parts.append("[" + "#" * filled + "." * (20 - filled) + "]")
            parts.append(f"{done:,}/{self.total:,} rows ({share:.0%})")
        else:
            parts.append(f"{done:,} rows")
        if counts.resumed:
            parts.append(f"{counts.resumed:,} from before")
        parts.append(f"{counts.failed:,} failed")
        if counts.by_path:
            parts.append(
                ", ".join(f"{n:,} by {path}" for path, n in sorted(counts.by_path.items()))
            )
        parts.append(f"{rate:,.1f} rows/s" if rate >= 10 else f"{rate:.2f} rows/s")
        parts.append(f"{_short(counts.usage.total_tokens)} tokens")
        spent = counts.cost
        parts.append("cost unknown" if spent is None else f"${spent:,.4f}")
        if self.total and rate > 0 and done < self.total:
            parts.append(f"ETA {_clock((self.total - done) / rate)}")
        return " | ".join(parts)


def _short(number: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if number >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
