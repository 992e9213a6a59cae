"""How a batch runs: retries, concurrency, cache, budget, columns, sample,
thresholds and chunks (the top-level sections of conf/config.yaml)."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field, field_validator

from framework.config.strict import Strict

__all__ = [
    "BatchSettings",
    "BudgetSettings",
    "CacheSettings",
    "CascadeSettings",
    "ChunkSettings",
    "ColumnNames",
    "DistillSettings",
    "ExamplesSettings",
    "ImageSettings",
    "RaySettings",
    "RetrySettings",
    "RunSettings",
    "SampleSettings",
    "ThresholdSettings",
    "TrainedModelSettings",
    "most_workers",
    "usable_cores",
]


def usable_cores() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def most_workers() -> int:
    """run.workers' upper bound: 4 a core, at most 64. A worker is a whole interpreter
    with the engine, and its work is the client's CPU: past a few a core they only
    compete for the cores and the memory (run.workers=1000 on 2 cores once started 321
    processes and used 12 GB in 30 s, on its way to the OOM killer)."""
    return min(64, 4 * usable_cores())


class RetrySettings(Strict):
    """Retries of calls that failed in transit (429, 5xx, timeouts, resets)."""

    max_attempts: int = Field(
        default=4,
        ge=1,
        description="Calls made for one request, the first included, while it fails in "
        "transit; a request the provider rejects as wrong (another 4xx) is not retried.",
    )
    base_delay: float = Field(
        default=0.5,
        ge=0,
        description="Seconds: the first back-off's ceiling, doubling with each attempt; each "
        "wait is drawn at random below the ceiling (full jitter).",
    )
    max_delay: float = Field(
        default=30.0,
        ge=0,
        description="Seconds no back-off exceeds; a longer Retry-After from the provider is "
        "cut to it.",
    )


class RaySettings(Strict):
    """run.executor=ray: where the cluster is and how the work is cut (the `ray` section;
    was run.ray, which still works).

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
    requests_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="Calls started per minute at most, across the run's workers (retries "
        "count, answers from the cache do not); null: no limit.",
    )
    tokens_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="Prompt and answer tokens per minute at most, across the run's workers; a "
        "call's are guessed before it starts (4 characters a token plus max_tokens), then "
        "corrected; null: no limit.",
    )
    retry: RetrySettings = RetrySettings()
    progress: Literal["auto", "bar", "log", "off"] = Field(
        default="auto",
        description="auto: bar on a terminal, else log; bar: one line on stderr redrawn in "
        "place; log: a log line every progress_interval seconds; off: nothing.",
    )
    progress_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between two progress log lines (run.progress=log; the bar "
        "redraws every 0.1 s).",
    )
    # On a rerun with the same output, classify the rows that failed last time again.
    retry_failed: bool = False
    # An output that already holds rows: auto resumes when they were made by the same
    # config and refuses otherwise; force resumes anyway (the record says so); never
    # moves the earlier file aside (NAME.before-DATE-TIME.jsonl) and starts a new one.
    resume: Literal["auto", "force", "never"] = "auto"
    # Processes that classify (this one reads the input and writes the results): auto takes
    # what was measured to help (one on 2 cores; none beside the embedded local model).
    # At most most_workers(); never more than run.concurrency or the rows can use.
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    # Where the engines run: local (this process and its workers) or ray (a Ray cluster
    # reads the input and classifies it; this process writes the results: the `ray` section).
    executor: Literal["local", "ray"] = "local"
    # Calls in a row that fail to reach the provider (no connection, timeouts, 5xx) before
    # the run stops as "provider down", leaving the rows not done for a rerun; None:
    # max(10, 2 x concurrency).
    max_unreachable_calls: int | None = Field(default=None, ge=1)
    # online: every call at once; batch: the calls go to the provider's batch API as jobs
    # (about half the price, answered within 24 h; the `batch` section).
    mode: Literal["online", "batch"] = "online"

    @field_validator("workers")
    @classmethod
    def _workers_within_the_cores(cls, value: int | str) -> int | str:
        most = most_workers()
        if isinstance(value, int) and value > most:
            raise ValueError(
                f"{value} worker processes are more than this machine can use: at most "
                f"{most} (4 a core on its {usable_cores()}, 64 at most); lower run.workers, "
                "or leave it at auto"
            )
        return value


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


