"""Anthropic's Message Batches, through the anthropic SDK (`pip install 'labelwise[batch]'`).

litellm 1.106.2 cannot create Anthropic batches (its create_batch raises
NotImplementedError for anthropic), so the SDK sends them; each request's `params`
is the body litellm would post online (framework.providers.litellm_api.anthropic_params),
so a batch asks exactly what an online call asks. Limits: 100,000 requests and 256 MB
a job. There is no file to upload: a job's JSONL on disk is sent as the request list.

Anthropic's batches carry no name or metadata, so a batch created by a run killed
before it heard the answer is recognised by its size and its creation time (within
`ADOPT_WINDOW` of the moment the job was about to be created), and only if no other
job holds it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import ConfigError, Unreachable, error_for_status
from framework.providers import litellm_api
from framework.providers.batch.apis import JobStatus, Results
from framework.providers.batch.jobs import BatchJob
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import key_origin, resolve_api_key
from framework.providers.pricing import batch_price
from framework.providers.transports.quota import retry_after_seconds
from framework.providers.usage import read_anthropic_usage
from framework.records import Completion
from framework.secrets import scrub

__all__ = ["AnthropicBatches"]

ADOPT_WINDOW = 300.0  # seconds
T = TypeVar("T")
# An errored request's error type -> the HTTP status it stands for (how its row fails).
_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBatches:
    name = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, provider: ProviderConfig, model: ModelConfig) -> None:
        self.provider, self.model = provider, model
        self._client: Any = None

    def line(self, request: CompiledRequest) -> dict[str, Any]:
        return {"custom_id": request.key, "params": litellm_api.anthropic_params(request.kwargs)}

    def completion(self, request: CompiledRequest, answer: dict[str, Any]) -> Completion:
        """A Message as online: a forced tool's input in tool mode, else its text.
        Read here, not by litellm, whose reader wants the HTTP response of a call."""
        blocks = answer.get("content") or []
        text: str | None = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        if request.mode == "tool":
            for block in blocks:
                if block.get("type") == "tool_use":
                    text = json.dumps(block.get("input"), ensure_ascii=False)
                    break
        usage = read_anthropic_usage(answer.get("usage") or {})
        cost, _ = batch_price(self.provider, self.model, request.kwargs["model"], usage)
        return Completion(
            text=text, usage=usage, cost=cost, finish_reason=answer.get("stop_reason")
        )

    async def find_file(self, job: BatchJob) -> str | None:
        return f"local:{job.path}"  # nothing to upload: the requests go with the batch

    async def upload(self, job: BatchJob) -> str:
        return f"local:{job.path}"

    async def find_batch(self, job: BatchJob) -> str | None:
        since = job.updated - ADOPT_WINDOW
        client = self._sdk()
        page = await self._call(lambda: client.messages.batches.list(limit=100))
        for found in page.data:
            counts = found.request_counts
            size = sum(
                int(getattr(counts, k, 0) or 0)
                for k in ("processing", "succeeded", "errored", "canceled", "expired")
            )
            if size == job.requests and found.created_at.timestamp() >= since:
                return str(found.id)
        return None

    async def create(self, job: BatchJob) -> str:
        lines = Path(job.path).read_text(encoding="utf-8").splitlines()
        requests = [json.loads(line) for line in lines if line.strip()]
        client = self._sdk()
        created = await self._call(lambda: client.messages.batches.create(requests=requests))
        return str(created.id)

    async def retrieve(self, job: BatchJob) -> JobStatus:
        client = self._sdk()
        found = await self._call(lambda: client.messages.batches.retrieve(job.batch_id))
        counts = found.request_counts
        return JobStatus(
            status=str(found.processing_status),
            ended=found.processing_status == "ended",
            counts={
                k: int(getattr(counts, k, 0) or 0)
                for k in ("processing", "succeeded", "errored", "canceled", "expired")
            },
        )

    async def results(self, job: BatchJob, status: JobStatus) -> Results:
        answers: list[tuple[str, dict[str, Any]]] = []
        errors: list[tuple[str, dict[str, Any]]] = []
        client = self._sdk()
        entries = await self._call(lambda: client.messages.batches.results(job.batch_id))
        async for entry in entries:
            result = entry.result
            if result.type == "succeeded":
                answers.append((entry.custom_id, result.message.model_dump(mode="json")))
            elif result.type == "errored":
                error = result.error.error
                kind = str(getattr(error, "type", "api_error"))
                message = f"{kind}: {getattr(error, 'message', '')}"
                errors.append((entry.custom_id, {"status": _STATUS.get(kind), "message": message}))
        return answers, errors  # canceled and expired requests: not run, sent again later

    async def cancel(self, job: BatchJob) -> None:
        client = self._sdk()
        await self._call(lambda: client.messages.batches.cancel(job.batch_id))

    def _sdk(self) -> Any:
        if self._client is None:
            try:
                import anthropic
            except ImportError:
                raise ConfigError(
                    "run.mode=batch with provider=anthropic needs the anthropic SDK: "
                    "pip install 'labelwise[batch]'"
                ) from None
            base = (self.provider.api_base or "").rstrip("/") or None
            self._client = anthropic.AsyncAnthropic(
                api_key=resolve_api_key(self.provider),
                base_url=base,
                max_retries=0,  # the batch runner retries, looking before it creates again
                timeout=self.provider.timeout,
            )
        return self._client

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        import anthropic

        try:
            return await call()
        except anthropic.APIStatusError as error:
            text = scrub(str(getattr(error, "message", error)))[:300]
            raise error_for_status(error.status_code).worded(
                kind="anthropic",
                text=text,
                where=key_origin(self.provider),
                status=error.status_code,
                retry_after=retry_after_seconds(error.response.headers),
            ) from None
        except anthropic.APIConnectionError as error:
            raise Unreachable.worded(kind="anthropic", text=scrub(str(error))) from None
