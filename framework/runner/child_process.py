"""What a worker process needs from the one that starts it (framework.runner.workers):

with interrupts_held():        # Ctrl-C / SIGTERM wait until the child has its data
    process.start()
die_with_parent(parent_pid)    # in the child: SIGKILL when the parent dies
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["die_with_parent", "interrupts_held"]


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the process that started it dies; end now if
    it died while this one was starting."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while a worker is started: an interrupt half-way through
    process.start() would leave the child reading half its start-up data (an EOFError
    traceback on stderr). The signal is raised again once the worker has its data."""
    names = (signal.SIGINT, signal.SIGTERM)
    before = {name: signal.getsignal(name) for name in names}
    if threading.current_thread() is not threading.main_thread() or None in before.values():
        yield
        return
    caught: list[int] = []
    for name in names:
        signal.signal(name, lambda number, _: caught.append(number))
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(name, handler)
        if caught:
            signal.raise_signal(caught[0])
