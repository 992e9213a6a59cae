"""`labelwise serve` as a client sees it: the real service in a subprocess on 127.0.0.1,
against the stub, spoken to with aiohttp's client."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from framework.testing import Reply, StubServer
from tests.support import classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.serving import Gate, Service, serve_command, served

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate()


@pytest.fixture(scope="module")
def shared_stub(gate: Gate) -> Iterator[StubServer]:
    with StubServer(responder=gate) as stub:
        yield stub


@pytest.fixture(scope="module")
def service(shared_stub: StubServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = cli_env(LABELWISE_CACHE_DIR=str(tmp_path_factory.mktemp("serve-cache")))
    args = ("--token", TOKEN, "--max-body", "4000", "--max-in-flight", "2")
    with served(shared_stub, *args, env=env) as running:
        yield running


def call(
    url: str,
    method: str = "GET",
    *,
    body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    async def go() -> tuple[int, dict[str, str], Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, url, json=body, data=data, headers=AUTH if headers is None else headers
            ) as response,
        ):
            text = await response.text()
            kind = response.content_type
            return (
                response.status,
                dict(response.headers),
                (__import__("json").loads(text) if kind == "application/json" else text),
            )

    return asyncio.run(go())


def classify(service: Service, body: Any, **kw: Any) -> tuple[int, dict[str, str], Any]:
    return call(f"{service.url}/v1/classify", "POST", body=body, **kw)


def test_rows_come_back_in_order_in_the_results_row_shape(service: Service) -> None:
    status, _, answer = classify(
        service, {"rows": [{"id": "a", "text": "NASA's probe reaches Europa"}, {"text": "Moon"}]}
    )
    assert status == 200
    rows = answer["rows"]
    assert [row["id"] for row in rows] == ["a", "1"]
    for row in rows:
        assert row["labels"] == ["space"]
        assert row["status"] == "ok"
        assert row["taxonomy"].startswith("news@")
        assert len(row["taxonomy_hash"]) == 16
        assert {"attempts", "usage", "cost"} <= set(row)


def test_one_row_without_rows_is_answered_as_one(service: Service) -> None:
    status, _, answer = classify(service, {"id": 7, "text": "A rocket launch"})
    assert status == 200
    assert [row["id"] for row in answer["rows"]] == ["7"]


def test_health_metrics_and_openapi(service: Service) -> None:
    classify(service, {"text": "counted in the metrics"})
    status, _, health = call(f"{service.url}/health", headers={})  # no token needed
    assert (status, health["status"]) == (200, "ok")
    status, _, metrics = call(f"{service.url}/metrics")
    assert status == 200
    for name in (
        'labelwise_rows_total{status="ok"}',
        "labelwise_cache_hits_total",
        "labelwise_cost_usd_total",
        'labelwise_request_latency_seconds{quantile="0.99"}',
        'labelwise_requests_total{code="200"}',
    ):
        assert name in metrics
    status, _, spec = call(f"{service.url}/openapi.json")
    assert status == 200
    assert spec["openapi"].startswith("3.")
    assert "/v1/classify" in spec["paths"]
    assert "space" in str(spec["paths"]["/v1/classify"])


@pytest.mark.parametrize(
    ("data", "status", "said"),
    [
        (b'{"rows": [{"id": "1", "text": "x"}', 400, "not JSON"),
        (b'{"rows": [{"id": "1"}]}', 422, "rows.0.text: required"),
        (b'{"rows": [{"id": "1", "text": null}]}', 422, "rows.0.text"),
        (
            b'{"rows": [{"id": "1", "text": "x", "lang": "en"}]}',
            422,
            "rows.0.lang: not a known field",
        ),
        (b'{"rows": [], "deadline_ms": 10}', 422, "rows"),
        (b'["x"]', 422, "the body is a JSON list"),
        (b'{"rows": [{"text": "' + b"x" * 5000 + b'"}]}', 413, "at most 4000"),
    ],
    ids=["malformed", "no-text", "null-text", "unknown-field", "no-rows", "list", "too-big"],
)
def test_bad_bodies_get_a_4xx_with_one_line_and_the_service_keeps_serving(
    service: Service, data: bytes, status: int, said: str
) -> None:
    got, _, answer = call(
        f"{service.url}/v1/classify",
        "POST",
        data=data,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert got == status
    assert said in answer["error"]
    assert "\n" not in answer["error"]
    assert classify(service, {"text": "still serving"})[0] == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_a_missing_or_wrong_token_is_401(service: Service, headers: dict[str, str]) -> None:
    status, sent, answer = classify(service, {"text": "x"}, headers=headers)
    assert status == 401
    assert "bearer token" in answer["error"]
    assert sent["WWW-Authenticate"] == "Bearer"


def metric(service: Service, name: str) -> str:
    text = call(f"{service.url}/metrics")[2]
    return next(
        (line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")), "0"
    )


def test_a_client_gone_mid_body_is_a_400_and_the_service_keeps_serving(service: Service) -> None:
    port = int(service.url.rsplit(":", 1)[1])
    bad = 'labelwise_requests_total{code="400"}'
    before = int(metric(service, bad))
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 500\r\n\r\n"
            b'{"rows": [{"text": "half'
        )
    assert classify(service, {"text": "after the hang-up"})[0] == 200
    assert int(metric(service, bad)) == before + 1  # answered 400, to nobody


def test_a_client_gone_while_its_rows_run_frees_their_slots(service: Service, gate: Gate) -> None:
    gate.arm()
    port = int(service.url.rsplit(":", 1)[1])
    body = b'{"text": "HOLD while I leave"}'
    raw = socket.create_connection(("127.0.0.1", port))
    raw.sendall(
        b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert gate.arrived.wait(60)
    raw.close()
    for _ in range(500):  # until the service has seen the hang-up (each turn a request)
        if metric(service, "labelwise_client_disconnects_total") == "1":
            break
    gate.release()
    assert metric(service, "labelwise_client_disconnects_total") == "1"
    assert metric(service, "labelwise_rows_in_flight") == "0"
    assert classify(service, {"text": "the next client"})[0] == 200


def test_over_the_in_flight_limit_is_429_with_retry_after(service: Service, gate: Gate) -> None:
    gate.arm()

    async def go() -> tuple[int, int, str]:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            held = asyncio.ensure_future(
                session.post(
                    f"{service.url}/v1/classify",
                    json={"rows": [{"text": "HOLD 1"}, {"text": "HOLD 2"}]},
                )
            )
            await asyncio.to_thread(gate.arrived.wait, 60)  # two rows in flight: the limit
            async with session.post(
                f"{service.url}/v1/classify", json={"text": "one more"}
            ) as refused:
                status, retry_after = refused.status, refused.headers.get("Retry-After", "")
                reason = (await refused.json())["error"]
            gate.release()
            response = await held
            return response.status, status, f"{retry_after}|{reason}"

    held_status, status, said = asyncio.run(go())
    assert held_status == 200
    assert status == 429
    retry_after, reason = said.split("|")
    assert int(retry_after) >= 1
    assert "at most 2" in reason


def test_rows_past_the_deadline_fail_and_a_request_with_none_done_is_504(service: Service) -> None:
    status, _, answer = classify(
        service,
        {
            "rows": [{"id": "f", "text": "fast one"}, {"id": "s", "text": "SLOW one"}],
            "deadline_ms": 1500,
        },
    )
    assert status == 200
    fast, slow = answer["rows"]
    assert fast["status"] == "ok"
    assert (slow["status"], slow["error_kind"]) == ("failed", "deadline")
    status, _, answer = classify(
        service, {"text": "SLOW alone"}, headers={**AUTH, "X-Deadline-Ms": "300"}
    )
    assert status == 504
    assert "deadline of 300 ms" in answer["error"]
    assert metric(service, "labelwise_deadline_misses_total") == "2"


@pytest.mark.slow  # starts a service of its own
def test_a_provider_that_is_down_gives_503_with_the_reason() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    overrides = (
        "provider=openai_compatible",
        f"provider.api_base=http://127.0.0.1:{port}/v1",
        "model.name=stub",
        "run.retry.max_attempts=1",
    )
    with served(None, overrides=overrides) as service:
        status, headers, answer = classify(service, {"text": "nobody answers"}, headers={})
        assert status == 503
        assert "not answering" in answer["error"] or "connect" in answer["error"].lower()
        assert "Retry-After" in headers
        assert call(f"{service.url}/health", headers={})[0] == 200  # still serving


@pytest.mark.slow  # starts a service of its own
def test_after_an_outage_the_provider_is_tried_again(stub: StubServer) -> None:
    stub.enqueue(Reply(status=500), Reply(status=500))
    stub.default = Reply(content='{"labels": ["space"]}')
    overrides = ("run.retry.max_attempts=1", "run.max_unreachable_calls=2")
    with served(stub, "--outage-pause", "0", overrides=overrides) as service:
        status, _, answer = classify(
            service, {"rows": [{"text": "one"}, {"text": "two"}]}, headers={}
        )
        assert status == 503
        assert "500" in answer["error"] or "not answering" in answer["error"]
        status, _, answer = classify(service, {"text": "back again"}, headers={})
        assert status == 200
        assert answer["rows"][0]["labels"] == ["space"]


@pytest.mark.slow  # starts a service of its own
def test_a_spent_budget_is_503_and_says_which(stub: StubServer) -> None:
    stub.default = Reply(content='{"labels": ["space"]}')
    with served(stub, overrides=("budget.max_tokens=10",)) as service:
        assert classify(service, {"text": "first"}, headers={})[0] == 200  # 15 tokens
        status, _, answer = classify(service, {"text": "second"}, headers={})
        assert status == 503
        assert "budget.max_tokens" in answer["error"]


@pytest.mark.slow  # starts a service of its own
def test_a_port_in_use_is_a_one_line_error(service: Service) -> None:
    port = service.url.rsplit(":", 1)[1]
    done = run_cli(serve_command("--port", port, "taxonomy=news"), timeout=120)
    assert done.returncode == 2
    assert f"--port {port}: cannot listen there" in done.stderr
    assert "Traceback" not in done.stderr


def test_beyond_loopback_without_a_token_it_refuses_to_start() -> None:
    env = {k: v for k, v in cli_env().items() if k != "LABELWISE_SERVE_TOKEN"}
    done = run_cli(
        serve_command("--host", "0.0.0.0", "--port", "0", "taxonomy=news"), env=env, timeout=120
    )
    assert done.returncode == 2
    assert "--host 0.0.0.0" in done.stderr
    assert "LABELWISE_SERVE_TOKEN" in done.stderr


@pytest.mark.slow  # starts a service of its own
def test_sigterm_drains_the_requests_in_flight(tmp_path: Path) -> None:
    gate = Gate()
    with StubServer(responder=gate) as stub, served(stub) as service:

        async def go() -> tuple[int, Any]:
            async with aiohttp.ClientSession() as session:
                held = asyncio.ensure_future(
                    session.post(f"{service.url}/v1/classify", json={"text": "HOLD me"})
                )
                await asyncio.to_thread(gate.arrived.wait, 60)
                os.kill(service.process.pid, signal.SIGTERM)
                gate.release()
                response = await held
                return response.status, await response.json()

        status, answer = asyncio.run(go())
        code, err = service.stop(signal_it=False)
    assert status == 200
    assert answer["rows"][0]["labels"] == ["space"]
    assert code == 0
    assert "stopped" in err


@pytest.mark.slow  # starts a service of its own
def test_a_batch_run_of_the_same_config_reuses_the_services_answers(
    stub: StubServer, tmp_path: Path
) -> None:
    """Same engine and response cache: rows the service labeled cost a later file run nothing."""
    stub.default = Reply(content='{"labels": ["space"]}')
    texts = ["Probe reaches Europa", "Rocket lands again"]
    with served(stub) as service:
        status, _, _ = classify(service, {"rows": [{"text": t} for t in texts]}, headers={})
        assert status == 200
    calls = len(stub.requests)
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": str(n), "text": t} for n, t in enumerate(texts)]
    )
    output = tmp_path / "out.jsonl"
    done = run_cli(classify_command(source, output, stub, tmp_path / "run", "taxonomy=news"))
    assert done.returncode == 0, done.stderr
    assert len(stub.requests) == calls  # every answer from the shared cache
    assert [row["labels"] for row in read_jsonl(output)] == [["space"], ["space"]]
