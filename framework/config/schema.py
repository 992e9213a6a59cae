"""Typed schemas of the config groups, validated once when a run is loaded.

One model per group (conf/provider, conf/model, conf/taxonomy, conf/prompt,
conf/validation) plus the top-level RunConfig. YAML holds values only; every
model forbids unknown keys, so a misspelt key fails with its dotted path.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr, model_validator

from framework.config.run_settings import (
    BatchSettings,
    BudgetSettings,
    CacheSettings,
    CascadeSettings,
    ChunkSettings,
    ColumnNames,
    DistillSettings,
    EmbeddingSettings,
    ExamplesSettings,
    RaySettings,
    RetrySettings,
    RunSettings,
    SampleSettings,
    ThresholdSettings,
    TrainedModelSettings,
)
from framework.config.strict import Strict
from framework.config.taxonomy_schema import LabelSpec, TaxonomyConfig

__all__ = [
    "BatchSettings",
    "BudgetSettings",
    "CacheSettings",
    "CascadeSettings",
    "ChunkSettings",
    "ColumnNames",
    "EmbeddingSettings",
    "ExamplesSettings",
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
    "TrainedModelSettings",
    "ValidationConfig",
]

OutputMode = Literal["auto", "json_schema", "tool", "json_object", "prompted"]
ProviderKind = Literal[
    "openai",
    "anthropic",
    "gemini",
    "ollama",
    "openai_compatible",
    "llamacpp",
    "local",
    "groq",
    "together",
    "deepseek",
    "openrouter",
    "fireworks",
    "azure",
]


class LocalServerSettings(Strict):
    """How the embedded llama.cpp server is started (provider=local)."""

    n_threads: int | None = Field(default=None, ge=1, description="None: all cores")
    n_ctx: int = Field(default=2048, ge=256)
    parallel: int = Field(default=1, ge=1, description="server processes answering together")
    startup_timeout: float = Field(default=180.0, gt=0)
    # Token log-probabilities need every token's logits kept: 2.5-4x slower answers,
    # so the server computes them only when a strategy asks for them.
    logprobs: bool = False


class ProviderConfig(Strict):
    kind: ProviderKind
    api_base: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    output_mode: OutputMode = "auto"
    timeout: float = Field(default=60.0, gt=0)
    # How calls reach the provider: http posts the OpenAI chat-completions wire itself (one
    # pooled keep-alive client; several times less CPU a call than litellm), litellm speaks
    # every provider's wire; auto takes http where the provider's profile says OpenAI wire.
    transport: Literal["auto", "litellm", "http"] = "auto"
    # Sent as OpenAI-Organization and OpenAI-Project where set (OpenAI's API).
    organization: str | None = None
    project: str | None = None
    # Azure OpenAI's api-version query parameter (litellm's default when unset).
    api_version: str | None = None
    local: LocalServerSettings = LocalServerSettings()


class GgufSource(Strict):
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


class ModelConfig(Strict):
    name: str = Field(min_length=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int | None = 0
    input_cost_per_mtok: float | None = Field(default=None, ge=0)
    output_cost_per_mtok: float | None = Field(default=None, ge=0)
    gguf: GgufSource | None = None


class PromptConfig(Strict):
    template: str = "multilabel.v1"
    reask_template: str = "reask.v1"
    system: str = ""
    few_shot: bool = True
    # How answers name labels: by id, or by number (for taxonomies larger than the
    # provider's enum limit); auto picks by number only when the ids would not fit.
    label_keys: Literal["auto", "id", "index"] = "auto"
    max_text_chars: int | None = Field(default=20000, ge=1)
    max_text_tokens: int | None = Field(default=None, ge=1)


class ValidationConfig(Strict):
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


class StrategyConfig(Strict):
    """How the question is put to the model (conf/strategy/).

    labels_array: one call, an array of label ids (the prompt group's template).
    checklist: one call, an object with one boolean per label, in taxonomy order.
    per_label: one yes/no call per label; the calls share the prompt up to the label.
    confidence: where per-label confidence comes from: logprobs (token
        probabilities, where the provider returns them), self_consistency (the
        share of `samples` answers at `sample_temperature` holding the label),
        none, or auto (logprobs for per_label where the provider has them cheap;
        else none: the local llama.cpp server computes every prompt token's
        logits for them, about 10x slower, so there it takes asking).
    """

    name: Literal["labels_array", "checklist", "per_label"] = "labels_array"
    template: str | None = None
    confidence: Literal["auto", "logprobs", "self_consistency", "none"] = "auto"
    samples: int = Field(default=5, ge=2)
    sample_temperature: float = Field(default=0.7, gt=0, le=2)
    top_logprobs: int = Field(default=5, ge=2, le=20)
    # Replaces model.max_tokens for this strategy's answers (a yes/no needs a few).
    max_tokens: int | None = Field(default=None, ge=1)


class RunConfig(Strict):
    """Everything one run needs, composed from the config groups."""

    provider: ProviderConfig
    model: ModelConfig
    taxonomy: TaxonomyConfig
    prompt: PromptConfig = PromptConfig()
    validation: ValidationConfig = ValidationConfig()
    run: RunSettings = RunSettings()
    cache: CacheSettings = CacheSettings()
    batch: BatchSettings = BatchSettings()
    budget: BudgetSettings = BudgetSettings()
    columns: ColumnNames = ColumnNames()
    sample: SampleSettings = SampleSettings()
    strategy: StrategyConfig = StrategyConfig()
    thresholds: ThresholdSettings = ThresholdSettings()
    chunking: ChunkSettings = ChunkSettings()
    trained: TrainedModelSettings = TrainedModelSettings()
    cascade: CascadeSettings = CascadeSettings()
    distill: DistillSettings = DistillSettings()
    examples: ExamplesSettings = ExamplesSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    ray: RaySettings = RaySettings()
    input: str | None = None
    output: str | None = None

    @model_validator(mode="after")
    def _trained_needs_a_pool(self) -> RunConfig:
        trained = self.trained
        if self.distill.sample is not None:
            _check_distillation(self)
        elif trained.use != "off" and not trained.pool:
            raise ValueError(
                f"trained.pool: trained.use={trained.use} needs labeled rows to learn from: "
                "trained.pool=PATH (JSONL, CSV or Parquet with id, text and labels), or "
                "distill.sample=N to learn from the LLM's answers on N input rows"
            )
        return self

    @model_validator(mode="after")
    def _examples_need_a_pool(self) -> RunConfig:
        if self.examples.selection != "none" and not self.examples.pool:
            raise ValueError(
                f"examples.pool: examples.selection={self.examples.selection} shows labeled rows "
                "in the prompt: examples.pool=PATH (JSONL, CSV or Parquet with id, text and "
                "labels)"
            )
        return self

    @model_validator(mode="after")
    def _embeddings_need_a_model(self) -> RunConfig:
        embeddings = self.embeddings
        if embeddings.kind not in get_args(ProviderKind):
            raise ValueError(
                f"embeddings.kind: {embeddings.kind!r} is not a provider; one of "
                f"{', '.join(get_args(ProviderKind))}"
            )
        users = [
            f"{key}={value}"
            for key, value, used in (
                ("examples.likeness", self.examples.likeness, self.examples.likeness != "tfidf"),
                ("trained.features", self.trained.features, self.trained.features != "tfidf"),
            )
            if used
        ]
        if users and not embeddings.model:
            raise ValueError(
                f"embeddings.model: {' and '.join(users)} need an embedding model: pick one "
                "with embeddings=openai-small (conf/embeddings), or set embeddings.model=NAME "
                "(with embeddings.kind and, for your own server, embeddings.api_base)"
            )
        if self.trained.features != "tfidf" and self.distill.sample is not None:
            raise ValueError(
                "trained.features: a model distilled during the run learns from TF-IDF "
                "features only; use trained.features=tfidf with distill.sample"
            )
        return self

    @model_validator(mode="after")
    def _batch_needs_the_cache(self) -> RunConfig:
        if self.run.mode == "batch" and self.cache.mode != "on":
            raise ValueError(
                f"cache.mode: run.mode=batch keeps the jobs' answers in the response cache; "
                f"cache.mode={self.cache.mode} cannot be used with it (set cache.mode=on)"
            )
        if self.run.mode == "batch" and self.run.executor == "ray":
            raise ValueError(
                "run.executor: run.mode=batch sends its calls as provider jobs from this "
                "process; use run.executor=local with it"
            )
        return self

    @model_validator(mode="after")
    def _fits_taxonomy(self) -> RunConfig:
        if self.validation.min_labels > len(self.taxonomy.labels):
            raise ValueError(
                f"validation.min_labels: {self.validation.min_labels} exceeds the "
                f"{len(self.taxonomy.labels)} labels of taxonomy {self.taxonomy.name}"
            )
        return self


def _check_distillation(config: RunConfig) -> None:
    """distill.sample: what a model taught by the LLM during the run cannot go with."""
    trained = config.trained
    if trained.use not in ("cascade", "alone"):
        raise ValueError(
            f"trained.use: distill.sample teaches the trained model from the LLM's "
            f"answers; use it with trained.use=cascade (the LLM labels the rows the model is "
            f"unsure of) or trained.use=alone, not {trained.use}"
        )
    if trained.pool:
        raise ValueError(
            "trained.pool: a distilled model learns from the LLM's answers "
            "(distill.sample), a pooled one from labeled rows; give one of them"
        )
    if trained.artifact:
        raise ValueError(
            "trained.artifact: a distilled model is fit during the run and kept in the cache "
            "folder by its hash (record.json names it); leave trained.artifact unset"
        )
    if config.distill.refit_every is not None and trained.use == "alone":
        raise ValueError(
            "distill.refit_every: with trained.use=alone no row past the sample "
            "reaches the LLM, so there is nothing to refit on; use trained.use=cascade"
        )
    if config.run.executor == "ray":
        raise ValueError(
            "run.executor: a distilled model is fit between the run's phases in this "
            "process; use run.executor=local with it"
        )
