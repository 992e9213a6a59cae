"""The response cache: a rerun of the same experiment makes zero calls."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from framework import Classifier
from framework.errors import ConfigError
from framework.providers.batch.jobs import JobStore
from framework.providers.transports import cache as cache_module
from framework.providers.transports.cache import ResponseCache, open_cache_file
from framework.records import Completion, TokenLogprob, Usage
from framework.testing import Reply, StubServer
from tests.support import stub_overrides


def answer(*labels: str) -> Reply:
    return Reply(content=json.dumps({"labels": list(labels)}))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    top = (("a", -0.1), ("b", -2.5))
    completion = Completion(
        '{"labels": []}', Usage(3, 4), 0.5, "stop", (TokenLogprob("a", -0.1, top),), 0.2
    )
    cache.put("k", completion)
    cache.close()
    again = ResponseCache(tmp_path / "c.sqlite")
    found = again.get("k")
    assert found is not None and found.cached
    assert (found.text, found.usage, found.cost, found.logprobs) == (
        completion.text,
        completion.usage,
        completion.cost,
        completion.logprobs,
    )
    assert again.get("other") is None
    assert again.hits == 1


def _open_cache(path: Path) -> None:
    open_cache_file(path, "CREATE TABLE IF NOT EXISTS t (k TEXT)").close()


def _open_job_store(path: Path) -> None:
    JobStore(path).close()


@pytest.mark.parametrize("open_file", [_open_cache, _open_job_store], ids=["cache", "batch"])
def test_runs_opening_a_new_cache_at_once_all_open_it(
    tmp_path: Path, open_file: Callable[[Path], None]
) -> None:
    # SQLite answers a second switch to WAL on a file being set up with "database is
    # locked" at once (no busy wait): about 1 open in 80 failed so before the fix.
    failures: list[Exception] = []

    def open_it(path: Path, go: threading.Event) -> None:
        go.wait()
        try:
            open_file(path)
        except ConfigError as error:
            failures.append(error)

    for round_ in range(150):
        go = threading.Event()
        path = tmp_path / f"{round_}.sqlite"
        openers = [threading.Thread(target=open_it, args=(path, go)) for _ in range(4)]
        for opener in openers:
            opener.start()
        go.set()
        for opener in openers:
            opener.join()
    assert failures == []


def test_a_cache_locked_past_the_wait_is_said_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "held.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (k TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(cache_module, "_OPEN_WAIT_S", 0.0)
    monkeypatch.setattr(cache_module.sqlite3, "connect", _quick(sqlite3.connect))
    try:
        with pytest.raises(ConfigError, match=r"cache\.path: cannot open .*locked"):
            open_cache_file(path, "CREATE TABLE IF NOT EXISTS t (k TEXT)")
    finally:
        holder.close()


def _quick(connect):  # type: ignore[no-untyped-def]
    """sqlite3.connect with no busy wait, so a held lock is met at once."""
    return lambda path, **kwargs: connect(path, **{**kwargs, "timeout": 0})


def test_rerun_makes_zero_calls_and_gives_the_same_labels(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("space")
    texts = ["rocket one", "rocket two", "rocket three"]
    first = Classifier.from_config(stub_overrides(stub, f"cache.path={tmp_path}/c.sqlite"))
    before = first.classify_many(texts)
    first.close()
    assert len(stub.requests) == 3
    second = Classifier.from_config(stub_overrides(stub, f"cache.path={tmp_path}/c.sqlite"))
    after = second.classify_many(texts)
    second.close()
    assert len(stub.requests) == 3
    assert [p.labels for p in after] == [p.labels for p in before]
    assert [p.request_hash for p in after] == [p.request_hash for p in before]
    assert all(p.cache_hits == 1 and p.attempts == 0 and p.usage == Usage() for p in after)


def test_reasks_are_replayed_from_the_cache(stub: StubServer, tmp_path: Path) -> None:
    stub.enqueue(answer("bogus"), answer("climate"))
    overrides = stub_overrides(stub, f"cache.path={tmp_path}/c.sqlite")
    with Classifier.from_config(overrides) as classifier:
        assert classifier.classify("heat").labels == ("climate",)
    with Classifier.from_config(overrides) as classifier:
        replay = classifier.classify("heat")
    assert replay.labels == ("climate",) and replay.cache_hits == 2
    assert len(stub.requests) == 2


def test_off_and_refresh_call_again(stub: StubServer, tmp_path: Path) -> None:
    stub.default = answer("science")
    path = f"cache.path={tmp_path}/c.sqlite"
    for mode, calls_after in (("on", 1), ("on", 1), ("off", 2), ("refresh", 3), ("on", 3)):
        with Classifier.from_config(stub_overrides(stub, path, f"cache.mode={mode}")) as c:
            c.classify("cells")
        assert len(stub.requests) == calls_after, mode


def test_errors_are_not_cached(stub: StubServer, tmp_path: Path) -> None:
    stub.enqueue(Reply(status=400, error="nope"), answer("science"))
    overrides = stub_overrides(stub, f"cache.path={tmp_path}/c.sqlite")
    with Classifier.from_config(overrides) as classifier:
        assert classifier.classify("x").status == "failed"
        assert classifier.classify("x").labels == ("science",)


def test_key_ignores_the_api_key(stub: StubServer, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stub.default = answer("space")
    overrides = stub_overrides(stub, f"cache.path={tmp_path}/c.sqlite")
    monkeypatch.setenv("LABELWISE_API_KEY", "key-one")
    with Classifier.from_config(overrides) as classifier:
        classifier.classify("rocket")
    monkeypatch.setenv("LABELWISE_API_KEY", "key-two")
    with Classifier.from_config(overrides) as classifier:
        assert classifier.classify("rocket").cache_hits == 1
    assert len(stub.requests) == 1
    database = (tmp_path / "c.sqlite").read_bytes()
    assert b"key-one" not in database and b"key-two" not in database
