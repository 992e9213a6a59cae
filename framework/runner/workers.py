"""run.workers=N: the engine in N worker processes, fed by this one.

This process stays the only one that reads the input and writes the journal, so
every id is still written exactly once and a resume works as for one process;
the workers only classify. Each worker holds a classifier of its own (its share
of run.concurrency, the run's pacing in shared memory: framework.providers.
transports.pacing) and keeps its share of calls in flight; items go to the
worker with the fewest in flight, predictions come back over a pipe. A worker is
started when the ones running each have their share in flight, so a short input
starts no more workers than its rows can use.

A worker dies with this process (PR_SET_PDEATHSIG), even by SIGKILL. A worker
that dies (kill -9, a crash) stops the run: its rows in flight are not written,
so the same command classifies them on the rerun. An interrupt (Ctrl-C, SIGTERM)
while a worker starts waits until its start-up data is written, and workers still
starting are ended at once, so stopping prints no worker's traceback and does not
wait for their imports. A worker scrubs its stderr as this process does.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from framework.config.schema import RunConfig
from framework.errors import LabelwiseError
from framework.providers.transports.pacing import SharedPacing
from framework.records import Item, Prediction
from framework.runner.child_process import die_with_parent, interrupts_held
from framework.secrets import register_secret, registered, scrub_stderr

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
    heard: bool = False  # it has said something: it is past its imports


# How long stopped workers get to finish their calls, all together, before they are ended.
_STOP_WAIT = 10.0


class WorkerPool:
    def __init__(
        self, config: RunConfig, workers: int, carried: dict[str, Any] | None = None
    ) -> None:
        """`carried`: what the run's classifier learnt before the rows (Classifier.carry),
        handed to each worker's classifier."""
        self._context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        run = config.run
        self._pacing = SharedPacing.create(
            self._context, rpm=run.requests_per_minute, tpm=run.tokens_per_minute
        )
        self._share = math.ceil(run.concurrency / workers)
        each = {"concurrency": self._share, "workers": 1}
        self._config = config.model_copy(update={"run": run.model_copy(update=each)})
        self._most = workers
        self._carried = carried or {}
        self._loop = asyncio.get_running_loop()
        self._wake: Callable[[], None] | None = None
        self._next = 0
        self._workers: list[_Worker] = []

    def _start(self) -> _Worker:
        """One more worker process, and the thread that listens to it."""
        mine, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(
                theirs,
                self._config,
                self._pacing,
                sorted(registered()),
                os.getpid(),
                self._carried,
            ),
            daemon=True,
            name=f"labelwise-worker-{len(self._workers)}",
        )
        with interrupts_held():
            process.start()
        theirs.close()
        worker = _Worker(len(self._workers), process, mine)
        self._workers.append(worker)
        threading.Thread(target=self._listen, args=(worker,), daemon=True).start()
        return worker

    def _pick(self) -> _Worker:
        """The worker with the fewest rows in flight; a new one while those running each
        have their share of run.concurrency in flight and fewer than run.workers run."""
        worker = min(self._workers, key=lambda w: len(w.pending), default=None)
        if worker is None or (
            len(worker.pending) >= self._share and len(self._workers) < self._most
        ):
            worker = self._start()
        return worker

    async def classify(self, item: Item) -> Prediction:
        worker = self._pick()
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
        """Stop the workers: asked first, then terminated; one still starting (it has not
        said a word) holds no row and is ended at once rather than waited for."""
        for worker in self._workers:
            if not worker.heard:
                worker.process.terminate()
                continue
            try:
                with worker.send_lock:
                    worker.conn.send(("stop", 0, None))
            except (OSError, EOFError):
                pass
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        deadline = time.monotonic() + _STOP_WAIT
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)

    def _listen(self, worker: _Worker) -> None:
        """In a thread: the worker's messages, handed to the event loop."""
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            worker.heard = True
            try:
                if message is None:
                    self._loop.call_soon_threadsafe(self._lost, worker)
                    return
                self._loop.call_soon_threadsafe(self._arrived, worker, message)
            except RuntimeError:  # the loop is closed: the run is over, nobody listens
                return

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


def _serve(  # noqa: PLR0917 (a process target's arguments)
    conn: Connection,
    config: RunConfig,
    pacing: SharedPacing,
    secrets: list[str],
    parent: int,
    carried: dict[str, Any],
) -> None:
    """A worker's life: classify each item it is sent until told to stop."""
    for secret in secrets:  # what the parent hides from stderr, this worker hides too
        register_secret(secret)
    scrub_stderr()
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the run, then us
    from framework.engine.classifier import Classifier

    classifier = Classifier(config, pacing=pacing)
    classifier.carried(carried)  # e.g. the route certified as in the run's process
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
    reply("rest", 0, None)  # started: from now on the parent asks before ending it
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
