"""The stub server's Anthropic Message Batches API (`stub.batches.anthropic`); each
request's params are answered by the stub's usual machinery (`stub.next_reply`) and
built like the stub's POST /v1/messages answer (framework.testing.wires).

    with StubServer() as stub:
        stub.batches.polls_per_step = 0         # shared with the OpenAI batches
        httpx.post(f"http://127.0.0.1:{stub.port}/v1/messages/batches", json=...)
        stub.batches.anthropic.created, .api_keys     # what was sent, in order

Routes:

    POST /v1/messages/batches          {"requests": [{"custom_id", "params"}]}: a
                                       message_batch, processing_status in_progress
    GET  /v1/messages/batches/{id}     the batch, one step further (below)
    GET  /v1/messages/batches/{id}/results   JSONL, once ended: {"custom_id", "result":
                                       {"type": "succeeded", "message"} | {"type":
                                       "errored", "error"} | {"type": "expired"} |
                                       {"type": "canceled"}}
    POST /v1/messages/batches/{id}/cancel    processing_status canceling; ended is a 409
    GET  /v1/messages/batches[?limit=&after_id=]   newest first: {"data", "has_more",
                                       "first_id", "last_id"}

Creation is refused (400 invalid_request_error) for no request, more than
`max_requests` (default 100,000), a custom_id not matching ^[a-zA-Z0-9_-]{1,64}$ or
repeated, params that are not an object, and under the fault "fail". As on Anthropic,
params are checked later: one without model, max_tokens or messages is errored without
being answered. Other errors are {"type": "error", "error": {"type", "message"}}: 404
not_found_error for an unknown id, 400 for results asked before the batch ended.

Statuses: each `polls_per_step` retrieves move in_progress to ended (0: created ended);
then results_url is <base>/v1/messages/batches/{id}/results and the requests are answered:
a 200 Reply succeeded, another status errored with the error body /v1/messages would
send, a dropped one errored with api_error. Faults: "stuck" never ends, "expire" ends with
the first half (rounded down) answered and the rest expired. A cancel makes it canceling,
then ended at the next retrieve with every request canceled, whatever the fault.
`stub.batches.reverse_results` writes the results in reverse order.
Timestamps are RFC 3339 strings, as Anthropic's. `stub.batches.refusals` answers these
routes too, with Anthropic's error bodies (rate_limit_error, overloaded_error, api_error).

Counters: `created` (the custom_ids of each batch created), `api_keys` (each request's
key: its x-api-key header, else its Authorization bearer token, which is how anthropic>=2
sends an api_key) and `batches` (id -> the message_batch as last served).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from aiohttp import web

from framework.testing.reply import Host
from framework.testing.wires import anthropic_answer

__all__ = ["Fault", "MessageBatches", "Shared", "read_json"]

Fault = Literal["expire", "stuck", "fail"]


class Shared(Protocol):
    """What the OpenAI batches (framework.testing.batches.StubBatches) share with these."""

    stub: Host
    lock: threading.RLock
    polls_per_step: int
    fault: Fault | None
    reverse_results: bool


JSON = dict[str, Any]
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_REQUIRED = ("model", "max_tokens", "messages")


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (None when it is not JSON), read without aiohttp's 1 MiB
    client_max_size: a batch may be larger."""
    try:
        return json.loads(await request.content.read())
    except ValueError:
        return None


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status)


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


