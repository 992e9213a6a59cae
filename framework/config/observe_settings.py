"""What watches a run from outside it: experiment tracking (the `tracking` config group)
and tracing (the `tracing` group). Neither changes a request, a cache key or a row's
labels; both are off by default (tracking=none, tracing=none) and cost nothing then.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from framework.config.strict import Strict

__all__ = ["TracingSettings", "TrackingSettings"]


class TrackingSettings(Strict):
    """tracking=mlflow: each run logged to an MLflow tracking store (docs/tracking.md):
    params the resolved config, metrics metrics.json and the totals, artifacts report.html,
    record.json and the taxonomy; `labelwise tune` and `labelwise compare` as a parent run
    with a child per run. A store that cannot be reached costs a warning line, never the
    run's own files."""

    kind: Literal["none", "mlflow"] = Field(
        default="none",
        description="none: no tracking; mlflow: log each run to an MLflow tracking store "
        "(pip install labelwise[tracking]).",
    )
    uri: str | None = Field(
        default=None,
        description="The MLflow tracking URI: a folder (a file store), http(s)://HOST "
        "(a tracking server) or any URI MLflow takes. None: MLFLOW_TRACKING_URI when set, "
        "else the folder ./mlruns.",
    )
    experiment: str = Field(
        default="labelwise",
        min_length=1,
        description="The MLflow experiment the runs go to (made on first use).",
    )
    run_name: str | None = Field(
        default=None,
        description="The MLflow run's name; None: the run folder's name (a tune recipe's "
        "or a compared run's name for children).",
    )
    timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to wait for the tracking store at the end of a run before "
        "giving up on it with a warning (the run's own files are written before).",
    )


class TracingSettings(Strict):
    """tracing=otel: OpenTelemetry spans for the run, each row and each provider call
    (GenAI semantic conventions), exported as the standard OTEL_* environment variables
    say (docs/tracing.md; pip install labelwise[tracing])."""

    kind: Literal["none", "otel"] = Field(
        default="none",
        description="none: no tracing (opentelemetry is not even imported); otel: spans "
        "per run, row and provider call, exported by OTEL_TRACES_EXPORTER (otlp, console, "
        "none) to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT.",
    )
    rows: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="The share of rows traced, chosen by a hash of the row id (the same "
        "rows every run): a row left out has no span and neither have its calls. Each "
        "traced row costs its spans' CPU (docs/tracing.md); 0.1 traces one row in ten.",
    )
    content: bool = Field(
        default=False,
        description="Also record what was sent and answered (gen_ai.input.messages, "
        "gen_ai.output.messages, a row's labels). Off: spans hold counts, models, tokens, "
        "cost and timings, never a prompt, a text or an answer. Keys are never recorded.",
    )
