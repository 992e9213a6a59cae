"""run.mode=batch: requests the cache cannot answer join a provider batch job.

    cache -> batch -> retry -> health -> throttle -> client

Below the cache, so a request answered before (online or by a batch) never joins
a job. For a request it sees, the batch record (framework.providers.batch.jobs)
decides:

    answered by a job        the answer, read as if it had come online (then cached)
    failed in a job          the provider's error: the row fails with its reason
    in a job still running   Deferred: the row waits, left out of the results
    none of these            collecting: written to the round's batch file, Deferred;
                             else (a re-ask after the batch, batch.reask=online) online

A request whose job expired or was cancelled waits for a later run in this one
(`left`), and is sent again by the next run. framework.runner.batch_run runs the
rounds: collect, submit and wait, answer.

Two runs at once on the same cache collect one at a time (an exclusive lock on
batches/collect.lock from start_round to end_round, which a killed run lets go
of): the second sees the first one's requests claimed by its jobs and waits for
them instead of sending them again.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from framework.config.schema import ModelConfig, ProviderConfig, RetrySettings
from framework.errors import Deferred
from framework.providers.batch.apis import BatchApi, endpoint_of, request_error
from framework.providers.batch.jobs import BatchJob, JobStore
from framework.providers.batch.spool import Spool
from framework.providers.compile import CompiledRequest
from framework.providers.pricing import batch_price
from framework.providers.tokens import count_tokens
from framework.providers.transports.base import Layer, Transport
from framework.records import Completion, Usage

__all__ = ["BatchLayer"]

log = logging.getLogger("labelwise")


class BatchLayer(Layer):
    def __init__(
        self,
        inner: Transport,
        *,
        api: BatchApi,
        store: JobStore,
        directory: Path,
        provider: ProviderConfig,
        model: ModelConfig,
        retry: RetrySettings,
    ) -> None:
        super().__init__(inner)
        self.retry = retry  # of the jobs' own calls (upload, create, look, download)
        self.api, self.store, self.directory = api, store, directory
        self.provider, self.model = provider, model
        self.endpoint = endpoint_of(provider)
        self.spool: Spool | None = None
        self.left: set[str] = set()  # their job ended without them: a later run sends them
        self.deferred = 0  # requests that waited in this round
        self.sent_online = 0  # follow-ups sent online in this round
        # What the requests collected so far may cost at most (all of max_tokens used),
        # for budgets that must hold before a job is submitted.
        self.committed_cost: float | None = 0.0
        self.committed_tokens = 0
        self._lock: int | None = None  # the collect lock's descriptor, while collecting

    def start_round(self, *, collect: bool) -> None:
        """Begin a round: collect every request not answered yet into a new batch file,
        or (collect=False) send the ones no job holds online."""
        self.deferred = self.sent_online = 0
        self.spool = None
        if collect:
            self._hold_collect_lock()
            self.spool = Spool(
                self.directory, max_requests=self.api.max_requests, max_bytes=self.api.max_bytes
            )

    def end_round(self) -> list[BatchJob]:
        """The round's batch files, recorded as jobs (their requests claimed)."""
        if self.spool is None:
            return []
        jobs: list[BatchJob] = []
        for part in self.spool.close():
            job = BatchJob(
                name=part.name,
                api=self.api.name,
                endpoint=self.endpoint,
                path=str(part.path),
                requests=len(part.keys),
                size=part.size,
            )
            jobs.append(self.store.add_job(job, part.keys))
        self.spool = None
        self._release_collect_lock()
        return jobs

    def _hold_collect_lock(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "collect.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("batch: another run is collecting requests for this cache; waiting")
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock = fd

    def _release_collect_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor lets go of the lock
            self._lock = None

    async def send(self, request: CompiledRequest) -> Completion:
        outcome = self.store.outcome(request.key)
        if outcome is not None and outcome.kind == "answer" and outcome.value is not None:
            return self.api.completion(request, outcome.value)
        if outcome is not None and outcome.kind == "error" and outcome.value is not None:
            raise request_error(self.provider, outcome.job, outcome.value)
        if outcome is not None and outcome.kind == "waiting":
            self.deferred += 1
            raise Deferred(f"waits for batch job {outcome.job}")
        if request.key in self.left:
            self.deferred += 1
            raise Deferred(f"batch job {outcome.job if outcome else ''} ended without it")
        if self.spool is not None:
            if self.spool.add(request.key, self.api.line(request)):
                self._commit(request)
            self.deferred += 1
            raise Deferred("joins a batch job")
        self.sent_online += 1
        return await self.inner.send(request)

    def _commit(self, request: CompiledRequest) -> None:
        model = str(request.kwargs["model"])
        prompt = count_tokens(model, list(request.kwargs["messages"]))
        most = int(request.kwargs.get("max_tokens") or self.model.max_tokens or 0)
        self.committed_tokens += prompt + most
        if self.committed_cost is not None:
            cost, _ = batch_price(self.provider, self.model, model, Usage(prompt, most))
            self.committed_cost = None if cost is None else self.committed_cost + cost

    async def aclose(self) -> None:
        self._release_collect_lock()
        self.store.close()
        await self.inner.aclose()
