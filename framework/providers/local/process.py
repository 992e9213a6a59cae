"""Child processes that never outlive labelwise.

    popen = spawn(command, log_path)   # own session, output to the log, dies with us
    stop_at_exit(server)               # server.stop() at exit and on SIGTERM
    terminate([popen])                 # SIGTERM the group, wait, then SIGKILL

A child runs in its own session, so a Ctrl-C at the terminal reaches labelwise
(whose callers stop it in `finally`), not the child. On Linux the kernel
SIGKILLs the child (PR_SET_PDEATHSIG) when labelwise dies, even by SIGKILL. That
signal fires when the *thread* that forked the child ends, and the engine starts
servers from worker threads (asyncio.to_thread) that come and go, so every child
is forked by one long-lived daemon thread that ends only with the process.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import Protocol

__all__ = ["forget", "spawn", "stop_at_exit", "terminate"]

GRACE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in its own session, stdout and stderr to `log`, tied to our life."""
    return _SPAWNER.popen(command, log)


def terminate(popens: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group, wait out the grace period, then SIGKILL what is left."""
    try:
        for popen in popens:
            _signal_group(popen, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for popen in popens:
            try:
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(popen, signal.SIGKILL)
                popen.wait()
    finally:  # also when interrupted while waiting: leave nothing running
        for popen in popens:
            _signal_group(popen, signal.SIGKILL)


def stop_at_exit(owner: _Stoppable) -> None:
    """Call owner.stop() at interpreter exit, and on SIGTERM where that would kill us anyway."""
    _RUNNING.add(owner)
    on_main = threading.current_thread() is threading.main_thread()
    if on_main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)  # never over a user's own handler


def forget(owner: _Stoppable) -> None:
    _RUNNING.discard(owner)


def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signum)  # the child leads its own session and group


_RUNNING: set[_Stoppable] = set()


def _stop_all() -> None:
    for owner in list(_RUNNING):
        owner.stop()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of SIGTERM, as we would have without the handler


atexit.register(_stop_all)


# -- forking from one long-lived thread, so PR_SET_PDEATHSIG means "labelwise died" --

_Job = tuple[list[str], Path, Future[subprocess.Popen[bytes]]]


class _Spawner:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._owner = 0  # the pid whose daemon thread serves self._jobs
        self._guard = threading.Lock()

    def popen(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with self._guard:
            if self._owner != os.getpid():  # first use, or a fork's child without the thread
                self._jobs = queue.SimpleQueue()
                thread = threading.Thread(
                    target=_serve, args=(self._jobs,), name="labelwise-spawner", daemon=True
                )
                thread.start()
                self._owner = os.getpid()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((command, log, done))
        try:
            return done.result()
        except BaseException:  # interrupted while waiting: do not leave the child behind
            done.add_done_callback(_discard)
            raise


def _discard(done: Future[subprocess.Popen[bytes]]) -> None:
    if done.exception() is None:
        terminate([done.result()])


def _serve(jobs: queue.SimpleQueue[_Job]) -> None:
    while True:
        command, log, done = jobs.get()
        try:
            with log.open("wb") as out:
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # safe here: the function only calls prctl and getppid (no locks, no imports)
                    preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
                )
            done.set_result(popen)
        except BaseException as error:
            done.set_exception(error)


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when this thread (so labelwise) dies."""
    prctl = _prctl()
    if prctl is None:
        return None

    def arm() -> None:  # runs in the child, between fork and exec
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # labelwise died before the request took effect
            os._exit(1)

    return arm


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


_SPAWNER = _Spawner()
