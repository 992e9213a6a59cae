"""How a batch runs: retries, concurrency, cache, budget, columns, sample,
thresholds and chunks (the top-level sections of conf/config.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from framework.config.strict import Strict

__all__ = [
    "BatchSettings",
    "BudgetSettings",
    "CacheSettings",
    "ChunkSettings",
    "ColumnNames",
    "RaySettings",
    "RetrySettings",
    "RunSettings",
    "SampleSettings",
    "ThresholdSettings",
]


class RetrySettings(Strict):
    """Retries of calls that failed in transit (429, 5xx, timeouts, resets)."""

    max_attempts: int = Field(default=4, ge=1)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)


class RaySettings(Strict):
    """run.executor=ray: where the cluster is and how the work is cut.

    address: a running cluster (ray://host:10001, or auto); None: $RAY_ADDRESS, or a
    cluster of this machine started for the run. actors: engines on the cluster (auto:
    one per CPU, leaving one CPU for reading the input). batch_size: rows handed to an
    actor at a time (None: half its share of run.concurrency, at least 1).
    """

    address: str | None = None
    actors: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    batch_size: int | None = Field(default=None, ge=1)


class RunSettings(Strict):
    """How a batch runs: calls in flight, rate budgets, retries, progress display."""

    concurrency: int = Field(default=4, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    retry: RetrySettings = RetrySettings()
    progress: Literal["auto", "bar", "log", "off"] = "auto"
    progress_interval: float = Field(default=10.0, gt=0)
    # On a rerun with the same output, classify the rows that failed last time again.
    retry_failed: bool = False
    # An output that already holds rows: auto resumes when they were made by the same
    # config and refuses otherwise; force resumes anyway (the record says so); never
    # moves the earlier file aside (NAME.before-DATE-TIME.jsonl) and starts a new one.
    resume: Literal["auto", "force", "never"] = "auto"
    # Processes that classify (this one reads the input and writes the results): auto takes
    # what was measured to help (one on 2 cores; none beside the embedded local model).
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    # Where the engines run: local (this process and its workers) or ray (a Ray cluster
    # reads the input and classifies it; this process writes the results: run.ray).
    executor: Literal["local", "ray"] = "local"
    ray: RaySettings = RaySettings()
    # Calls in a row that fail to reach the provider (no connection, timeouts, 5xx) before
    # the run stops as "provider down", leaving the rows not done for a rerun; None:
    # max(10, 2 x concurrency).
    max_unreachable_calls: int | None = Field(default=None, ge=1)
    # online: every call at once; batch: the calls go to the provider's batch API as jobs
    # (about half the price, answered within 24 h; the `batch` section).
    mode: Literal["online", "batch"] = "online"


class BatchSettings(Strict):
    """run.mode=batch: provider batch jobs.

    reask: where the calls made after a job's answers go (re-asks of answers that failed
    validation, a strategy's later steps): online at once, or a follow-up batch job.
    wait: seconds to wait for jobs before leaving them running (the same command later
    picks them up); None waits for them. poll_interval: the first look at a job after it
    is created, doubling up to max_poll_interval. max_requests / max_mb: a job's file
    limits below the provider's own (50,000 and 200 MB at OpenAI).
    """

    reask: Literal["online", "batch"] = "online"
    wait: float | None = Field(default=None, ge=0)
    poll_interval: float = Field(default=5.0, gt=0)
    max_poll_interval: float = Field(default=300.0, gt=0)
    max_requests: int | None = Field(default=None, ge=1)
    max_mb: float | None = Field(default=None, gt=0)


class CacheSettings(Strict):
    """Completed calls, stored by the content hash of their request and shared by runs.

    on: answer from the cache when the request was made before; off: never read
    or write it; refresh: always call, and store the new answer.
    """

    mode: Literal["on", "off", "refresh"] = "on"
    path: str | None = Field(default=None, description="None: $LABELWISE_CACHE_DIR or ~/.cache")


class BudgetSettings(Strict):
    """Limits that stop starting new rows once reached (rows not started are reported)."""

    max_cost: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)


class ColumnNames(Strict):
    """Which input columns (JSONL keys, CSV or Parquet columns) hold the id, text and gold."""

    id: str = "id"
    text: str = "text"
    labels: str = "labels"


class SampleSettings(Strict):
    """Classify a random sample of the input: `size` rows (None: all), fixed by `seed`."""

    size: int | None = Field(default=None, ge=1)
    seed: int = 0


class ThresholdSettings(Strict):
    """Turning per-label confidence into labels.

    default: the threshold of every label without one of its own; per_label: {id: t};
    path: a thresholds file written by `labelwise calibrate` (its values win);
    abstain_band: rows with a confidence this close to a threshold are also
    written to review.jsonl in the run folder (0: none).
    """

    default: float = Field(default=0.5, ge=0, le=1)
    per_label: dict[str, float] = Field(default_factory=dict)
    path: str | None = None
    abstain_band: float = Field(default=0.0, ge=0, le=0.5)


class ChunkSettings(Strict):
    """Long texts split into chunks of at most max_tokens (None: never split);
    per-label confidence is combined over the chunks by `aggregate`."""

    max_tokens: int | None = Field(default=None, ge=32)
    overlap: int = Field(default=32, ge=0)
    aggregate: Literal["max", "mean"] = "max"
