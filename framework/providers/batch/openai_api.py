"""OpenAI's Files and Batches API (and every server that has it), through litellm.

A job is a JSONL file uploaded with purpose=batch, named after the job, and a batch
over it at /v1/chat/completions with a 24 h window; its lines are the bodies the HTTP
transport would post (framework.providers.transports.http.wire_body), so a batch
answer is read exactly as an online one. Limits: 50,000 requests and 200 MB a file
(OpenAI's). Azure OpenAI serves the same API under its resource's /openai, with an
api-version, the endpoint named /chat/completions and the deployment as the model
(a deployment of type Global-Batch); litellm speaks it with custom_llm_provider=azure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from framework.config.schema import ModelConfig, ProviderConfig
from framework.providers import litellm_api
from framework.providers.batch.apis import JobStatus, Results
from framework.providers.batch.jobs import BatchJob
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import resolve_api_key
from framework.providers.pricing import batch_price
from framework.providers.profiles import PROFILES
from framework.providers.transports.http import read_completion, wire_body
from framework.records import Completion

__all__ = ["OpenAIBatches"]

ENDPOINT = "/v1/chat/completions"
ENDED = frozenset({"completed", "expired", "cancelled", "failed"})
# Error codes of requests the job did not run: they are sent again by a later run.
NOT_RUN = frozenset({"batch_expired", "batch_cancelled"})
_NO_KEY = "no-key-needed"  # the OpenAI client refuses to start without a key
# litellm's success logging of a finished batch downloads its output and error files
# again to price them, in a task nobody awaits (left unfinished when the event loop
# ends: "coroutine 'OpenAIFilesAPI.afile_content' was never awaited"). labelwise prices
# each answer itself; this litellm_metadata flag turns that logging off.
_NO_BATCH_LOGGING = {"batch_ignore_default_logging": True}


class OpenAIBatches:
    name = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, provider: ProviderConfig, model: ModelConfig) -> None:
        self.provider, self.model = provider, model
        profile = PROFILES[provider.kind]
        self.base = provider.api_base or profile.default_api_base
        self.extras = dict(profile.wire_extras)
        self.azure = provider.kind == "azure"
        self.endpoint = "/chat/completions" if self.azure else ENDPOINT
        self._where: dict[str, Any] | None = None

    def line(self, request: CompiledRequest) -> dict[str, Any]:
        return {
            "custom_id": request.key,
            "method": "POST",
            "url": self.endpoint,
            "body": wire_body(request, self.extras),
        }

    def completion(self, request: CompiledRequest, answer: dict[str, Any]) -> Completion:
        usage, fields = read_completion(answer, request.mode)
        cost, _ = batch_price(self.provider, self.model, request.kwargs["model"], usage)
        return Completion(usage=usage, cost=cost, **fields)

    async def find_file(self, job: BatchJob) -> str | None:
        listed = await self._call("afile_list", purpose="batch")
        for found in _items(listed):
            if _get(found, "filename") == _filename(job) and _get(found, "bytes") == job.size:
                return str(_get(found, "id"))
        return None

    async def upload(self, job: BatchJob) -> str:
        content = Path(job.path).read_bytes()
        created = await self._call(
            "acreate_file", file=(_filename(job), content, "application/jsonl"), purpose="batch"
        )
        return str(_get(created, "id"))

    async def find_batch(self, job: BatchJob) -> str | None:
        after: str | None = None
        for _ in range(20):  # the 2,000 newest jobs: one made moments before a kill is there
            page = await self._call(
                "alist_batches", limit=100, **({"after": after} if after else {})
            )
            items = _items(page)
            for found in items:
                if _get(found, "input_file_id") == job.file_id:
                    return str(_get(found, "id"))
            if not items or not _get(page, "has_more"):
                return None
            after = str(_get(items[-1], "id"))
        return None

    async def create(self, job: BatchJob) -> str:
        created = await self._call(
            "acreate_batch",
            completion_window="24h",
            endpoint=self.endpoint,
            input_file_id=job.file_id,
            metadata={"labelwise_job": job.name},
        )
        return str(_get(created, "id"))

    async def retrieve(self, job: BatchJob) -> JobStatus:
        found = await self._call(
            "aretrieve_batch", batch_id=job.batch_id, litellm_metadata=_NO_BATCH_LOGGING
        )
        status = str(_get(found, "status"))
        counts = _get(found, "request_counts") or {}
        errors = _get(_get(found, "errors") or {}, "data") or []
        return JobStatus(
            status=status,
            ended=status in ENDED,
            rejected=status == "failed",
            counts={k: int(_get(counts, k) or 0) for k in ("total", "completed", "failed")},
            errors="; ".join(str(_get(e, "message")) for e in errors) or None,
            output=_get(found, "output_file_id"),
            error_output=_get(found, "error_file_id"),
        )

    async def results(self, job: BatchJob, status: JobStatus) -> Results:
        answers: list[tuple[str, dict[str, Any]]] = []
        errors: list[tuple[str, dict[str, Any]]] = []
        for file_id in (status.output, status.error_output):
            if not file_id:
                continue
            for line in (await self._content(file_id)).splitlines():
                if line.strip():
                    _sort_line(json.loads(line), answers, errors)
        return answers, errors

    async def cancel(self, job: BatchJob) -> None:
        await self._call("acancel_batch", batch_id=job.batch_id)

    async def _content(self, file_id: str) -> bytes:
        response = await self._call("afile_content", file_id=file_id)
        content = getattr(response, "content", response)
        return content if isinstance(content, bytes) else str(content).encode()

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        if self._where is None:
            self._where = {
                "custom_llm_provider": "azure" if self.azure else "openai",
                "api_key": resolve_api_key(self.provider) or _NO_KEY,
                "max_retries": 0,
                "timeout": self.provider.timeout,
                **({"api_base": self.base} if self.base else {}),
            }
            if self.provider.organization:
                self._where["organization"] = self.provider.organization
            if self.provider.api_version:
                self._where["api_version"] = self.provider.api_version
        return await litellm_api.batch_call(operation, self.provider, **self._where, **kwargs)


def _filename(job: BatchJob) -> str:
    return f"{job.name}.jsonl"


def _sort_line(
    line: dict[str, Any],
    answers: list[tuple[str, dict[str, Any]]],
    errors: list[tuple[str, dict[str, Any]]],
) -> None:
    """One output or error line into an answer, an error, or nothing (not run)."""
    key = str(line.get("custom_id"))
    response = line.get("response") or {}
    failure = line.get("error") or {}
    status = response.get("status_code")
    body = response.get("body") or {}
    if status == 200 and not failure:
        answers.append((key, body))
        return
    code = str(failure.get("code") or "")
    if code in NOT_RUN:
        return
    said = (body.get("error") or {}) if isinstance(body, dict) else {}
    message = str(failure.get("message") or said.get("message") or f"HTTP {status}")
    errors.append((key, {"status": status, "code": code or said.get("code"), "message": message}))


def _items(listed: Any) -> list[Any]:
    data = _get(listed, "data")
    return list(data) if data is not None else list(listed or [])


def _get(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)
