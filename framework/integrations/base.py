"""What an observer of runs is, and the fan-out over the ones a config turns on.

    observers = observers_for(config)              # framework.integrations: the table
    transport = observers.watch_calls(transport)   # each provider call (the stack's top)
    with observers.row(item) as row:               # each row
        row.finished(prediction)
    with observers.run(RunInfo(run_dir, config)):  # a whole run: record.json is final
        ...                                        # when this block is left
    with observers.group(GroupInfo("tune", name)) as group:   # tune, compare: a parent
        group.add_run(run_dir)                     # a finished run folder as a child
        group.attach(path)                         # the parent's own files

An observer watches; it never changes a request, a row or a file of the run. Whatever
goes wrong inside one (a tracking store that cannot be reached, an exporter that fails)
is one warning line, and the run goes on with its own files complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from framework.config.schema import RunConfig
    from framework.records import Item, Prediction

__all__ = ["GroupInfo", "GroupWatch", "Observer", "Observers", "RowWatch", "RunInfo", "warn_once"]

log = logging.getLogger("labelwise")


class CallTransport(Protocol):
    """framework.providers.transports.base.Transport, as an observer sees it."""

    async def send(self, request: Any) -> Any: ...

    async def release(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RunInfo:
    """A run about to start: its folder (record.json, metrics.json, report.html land
    there) and its resolved config."""

    run_dir: Path
    config: RunConfig
    name: str | None = None


@dataclass(frozen=True)
class GroupInfo:
    """Runs that belong together: `labelwise tune` (kind "tune", a child group per recipe)
    or `labelwise compare` (kind "compare")."""

    kind: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


class RowWatch:
    """What an observer keeps of one row while it runs; told the row's outcome."""

    def finished(self, prediction: Prediction) -> None:
        """The row's prediction, before the row's watch ends."""


class GroupWatch:
    """What a group's observers are told while the group runs."""

    def add_run(self, run_dir: Path, name: str | None = None) -> None:
        """A finished run folder that belongs to the group (compare's runs)."""

    def attach(self, path: Path) -> None:
        """A file of the group itself (a leaderboard), kept with it."""

    def metrics(self, values: Mapping[str, float]) -> None:
        """Figures of the group itself (the winner's scores)."""


class Observer:
    """One way of watching runs (tracking, tracing); each member does nothing unless
    the observer overrides it."""

    name = "observer"

    def warm(self) -> None:
        """A run is coming: start what takes long to start (tracking's MLflow worker)."""

    def watch_calls(self, transport: CallTransport) -> CallTransport:
        return transport

    @contextmanager
    def row(self, item: Item) -> Iterator[RowWatch]:
        yield _NO_ROW

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        yield

    @contextmanager
    def group(self, info: GroupInfo) -> Iterator[GroupWatch]:
        yield GroupWatch()


_NO_ROW = RowWatch()


class _NoRow:
    """The row watch of a run no observer watches: entering and leaving it is all it costs."""

    def __enter__(self) -> RowWatch:
        return _NO_ROW

    def __exit__(self, *_: object) -> None:
        return None


_NOTHING = _NoRow()


class _Rows:
    """Every observer's watch of one row, as one."""

    def __init__(self, watches: list[RowWatch]) -> None:
        self.watches = watches

    def finished(self, prediction: Prediction) -> None:
        for watch in self.watches:
            watch.finished(prediction)


class _Groups(GroupWatch):
    def __init__(self, watches: list[GroupWatch]) -> None:
        self.watches = watches

    def add_run(self, run_dir: Path, name: str | None = None) -> None:
        for watch in self.watches:
            watch.add_run(run_dir, name)

    def attach(self, path: Path) -> None:
        for watch in self.watches:
            watch.attach(path)

    def metrics(self, values: Mapping[str, float]) -> None:
        for watch in self.watches:
            watch.metrics(values)


class Observers:
    """The observers a config turns on, as one; with none, each member costs nothing."""

    def __init__(self, observers: tuple[Observer, ...] = ()) -> None:
        self.observers = observers

    def __bool__(self) -> bool:
        return bool(self.observers)

    def warm(self) -> None:
        for observer in self.observers:
            observer.warm()

    def watch_calls(self, transport: CallTransport) -> CallTransport:
        for observer in self.observers:
            transport = observer.watch_calls(transport)
        return transport

    def row(self, item: Item) -> Any:
        """A context manager around one row, whose value takes the row's prediction."""
        if not self.observers:
            return _NOTHING
        if len(self.observers) == 1:
            return self.observers[0].row(item)
        return self._rows(item)

    @contextmanager
    def _rows(self, item: Item) -> Iterator[_Rows]:
        with ExitStack() as stack:
            yield _Rows([stack.enter_context(o.row(item)) for o in self.observers])

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        with ExitStack() as stack:
            for observer in self.observers:
                stack.enter_context(observer.run(info))
            yield

    @contextmanager
    def group(self, info: GroupInfo) -> Iterator[GroupWatch]:
        with ExitStack() as stack:
            yield _Groups([stack.enter_context(o.group(info)) for o in self.observers])


_warned: set[str] = set()


def warn_once(what: str, message: str) -> None:
    """One warning line per kind of trouble and process: a store that cannot be reached
    is said once, not once per run of a tune."""
    if what in _warned:
        return
    _warned.add(what)
    log.warning(message)