class MessageBatches:
    """Anthropic's half of `stub.batches`; the `owner` holds the shared settings."""

    def __init__(self, owner: Shared) -> None:
        self.owner = owner
        self.max_requests = 100_000
        self.batches: dict[str, JSON] = {}
        self.created: list[list[str]] = []
        self.api_keys: list[str | None] = []
        self._requests: dict[str, list[JSON]] = {}
        self._results: dict[str, list[JSON]] = {}
        self._polls: dict[str, int] = {}

    def add_routes(self, app: web.Application) -> None:
        root = "/v1/messages/batches"
        app.router.add_post(root, self._create)
        app.router.add_get(root, self._list)
        app.router.add_get(root + "/{batch_id}", self._retrieve)
        app.router.add_get(root + "/{batch_id}/results", self._results_of)
        app.router.add_post(root + "/{batch_id}/cancel", self._cancel)

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        requests = body.get("requests") if isinstance(body, dict) else None
        problem = self._problem(requests)
        if problem is not None or not isinstance(requests, list):
            return _error(400, "invalid_request_error", problem or "requests: a list")
        now = time.time()
        batch: JSON = {
            "id": f"msgbatch_{uuid.uuid4().hex}",
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(requests),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": None,
            "created_at": _rfc3339(now),
            "expires_at": _rfc3339(now + 86_400),
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": None,
        }
        with self.owner.lock:
            self.created.append([item["custom_id"] for item in requests])
            self.batches[batch["id"]] = batch
            self._requests[batch["id"]] = requests
            self._polls[batch["id"]] = 0
            if self.owner.polls_per_step <= 0:
                self._step(batch, request)
            return web.json_response(batch)

    async def _retrieve(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        with self.owner.lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return _no_batch(batch_id)
            self._polls[batch_id] += 1
            if batch["processing_status"] == "canceling":
                self._step(batch, request)
            elif self._polls[batch_id] >= self.owner.polls_per_step:
                self._polls[batch_id] = 0
                self._step(batch, request)
            return web.json_response(batch)

    async def _results_of(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        with self.owner.lock:
            if batch_id not in self.batches:
                return _no_batch(batch_id)
            if batch_id not in self._results:
                message = f"Message Batch {batch_id} has not yet ended."
                return _error(400, "invalid_request_error", message)
            lines = "".join(json.dumps(line) + "\n" for line in self._results[batch_id])
        return web.Response(body=lines.encode(), content_type="application/x-jsonl")

    async def _cancel(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        with self.owner.lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return _no_batch(batch_id)
            if batch["processing_status"] == "ended":
                message = f"Message Batch {batch_id} has already ended."
                return _error(409, "invalid_request_error", message)
            if batch["processing_status"] == "in_progress":
                batch |= {
                    "processing_status": "canceling",
                    "cancel_initiated_at": _rfc3339(time.time()),
                }
            return web.json_response(batch)

    async def _list(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        with self.owner.lock:
            ids = list(reversed(self.batches))
            after = request.query.get("after_id")
            start = ids.index(after) + 1 if after in ids else 0
            page = [self.batches[i] for i in ids[start : start + limit]]
            has_more = start + limit < len(ids)
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return web.json_response(
            {"data": page, "has_more": has_more, "first_id": first, "last_id": last}
        )

    # -- inside -----------------------------------------------------------------------

    def _problem(self, requests: Any) -> str | None:
        """Why a creation is refused, or None."""
        if not isinstance(requests, list) or not requests:
            return "requests: at least one request is required"
        if len(requests) > self.max_requests:
            return f"requests: at most {self.max_requests} requests are allowed"
        seen: set[str] = set()
        for index, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
                return f"requests.{index}.custom_id: String should match ^[a-zA-Z0-9_-]{{1,64}}$"
            if custom_id in seen:
                return f"requests.{index}.custom_id: {custom_id!r} is not unique in the batch"
            if not isinstance(item.get("params"), dict):
                return f"requests.{index}.params: an object is required"
            seen.add(custom_id)
        if self.owner.fault == "fail":
            return "the stub was told to refuse this batch"
        return None

    def _step(self, batch: JSON, request: web.Request) -> None:
        status, fault = batch["processing_status"], self.owner.fault
        count = len(self._requests[batch["id"]])
        if status == "canceling":
            self._end(batch, request, answered=0, rest="canceled")
        elif status == "in_progress" and fault == "expire":
            self._end(batch, request, answered=count // 2, rest="expired")
        elif status == "in_progress" and fault != "stuck":
            self._end(batch, request, answered=count, rest="expired")

    def _end(self, batch: JSON, request: web.Request, answered: int, rest: str) -> None:
        results: list[JSON] = []
        for index, item in enumerate(self._requests[batch["id"]]):
            result = self._answer(item["params"], request) if index < answered else {"type": rest}
            results.append({"custom_id": item["custom_id"], "result": result})
        counts = dict.fromkeys(("succeeded", "errored", "canceled", "expired"), 0)
        for line in results:
            counts[line["result"]["type"]] += 1
        if self.owner.reverse_results:
            results.reverse()
        self._results[batch["id"]] = results
        url = f"http://127.0.0.1:{self.owner.stub.port}/v1/messages/batches/{batch['id']}/results"
        batch |= {"processing_status": "ended", "ended_at": _rfc3339(time.time())}
        batch |= {"results_url": url, "request_counts": {"processing": 0, **counts}}

    def _answer(self, params: JSON, request: web.Request) -> JSON:
        missing = [name for name in _REQUIRED if name not in params]
        if missing:
            error = {"type": "invalid_request_error", "message": f"{missing[0]}: Field required"}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        reply = self.owner.stub.cached_usage(
            "anthropic", params, self.owner.stub.next_reply(params)
        )
        if reply.drop:
            error = {"type": "api_error", "message": "Internal server error"}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        status, message, _ = anthropic_answer(params, reply, request)
        if status != 200:
            return {"type": "errored", "error": message}
        return {"type": "succeeded", "message": message}


def _no_batch(batch_id: str) -> web.Response:
    return _error(404, "not_found_error", f"Message Batch {batch_id} not found.")
