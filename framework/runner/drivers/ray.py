"""run.executor=ray: a Ray cluster reads the input and classifies it; this process
writes every result to the run's journal.

    input --read task (labelwise's own readers)--> blocks of rows
          --map_batches over an actor pool: one engine per actor--> outcomes
          --this process--> ResultSink: the journal, review file, totals, progress

The journal stays the one record of what is done (framework.runner.journal): each
outcome is appended by this process as it arrives, so a driver killed at any moment
(kill -9 included) resumes like a local run: the ids in the journal are sent to the
actors, which skip them, and every id is written once. Rows that were on the cluster
when the driver died are not written; the rerun classifies them again (their answers
are in the actors' response cache, so that costs no second call where the cache is
shared).

Each actor holds one Classifier: its own connection pool, cache and throttle, with an
equal share of run.concurrency, the rate limits and the budgets. An actor returns one
outcome per row, never an exception: a failed row is a failed row, a fatal provider
error (a bad key, a provider taken for down) comes back as a "stop" outcome and
stops the run here with that error, leaving the rows not done for a rerun.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import pickle
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.config.schema import BudgetSettings, ColumnNames, RunConfig
from framework.errors import ConfigError, InputError
from framework.inputs.readers import input_format, read_stream
from framework.inputs.rows import InputRow
from framework.records import Item, Prediction
from framework.results import id_digest
from framework.runner.drivers.base import Driver, RunFiles
from framework.runner.rows import UNREACHABLE_KINDS, ResultSink, unreadable
from framework.runner.totals import RunTotals, over_budget

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier

__all__ = ["RayDriver", "actors_for", "engine_share"]

# Rows a read task puts in one block: small enough that actors start at once, large
# enough that a block's overhead (a few hundred microseconds) is small beside its rows.
_BLOCK_ROWS = 256


class RayDriver(Driver):
    """run.executor=ray: the input read and classified on a Ray cluster."""

    name = "ray"

    @classmethod
    def for_run(cls, classifier: Classifier) -> RayDriver | None:
        return cls() if classifier.config.run.executor == "ray" else None

    async def run(self, classifier: Classifier, files: RunFiles, sink: ResultSink) -> None:
        classify_on_ray(classifier, files.input, sink)


def classify_on_ray(classifier: Classifier, source: str, sink: ResultSink) -> None:
    """Classify the rows of `source` (a path or an object-store URI) on a Ray cluster,
    writing every outcome to `sink` as it arrives."""
    config = classifier.config
    _refuse_what_ray_cannot_run(classifier)
    ray = _import_ray()
    kind = input_format(source)
    started_here = _connect(ray, config)
    try:
        actors = actors_for(config, ray.cluster_resources())
        share = engine_share(config, actors)
        sink.totals.record["executor"] = {
            "name": "ray",
            "actors": actors,
            "address": config.ray.address or os.environ.get("RAY_ADDRESS") or "local",
            "concurrency_per_actor": share.run.concurrency,
        }
        done = frozenset(sink.journal.done)
        rows = ray.data.read_datasource(_input_rows(source, kind, config.columns))
        outcomes = rows.map_batches(
            _Engine,
            fn_constructor_kwargs={"config": share, "done": done, "carried": classifier.carry()},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=config.ray.batch_size or max(1, share.run.concurrency // 2),
            batch_format="pyarrow",
            zero_copy_batch=True,
            udf_modifying_row_count=True,
        )
        _collect(outcomes, sink)
    finally:
        if started_here:
            ray.shutdown()


def actors_for(config: RunConfig, resources: dict[str, float]) -> int:
    """ray.actors, or for auto one a CPU of the cluster, less one for the read tasks."""
    setting = config.ray.actors
    if setting != "auto":
        return int(setting)
    return max(1, int(resources.get("CPU", 1)) - 1)


def engine_share(config: RunConfig, actors: int) -> RunConfig:
    """One actor's config: an equal share of the calls in flight, the rate limits and the
    budgets, so the cluster together keeps to what the run was given."""
    run, budget = config.run, config.budget
    each_run = {
        "concurrency": math.ceil(run.concurrency / actors),
        "requests_per_minute": _part(run.requests_per_minute, actors),
        "tokens_per_minute": _part(run.tokens_per_minute, actors),
        "executor": "local",
        "workers": 1,
    }
    each_budget = {
        "max_cost": _part(budget.max_cost, actors),
        "max_tokens": None if budget.max_tokens is None else max(1, budget.max_tokens // actors),
    }
    return config.model_copy(
        update={
            "run": run.model_copy(update=each_run),
            "budget": budget.model_copy(update=each_budget),
        }
    )


def _part(value: float | None, parts: int) -> float | None:
    return None if value is None else value / parts


def _refuse_what_ray_cannot_run(classifier: Classifier) -> None:
    config = classifier.config
    if classifier.embedded_model:
        raise ConfigError(
            f"run.executor=ray: provider={config.provider.kind} runs its model inside this "
            "process, which actors cannot share; serve the model (provider=llamacpp "
            "provider.api_base=URL, or vLLM) or use run.executor=local"
        )
    if config.sample.size is not None:
        raise ConfigError(
            "sample.size: not supported with run.executor=ray (a sample drawn from parallel "
            "blocks would differ from a local run's); sample the file first, or run locally"
        )


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError("run.executor=ray needs Ray Data: pip install 'labelwise[ray]'") from None
    return ray


def _connect(ray: Any, config: RunConfig) -> bool:
    """Join ray.address or $RAY_ADDRESS, or start a cluster of this machine; True
    when this run started it (and so stops it)."""
    if ray.is_initialized():
        return False
    address = config.ray.address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        _refuse_unreachable(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level=logging.WARNING,  # Ray's own start-up lines; labelwise logs the run
            log_to_driver=True,
        )
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = address or "a cluster of this machine"
        raise ConfigError(
            f"ray.address: cannot connect to {where}: {error}; start the cluster "
            "(ray start --head) or fix the address"
        ) from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # labelwise shows its own
    # Outcomes reach this process (and the journal) a block at a time; Ray's default of
    # 128 MiB a block made a run of 5,000 rows arrive in 4 pieces (nothing written for the
    # first 12 s, all of it lost to a kill -9); 64 KiB is about 100 rows of outcomes.
    context.target_max_block_size = 64 << 10
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


def _refuse_unreachable(address: str) -> None:
    """ConfigError at once when nothing listens at a host:port address (ray.init would
    retry it for minutes); ray://, auto and the like are left to Ray."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        where = "ray.address" if address != os.environ.get("RAY_ADDRESS") else "$RAY_ADDRESS"
        raise ConfigError(
            f"{where}: nothing answers at {address} ({error.strerror or error}); start the "
            "cluster (ray start --head) or fix the address"
        ) from None