class TierBudget(Strict):
    """What one tier of a route may spend (budget.tiers.<tier>)."""

    max_cost: float | None = Field(
        default=None, gt=0, description="USD the tier's calls may spend; needs a price."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Prompt and answer tokens the tier's calls may use."
    )


class BudgetSettings(Strict):
    """Limits that stop starting new rows once reached (rows not started are reported)."""

    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="USD spent (with the most that submitted batch jobs can cost) at which no "
        "new row starts; rows under way finish, so it may be passed a little. Needs a price.",
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Prompt and answer tokens (batch jobs' included) at which no new row "
        "starts; rows under way finish. Answers from the cache count none.",
    )
    tiers: dict[str, TierBudget] = Field(
        default_factory=dict,
        description="A routed run's caps per LLM tier (llm, or a further tier of route.llms; "
        "the calibration phase counts under llm): once a tier reaches its cap no new row "
        "starts, as with the run's; e.g. budget.tiers={strong: {max_cost: 5}}.",
    )


class ColumnNames(Strict):
    """Which input columns (JSONL keys, CSV or Parquet columns) hold the id, text and gold."""

    id: str = Field(
        default="id",
        description="The column of each row's id (a number is read as text); a row without "
        "one is named line:N.",
    )
    text: str = Field(
        default="text",
        description="The column of the text to classify; a CSV or Parquet file without it is "
        "refused, a JSONL row without it fails.",
    )
    labels: str = Field(
        default="labels",
        description="The column of the gold labels (a list; in CSV a JSON list or names "
        "separated by |): optional in the input (metrics); a pool's rows without them are "
        "skipped.",
    )
    image: str | None = Field(
        default=None,
        description="The column of each row's image (docs/images.md): a path relative to the "
        "input file, an https:// URL, a data: URI, or bytes (Parquet); a list column for several "
        "images; the text column is then optional. null: text only.",
    )


class ImageSettings(Strict):
    """How the images of rows with columns.image are read, checked and sent (docs/images.md)."""

    inside_input_folder: bool = Field(
        default=True,
        description="Refuse an image path outside the input file's folder tree (the row fails); "
        "false reads any path the input names.",
    )
    max_file_bytes: int = Field(
        default=20_000_000,
        ge=1,
        description="Bytes an image file (or data: URI, or Parquet cell) may have before it is "
        "decoded; a larger one fails its row.",
    )
    max_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Pixels an image may have (width x height); more fails the row as a "
        "possible decompression bomb, before the pixels are decoded.",
    )
    urls: Literal["fail", "pass"] = Field(
        default="pass",
        description="An https:// image: pass it to a provider that fetches URLs itself "
        "(its profile says which); fail: every URL fails its row. labelwise never downloads one.",
    )


class SampleSettings(Strict):
    """Classify a random sample of the input: `size` rows (None: all), fixed by `seed`."""

    size: int | None = Field(
        default=None,
        ge=1,
        description="Rows drawn at random from the input, kept in input order (all of them "
        "when it has fewer); null: every row. Not with run.executor=ray.",
    )
    seed: int = Field(
        default=0, description="The draw's seed: the same seed and input give the same rows."
    )


