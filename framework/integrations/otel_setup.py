"""The tracer labelwise's spans go to: the application's own, or one made from the standard
OTEL_* environment variables.

    tracer = labelwise_tracer()   # opentelemetry imported here, never when tracing is off

A process whose global tracer provider is already an SDK one (an application that set up
OpenTelemetry and uses Classifier, a test with an in-memory exporter) keeps it: labelwise's
spans join its traces. Otherwise one is made and set as the global provider:

    OTEL_TRACES_EXPORTER                 otlp (the default), console, none; a comma list
    OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL http/protobuf (the default), grpc (needs
                                         opentelemetry-exporter-otlp-proto-grpc)
    OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT where otlp sends (http://localhost:4318 by default)
    OTEL_SERVICE_NAME                    the service (labelwise by default)
    OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*: as the SDK reads them

Spans leave through a BatchSpanProcessor (a thread of the SDK), so a row never waits for
an export; `flush` bounds the wait at the end of a run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

__all__ = ["flush", "labelwise_tracer"]

_made: list[TracerProvider] = []  # the provider this module made, if it made one


def labelwise_tracer() -> Tracer:
    """The tracer of labelwise's spans (made once per process)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(trace.get_tracer_provider(), TracerProvider) and not _made:
        _made.append(_provider_from_environment())
        trace.set_tracer_provider(_made[0])
    return trace.get_tracer("labelwise")


def flush(timeout_s: float = 10.0) -> bool:
    """Export the spans still waiting (our provider's; an application flushes its own)."""
    return all(provider.force_flush(int(timeout_s * 1000)) for provider in _made)


def _provider_from_environment() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(
        resource=Resource.create({} if named else {"service.name": "labelwise"})
    )
    for exporter in _exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporters() -> list[SpanExporter]:
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    found: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "none":
            continue
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            found.append(ConsoleSpanExporter())
        elif name == "otlp":
            found.append(_otlp())
        else:
            raise ConfigError(
                f"OTEL_TRACES_EXPORTER: {name!r} is not an exporter labelwise sets up; use "
                "otlp, console or none (or set up OpenTelemetry in your own program)"
            )
    return found


def _otlp() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL: grpc needs opentelemetry-exporter-otlp-proto-grpc "
                "(pip install it), or use http/protobuf (the default)"
            ) from None
        return OTLPSpanExporter()
    if protocol != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported here; use "
            "http/protobuf (the default) or grpc"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    return Http()
