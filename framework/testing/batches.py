"""The stub server's batch APIs: OpenAI's Files and Batches here, Anthropic's Message
Batches in framework.testing.message_batches. Lines are answered by the stub's usual
machinery (`stub.next_reply`: the queue, the responder, the default), each exactly once.

    with StubServer() as stub:                  # StubServer._app() adds these routes
        stub.batches.polls_per_step = 0         # batches complete as soon as they are created
        stub.enqueue(Reply(content='{"labels": ["space"]}'), Reply(status=500))
        ... upload a JSONL file to stub.url + "/files", create a batch, poll, download ...
        stub.batches.uploads, .created, .authorizations   # what was sent, in order

Routes, with and without the /v1 prefix, and under /openai as Azure OpenAI serves them
(?api-version= required there; the batch endpoint may be /chat/completions, Azure's name):

    POST   /files                multipart `file` and `purpose`: an OpenAI File object
    GET    /files[?purpose=]     {"object": "list", "data", "has_more": false}
    GET    /files/{id}           the File object; GET /files/{id}/content: its bytes
    DELETE /files/{id}           {"id", "object": "file", "deleted": true}
    POST   /batches              {input_file_id, endpoint: "/v1/chat/completions",
                                 completion_window: "24h", metadata?}: a Batch object
    GET    /batches/{id}         the Batch object, one step further (below)
    POST   /batches/{id}/cancel  status cancelling; a finished batch is a 409
    GET    /batches[?limit=&after=]   newest first: {"object": "list", "data", "first_id",
                                 "last_id", "has_more"}

Errors are OpenAI's {"error": {"message", "type": "invalid_request_error", "param",
"code"}}: 404 for an unknown id, 400 for a bad request.

Statuses: each `polls_per_step` retrieves (default 1) move a batch one step, validating ->
in_progress -> finalizing -> completed; with 0 it is created already finished. Validation
(at the first step) fails the batch, with errors {"object": "list", "data": [{"code",
"message", "param", "line"}]}, for a line that is not a JSON object (invalid_json_line),
lacks custom_id or body (missing_required_parameter), has a method other than POST
(invalid_method) or a url other than the endpoint (mismatched_endpoint), repeats a
custom_id (duplicate_custom_id) or another line's model (mismatched_model), for more lines
than `max_requests` (default 50,000; request_limit_exceeded) and for no line (empty_file).
Lines are answered when the batch completes: a 200 Reply goes to the output file
({"id", "custom_id", "response": {"status_code": 200, "request_id", "body": <the chat
completion>}, "error": null}), another status to the error file with its error body as
response.body, a dropped one to the error file with response null and error
{"code": "server_error"}. request_counts count them; output_file_id / error_file_id are
None for an empty file. Reply.delay is not waited. `reverse_results` writes the lines in
reverse order (results must be matched by custom_id, not position).

Faults (`fault`, read at each step, so clearing it lets a batch go on):
    "fail"    validation fails (code stub_fault).
    "stuck"   the batch stays in_progress.
    "expire"  after in_progress the batch is expired: the first half of its lines
              (rounded down) are answered, the rest go to the error file with error
              {"code": "batch_expired"}.
A cancelled batch (cancelling, then cancelled at the next retrieve, whatever the fault)
answers no line: each goes to the error file with {"code": "batch_cancelled"}, counted
as failed. `step(batch_id)` moves a batch on as a retrieve would. `hang` (a set of
upload, create, retrieve, content): such a request is carried out but its answer waits
until the name is taken out of the set (a client killed then never heard it). `refusals` (e.g.
[500, 429]): the next requests to any batch route, of either API, are answered with
these statuses instead and do nothing (each API's error body, retry-after: 0).

Counters: `uploads` (an Upload per POST /files), `created` (the input_file_id of each
batch created), `authorizations` (the Authorization header of each request to these
routes), `files` (id -> StoredFile, the outputs too) and `batches` (id -> the Batch object
as last served). They are changed under `lock`.

"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from framework.testing.message_batches import Fault, MessageBatches, read_json
from framework.testing.reply import Host, Reply, completion_body

__all__ = ["Fault", "StoredFile", "StubBatches", "Upload"]

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ENDPOINT = "/v1/chat/completions"
# Azure OpenAI's batches (routes under /openai, an api-version required) name it so.
ENDPOINTS = (ENDPOINT, "/chat/completions")
_RUNNING = ("validating", "in_progress", "finalizing")  # the statuses a cancel stops


@dataclass(frozen=True)
class Upload:
    """One POST /files: the file's name, its size and its count of non-blank lines."""

    filename: str
    bytes: int
    lines: int


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def wire(self) -> JSON:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return web.json_response({"error": error}, status=status)


