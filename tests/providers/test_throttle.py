"""Admission of calls: rate limits slow the run down instead of failing it."""

from __future__ import annotations

import asyncio
import json

import pytest

from framework import Classifier
from framework.providers.transports.throttle import Throttle, read_quota
from framework.testing import Reply, StubServer
from tests.support import stub_overrides


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_429s_halve_the_window_once_a_second_and_successes_grow_it_back() -> None:
    clock = Clock()
    throttle = Throttle(8, clock=clock)
    throttle.on_rate_limited(0)
    throttle.on_rate_limited(0)  # the same overload: one cut
    assert throttle.window == 4
    clock.now += 1.0
    throttle.on_rate_limited(0)
    assert throttle.window == 2
    assert "3 rate limits (429)" in str(throttle.describe())
    assert "2 of 8 calls in flight" in str(throttle.describe())
    for _ in range(6):
        throttle.on_success()
    assert throttle.window == 8  # back within a few successes, never above the limit
    clock.now += 11
    assert throttle.describe() is None  # nothing slows the run any more


def test_rate_limit_headers_are_read() -> None:
    quota = read_quota(
        {
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m2s",
            "x-ratelimit-remaining-tokens": "5000",
            "x-ratelimit-reset-tokens": "20ms",
        }
    )
    assert quota is not None and quota.requests_left == 0 and quota.tokens_left == 5000
    assert quota.requests_reset == 62 and quota.tokens_reset == 0.02
    assert quota.spent == 60  # every call is held at most a minute on a header
    anthropic = read_quota({"anthropic-ratelimit-requests-remaining": "3"})
    assert anthropic is not None and anthropic.requests_left == 3 and anthropic.spent is None
    assert read_quota({"content-type": "application/json"}) is None


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


def test_a_429_holds_back_only_the_call_that_got_it(stub: StubServer) -> None:
    stub.enqueue(Reply(status=429, headers={"Retry-After": "1"}))
    stub.default = answer("space")
    with Classifier.from_config(stub_overrides(stub, "run.concurrency=4")) as classifier:
        predictions = classifier.classify_many(["a", "b", "c"])
    assert all(p.ok for p in predictions) and len(stub.requests) == 4
    assert stub.times[2] - stub.times[0] < 0.5  # the others went on at once
    assert stub.times[3] - stub.times[0] >= 0.9  # the limited one waited its Retry-After


def test_a_spent_quota_holds_back_every_call_until_its_reset(stub: StubServer) -> None:
    spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
    stub.enqueue(Reply(content=json.dumps({"labels": ["space"]}), headers=spent))
    stub.default = answer("space")
    with Classifier.from_config(stub_overrides(stub, "run.concurrency=1")) as classifier:
        classifier.classify_many(["a", "b", "c"])
    assert len(stub.requests) == 3
    assert stub.times[1] - stub.times[0] >= 0.9  # the provider said: nothing left for 1 s


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_the_progress_line_says_when_and_why_the_run_slowed_down(
    stub: StubServer,
    tmp_path,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    import logging

    from framework.runner.progress import Progress
    from framework.runner.run import classify_file
    from tests.support import write_jsonl

    limited = Reply(status=429, headers={"Retry-After": "0.2"})
    stub.enqueue(*[limited] * 6)
    stub.default = answer("space")
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{k}", "text": "x"} for k in range(12)])
    progress = Progress(12, style="log", interval=0.0)
    with (
        caplog.at_level(logging.INFO, logger="labelwise"),
        Classifier.from_config(stub_overrides(stub, "run.concurrency=4")) as classifier,
    ):
        totals = asyncio.run(
            classify_file(classifier, source, tmp_path / "out.jsonl", progress=progress)
        )
    assert totals.ok == 12
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]
    slowed = [line for line in lines if "slowed by the provider" in line]
    assert slowed and "rate limits (429)" in slowed[0]