# -- reading: labelwise's own readers in Ray's read tasks ---------------------------------


def _input_rows(source: str, kind: str, names: ColumnNames) -> Any:
    """A Ray datasource of the file's InputRows.

    Our own readers rather than ray.data.read_json/read_text/read_csv: those fail a whole
    file at one bad line (read_text decodes the file at once), split lines at U+2028
    (valid inside a JSON string), type CSV ids ("007" -> 7), and know no line numbers,
    where a local run records a bad row as failed and names a row without an id
    line:N. With the same reader, both executors see the same rows."""
    from ray.data.datasource import FileBasedDatasource

    class InputRows(FileBasedDatasource):
        def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> Any:
            if kind == "parquet":  # Parquet is read from its footer: random access
                return filesystem.open_input_file(path)
            return super()._open_input_source(filesystem, path, **open_args)

        def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
            block: list[InputRow] = []
            for row in read_stream(f, kind, names, source=path):
                block.append(row)
                if len(block) == _BLOCK_ROWS:
                    yield _rows_table(block)
                    block = []
            if block:
                yield _rows_table(block)

    try:
        return InputRows(source)
    except (FileNotFoundError, OSError) as error:
        raise InputError(f"input {source} cannot be read: {error}") from None


def _rows_table(rows: list[InputRow]) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "line": pa.array([row.line for row in rows], pa.int64()),
            "id": pa.array([row.id for row in rows], pa.string()),
            "text": pa.array([row.item.text if row.item else None for row in rows], pa.string()),
            "gold": pa.array(
                [_gold(row) for row in rows],
                pa.list_(pa.string()),
            ),
            "has_gold": pa.array([bool(row.item and row.item.gold is not None) for row in rows]),
            "error": pa.array([row.error for row in rows], pa.string()),
        }
    )


