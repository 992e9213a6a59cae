"""The stub server's batch APIs (framework.testing.batches, framework.testing.message_batches),
driven over real HTTP: OpenAI's Files and Batches through the openai SDK and litellm,
Anthropic's Message Batches through httpx (and the anthropic SDK when installed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from framework.testing import Reply, StubServer

ENDPOINT = "/v1/chat/completions"
SHA = "0123456789abcdef" * 4  # labelwise's custom_ids: 64 hex digits


def line(custom_id: str, text: str = "hi", **overrides: Any) -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body} | overrides


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in lines).encode()


@pytest.fixture
def client(stub: StubServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stub.url, api_key="sk-test", max_retries=0) as made:
        yield made


def submit(client: openai.OpenAI, lines: list[dict[str, Any]]) -> Any:
    uploaded = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
    )


def statuses(client: openai.OpenAI, batch_id: str, polls: int) -> list[str]:
    return [client.batches.retrieve(batch_id).status for _ in range(polls)]


def by_custom_id(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    assert file_id is not None
    text = client.files.content(file_id).text
    return {item["custom_id"]: item for item in map(json.loads, text.splitlines())}


# -- OpenAI: statuses and answers -----------------------------------------------------


def test_a_batch_steps_to_completed_and_answers_each_line_once(
    stub: StubServer, client: openai.OpenAI
) -> None:
    stub.enqueue(
        Reply(content='{"labels": ["space"]}', prompt_tokens=7),
        Reply(status=429, error="slow down"),
        Reply(drop=True),
    )
    lines = [line(f"row-{i}", f"text {i}") for i in range(4)]
    batch = submit(client, lines)
    assert batch.id.startswith("batch_") and batch.status == "validating"
    assert statuses(client, batch.id, 2) == ["in_progress", "finalizing"]
    assert stub.requests == []  # nothing is answered before the batch completes
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.completed_at is not None
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (4, 2)
    assert done.request_counts.failed == 2
    assert stub.requests == [item["body"] for item in lines]  # each line once, in order

    output = by_custom_id(client, done.output_file_id)
    assert set(output) == {"row-0", "row-3"}
    answer = output["row-0"]["response"]
    assert answer["status_code"] == 200 and output["row-0"]["error"] is None
    assert answer["body"]["choices"][0]["message"]["content"] == '{"labels": ["space"]}'
    assert answer["body"]["usage"]["prompt_tokens"] == 7
    assert output["row-0"]["id"].startswith("batch_req_")
    errors = by_custom_id(client, done.error_file_id)
    assert errors["row-1"]["response"]["status_code"] == 429
    assert errors["row-1"]["response"]["body"]["error"]["message"] == "slow down"
    assert errors["row-2"]["response"] is None
    assert errors["row-2"]["error"]["code"] == "server_error"

    assert statuses(client, batch.id, 2) == ["completed", "completed"]
    assert len(stub.requests) == 4  # retrieving again answers nothing again
    assert client.files.retrieve(done.output_file_id or "").purpose == "batch_output"


def test_the_batch_object_has_openais_fields(stub: StubServer) -> None:
    stub.batches.polls_per_step = 0
    with httpx.Client(base_url=stub.url) as http:
        uploaded = http.post(
            "/files", files={"file": ("in.jsonl", jsonl([line("a")]))}, data={"purpose": "batch"}
        ).json()
        body = {"input_file_id": uploaded["id"], "endpoint": ENDPOINT, "completion_window": "24h"}
        batch = http.post("/batches", json=body | {"metadata": {"run": "r1"}}).json()
    assert set(batch) == {
        "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status",
        "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at",
        "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at",
        "cancelled_at", "request_counts", "metadata",
    }  # fmt: skip
    assert batch["object"] == "batch" and batch["metadata"] == {"run": "r1"}
    assert batch["expires_at"] == batch["created_at"] + 86_400
    assert batch["status"] == "completed" and batch["error_file_id"] is None
    assert set(uploaded) >= {"id", "object", "bytes", "created_at", "filename", "purpose"}
    assert uploaded["status"] == "processed" and uploaded["filename"] == "in.jsonl"


def test_polls_per_step_sets_how_many_retrieves_make_a_step(
    stub: StubServer, client: openai.OpenAI
) -> None:
    stub.batches.polls_per_step = 2
    batch = submit(client, [line("a")])
    assert statuses(client, batch.id, 6) == [
        "validating", "in_progress", "in_progress", "finalizing", "finalizing", "completed",
    ]  # fmt: skip
    stub.batches.polls_per_step = 0
    at_once = submit(client, [line("b")])
    assert at_once.status == "completed" and at_once.output_file_id is not None
    assert len(stub.requests) == 2


def test_a_file_with_no_error_has_no_error_file_and_one_with_no_answer_no_output(
    stub: StubServer, client: openai.OpenAI
) -> None:
    stub.batches.polls_per_step = 0
    good = submit(client, [line("a"), line("b")])
    assert good.error_file_id is None and set(by_custom_id(client, good.output_file_id)) == {
        "a",
        "b",
    }
    stub.default = Reply(status=500, error="down")
    bad = submit(client, [line("c")])
    assert bad.output_file_id is None
    error = by_custom_id(client, bad.error_file_id)["c"]["response"]
    assert error["status_code"] == 500 and error["body"]["error"]["type"] == "server_error"


def test_the_responder_answers_batch_lines_and_results_are_matched_by_custom_id(
    stub: StubServer, client: openai.OpenAI
) -> None:
    stub.batches.polls_per_step = 0
    stub.batches.reverse_results = True
    stub.responder = lambda body: Reply(content=body["messages"][0]["content"].upper())
    batch = submit(client, [line(f"id-{i}", f"text {i}") for i in range(3)])
    assert batch.output_file_id is not None
    text = client.files.content(batch.output_file_id).text
    order = [json.loads(item)["custom_id"] for item in text.splitlines()]
    assert order == ["id-2", "id-1", "id-0"]
    for custom_id, item in by_custom_id(client, batch.output_file_id).items():
        content = item["response"]["body"]["choices"][0]["message"]["content"]
        assert content == f"TEXT {custom_id.removeprefix('id-')}"


# -- OpenAI: validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code", "line_number"),
    [
        (jsonl([line("a")]) + b"{not json\n", "invalid_json_line", 2),
        (jsonl([line("a"), line("a")]), "duplicate_custom_id", 2),
        (jsonl([line("a"), line("b", url="/v1/embeddings")]), "mismatched_endpoint", 2),
        (jsonl([line("a", method="GET")]), "invalid_method", 1),
        (
            jsonl([{"custom_id": "a", "method": "POST", "url": ENDPOINT}]),
            "missing_required_parameter",
            1,
        ),
        (
            jsonl([line("a"), line("b") | {"body": {"model": "other", "messages": []}}]),
            "mismatched_model",
            2,
        ),
        (jsonl([line(str(i)) for i in range(3)]), "request_limit_exceeded", None),
        (b"\n", "empty_file", None),
    ],
)
def test_an_invalid_input_file_fails_the_batch(
    stub: StubServer, client: openai.OpenAI, content: bytes, code: str, line_number: int | None
) -> None:
    stub.batches.max_requests = 2
    uploaded = client.files.create(file=("in.jsonl", content), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
    )
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.failed_at is not None
    assert failed.errors is not None and failed.errors.data is not None
    assert [(e.code, e.line) for e in failed.errors.data] == [(code, line_number)]
    assert statuses(client, batch.id, 2) == ["failed", "failed"]
    assert stub.requests == [] and failed.output_file_id is None


def test_a_bad_create_request_is_refused(stub: StubServer, client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("in.jsonl", jsonl([line("a")])), purpose="batch")
    with pytest.raises(openai.NotFoundError) as missing:
        client.batches.create(input_file_id="file-nope", endpoint=ENDPOINT, completion_window="24h")
    assert missing.value.body == {
        "message": "No such File object: file-nope",
        "type": "invalid_request_error",
        "param": None,
        "code": "file_not_found",
    }
    with pytest.raises(openai.BadRequestError):
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert stub.batches.created == []  # only batches made are counted


# -- OpenAI: faults, cancel, list -----------------------------------------------------


def test_an_expired_batch_answers_the_first_half(stub: StubServer, client: openai.OpenAI) -> None:
    stub.batches.fault = "expire"
    batch = submit(client, [line(f"r{i}") for i in range(5)])
    assert statuses(client, batch.id, 3) == ["in_progress", "expired", "expired"]
    expired = client.batches.retrieve(batch.id)
    assert expired.expired_at is not None and expired.request_counts is not None
    assert (expired.request_counts.completed, expired.request_counts.failed) == (2, 3)
    assert set(by_custom_id(client, expired.output_file_id)) == {"r0", "r1"}
    errors = by_custom_id(client, expired.error_file_id)
    assert set(errors) == {"r2", "r3", "r4"}
    assert errors["r2"]["response"] is None
    assert errors["r2"]["error"] == {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    assert len(stub.requests) == 2


def test_a_stuck_batch_stays_in_progress_until_the_fault_is_cleared(
    stub: StubServer, client: openai.OpenAI
) -> None:
    stub.batches.fault = "stuck"
    batch = submit(client, [line("a")])
    assert statuses(client, batch.id, 4) == ["in_progress"] * 4
    stub.batches.fault = None
    assert statuses(client, batch.id, 2) == ["finalizing", "completed"]


def test_the_fail_fault_fails_validation(stub: StubServer, client: openai.OpenAI) -> None:
    stub.batches.fault = "fail"
    batch = submit(client, [line("a")])
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.errors is not None
    assert [e.code for e in failed.errors.data or []] == ["stub_fault"]


def test_a_cancelled_batch_answers_no_line(stub: StubServer, client: openai.OpenAI) -> None:
    stub.batches.fault = "stuck"
    batch = submit(client, [line("a"), line("b")])
    assert statuses(client, batch.id, 1) == ["in_progress"]
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert cancelled.output_file_id is None and cancelled.request_counts is not None
    assert cancelled.request_counts.failed == 2
    errors = by_custom_id(client, cancelled.error_file_id)
    assert {e["error"]["code"] for e in errors.values()} == {"batch_cancelled"}
    assert stub.requests == []
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_batches_are_listed_newest_first_in_pages(stub: StubServer, client: openai.OpenAI) -> None:
    made = [submit(client, [line("a")]).id for _ in range(5)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2] and page.has_more
    assert [b.id for b in client.batches.list(limit=2)] == made[::-1]  # the SDK pages on
    with httpx.Client(base_url=stub.url) as http:
        last = http.get("/batches", params={"limit": 2, "after": made[1]}).json()
    assert last["object"] == "list" and last["has_more"] is False
    assert [b["id"] for b in last["data"]] == [made[0]]
    assert last["first_id"] == last["last_id"] == made[0]


# -- OpenAI: files, counters ----------------------------------------------------------


def test_files_are_listed_read_and_deleted(stub: StubServer, client: openai.OpenAI) -> None:
    content = jsonl([line("a")])
    stub.batches.polls_per_step = 0
    batch = submit(client, [line("b")])
    uploaded = client.files.retrieve(batch.input_file_id)
    assert client.files.content(uploaded.id).content == jsonl([line("b")])
    other = client.files.create(file=("notes.txt", content), purpose="assistants")
    assert {f.id for f in client.files.list(purpose="batch")} == {uploaded.id}
    assert {f.purpose for f in client.files.list()} == {"batch", "batch_output", "assistants"}
    assert client.files.delete(other.id).deleted
    with httpx.Client(base_url=stub.url) as http:
        gone = http.get(f"/files/{other.id}/content")
    assert gone.status_code == 404
    assert gone.json()["error"]["type"] == "invalid_request_error"


def test_uploads_creations_and_keys_are_counted_on_both_paths(stub: StubServer) -> None:
    big = jsonl([line(f"r{i}", "x" * 1000) for i in range(1500)])  # above aiohttp's 1 MiB
    root = f"http://127.0.0.1:{stub.port}"
    with httpx.Client(headers={"Authorization": "Bearer sk-one"}) as http:
        files = {"file": ("big.jsonl", big)}
        first = http.post(f"{root}/files", files=files, data={"purpose": "batch"}).json()
        second = http.post(f"{root}/v1/files", files=files, data={"purpose": "batch"}).json()
        body = {"input_file_id": second["id"], "endpoint": ENDPOINT, "completion_window": "24h"}
        made = http.post(f"{root}/batches", json=body).json()
        assert http.get(f"{root}/v1/batches/{made['id']}").json()["status"] == "in_progress"
    assert [(u.filename, u.bytes, u.lines) for u in stub.batches.uploads] == [
        ("big.jsonl", len(big), 1500)
    ] * 2
    assert stub.batches.created == [second["id"]]
    assert set(stub.batches.files) == {first["id"], second["id"]}
    assert stub.batches.batches[made["id"]]["request_counts"]["total"] == 1500
    assert stub.batches.authorizations == ["Bearer sk-one"] * 4
    assert stub.authorizations == []  # the chat route's own record is left alone


def test_refusals_answer_the_next_requests_and_do_nothing(
    stub: StubServer, client: openai.OpenAI
) -> None:
    uploaded = client.files.create(file=("in.jsonl", jsonl([line("a")])), purpose="batch")
    stub.batches.refusals = [500]
    with pytest.raises(openai.InternalServerError):
        client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
    assert stub.batches.created == [] and stub.batches.refusals == []
    stub.batches.refusals = [429]
    with pytest.raises(openai.RateLimitError):
        client.files.list()


# -- OpenAI through litellm -----------------------------------------------------------


@pytest.mark.slow
def test_litellm_drives_a_batch_from_upload_to_output(stub: StubServer) -> None:
    import litellm

    stub.enqueue(Reply(content='{"labels": ["a"]}'), Reply(status=400, error="bad"))
    where = {"custom_llm_provider": "openai", "api_base": stub.url, "api_key": "sk-test"}

    async def drive() -> str:
        content = jsonl([line(SHA), line("second")])
        uploaded = await litellm.acreate_file(file=("in.jsonl", content), purpose="batch", **where)
        assert uploaded.id in stub.batches.files and uploaded.purpose == "batch"
        batch = await litellm.acreate_batch(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", **where
        )
        seen = [(await litellm.aretrieve_batch(batch_id=batch.id, **where)).status]
        while seen[-1] != "completed":
            seen.append((await litellm.aretrieve_batch(batch_id=batch.id, **where)).status)
        assert seen == ["in_progress", "finalizing", "completed"]
        done = await litellm.aretrieve_batch(batch_id=batch.id, **where)
        output = await litellm.afile_content(file_id=done.output_file_id, **where)
        [answered] = [json.loads(text) for text in output.content.splitlines()]  # bytes
        assert answered["custom_id"] == SHA
        errors = await litellm.afile_content(file_id=done.error_file_id, **where)
        assert json.loads(errors.text)["response"]["status_code"] == 400
        listed = await litellm.alist_batches(limit=10, **where)
        assert [b.id for b in listed.data] == [batch.id]
        files = await litellm.afile_list(purpose="batch_output", **where)
        assert {f.id for f in files.data} == {done.output_file_id, done.error_file_id}
        stuck = await litellm.acreate_batch(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h", **where
        )
        assert (await litellm.acancel_batch(batch_id=stuck.id, **where)).status == "cancelling"
        return str(uploaded.id)

    input_file_id = asyncio.run(drive())
    assert stub.batches.created == [input_file_id] * 2
    assert [(u.filename, u.lines) for u in stub.batches.uploads] == [("in.jsonl", 2)]
    assert set(stub.batches.authorizations) == {"Bearer sk-test"}


def test_litellm_retries_a_refused_create_unless_told_not_to(stub: StubServer) -> None:
    """What labelwise must know: litellm's batch calls go through the openai client, which
    retries a 5xx or 429 twice by default (a POST too), and raise openai's exceptions."""
    import litellm

    where = {"custom_llm_provider": "openai", "api_base": stub.url, "api_key": "sk-test"}
    create = {"endpoint": ENDPOINT, "completion_window": "24h"}

    async def drive() -> None:
        uploaded = await litellm.acreate_file(
            file=("a.jsonl", jsonl([line("a")])), purpose="batch", **where
        )
        stub.batches.refusals = [500]
        await litellm.acreate_batch(input_file_id=uploaded.id, **create, **where)
        assert stub.batches.refusals == [] and len(stub.batches.created) == 1
        stub.batches.refusals = [500]
        with pytest.raises(openai.InternalServerError):
            await litellm.acreate_batch(input_file_id=uploaded.id, max_retries=0, **create, **where)
        assert len(stub.batches.created) == 1

    asyncio.run(drive())


