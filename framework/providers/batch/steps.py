"""A provider batch job taken through its steps: upload, create, look, read.

    job = await drive_job(api, store, job, saved=manifest.write, retry=config.run.retry)

Each call takes a job as far as it goes now and returns its record; the runner
(framework.runner.drivers.batch) calls it again until the job is read, and `labelwise
batch status` calls it to look. Every step first looks at the provider for what a
run killed mid-step (or an answer lost on the way) made already, and is recorded
in the job store as soon as it is done, so no step is ever done twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from framework.config.schema import RetrySettings
from framework.errors import ProviderError
from framework.providers.batch.apis import BatchApi, JobStatus
from framework.providers.batch.jobs import BatchJob, JobStore

__all__ = ["drive_job"]

log = logging.getLogger("labelwise")
T = TypeVar("T")


async def drive_job(
    api: BatchApi,
    store: JobStore,
    job: BatchJob,
    saved: Callable[[], None],
    retry: RetrySettings | None = None,
) -> BatchJob:
    """Take a job as far as it goes now: upload, create, one look, read its results.
    Each step looks at the provider first for what a killed run (or a lost answer) made
    already, and is recorded as soon as it is done; transient errors are tried again.
    One process at a time submits a job (two runs sharing the cache wait on the same
    jobs); a job another process is submitting is returned as it is, to look at later."""
    policy = retry or RetrySettings()
    job = store.job(job.name) or job  # as recorded now: another run may have moved it on
    if job.state in ("written", "uploaded"):
        with store.submitting(job.name) as mine:
            current = store.job(job.name) or job  # the other process may have gone on
            if not mine:
                return current
            job = await _submit(api, store, current, saved, policy)
    status = None
    if job.state == "submitted":
        submitted = job
        status = await _patiently(f"looking at {job.name}", lambda: api.retrieve(submitted), policy)
        changed = status.status != job.status or status.counts != job.counts
        job = store.update(
            job.name,
            state="ended" if status.ended else "submitted",
            status=status.status,
            counts=status.counts,
            errors=status.errors,
        )
        if changed:
            saved()
            log.info("batch: job %s %s %s", job.name, job.status, _counts(job))
    if job.state == "ended":
        ended = job
        final: JobStatus = (
            status
            if status is not None  # else a run killed here looks again
            else await _patiently(f"looking at {job.name}", lambda: api.retrieve(ended), policy)
        )
        answers, errors = await _patiently(
            f"reading the results of {job.name}", lambda: api.results(ended, final), policy
        )
        if final.rejected:  # the provider refused the whole file: each row says why
            reason = {"status": 400, "message": f"the job was refused: {final.errors}"}
            errors = [(key, reason) for key in store.keys(job.name)]
        left = store.settle(job.name, answers, errors)
        job = store.job(job.name) or job
        saved()
        log.info(
            "batch: job %s read: %d answers, %d failed requests%s",
            job.name,
            len(answers),
            len(errors),
            f", {left} not run ({job.status}): a later run sends them again" if left else "",
        )
        Path(job.path).unlink(missing_ok=True)  # the provider held it; the answers are in
    return job


async def _submit(
    api: BatchApi,
    store: JobStore,
    job: BatchJob,
    saved: Callable[[], None],
    policy: RetrySettings,
) -> BatchJob:
    """Upload a written job's file and create its batch, each looked for first."""
    if job.state == "written":

        async def upload() -> str:
            return await api.find_file(job) or await api.upload(job)

        file_id = await _patiently(f"uploading {job.name}", upload, policy)
        job = store.update(job.name, state="uploaded", file_id=file_id)
        saved()
    if job.state == "uploaded":
        uploaded = job

        async def create() -> str:
            found = await api.find_batch(uploaded)
            if found and any(other.batch_id == found for other in store.jobs()):
                found = None  # another job's batch (Anthropic's are found by size and time)
            return found or await api.create(uploaded)

        batch_id = await _patiently(f"creating the job of {job.name}", create, policy)
        job = store.update(job.name, state="submitted", batch_id=batch_id)
        saved()
        log.info("batch: job %s created (%s, %d requests)", job.name, batch_id, job.requests)
    return job


async def _patiently(what: str, step: Callable[[], Awaitable[T]], retry: RetrySettings) -> T:
    """A step of a job, tried again after a 429, a 5xx or a lost connection (run.retry);
    each try of a step that makes something looks for it first, so none makes it twice."""
    delay = max(retry.base_delay, 0.1)
    for attempt in range(1, retry.max_attempts + 1):
        try:
            return await step()
        except ProviderError as error:
            if not error.retryable or attempt == retry.max_attempts:
                raise
            wait = min(error.retry_after if error.retry_after is not None else delay, 600.0)
            log.warning("batch: %s failed (%s); trying again in %.1f s", what, error, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, max(retry.max_delay, delay))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _counts(job: BatchJob) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in job.counts.items()) if job.counts else ""
