"""tracing=otel: OpenTelemetry spans for a run, each of its rows and each provider call.

    labelwise run           INTERNAL  the run: its folder, model, taxonomy, then its totals
      labelwise row         INTERNAL  one row: its id, status, attempts, cost, path (tier)
        chat MODEL          CLIENT    one request (its retries included, as the GenAI
                                      conventions ask), or its answer from the cache
    labelwise tune|compare  INTERNAL  a group of runs (a tune, each of its recipes)

Call spans (framework.integrations.call_spans) follow the OpenTelemetry GenAI semantic
conventions. Each attribute costs every span microseconds (the SDK checks each value), so
what is the same for every call of a run (gen_ai.request.temperature, .max_tokens, .seed)
is on the run's span. tracing.rows traces a share of the rows, by a hash of their id.
This module is imported only when tracing is on, so it imports OpenTelemetry at its top.
Without tracing.content=true no span holds a prompt, a text, an answer or a row's labels,
and no exception message (it may quote the provider's answer): only its type. A key is
never on a span.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind

from framework.integrations.base import (
    CallTransport,
    GroupInfo,
    GroupWatch,
    Observer,
    RowWatch,
    RunInfo,
    warn_once,
)
from framework.integrations.call_spans import TracedCalls, call_attributes, failed

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from framework.config.schema import RunConfig
    from framework.records import Item, Prediction

__all__ = ["TracingObserver"]


class TracingObserver(Observer):
    name = "tracing"

    def __init__(self, config: RunConfig) -> None:
        from framework.integrations.otel_setup import labelwise_tracer

        self.tracer: Tracer = labelwise_tracer()
        self.config = config
        self.content = config.tracing.content
        self.share = config.tracing.rows
        self.common = call_attributes(config)

    def watch_calls(self, transport: CallTransport) -> CallTransport:
        return TracedCalls(transport, self)

    def row(self, item: Item) -> Any:
        if self.share < 1 and zlib.crc32(item.id.encode("utf-8")) % 10_000 >= self.share * 10_000:
            return _Untraced()
        return _RowSpan(self, item)

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[None]:
        attributes = {
            "labelwise.run.dir": str(info.run_dir),
            "labelwise.taxonomy": f"{info.config.taxonomy.name}@{info.config.taxonomy.version}",
            **{k: v for k, v in self.common.items() if k != "gen_ai.operation.name"},
            **_sampling(info.config),
        }
        with self._span("labelwise run", attributes) as span:
            yield
            _add_totals(span, info)
        self._flush()

    @contextmanager
    def group(self, info: GroupInfo) -> Iterator[GroupWatch]:
        attributes = {"labelwise.group.kind": info.kind, "labelwise.group.name": info.name}
        with self._span(f"labelwise {info.kind}", attributes):
            yield GroupWatch()
        self._flush()

    @contextmanager
    def _span(self, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
        with self.tracer.start_as_current_span(
            name,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as error:
                failed(span, type(error).__name__)
                raise

    def _flush(self) -> None:
        from framework.integrations.otel_setup import flush

        if not flush():
            warn_once(
                "tracing flush",
                "tracing: some spans were not exported in 10 s (is the collector at "
                "OTEL_EXPORTER_OTLP_ENDPOINT up?); the run's own files are complete",
            )


class _RowSpan(RowWatch):
    """The span of one row, current while the row runs (its calls' spans nest in it).

    A class rather than a generator: it is entered once a row, and every microsecond a
    row spends here is one the rows/s of a run at 128 in flight pays (benchmarks/
    tracing_overhead.py)."""

    def __init__(self, observer: TracingObserver, item: Item) -> None:
        self.observer, self.item = observer, item

    def __enter__(self) -> _RowSpan:
        self.span = self.observer.tracer.start_span(
            "labelwise row", attributes={"labelwise.row.id": self.item.id}
        )
        self.token = context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            failed(self.span, kind.__name__)
        context.detach(self.token)
        self.span.end()

    def finished(self, prediction: Prediction) -> None:
        found: dict[str, Any] = {
            "labelwise.status": prediction.status,
            "labelwise.attempts": prediction.attempts,
            "labelwise.cache_hits": prediction.cache_hits,
        }
        if prediction.cost is not None:
            found["labelwise.cost"] = prediction.cost
        for key in ("path", "tier"):
            value = prediction.extra.get(key)
            if isinstance(value, str):
                found[f"labelwise.{key}"] = value
        if prediction.decided_by:
            found["labelwise.decided_by"] = prediction.decided_by
        if self.observer.content:
            found["labelwise.labels"] = list(prediction.labels)
        self.span.set_attributes(found)
        if not prediction.ok:
            failed(self.span, prediction.error_kind or "failed")


class _Untraced(RowWatch):
    """A row tracing.rows leaves out: its calls see a parent that is not sampled, so the
    SDK makes them no span (a sampler's answer, not a span's cost)."""

    def __enter__(self) -> _Untraced:
        parent = trace.get_current_span().get_span_context()
        quiet = trace.NonRecordingSpan(
            trace.SpanContext(parent.trace_id or 1, parent.span_id or 1, False, trace.TraceFlags(0))
        )
        self.token = context.attach(trace.set_span_in_context(quiet))
        return self

    def __exit__(self, *_: object) -> None:
        context.detach(self.token)


def _sampling(config: RunConfig) -> dict[str, Any]:
    """The run's sampling settings: on the run's span, the same for each of its calls."""
    model = config.model
    found: dict[str, Any] = {
        "gen_ai.request.temperature": model.temperature,
        "gen_ai.request.max_tokens": model.max_tokens,
    }
    if model.seed is not None:
        found["gen_ai.request.seed"] = model.seed
    return found


def _add_totals(span: Span, info: RunInfo) -> None:
    from framework.run_record import load_record

    try:
        record = load_record(info.run_dir)
    except Exception:  # a record that cannot be read leaves the span without totals
        return
    totals = record.totals if record is not None else None
    if not totals:
        return
    for key in ("ok", "failed", "calls", "cache_hits", "total_tokens", "cost", "rows_per_s"):
        value = totals.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span.set_attribute(f"labelwise.run.{key}", value)
