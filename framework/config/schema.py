"""Typed schemas of the config groups, validated once when a run is loaded.

One model per group (conf/provider, conf/model, conf/taxonomy, conf/prompt,
conf/validation) plus the top-level RunConfig. YAML holds values only; every
model forbids unknown keys, so a misspelt key fails with its dotted path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from framework.config.taxonomy_checks import read_labels, structural_problems

__all__ = [
    "BudgetSettings",
    "CacheSettings",
    "ChunkSettings",
    "ColumnNames",
    "GgufSource",
    "LabelSpec",
    "LocalServerSettings",
    "ModelConfig",
    "OutputMode",
    "PromptConfig",
    "ProviderConfig",
    "ProviderKind",
    "RetrySettings",
    "RunConfig",
    "RunSettings",
    "SampleSettings",
    "StrategyConfig",
    "TaxonomyConfig",
    "ThresholdSettings",
    "ValidationConfig",
]

OutputMode = Literal["auto", "json_schema", "tool", "json_object", "prompted"]
ProviderKind = Literal[
    "openai", "anthropic", "gemini", "ollama", "openai_compatible", "llamacpp", "local"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalServerSettings(_Strict):
    """How the embedded llama.cpp server is started (provider=local)."""

    n_threads: int | None = Field(default=None, ge=1, description="None: all cores")
    n_ctx: int = Field(default=2048, ge=256)
    parallel: int = Field(default=1, ge=1, description="server processes answering together")
    startup_timeout: float = Field(default=180.0, gt=0)
    # Token log-probabilities need every token's logits kept: 2.5-4x slower answers,
    # so the server computes them only when a strategy asks for them.
    logprobs: bool = False


class ProviderConfig(_Strict):
    kind: ProviderKind
    api_base: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    output_mode: OutputMode = "auto"
    timeout: float = Field(default=60.0, gt=0)
    local: LocalServerSettings = LocalServerSettings()

    @model_validator(mode="after")
    def _needs_api_base(self) -> ProviderConfig:
        if self.kind in ("openai_compatible", "llamacpp") and not self.api_base:
            raise ValueError(
                f"api_base: required for provider {self.kind}; give the server's URL, "
                "e.g. provider.api_base=http://127.0.0.1:8000/v1"
            )
        return self


class GgufSource(_Strict):
    """Where a local model's GGUF file comes from; exactly one of path, package, parts."""

    path: str | None = None
    package: str | None = None
    file: str | None = None
    parts: list[str] = Field(default_factory=list)
    sha256: str | None = None
    install: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> GgufSource:
        given = [bool(self.path), bool(self.package), bool(self.parts)]
        if sum(given) != 1:
            raise ValueError("path: set exactly one of path, package (with file) or parts")
        if self.package and not self.file:
            raise ValueError("file: required with package (the GGUF file's name inside it)")
        return self


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int | None = 0
    input_cost_per_mtok: float | None = Field(default=None, ge=0)
    output_cost_per_mtok: float | None = Field(default=None, ge=0)
    gguf: GgufSource | None = None


class LabelSpec(_Strict):
    """One label. In YAML the labels are a mapping from id to these fields, so a
    team taxonomy can extend a shared one key by key (see TaxonomyConfig)."""

    id: str = Field(min_length=1)
    name: str | None = Field(default=None, description="display name; the id if unset")
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    negative_examples: list[str] = Field(default_factory=list)
    parent: str | None = None
    deprecated: bool = False
    replaced_by: str | None = None

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if value != value.strip() or not value.strip():
            raise ValueError(f"{value!r} has leading or trailing spaces")
        return value


class TaxonomyConfig(_Strict):
    """A versioned label set.

    labels: {id: {description, aliases, examples, negative_examples, parent,
        deprecated, replaced_by, name}}; a list of {id: ..., ...} is read too.
    A taxonomy that lists another in its Hydra defaults extends it: labels are
    merged by id (add one, override its description), `remove: [id]` takes
    labels out, `deprecated: true` with `replaced_by` retires one. `lineage`
    is merged too, so it names every taxonomy the result was built from.
    exclusive: named groups of labels of which an answer may hold one at most.
    """

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    labels: list[LabelSpec]
    none_label: str | None = None
    allow_empty: bool = False
    exclusive: dict[str, list[str]] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)
    lineage: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _labels_by_id(cls, data: Any) -> Any:
        """The mapping form (id -> fields) read into a list, minus `remove`d labels; a
        problem with one label is reported by its id, not its place in the list."""
        if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
            return data
        labels, problems = read_labels(data)
        if problems:
            raise ValueError(str(problems[0]))
        return {**data, "labels": labels}

    @model_validator(mode="after")
    def _coherent(self) -> TaxonomyConfig:
        problems = structural_problems(
            self.labels, none_label=self.none_label, exclusive=self.exclusive
        )
        if problems:
            raise ValueError(str(problems[0]))
        return self

    @property
    def current(self) -> list[LabelSpec]:
        """The labels on offer: all but the deprecated ones, in order."""
        return [label for label in self.labels if not label.deprecated]