def _jsonl(lines: list[JSON]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


class StubBatches:
    """The batch state of one StubServer (`stub.batches`); `anthropic` is the Message
    Batches half, which shares `polls_per_step`, `fault` and `reverse_results`."""

    def __init__(self, stub: Host) -> None:
        self.stub = stub
        self.polls_per_step = 1
        self.fault: Fault | None = None
        self.reverse_results = False
        self.max_requests = 50_000
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, JSON] = {}
        self.uploads: list[Upload] = []
        self.created: list[str] = []
        self.authorizations: list[str | None] = []
        self.refusals: list[int] = []
        self.hang: set[str] = set()
        self.lock = threading.RLock()
        self._polls: dict[str, int] = {}
        self._inputs: dict[str, list[JSON]] = {}  # batch id -> its lines, once validated
        self.anthropic = MessageBatches(self)

    def add_routes(self, app: web.Application) -> None:
        for prefix in ("", "/v1", "/openai"):
            add = app.router
            add.add_post(f"{prefix}/files", self._upload)
            add.add_get(f"{prefix}/files", self._list_files)
            add.add_get(f"{prefix}/files/{{file_id}}", self._file)
            add.add_get(f"{prefix}/files/{{file_id}}/content", self._content)
            add.add_delete(f"{prefix}/files/{{file_id}}", self._delete)
            add.add_post(f"{prefix}/batches", self._create)
            add.add_get(f"{prefix}/batches", self._list_batches)
            add.add_get(f"{prefix}/batches/{{batch_id}}", self._retrieve)
            add.add_post(f"{prefix}/batches/{{batch_id}}/cancel", self._cancel)
        self.anthropic.add_routes(app)
        app.middlewares.append(self._gate)

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the key of every batch API request, and answer the next `refusals`."""
        azure = request.path.startswith("/openai/")
        path = request.path.removeprefix("/openai" if azure else "/v1")
        if not path.startswith(("/files", "/batches", "/messages/batches")):
            return await handler(request)
        if azure and "api-version" not in request.query:  # as Azure answers without one
            return _error(404, "Resource not found", "404")
        anthropic = path.startswith("/messages/")
        with self.lock:
            if anthropic:  # anthropic>=2 sends its api_key as a bearer token
                bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
                self.anthropic.api_keys.append(request.headers.get("x-api-key") or bearer or None)
            else:
                self.authorizations.append(request.headers.get("Authorization"))
            status = self.refusals.pop(0) if self.refusals else None
        if status is None:
            response = await handler(request)
            step = _step_of(request.method, path)
            while step in self.hang:  # done, but the answer never leaves: a kill's worst moment
                await asyncio.sleep(0.02)
            return response
        headers = {"retry-after": "0"}
        if anthropic:
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
            error: JSON = {"type": "error", "error": {"type": kind, "message": "stub refusal"}}
            return web.json_response(error, status=status, headers=headers)
        error = {"message": "stub refusal", "type": "server_error", "param": None, "code": None}
        return web.json_response({"error": error}, status=status, headers=headers)

    def step(self, batch_id: str) -> bool:
        """Move a batch one step on, as a retrieve does; False when it cannot move."""
        with self.lock:
            batch, now = self.batches[batch_id], int(time.time())
            status = batch["status"]
            if status == "cancelling":
                self._finish(batch, "cancelled", answered=0)
            elif status == "validating":
                errors = self._validate(batch)
                if errors:
                    batch |= {"status": "failed", "failed_at": now}
                    batch["errors"] = {"object": "list", "data": errors}
                else:
                    content = self.files[batch["input_file_id"]].content
                    lines = [json.loads(line) for line in content.splitlines() if line.strip()]
                    self._inputs[batch_id] = lines
                    batch |= {"status": "in_progress", "in_progress_at": now}
                    batch["request_counts"]["total"] = len(lines)
            elif status == "in_progress" and self.fault == "expire":
                self._finish(batch, "expired", answered=len(self._inputs[batch_id]) // 2)
            elif status == "in_progress" and self.fault != "stuck":
                batch |= {"status": "finalizing", "finalizing_at": now}
            elif status == "finalizing":
                self._finish(batch, "completed", answered=len(self._inputs[batch_id]))
            else:
                return False
            return True

    # -- files ------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            return _error(400, "a file upload is multipart/form-data")
        fields: dict[str, bytes] = {}
        filename = "file"
        # OpenAI takes files up to 512 MB; aiohttp's default client_max_size is 1 MiB.
        reader = await request.clone(client_max_size=512 * 1024**2).multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name:
                fields[part.name] = bytes(await part.read())
                filename = part.filename if part.name == "file" and part.filename else filename
        if "file" not in fields or "purpose" not in fields:
            return _error(400, "'file' and 'purpose' are required", "missing_required_parameter")
        content, purpose = fields["file"], fields["purpose"].decode()
        lines = sum(1 for line in content.splitlines() if line.strip())
        with self.lock:
            self.uploads.append(Upload(filename, len(content), lines))
            stored = self._store(filename, purpose, content)
        return web.json_response(stored.wire())

    async def _list_files(self, request: web.Request) -> web.Response:
        purpose = request.query.get("purpose")
        with self.lock:
            data = [f.wire() for f in self.files.values() if purpose in (None, f.purpose)]
        return web.json_response({"object": "list", "data": data, "has_more": False})

    async def _file(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        return _no_file(request) if stored is None else web.json_response(stored.wire())

    async def _content(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        if stored is None:
            return _no_file(request)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    async def _delete(self, request: web.Request) -> web.Response:
        with self.lock:
            stored = self.files.pop(request.match_info["file_id"], None)
        if stored is None:
            return _no_file(request)
        return web.json_response({"id": stored.id, "object": "file", "deleted": True})

    # -- batches ----------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            return _error(400, "the body is not a JSON object")
        if body.get("endpoint") not in ENDPOINTS:
            return _error(400, f"the stub batches {' or '.join(ENDPOINTS)} only", "invalid_value")
        if body.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'", "invalid_value")
        file_id = body.get("input_file_id")
        stored = self.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            return _error(404, f"No such File object: {file_id}", "file_not_found")
        if stored.purpose != "batch":
            return _error(400, f"File {file_id} has purpose {stored.purpose!r}, not 'batch'")
        now = int(time.time())
        batch: JSON = {
            "id": f"batch_{uuid.uuid4().hex}",
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": file_id,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86_400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        with self.lock:
            self.created.append(stored.id)
            self.batches[batch["id"]] = batch
            self._polls[batch["id"]] = 0
            while self.polls_per_step <= 0 and self.step(batch["id"]):
                pass
            return web.json_response(batch)

    async def _retrieve(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        with self.lock:
            if batch_id not in self.batches:
                return _no_batch(batch_id)
            self._polls[batch_id] += 1
            if self.batches[batch_id]["status"] == "cancelling":
                self.step(batch_id)
            elif self._polls[batch_id] >= self.polls_per_step:
                self._polls[batch_id] = 0
                self.step(batch_id)
            return web.json_response(self.batches[batch_id])

    async def _cancel(self, request: web.Request) -> web.Response:
        batch_id = request.match_info["batch_id"]
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return _no_batch(batch_id)
            if batch["status"] in _RUNNING:
                batch |= {"status": "cancelling", "cancelling_at": int(time.time())}
            elif batch["status"] != "cancelling":
                return _error(409, f"Cannot cancel a batch with status '{batch['status']}'.")
            return web.json_response(batch)

    async def _list_batches(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        with self.lock:
            ids = list(reversed(self.batches))
            after = request.query.get("after")
            start = ids.index(after) + 1 if after in ids else 0
            page = [self.batches[i] for i in ids[start : start + limit]]
            has_more = start + limit < len(ids)
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        listing = {"object": "list", "data": page, "first_id": first, "last_id": last}
        return web.json_response(listing | {"has_more": has_more})

    # -- inside -----------------------------------------------------------------------

    def _store(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        stored = StoredFile(
            f"file-{uuid.uuid4().hex}", filename, purpose, content, int(time.time())
        )
        self.files[stored.id] = stored
        return stored

    def _validate(self, batch: JSON) -> list[JSON]:
        stored = self.files.get(batch["input_file_id"])
        content = b"" if stored is None else stored.content
        errors: list[JSON] = []

        def error(code: str, message: str, line: int | None = None) -> None:
            errors.append({"code": code, "message": message, "param": None, "line": line})

        if self.fault == "fail":
            error("stub_fault", "The stub was told to fail this batch's validation.")
        seen: set[str] = set()
        models: set[Any] = set()
        numbered = [(n, text) for n, text in enumerate(content.splitlines(), 1) if text.strip()]
        for number, text in numbered:
            try:
                line = json.loads(text)
            except ValueError:
                line = None
            if not isinstance(line, dict):
                error("invalid_json_line", "This line is not a JSON object.", number)
                continue
            custom_id, body = line.get("custom_id"), line.get("body")
            if not isinstance(custom_id, str) or not isinstance(body, dict):
                error("missing_required_parameter", "custom_id and body are required.", number)
                continue
            if line.get("method") != "POST":
                error("invalid_method", "The method must be POST.", number)
            if line.get("url") != batch["endpoint"]:
                error("mismatched_endpoint", f"The url must be {batch['endpoint']}.", number)
            if custom_id in seen:
                error("duplicate_custom_id", f"custom_id {custom_id!r} is repeated.", number)
            if models and body.get("model") not in models:
                error("mismatched_model", "All lines of a batch must use one model.", number)
            seen.add(custom_id)
            models.add(body.get("model"))
        if len(numbered) > self.max_requests:
            error("request_limit_exceeded", f"At most {self.max_requests} requests a batch.")
        if not numbered:
            error("empty_file", "The input file has no request.")
        return errors

    def _finish(self, batch: JSON, status: str, answered: int) -> None:
        """End a batch: its first `answered` lines answered, the others unanswered."""
        unanswered = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(status)
        messages = {
            "batch_expired": "This request could not be executed before the completion "
            "window expired.",
            "batch_cancelled": "This request was not executed: the batch was cancelled.",
        }
        output: list[JSON] = []
        failed: list[JSON] = []
        for index, line in enumerate(self._inputs.get(batch["id"], [])):
            item: JSON = {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": line["custom_id"]}
            if index >= answered and unanswered is not None:
                error = {"code": unanswered, "message": messages[unanswered]}
                failed.append(item | {"response": None, "error": error})
                continue
            reply = self.stub.cached_usage(
                "openai", line["body"], self.stub.next_reply(line["body"])
            )
            if reply.drop:
                error = {"code": "server_error", "message": "The server dropped the request."}
                failed.append(item | {"response": None, "error": error})
                continue
            response = _response(line["body"], reply)
            (output if reply.status == 200 else failed).append(item | response)
        for key, lines in (("output_file_id", output), ("error_file_id", failed)):
            if self.reverse_results:
                lines.reverse()
            if lines:
                name = f"{batch['id']}_{key.removesuffix('_file_id')}.jsonl"
                batch[key] = self._store(name, "batch_output", _jsonl(lines)).id
        batch |= {"status": status, f"{status}_at": int(time.time())}
        batch["request_counts"] |= {"completed": len(output), "failed": len(failed)}


def _response(body: JSON, reply: Reply) -> JSON:
    """The "response" and "error" of an output or error file line answered by `reply`."""
    request_id = f"req_{uuid.uuid4().hex}"
    if reply.status == 200:
        answer = completion_body(body, reply)
    else:
        kind = "invalid_request_error" if reply.status < 500 else "server_error"
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(reply.status)
        answer = {"error": {"message": reply.error, "type": kind, "param": None, "code": code}}
    response = {"status_code": reply.status, "request_id": request_id, "body": answer}
    return {"response": response, "error": None}


def _no_file(request: web.Request) -> web.Response:
    return _error(404, f"No such File object: {request.match_info['file_id']}", "file_not_found")


def _no_batch(batch_id: str) -> web.Response:
    return _error(404, f"No batch found with id '{batch_id}'.", "batch_not_found")


def _step_of(method: str, path: str) -> str | None:
    """The `hang` name of a batch API request: upload, create, retrieve or content."""
    parts = path.strip("/").split("/")
    if method == "POST" and parts == ["files"]:
        return "upload"
    if method == "POST" and parts in (["batches"], ["messages", "batches"]):
        return "create"
    if method == "GET" and len(parts) == 2 and parts[0] == "batches":
        return "retrieve"
    if method == "GET" and parts[-1] in ("content", "results"):
        return "content"
    return None
