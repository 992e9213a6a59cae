"""What a provider batch API does for labelwise, whichever provider it is.

    api = batch_api(config.provider, config.model)     # framework.providers.batch.providers
    api.line(request)                  # the JSONL line of a compiled request (custom_id: key)
    await api.find_file(job) / api.upload(job)         # the file at the provider
    await api.find_batch(job) / api.create(job)        # the job at the provider
    status = await api.retrieve(job)                   # how far it got
    answers, errors = await api.results(job, status)   # by custom_id
    completion = api.completion(request, answer)       # read like an online answer

`find_*` look at the provider for what a run killed mid-step may have made already,
so that a step is never done twice. Adding a provider's batch API is one module
beside openai_api.py and one entry in framework.providers.batch.providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from framework.config.schema import ProviderConfig
from framework.errors import ProviderError, error_for_status
from framework.providers.batch.jobs import BatchJob
from framework.providers.compile import CompiledRequest
from framework.providers.profiles import PROFILES
from framework.records import Completion

__all__ = [
    "BatchApi",
    "JobStatus",
    "Results",
    "endpoint_of",
    "request_error",
]


@dataclass(frozen=True)
class JobStatus:
    """A job as the provider reports it."""

    status: str  # the provider's word
    ended: bool
    rejected: bool = False  # the provider refused the whole file (it says why in `errors`)
    counts: dict[str, int] = field(default_factory=dict)
    errors: str | None = None  # why the whole job failed
    output: str | None = None  # where its answers are (a file id)
    error_output: str | None = None  # where its failed requests are


# What a row's results are: (custom_id, the provider's answer body) and (custom_id, the
# error: {"status", "message"}); requests in neither were not run (expired, cancelled).
Results = tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]


class BatchApi(Protocol):
    name: str
    max_requests: int
    max_bytes: int

    def line(self, request: CompiledRequest) -> dict[str, Any]: ...

    async def find_file(self, job: BatchJob) -> str | None: ...

    async def upload(self, job: BatchJob) -> str: ...

    async def find_batch(self, job: BatchJob) -> str | None: ...

    async def create(self, job: BatchJob) -> str: ...

    async def retrieve(self, job: BatchJob) -> JobStatus: ...

    async def results(self, job: BatchJob, status: JobStatus) -> Results: ...

    async def cancel(self, job: BatchJob) -> None: ...

    def completion(self, request: CompiledRequest, answer: dict[str, Any]) -> Completion: ...


def endpoint_of(provider: ProviderConfig) -> str:
    """The provider and server a job goes to: jobs are looked for again by it."""
    base = provider.api_base or PROFILES[provider.kind].default_api_base or ""
    return f"{provider.kind} {base.rstrip('/')}"


def request_error(provider: ProviderConfig, job: str, value: dict[str, Any]) -> ProviderError:
    """The error of a request its job answered with an error ({"status", "message"}): the
    row fails with the provider's reason, as online."""
    status = int(value["status"]) if value.get("status") else None
    return error_for_status(status).worded(
        kind=provider.kind, text=f"in batch job {job}: {value.get('message')}", status=status
    )