class PromptConfig(_Strict):
    template: str = "multilabel.v1"
    reask_template: str = "reask.v1"
    system: str = ""
    few_shot: bool = True
    # How answers name labels: by id, or by number (for taxonomies larger than the
    # provider's enum limit); auto picks by number only when the ids would not fit.
    label_keys: Literal["auto", "id", "index"] = "auto"
    max_text_chars: int | None = Field(default=20000, ge=1)
    max_text_tokens: int | None = Field(default=None, ge=1)


class ValidationConfig(_Strict):
    on_unknown_label: Literal["retry", "drop", "fail"] = "retry"
    min_labels: int = Field(default=0, ge=0)
    max_labels: int | None = Field(default=None, ge=1)
    none_exclusive: Literal["retry", "drop_none"] = "retry"
    dedupe: bool = False
    normalize_case: bool = True
    normalize_aliases: bool = True
    # A label with a parent: add_parents (a child implies its parent), leaves_only
    # (only labels without children are offered), as_is (no rule).
    hierarchy: Literal["add_parents", "leaves_only", "as_is"] = "add_parents"
    max_retries: int = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> ValidationConfig:
        if self.max_labels is not None and self.min_labels > self.max_labels:
            raise ValueError(
                f"min_labels: {self.min_labels} is greater than max_labels ({self.max_labels})"
            )
        return self


class RetrySettings(_Strict):
    """Retries of calls that failed in transit (429, 5xx, timeouts, resets)."""

    max_attempts: int = Field(default=4, ge=1)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)


class RunSettings(_Strict):
    """How a batch runs: calls in flight, rate budgets, retries, progress display."""

    concurrency: int = Field(default=4, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    retry: RetrySettings = RetrySettings()
    progress: Literal["auto", "bar", "log", "off"] = "auto"
    progress_interval: float = Field(default=10.0, gt=0)


class CacheSettings(_Strict):
    """Completed calls, stored by the content hash of their request and shared by runs.

    on: answer from the cache when the request was made before; off: never read
    or write it; refresh: always call, and store the new answer.
    """

    mode: Literal["on", "off", "refresh"] = "on"
    path: str | None = Field(default=None, description="None: $LABELWISE_CACHE_DIR or ~/.cache")


class BudgetSettings(_Strict):
    """Limits that stop starting new rows once reached (rows not started are reported)."""

    max_cost: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)


class ColumnNames(_Strict):
    """Which input columns (JSONL keys, CSV or Parquet columns) hold the id, text and gold."""

    id: str = "id"
    text: str = "text"
    labels: str = "labels"


class SampleSettings(_Strict):
    """Classify a random sample of the input: `size` rows (None: all), fixed by `seed`."""

    size: int | None = Field(default=None, ge=1)
    seed: int = 0


class StrategyConfig(_Strict):
    """How the question is put to the model (conf/strategy/).

    labels_array: one call, an array of label ids (the prompt group's template).
    checklist: one call, an object with one boolean per label, in taxonomy order.
    per_label: one yes/no call per label; the calls share the prompt up to the label.
    confidence: where per-label confidence comes from: logprobs (token
        probabilities, where the provider returns them), self_consistency (the
        share of `samples` answers at `sample_temperature` holding the label),
        none, or auto (logprobs where possible, else none).
    """

    name: Literal["labels_array", "checklist", "per_label"] = "labels_array"
    template: str | None = None
    confidence: Literal["auto", "logprobs", "self_consistency", "none"] = "auto"
    samples: int = Field(default=5, ge=2)
    sample_temperature: float = Field(default=0.7, gt=0, le=2)
    top_logprobs: int = Field(default=5, ge=2, le=20)
    # Replaces model.max_tokens for this strategy's answers (a yes/no needs a few).
    max_tokens: int | None = Field(default=None, ge=1)


class ThresholdSettings(_Strict):
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


class ChunkSettings(_Strict):
    """Long texts split into chunks of at most max_tokens (None: never split);
    per-label confidence is combined over the chunks by `aggregate`."""

    max_tokens: int | None = Field(default=None, ge=32)
    overlap: int = Field(default=32, ge=0)
    aggregate: Literal["max", "mean"] = "max"


class RunConfig(_Strict):
    """Everything one run needs, composed from the config groups."""

    provider: ProviderConfig
    model: ModelConfig
    taxonomy: TaxonomyConfig
    prompt: PromptConfig = PromptConfig()
    validation: ValidationConfig = ValidationConfig()
    run: RunSettings = RunSettings()
    cache: CacheSettings = CacheSettings()
    budget: BudgetSettings = BudgetSettings()
    columns: ColumnNames = ColumnNames()
    sample: SampleSettings = SampleSettings()
    strategy: StrategyConfig = StrategyConfig()
    thresholds: ThresholdSettings = ThresholdSettings()
    chunking: ChunkSettings = ChunkSettings()
    input: str | None = None
    output: str | None = None

    @model_validator(mode="after")
    def _fits_taxonomy(self) -> RunConfig:
        if self.validation.min_labels > len(self.taxonomy.labels):
            raise ValueError(
                f"validation.min_labels: {self.validation.min_labels} exceeds the "
                f"{len(self.taxonomy.labels)} labels of taxonomy {self.taxonomy.name}"
            )
        if self.provider.kind == "local" and self.model.gguf is None:
            raise ValueError(
                f"model.gguf: provider=local needs a model with a GGUF file; {self.model.name!r} "
                "has none (pick one from conf/model/, e.g. model=smollm2-135m)"
            )
        return self