# -- Anthropic ------------------------------------------------------------------------


def params(text: str = "hi", **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": "claude-x", "max_tokens": 64, "messages": messages} | extra


@pytest.fixture
def anthropic_http(stub: StubServer) -> Iterator[httpx.Client]:
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=f"http://127.0.0.1:{stub.port}/v1", headers=headers) as http:
        yield http


def create(http: httpx.Client, requests: list[dict[str, Any]]) -> httpx.Response:
    return http.post("/messages/batches", json={"requests": requests})


def results(http: httpx.Client, batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answer = http.get(batch["results_url"])
    assert answer.status_code == 200
    lines = map(json.loads, answer.text.splitlines())
    return {item["custom_id"]: item["result"] for item in lines}


def test_a_message_batch_ends_with_the_messages_routes_answers(
    stub: StubServer, anthropic_http: httpx.Client
) -> None:
    tool = {"name": "classify", "input_schema": {"type": "object"}}
    forced = params("one", tools=[tool], tool_choice={"type": "tool", "name": "classify"})
    stub.enqueue(Reply(content='{"labels": ["a"]}'), Reply(status=429, error="later"))
    made = create(
        anthropic_http,
        [
            {"custom_id": SHA, "params": forced},
            {"custom_id": "b", "params": params("two")},
            {"custom_id": "c", "params": params("three")},
        ],
    )
    batch = made.json()
    assert made.status_code == 200 and batch["id"].startswith("msgbatch_")
    assert batch["processing_status"] == "in_progress" and batch["results_url"] is None
    assert batch["request_counts"] == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert set(batch) == {
        "id",
        "type",
        "processing_status",
        "request_counts",
        "ended_at",
        "created_at",
        "expires_at",
        "cancel_initiated_at",
        "archived_at",
        "results_url",
    }
    assert batch["created_at"].endswith("Z") and stub.requests == []
    early = anthropic_http.get(f"/messages/batches/{batch['id']}/results")
    assert early.status_code == 400 and early.json()["type"] == "error"

    ended = anthropic_http.get(f"/messages/batches/{batch['id']}").json()
    assert ended["processing_status"] == "ended" and ended["ended_at"] is not None
    assert (
        ended["results_url"]
        == f"http://127.0.0.1:{stub.port}/v1/messages/batches/{batch['id']}/results"
    )
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 2,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    got = results(anthropic_http, ended)
    stub.enqueue(Reply(content='{"labels": ["a"]}'))
    direct = anthropic_http.post("/messages", json=forced).json()
    assert got[SHA] == {"type": "succeeded", "message": direct}
    assert direct["content"][0] == {
        "type": "tool_use",
        "id": "toolu_stub",
        "name": "classify",
        "input": {"labels": ["a"]},
    }
    assert got["b"] == {
        "type": "errored",
        "error": {"type": "error", "error": {"type": "rate_limit_error", "message": "later"}},
    }
    assert got["c"]["message"]["content"][0]["type"] == "text"
    assert stub.requests == [forced, params("two"), params("three"), forced]
    assert stub.batches.anthropic.created == [[SHA, "b", "c"]]
    assert set(stub.batches.anthropic.api_keys) == {"sk-ant"}


@pytest.mark.parametrize(
    ("requests", "says"),
    [
        ([], "at least one"),
        ([{"custom_id": "a b", "params": params()}], "custom_id"),
        ([{"custom_id": "x" * 65, "params": params()}], "custom_id"),
        (
            [{"custom_id": "a", "params": params()}, {"custom_id": "a", "params": params()}],
            "not unique",
        ),
        ([{"custom_id": "a"}], "params"),
        ([{"custom_id": str(i), "params": params()} for i in range(3)], "at most 2"),
    ],
)
def test_a_bad_message_batch_is_refused(
    stub: StubServer, anthropic_http: httpx.Client, requests: list[dict[str, Any]], says: str
) -> None:
    stub.batches.anthropic.max_requests = 2
    refused = create(anthropic_http, requests)
    assert refused.status_code == 400
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert says in error["error"]["message"]
    assert stub.batches.anthropic.created == [] and stub.batches.anthropic.batches == {}


def test_params_are_checked_when_the_batch_runs(
    stub: StubServer, anthropic_http: httpx.Client
) -> None:
    stub.batches.polls_per_step = 0
    batch = create(
        anthropic_http, [{"custom_id": "a", "params": {"model": "m", "messages": []}}]
    ).json()
    assert batch["processing_status"] == "ended"  # polls_per_step 0: created ended
    result = results(anthropic_http, batch)["a"]
    assert result["type"] == "errored" and "max_tokens" in result["error"]["error"]["message"]
    assert stub.requests == []


def test_message_batch_faults_cancel_and_errors(
    stub: StubServer, anthropic_http: httpx.Client
) -> None:
    four = [{"custom_id": f"r{i}", "params": params()} for i in range(4)]
    stub.batches.fault = "expire"
    expired = create(anthropic_http, four).json()
    expired = anthropic_http.get(f"/messages/batches/{expired['id']}").json()
    assert expired["request_counts"]["expired"] == 2 and expired["request_counts"]["succeeded"] == 2
    assert [r["type"] for r in results(anthropic_http, expired).values()] == ["succeeded"] * 2 + [
        "expired"
    ] * 2

    stub.batches.fault = "stuck"
    stuck = create(anthropic_http, four).json()
    for _ in range(3):
        assert (
            anthropic_http.get(f"/messages/batches/{stuck['id']}").json()["processing_status"]
            == "in_progress"
        )
    canceling = anthropic_http.post(f"/messages/batches/{stuck['id']}/cancel").json()
    assert canceling["processing_status"] == "canceling" and canceling["cancel_initiated_at"]
    canceled = anthropic_http.get(f"/messages/batches/{stuck['id']}").json()
    assert canceled["processing_status"] == "ended" and canceled["request_counts"]["canceled"] == 4
    assert {r["type"] for r in results(anthropic_http, canceled).values()} == {"canceled"}
    assert anthropic_http.post(f"/messages/batches/{stuck['id']}/cancel").status_code == 409
    assert len(stub.requests) == 2

    stub.batches.fault = "fail"
    assert create(anthropic_http, four).status_code == 400
    missing = anthropic_http.get("/messages/batches/msgbatch_nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    stub.batches.refusals = [529]
    overloaded = anthropic_http.get(f"/messages/batches/{stuck['id']}")
    assert (
        overloaded.status_code == 529 and overloaded.json()["error"]["type"] == "overloaded_error"
    )

    listed = anthropic_http.get("/messages/batches", params={"limit": 1}).json()
    assert [b["id"] for b in listed["data"]] == [stuck["id"]] and listed["has_more"]
    rest = anthropic_http.get("/messages/batches", params={"after_id": listed["last_id"]}).json()
    assert [b["id"] for b in rest["data"]] == [expired["id"]] and not rest["has_more"]


def test_the_anthropic_sdk_drives_a_message_batch(stub: StubServer) -> None:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(
        base_url=f"http://127.0.0.1:{stub.port}", api_key="k", max_retries=0
    )
    stub.enqueue(Reply(status=400, error="no"))
    made = client.messages.batches.create(
        requests=[{"custom_id": "a", "params": params()}, {"custom_id": SHA, "params": params()}]
    )
    assert made.processing_status == "in_progress"
    assert client.messages.batches.retrieve(made.id).processing_status == "ended"
    got = {r.custom_id: r.result for r in client.messages.batches.results(made.id)}
    assert got["a"].type == "errored" and got["a"].error.error.message == "no"
    assert got[SHA].type == "succeeded" and got[SHA].message.content[0].text == '{"labels": []}'
    other = client.messages.batches.create(requests=[{"custom_id": "z", "params": params()}])
    assert client.messages.batches.cancel(other.id).processing_status == "canceling"
    assert [b.id for b in client.messages.batches.list(limit=1)] == [other.id, made.id]
    assert set(stub.batches.anthropic.api_keys) == {"k"}  # sent as a bearer token