def _gold(row: InputRow) -> list[str] | None:
    return list(row.item.gold) if row.item is not None and row.item.gold is not None else None


def _row(record: dict[str, Any]) -> InputRow:
    if record["text"] is None:
        return InputRow(record["line"], record["id"], error=record["error"])
    gold = tuple(record["gold"]) if record["has_gold"] else None
    item = Item(record["id"], record["text"], gold)
    return InputRow(record["line"], record["id"], item, error=record["error"])


# -- classifying: one engine per actor ----------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What an actor returns for a row: done (a prediction to write), undone (left for a
    rerun: the provider went down), not_started (the actor's budget was spent), stop (a
    fatal error), or resumed (a count of rows already in the journal)."""

    kind: str
    row_id: str = ""
    prediction: Prediction | None = None
    item: Item | None = None
    error: BaseException | None = None
    why: str | None = None
    count: int = 0


class _Engine:
    """A Ray Data actor: one Classifier, fed batches of rows, returning their outcomes."""

    def __init__(
        self, config: RunConfig, done: frozenset[int], carried: dict[str, Any] | None = None
    ) -> None:
        from framework.engine.classifier import Classifier

        self.classifier = Classifier(config)
        self.classifier.carried(carried or {})  # e.g. the route certified as in the driver
        self.budget: BudgetSettings = config.budget
        self.done = done
        self.spent = RunTotals()  # this actor's, against its share of the budgets

    async def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = [_row(record) for record in batch.to_pylist()]
        todo = [row for row in rows if id_digest(row.id) not in self.done]
        outcomes = list(await asyncio.gather(*(self._one(row) for row in todo)))
        if self.classifier.health.down is not None:
            outcomes = [self._undone_if_unreachable(outcome) for outcome in outcomes]
        if len(todo) < len(rows):
            outcomes.append(_Outcome("resumed", count=len(rows) - len(todo)))
        payload = [pickle.dumps(outcome) for outcome in outcomes]
        return pa.table({"outcome": pa.array(payload, pa.binary())})

    async def _one(self, row: InputRow) -> _Outcome:
        if row.item is None:
            return _Outcome("done", row.id, unreadable(row))
        why = over_budget(self.spent, self.budget)
        if why is not None:
            return _Outcome("not_started", row.id, why=why)
        try:
            prediction = await self.classifier.classify_item(row.item)
        except Exception as error:  # fatal for every row: the driver stops the run
            return _Outcome("stop", row.id, error=error)
        self.spent.add(prediction)
        return _Outcome("done", row.id, prediction, row.item)

    @staticmethod
    def _undone_if_unreachable(outcome: _Outcome) -> _Outcome:
        prediction = outcome.prediction
        # An actor that took its provider for down leaves the rows whose calls could not
        # reach it undone, as a local run does (framework.runner.rows).
        if prediction is not None and prediction.error_kind in UNREACHABLE_KINDS:
            return _Outcome("undone", outcome.row_id)
        return outcome

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # torn down with its loop gone: nothing to free
            self.classifier.close()


# -- collecting: this process writes -----------------------------------------------------


def _collect(outcomes: Any, sink: ResultSink) -> None:
    """Write each outcome as its batch arrives; stop at the first fatal one."""
    totals, seen = sink.totals, set(sink.journal.done)
    for batch in outcomes.iter_batches(batch_format="pyarrow", batch_size=None):
        for blob in batch.column("outcome").to_pylist():
            outcome: _Outcome = pickle.loads(blob)
            if outcome.kind == "resumed":
                totals.resumed += outcome.count
            elif outcome.kind == "not_started":
                totals.not_started += 1
                totals.stopped_by = totals.stopped_by or f"{outcome.why} (an actor's share)"
            elif outcome.kind == "stop":
                assert outcome.error is not None
                raise outcome.error
            elif outcome.kind == "done":
                assert outcome.prediction is not None
                digest = id_digest(outcome.row_id)
                if digest in seen:
                    totals.duplicates += 1
                    totals.warnings.append(f"id {outcome.row_id!r} repeats; skipped")
                    continue
                seen.add(digest)
                sink.write(outcome.prediction, outcome.item)
