"""run.workers=N: the engine in N worker processes, fed by this one.

This process stays the only one that reads the input and writes the journal, so
every id is still written exactly once and a resume works as for one process;
the workers only classify. Each worker holds a classifier of its own (its share
of run.concurrency, the run's pacing in shared memory: framework.providers.
transports.pacing) and keeps its share of calls in flight; items go to the
worker with the fewest in flight, predictions come back over a pipe.

A worker dies with this process (PR_SET_PDEATHSIG), even by SIGKILL. A worker
that dies (kill -9, a crash) stops the run: its rows in flight are not written,
so the same command classifies them on the rerun.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from framework.config.schema import RunConfig
from framework.errors import LabelwiseError
from framework.providers.transports.pacing import SharedPacing
from framework.records import Item, Prediction

__all__ = ["WorkerDied", "WorkerPool"]


class WorkerDied(LabelwiseError):
    """A worker process ended before the run did; its rows in flight are left undone."""


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Connection
    pending: dict[int, asyncio.Future[Prediction]] = field(default_factory=dict)
    answered: int = 0
    resting: int = 0
    note: str | None = None
    send_lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerPool:
    def __init__(self, config: RunConfig, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        run = config.run
        self._pacing = SharedPacing.create(
            context, rpm=run.requests_per_minute, tpm=run.tokens_per_minute
        )
        each = {"concurrency": math.ceil(run.concurrency / workers), "workers": 1}
        share = config.model_copy(update={"run": run.model_copy(update=each)})
        self._loop = asyncio.get_running_loop()
        self._wake: Callable[[], None] | None = None
        self._next = 0
        self._workers: list[_Worker] = []
        for index in range(workers):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(theirs, share, self._pacing),
                daemon=True,
                name=f"labelwise-worker-{index}",
            )
            process.start()
            theirs.close()
            worker = _Worker(index, process, mine)
            self._workers.append(worker)
            threading.Thread(target=self._listen, args=(worker,), daemon=True).start()

    async def classify(self, item: Item) -> Prediction:
        worker = min(self._workers, key=lambda w: len(w.pending))
        self._next += 1
        future: asyncio.Future[Prediction] = self._loop.create_future()
        worker.pending[self._next] = future
        try:
            with worker.send_lock:
                worker.conn.send(("item", self._next, item))
        except (OSError, EOFError):
            worker.pending.pop(self._next, None)
            raise self._died(worker) from None
        return await future

    @property
    def answered(self) -> int:
        return sum(worker.answered for worker in self._workers)

    @property
    def resting(self) -> int:
        return sum(worker.resting for worker in self._workers)

    def note(self) -> str | None:
        return next((w.note for w in self._workers if w.note), None)

    def on_rest(self, wake: Callable[[], None] | None) -> None:
        self._wake = wake

    async def release(self) -> None:
        """Stop the workers: asked first, then terminated."""
        for worker in self._workers:
            try:
                with worker.send_lock:
                    worker.conn.send(("stop", 0, None))
            except (OSError, EOFError):
                pass
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for worker in self._workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)

    def _listen(self, worker: _Worker) -> None:
        """In a thread: the worker's messages, handed to the event loop."""
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                self._loop.call_soon_threadsafe(self._lost, worker)
                return
            self._loop.call_soon_threadsafe(self._arrived, worker, message)

    def _arrived(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        """(kind, number, payload, answered, resting, note): a prediction ("done"), an error
        ("error"), or only the worker's pacing ("rest")."""
        kind, number, payload, worker.answered, worker.resting, worker.note = message
        future = worker.pending.pop(number, None) if kind != "rest" else None
        if future is not None and not future.done():
            if kind == "done":
                future.set_result(payload)
            else:
                future.set_exception(payload)
        if self._wake is not None:
            self._wake()

    def _lost(self, worker: _Worker) -> None:
        error = self._died(worker)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(error)
        worker.pending.clear()
        if self._wake is not None:
            self._wake()

    def _died(self, worker: _Worker) -> WorkerDied:
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"code {code}"
        return WorkerDied(
            f"worker {worker.index} (pid {worker.process.pid}) ended with {how}; the rows it "
            "had in flight are left undone: run the same command to continue"
        )


# -- in the worker process ----------------------------------------------------------------


def _serve(conn: Connection, config: RunConfig, pacing: SharedPacing) -> None:
    """A worker's life: classify each item it is sent until told to stop."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the run, then us
    from framework.engine.classifier import Classifier

    classifier = Classifier(config, pacing=pacing)
    try:
        asyncio.run(_work(conn, classifier))
    finally:
        classifier.close()


async def _work(conn: Connection, classifier: Any) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
    lock = threading.Lock()

    def status() -> tuple[int, int, str | None]:
        return (
            classifier.health.completions,
            classifier.throttle.resting,
            classifier.throttle.describe(),
        )

    def reply(kind: str, number: int, payload: Any) -> None:
        with lock:
            conn.send((kind, number, payload, *status()))

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = ("stop", 0, None)
            loop.call_soon_threadsafe(inbox.put_nowait, message)
            if message[0] == "stop":
                return

    classifier.throttle.on_rest = lambda: reply("rest", 0, None)
    threading.Thread(target=read, daemon=True).start()
    tasks: set[asyncio.Task[None]] = set()

    async def one(number: int, item: Item) -> None:
        try:
            reply("done", number, await classifier.classify_item(item))
        except Exception as error:  # a fatal provider error: the parent stops the run
            reply("error", number, error)

    while True:
        kind, number, item = await inbox.get()
        if kind == "stop":
            break
        task = asyncio.create_task(one(number, item))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await classifier.release()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the process that started it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
