"""Admission of calls: rate limits slow the run down instead of failing it."""

from __future__ import annotations

import asyncio
import json

import pytest

from framework import Classifier
from framework.stub_server import Reply, StubServer
from framework.throttle import Throttle
from tests.support import stub_overrides


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


def test_429_halves_the_window_and_successes_grow_it_back() -> None:
    throttle = Throttle(8)
    throttle.on_rate_limited(0)
    assert throttle.window == 4
    throttle.on_rate_limited(0)
    assert throttle.window == 2
    for _ in range(40):
        throttle.on_success()
    assert throttle.window == 8  # back up, and never above the configured limit


def test_window_caps_calls_in_flight() -> None:
    async def scenario() -> int:
        throttle = Throttle(3)
        most = 0

        async def call() -> None:
            nonlocal most
            async with throttle.slot():
                most = max(most, throttle.in_flight)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(call() for _ in range(20)))
        return most

    assert asyncio.run(scenario()) == 3


def test_retry_after_is_honoured_and_the_row_succeeds(stub: StubServer) -> None:
    stub.enqueue(Reply(status=429, headers={"Retry-After": "1"}), answer("space"))
    with Classifier.from_config(stub_overrides(stub)) as classifier:
        prediction = classifier.classify("rocket")
        assert prediction.ok and prediction.attempts == 2
        assert classifier.throttle.rate_limited == 1
    waited = stub.times[1] - stub.times[0]
    assert waited >= 0.9, f"the retry came {waited:.2f} s after a Retry-After of 1 s"


def test_a_429_holds_back_every_call_not_only_the_one_that_got_it(stub: StubServer) -> None:
    stub.enqueue(Reply(status=429, headers={"Retry-After": "1"}))
    stub.default = answer("space")
    with Classifier.from_config(stub_overrides(stub, "run.concurrency=1")) as classifier:
        classifier.classify_many(["a", "b", "c"])
    assert stub.times[1] - stub.times[0] >= 0.9
    assert len(stub.requests) == 4


def test_requests_per_minute_spaces_the_calls(stub: StubServer) -> None:
    stub.default = answer("space")
    overrides = stub_overrides(stub, "run.requests_per_minute=120", "run.concurrency=8")
    with Classifier.from_config(overrides) as classifier:
        classifier.classify_many([f"text {n}" for n in range(125)])
    # A full bucket lets 120 through at once; the next 5 wait for a refill at 2 a second.
    assert stub.times[-1] - stub.times[0] >= 2.0


@pytest.mark.parametrize("status", [500, 503])
def test_retryable_statuses_back_off_and_succeed(stub: StubServer, status: int) -> None:
    stub.enqueue(Reply(status=status), answer("climate"))
    with Classifier.from_config(stub_overrides(stub)) as classifier:
        assert classifier.classify("heat").labels == ("climate",)


def test_timeout_is_retried(stub: StubServer) -> None:
    stub.enqueue(Reply(delay=3.0), answer("climate"))
    with Classifier.from_config(stub_overrides(stub, "provider.timeout=0.5")) as classifier:
        prediction = classifier.classify("heat")
    assert prediction.ok and prediction.attempts == 2


def test_dropped_connection_is_retried(stub: StubServer) -> None:
    stub.enqueue(Reply(drop=True), answer("climate"))
    with Classifier.from_config(stub_overrides(stub)) as classifier:
        prediction = classifier.classify("heat")
    assert prediction.ok and prediction.attempts == 2
