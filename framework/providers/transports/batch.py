"""run.mode=batch: requests the cache cannot answer join a provider batch job.

    cache -> batch -> retry -> health -> throttle -> client

Below the cache, so a request answered before (online or by a batch) never joins
a job. For a request it sees, the batch record (framework.providers.batch.jobs)
decides:

    answered by a job        the answer, read as if it had come online (then cached)
    failed in a job          the provider's error: the row fails with its reason; with
                             run.retry_failed=true a failure stored before this run is
                             forgotten and the request sent again (as below)
    in a job still running   Deferred: the row waits, left out of the results
    none of these            collecting: written to the round's batch file, Deferred;
                             else (a re-ask after the batch, batch.reask=online) online

A request whose job expired or was cancelled waits for a later run in this one
(`left`), and is sent again by the next run. framework.runner.drivers.batch runs the
rounds: collect, submit and wait, answer.

An answer read from a job (or from the cache, once read) is this run's call, at the
batch price, only when this run pays for it; else a cache hit at $0. Which run pays is
kept in the job store (framework.providers.batch.payers): exactly one run record counts
each answer, however many runs read it.

Two runs at once on the same cache collect one at a time (an exclusive lock on
batches/collect.lock from start_round to end_round, which a killed run lets go
of): the second sees the first one's requests claimed by its jobs and waits for
them instead of sending them again.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import replace
from pathlib import Path

from framework.config.run_settings import BatchSettings
from framework.config.schema import ModelConfig, ProviderConfig, RetrySettings
from framework.errors import ConfigError, Deferred
from framework.providers.batch.apis import BatchApi, endpoint_of, request_error
from framework.providers.batch.jobs import BatchJob, JobStore, Outcome
from framework.providers.batch.payers import Payers
from framework.providers.batch.spool import LineTooLarge, Spool
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
        settings: BatchSettings | None = None,
        retry_failed: bool = False,
    ) -> None:
        super().__init__(inner)
        self.retry = retry  # of the jobs' own calls (upload, create, look, download)
        self.api, self.store, self.directory = api, store, directory
        self.provider, self.model = provider, model
        self.settings = settings or BatchSettings()
        self.retry_failed = retry_failed  # failures stored before this run are sent again
        self.endpoint = endpoint_of(provider)
        self.payers = Payers(store, directory)
        self.spool: Spool | None = None
        self.made: set[str] = set()  # the jobs this run recorded
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
        self.payers.start()
        if collect:
            self._hold_collect_lock()
            most, size = self.limits()
            self.spool = Spool(self.directory, max_requests=most, max_bytes=size)

    def limits(self) -> tuple[int, int]:
        """A job file's most requests and bytes: the provider's, or batch.max_* below them."""
        most, size = self.api.max_requests, self.api.max_bytes
        if self.settings.max_requests is not None:
            most = min(most, self.settings.max_requests)
        if self.settings.max_mb is not None:
            size = min(size, int(self.settings.max_mb * 1024 * 1024))
        return most, size

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
            jobs.append(self.store.add_job(job, part.keys, payer=self.payers.me))
            self.made.add(job.name)
        self.spool = None
        self._release_collect_lock()
        return jobs

    def finish(self) -> None:
        """The run's rounds are over, however they ended: a round's files that never
        became jobs are deleted, and what this run did not count is let go of."""
        if self.spool is not None:
            self.spool.discard()
            self.spool = None
        self._release_collect_lock()
        self.payers.close()

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
        key = request.key
        outcome = self.store.outcome(key)
        if outcome is not None and outcome.kind == "answer" and outcome.value is not None:
            completion = self.api.completion(request, outcome.value)
            if self.payers.pays(key, outcome):
                return completion
            return replace(completion, cached=True, attempts=0)  # another run's call
        if outcome is not None and outcome.kind == "error" and outcome.value is not None:
            if not self._send_again(outcome):
                error = request_error(self.provider, outcome.job, outcome.value)
                error.attempts = 1 if self.payers.pays(key, outcome) else 0
                raise error
            outcome = None  # forgotten: into this round's job (or online), as if new
        if outcome is not None and outcome.kind == "waiting":
            self._wait(resend=False)
            raise Deferred(f"waits for batch job {outcome.job}")
        if key in self.left:
            self._wait(resend=True)
            raise Deferred(f"batch job {outcome.job if outcome else ''} ended without it")
        if self.spool is not None:
            if self._collect(request):
                self._commit(request)
            self._wait(resend=False)
            raise Deferred("joins a batch job")
        self.sent_online += 1
        return await self.inner.send(request)

    def answered_before(self, request: CompiledRequest, cached: Completion) -> Completion:
        """A cache hit (CachingTransport's on_hit): a job's answer this run pays for and
        has not counted yet (read in a pass whose row waited, or read first by a run that
        did not pay) is this run's call, at its batch price."""
        outcome = self.store.outcome(request.key)
        if (
            outcome is None
            or outcome.kind != "answer"
            or not self.payers.pays(request.key, outcome)
        ):
            return cached
        return replace(cached, cached=False, attempts=1)

    def _send_again(self, failed: Outcome) -> bool:
        """run.retry_failed=true: a request a job failed before this run is sent again (a
        job of this run that failed it again is its answer)."""
        return self.retry_failed and failed.job not in self.made

    def _wait(self, *, resend: bool) -> None:
        self.deferred += 1
        self.payers.waits(resend=resend)

    def _collect(self, request: CompiledRequest) -> bool:
        """Write a request to the round's batch file (False: there already)."""
        assert self.spool is not None
        try:
            return self.spool.add(request.key, self.api.line(request))
        except LineTooLarge as error:
            raise ConfigError(self._too_large(error)) from None

    def _too_large(self, error: LineTooLarge) -> str:
        if self.settings.max_mb is not None and error.limit < self.api.max_bytes:
            return (
                f"batch.max_mb: one request is {error.size:,} bytes, more than a job file of "
                f"batch.max_mb={self.settings.max_mb:g} ({error.limit:,} bytes) can hold; "
                f"raise batch.max_mb above {error.size / 1024 / 1024:.3f} or leave it unset"
            )
        return (
            f"one request is {error.size:,} bytes, more than {self.provider.kind}'s own limit "
            f"of {error.limit:,} bytes a batch file: shorten the texts (prompt.max_text_chars) "
            "or use run.mode=online"
        )

    def _commit(self, request: CompiledRequest) -> None:
        model = str(request.kwargs["model"])
        prompt = count_tokens(model, list(request.kwargs["messages"]))
        most = int(request.kwargs.get("max_tokens") or self.model.max_tokens or 0)
        self.committed_tokens += prompt + most
        if self.committed_cost is not None:
            cost, _ = batch_price(self.provider, self.model, model, Usage(prompt, most))
            self.committed_cost = None if cost is None else self.committed_cost + cost

    async def aclose(self) -> None:
        self.finish()
        self.store.close()
        await self.inner.aclose()
