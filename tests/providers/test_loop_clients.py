"""litellm pools its HTTP clients per event loop for ten minutes. A loop that called
through litellm closes them before it ends; one left behind is dropped later on another
loop, where closing it fails onto the user's stderr ("Unclosed client session", or "Task
exception was never retrieved ... Event loop is closed": a CI run's stderr once)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from framework.engine.classifier import Classifier
from framework.testing import StubServer
from tests.support.batch_runs import answer_by_item, classify, items


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(responder=answer_by_item) as server:
        server.batches.polls_per_step = 0
        yield server


def online_call(stub: StubServer, tmp_path: Path) -> None:
    """One row through the litellm transport, on a loop of its own (a runner's)."""
    classifier = Classifier.from_config(
        overrides=stub.overrides("cache.mode=off", "provider.transport=litellm")
    )

    async def one() -> None:
        await classifier.aclassify("item-3: a news story")
        await classifier.release()  # what a runner does when its loop ends

    asyncio.run(one())


def batch_run(stub: StubServer, tmp_path: Path) -> None:
    """A run.mode=batch run in this process: litellm's files and batches API."""
    source = items(tmp_path / "in.jsonl", 4)
    cache = f"cache.path={tmp_path / 'cache.sqlite'}"
    assert classify(source, tmp_path / "run", stub, "run.mode=batch", cache) == 0


def litellm_pools_for_a_later_loop() -> None:
    """What happens later in a long process: litellm lets its pool go (ten minutes on), and
    the collector frees what was dropped, on another loop."""
    import litellm

    async def later() -> None:
        litellm.in_memory_llm_clients_cache.flush_cache()
        gc.collect()  # clients dropped unclosed start their own closing here, as tasks
        started = asyncio.all_tasks() - {asyncio.current_task()}
        if started:
            await asyncio.wait(started, timeout=10)  # ended, their failures not read

    asyncio.run(later())
    gc.collect()


class AsyncioErrors(logging.Handler):
    """What asyncio logs as errors, kept (on its own logger: a CLI run's Hydra replaces
    the root logger's handlers, pytest's among them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("calls", [online_call, batch_run], ids=["online", "batch"])
def test_a_loop_that_called_through_litellm_leaves_nothing_to_fail_on_a_later_loop(
    calls: Callable[[StubServer, Path], None], stub: StubServer, tmp_path: Path
) -> None:
    errors = AsyncioErrors()
    litellm_pools_for_a_later_loop()  # what earlier tests left goes first, unwatched
    gc.disable()  # what the loop dropped outlives it, as when no collection runs in between
    try:
        calls(stub, tmp_path)
        assert stub.requests or stub.batches.created, "nothing went to the server"
        logging.getLogger("asyncio").addHandler(errors)
        litellm_pools_for_a_later_loop()
    finally:
        logging.getLogger("asyncio").removeHandler(errors)
        gc.enable()
    assert errors.messages == []