class ThresholdSettings(Strict):
    """Turning per-label confidence into labels.

    default: the threshold of every label without one of its own; per_label: {id: t};
    path: a thresholds file written by `labelwise calibrate` (its values win over
    default; per_label's win over them);
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

    max_tokens: int | None = Field(
        default=None,
        ge=32,
        description="Tokens a chunk holds at most (the model's tokenizer); a longer text, once "
        "cut to prompt.max_text_*, is asked about chunk by chunk; null: never split.",
    )
    overlap: int = Field(
        default=32,
        ge=0,
        description="Tokens a chunk shares with the one before; keep it below max_tokens (at "
        "or above it, each chunk starts one token after the last).",
    )
    aggregate: Literal["max", "mean"] = Field(
        default="max",
        description="A label's confidence over the chunks: max (the surest chunk's) or mean "
        "(the average over every chunk).",
    )


class DistillSettings(Strict):
    """distill: a trained model taught by the LLM, for an input without gold (was
    trained.distill, which still works).

    The LLM labels `sample` rows of the input, drawn with `seed`; the model is fit on
    its answers; the cascade (or the model alone) labels the rest. `refit_every`: after
    each this many further rows of the input, the model is fit again on the sample and
    every answer the LLM gave since (rows it was unsure of: the ones it learns most
    from). The LLM's answers stand on the rows sent to it (a model taught by the LLM
    does not overrule it), so trained.weight is not used.
    """

    sample: int | None = Field(default=None, ge=20)
    seed: int = 0
    refit_every: int | None = Field(default=None, ge=1)


class ExamplesSettings(Strict):
    """Labeled rows shown in the prompt, picked for each text from `pool` (the `examples`
    config group: conf/examples/*.yaml).

    selection: none; fixed (the same `k` rows for every text, drawn with `seed`); similar
    (the `k` rows most like the text, by cosine of word TF-IDF); per_label (for each label,
    the `k` rows most like the text that have it); mmr (maximal marginal relevance: `k`
    rows like the text and unlike each other, `mmr_lambda` the weight of likeness). A row
    with the text's own id or text is never shown (no answer leaks into an evaluation).
    Each example's text is cut to `max_chars`; `template` (prompts/NAME.jinja) renders
    them ahead of the prompt.
    """

    selection: Literal["none", "fixed", "similar", "per_label", "mmr"] = "none"
    pool: str | None = Field(
        default=None,
        description="The labeled rows examples are picked from (JSONL, CSV or Parquet, read "
        "with the run's columns; rows without gold skipped); required unless selection is none.",
    )
    k: int = Field(default=8, ge=1, le=64)
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    seed: int = 0
    max_chars: int = Field(default=600, ge=20)
    template: str = "examples.v1"
    # What "like the text" means for similar, per_label and mmr: the cosine of word TF-IDF,
    # or of the `embeddings` model's vectors (EmbeddingSettings).
    likeness: Literal["tfidf", "embeddings"] = "tfidf"


class TrainedModelSettings(Strict):
    """A classifier trained on labeled rows, beside the LLM or instead of it.

    use: off; ensemble (its per-label probabilities and the LLM's answer are fused per
    label: `weight` of the model, the rest the LLM's confidence or its 0/1 answer, then
    the run's thresholds decide); alone (the trained model labels every row, no call);
    cascade (the trained model labels the rows it is sure of, the LLM the rest, fused as
    in ensemble: see CascadeSettings). With `distill.sample`, it learns from the LLM's
    answers on a sample of the input instead of a pool (DistillSettings).
    pool: the labeled rows it learns from (JSONL, CSV or Parquet with id, text and
    labels, read with the run's columns). A row of the pool is scored by a model fit
    without it (`folds` cross-fitting), so evaluating on the pool never sees its own
    gold. Features (`features`): tfidf (word 1-2-grams and character 2-5-grams),
    embeddings (the `embeddings` model's vectors) or both; one-vs-rest logistic
    regression with inverse regularisation `C`. The fitted model is kept in
    `artifact` (None: the cache folder, named after the pool's and the settings'
    hashes) and reused by later runs.
    """

    use: Literal["off", "ensemble", "alone", "cascade"] = "off"
    pool: str | None = None
    # 0.6, chosen before any measurement: with an LLM that answers 0 or 1 and thresholds
    # of 0.5, the LLM's "yes" stands unless the model is 83% sure of "no", and the model
    # adds a label the LLM missed when it is 83% sure (0.5 would only ever echo the LLM).
    weight: float = Field(default=0.6, ge=0, le=1)
    folds: int = Field(default=5, ge=2, le=20)
    C: float = Field(default=4.0, gt=0)
    features: Literal["tfidf", "embeddings", "both"] = "tfidf"
    combine: Literal["one", "average"] = Field(
        default="one",
        description="one: one regression over the features side by side; average (with "
        "features=both): one regression per feature set, their probabilities averaged",
    )
    cuts: Literal["fixed", "cv"] = Field(
        default="fixed",
        description="fixed: the model's probabilities as they are; cv: per label, the cut "
        "that gives the best F1 on the pool's cross-fitted scores is moved to 0.5, so the "
        "run's thresholds decide on a scale fit to each label",
    )
    artifact: str | None = None


class ZeroShotSettings(Strict):
    """The zero-shot scorer: how like each label a text is, with no labeled row: the
    cosine of the text's embedding (the `embeddings` model) and the label's, the mean of
    its name, description and taxonomy examples.

    use=alone labels every row with the most like label, and every other within
    `margin` of it, and calls no LLM. use=shortlist offers the LLM only the `top_k` most
    like labels of each row (and the none label, always), for large taxonomies: the
    row's prompt lists them, its schema allows them, and the labels left out are absent."""

    use: Literal["off", "alone", "shortlist"] = Field(
        default="off",
        description="off; alone: the zero-shot scorer labels every row, no call; "
        "shortlist: each row's LLM question offers only its top_k most like labels",
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="How far below the most like label's cosine another label may be and "
        "still be given (0: the most like label alone).",
    )
    top_k: int = Field(
        default=10,
        ge=1,
        description="use=shortlist: how many labels (besides the none label) each row's "
        "question offers, the most like first",
    )


class EmbeddingSettings(Strict):
    """A provider's embedding model, called through litellm (the `embeddings` config
    group: conf/embeddings/*.yaml), for `examples.likeness=embeddings` and
    `trained.features=embeddings|both`.

    model: the model's name at the provider (None: no embeddings); kind: the provider
    (its litellm prefix and where its key comes from, as for `provider.kind`);
    api_base / api_key_env as for the provider; dimensions: asked of models that can
    shorten their vectors (None: the model's own). Texts go `batch_size` to a call;
    each vector is kept in the response cache (cache.path, a table of its own) by
    model, server, dimensions and text, so a rerun makes no call.
    """

    model: str | None = None
    kind: str = "openai"  # a ProviderKind, checked by RunConfig (schema.py defines it)
    api_base: str | None = None
    api_key_env: str | None = None
    dimensions: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=64, ge=1, le=2048)
    timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds an embedding call may take before it is retried (a timeout "
        "counts towards run.max_unreachable_calls).",
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        description="Retries of an embedding call that failed retryably (429, 5xx, a "
        "timeout), after 1, 2, 4 ... s (at most 30) or the provider's Retry-After; 0: none.",
    )


class CascadeSettings(Strict):
    """trained.use=cascade: which rows the trained model labels alone.

    A row goes to the LLM when some label's probability from the trained model is
    within `band` of its threshold, or (with `min_similarity`) when no row of the pool
    has words as like its own (cosine of word TF-IDF). `band` None: the band that sends
    `llm_share` of the pool's rows, each scored by the model fit without it (an honest
    sample of the scores new rows get); the share of a new input sent differs as far as
    that input differs from the pool, and the run's record says what it was.
    """

    llm_share: float = Field(default=0.3, gt=0, le=1)
    band: float | None = Field(default=None, ge=0, le=1)
    min_similarity: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Also send a row to the LLM when no pool row is this alike (cosine of word "
        "TF-IDF; of embeddings with trained.features=embeddings); null: likeness not checked.",
    )
