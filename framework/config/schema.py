"""Typed schemas of the config groups, validated once when a run is loaded.

One model per group (conf/provider, conf/model, conf/taxonomy, conf/prompt,
conf/validation) plus the top-level RunConfig. YAML holds values only; every
model forbids unknown keys, so a misspelt key fails with its dotted path.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr, model_validator

from framework.config.observe_settings import TracingSettings, TrackingSettings
from framework.config.route_settings import QualitySettings, RouteSettings
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
    ImageSettings,
    RaySettings,
    RetrySettings,
    RunSettings,
    SampleSettings,
    ThresholdSettings,
    TrainedModelSettings,
    ZeroShotSettings,
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
    "ImageSettings",
    "LabelSpec",
    "LocalServerSettings",
    "ModelConfig",
    "OutputMode",
    "PromptCaching",
    "PromptConfig",
    "ProviderConfig",
    "ProviderKind",
    "QualitySettings",
    "RetrySettings",
    "RouteSettings",
    "RunConfig",
    "RunSettings",
    "SampleSettings",
    "ServiceTier",
    "StrategyConfig",
    "TaxonomyConfig",
    "ThresholdSettings",
    "TracingSettings",
    "TrackingSettings",
    "TrainedModelSettings",
    "ValidationConfig",
    "ZeroShotSettings",
]

OutputMode = Literal["auto", "json_schema", "tool", "json_object", "prompted"]
ServiceTier = Literal["default", "flex", "priority"]
PromptCaching = Literal["auto", "on", "off"]
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

    runtime: Literal["auto", "xllamacpp", "llama_cpp_python"] = Field(
        default="auto",
        description="Which llama.cpp serves the model: xllamacpp (prebuilt, the [local] "
        "extra), llama_cpp_python (built from source by the [local-source] extra, for a CPU "
        "without AVX2); auto takes xllamacpp where it is installed and the CPU can run it.",
    )
    n_threads: int | None = Field(
        default=None, ge=1, description="Threads in all, shared by the processes; None: all cores"
    )
    n_ctx: int = Field(
        default=2048,
        ge=256,
        description="Tokens of context each request holds, prompt and answer together; "
        "a prompt that does not fit fails its row.",
    )
    parallel: int | None = Field(
        default=None,
        ge=1,
        description="Server processes answering together; None: one per core, at most 4 "
        "(docs/local-models.md).",
    )
    slots: int | None = Field(
        default=None,
        ge=1,
        description="Requests each xllamacpp process decodes together; None: 1 (two were "
        "slower than one on 2 cores).",
    )
    startup_timeout: float = Field(
        default=180.0,
        gt=0,
        description="Seconds the server processes have to load the model and answer; past it "
        "the run stops, quoting the cause from their log.",
    )
    # llama-cpp-python computes every token's logits for log-probabilities (2.5-4x slower
    # answers), so its server keeps them only when a strategy asks for them.
    logprobs: bool = False


class ProviderConfig(Strict):
    kind: ProviderKind = Field(
        description="Which provider answers; its profile (framework.providers.profiles) gives "
        "the wire, the output modes, whether it needs a key, its default URL and its prices."
    )
    api_base: str | None = Field(
        default=None,
        description="The API's URL: required for openai_compatible, llamacpp and azure, else "
        "the provider's own; user:password@ in it is sent as Basic authorization.",
    )
    api_key_env: str | None = Field(
        default=None,
        description="The environment variable holding the API key (conf/provider/KIND.yaml "
        "names the usual one); a provider that needs a key and finds none is a config error.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The key itself, used before api_key_env (discouraged: it sits in a file "
        "or a shell history; the run's record and logs redact it).",
    )
    output_mode: OutputMode = Field(
        default="auto",
        description="How the answer's shape is asked for: json_schema (structured output), "
        "tool (a forced tool call), json_object (JSON mode with the schema), prompted (the "
        "schema in the prompt); auto picks from litellm's capability map or the provider's "
        "profile. A mode the provider cannot do is a config error.",
    )
    timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a call may take before it is retried (a timeout counts towards "
        "run.max_unreachable_calls).",
    )
    # How calls reach the provider: http posts the OpenAI chat-completions wire itself (one
    # pooled keep-alive client; several times less CPU a call than litellm), litellm speaks
    # every provider's wire; auto takes http where the provider's profile says OpenAI wire.
    transport: Literal["auto", "litellm", "http"] = "auto"
    # Sent as OpenAI-Organization and OpenAI-Project where set (OpenAI's API).
    organization: str | None = None
    project: str | None = Field(
        default=None, description="Sent as the OpenAI-Project header where set (OpenAI's API)."
    )
    # Azure OpenAI's api-version query parameter (litellm's default when unset).
    api_version: str | None = None
    service_tier: ServiceTier = Field(
        default="default",
        description="The provider's processing tier: flex (OpenAI, Gemini, Azure) answers at "
        "about the batch price, slower, and may refuse with 429 resource unavailable; "
        "priority costs more and answers faster; default sends no tier. A tier the provider "
        "lacks is a config error. Not part of the response cache key.",
    )
    flex_fallback: float | None = Field(
        default=None,
        gt=0,
        description="With service_tier=flex: seconds after which a request still unanswered "
        "(or refused as resource unavailable after its retries) is sent again at the default "
        "tier and price, counted apart in the totals; null: never.",
    )
    prompt_caching: PromptCaching = Field(
        default="auto",
        description="auto: requests are sent as always and the provider's own caching "
        "(OpenAI, Gemini, Azure, DeepSeek: automatic prefix caching) is read and priced in "
        "the ledger; on: also ask for it (Anthropic: a cache_control breakpoint after the "
        "prompt's shared prefix; OpenAI: a prompt_cache_key per run); off: ask for nothing "
        "(what the provider caches by itself is still priced). Not part of the response "
        "cache key.",
    )
    local: LocalServerSettings = LocalServerSettings()


class GgufSource(Strict):
    """Where a local model's GGUF file comes from; exactly one of path, package, parts."""

    path: str | None = Field(
        default=None,
        description="A GGUF file of your own (~ expanded); hashed once, then remembered by its "
        "size and mtime.",
    )
    package: str | None = Field(
        default=None,
        description="An installed Python package holding the GGUF file, by import name (found "
        "without importing it); give file too.",
    )
    file: str | None = Field(default=None, description="The GGUF file's path inside package.")
    parts: list[str] = Field(
        default_factory=list,
        description="Packages each holding one data/*.bin piece, joined in this order into "
        "one GGUF in the cache folder (models/), once.",
    )
    sha256: str | None = Field(
        default=None,
        description="The file's expected sha256: a mismatch is a config error, never a silent "
        "load; null: any file (its hash still keys the cache).",
    )
    install: str | None = Field(
        default=None,
        description="The command a missing package or part is told to run (null: pip install "
        "of package or parts).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> GgufSource:
        given = [bool(self.path), bool(self.package), bool(self.parts)]
        if sum(given) != 1:
            raise ValueError("path: set exactly one of path, package (with file) or parts")
        if self.package and not self.file:
            raise ValueError("file: required with package (the GGUF file's name inside it)")
        return self


class ModelConfig(Strict):
    name: str = Field(
        min_length=1,
        description="The model's name at the provider (Azure: the deployment; provider=local: "
        "the name its server answers to); part of every request and its cache key.",
    )
    temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of every call; 0 asks for the likeliest answer "
        "(self-consistency samples use strategy.sample_temperature).",
    )
    max_tokens: int = Field(
        default=256,
        ge=1,
        description="Tokens an answer may take at most (strategy.max_tokens replaces it); an "
        "answer cut off there is rejected as invalid JSON.",
    )
    seed: int | None = Field(
        default=0,
        description="Sampling seed, sent where the provider takes one (not Anthropic, OpenAI's "
        "o-series or gpt-5); self-consistency sample N gets seed + N; null: none sent.",
    )
    input_cost_per_mtok: float | None = Field(
        default=None,
        ge=0,
        description="USD per million prompt tokens; set (either price), it replaces litellm's "
        "price table and the unset one counts as 0; null: the table's price (none for "
        "openai_compatible, 0 for servers on your machine).",
    )
    output_cost_per_mtok: float | None = Field(
        default=None,
        ge=0,
        description="USD per million answer tokens; as model.input_cost_per_mtok.",
    )
    cached_input_cost_per_mtok: float | None = Field(
        default=None,
        ge=0,
        description="With configured prices: USD per million prompt tokens read from the "
        "provider's prompt cache; null: the input price (with a warning when a call reports "
        "cached tokens).",
    )
    cache_write_cost_per_mtok: float | None = Field(
        default=None,
        ge=0,
        description="With configured prices: USD per million prompt tokens written to the "
        "provider's prompt cache (Anthropic); null: the input price (with a warning).",
    )
    vision: bool | None = Field(
        default=None,
        description="Whether the model reads images (rows with columns.image); null: litellm's "
        "model data decides, and a model it does not know is refused until this is set.",
    )
    gguf: GgufSource | None = Field(
        default=None,
        description="Where the model's GGUF file comes from, for provider=local (which refuses "
        "a model without one).",
    )


class PromptConfig(Strict):
    template: str = Field(
        default="multilabel.v1",
        description="The prompt's Jinja template: a name (prompts/NAME.jinja) or a .jinja "
        "file's path; it must print {{ text }}. strategy.template replaces it.",
    )
    reask_template: str = Field(
        default="reask.v1",
        description="The template of the message that asks again after a rejected answer, "
        "quoting its problems (prompts/NAME.jinja or a .jinja file's path).",
    )
    system: str = Field(
        default="",
        description="The system message ahead of every prompt (empty: none); part of the "
        "prompt's digest, so of the cache key.",
    )
    few_shot: bool = Field(
        default=True,
        description="Show each label's examples and negative_examples in the prompt.",
    )
    # How answers name labels: by id, or by number (for taxonomies larger than the
    # provider's enum limit); auto picks by number only when the ids would not fit.
    label_keys: Literal["auto", "id", "index"] = "auto"
    max_text_chars: int | None = Field(
        default=20000,
        ge=1,
        description="Characters of a text kept; a longer text is cut and its row records the "
        "length it had (truncated_from); null: no cut.",
    )
    max_text_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Tokens of a text kept (the model's tokenizer; cl100k where litellm has "
        "none), counted after the cut to max_text_chars; null: no cut.",
    )


class ValidationConfig(Strict):
    on_unknown_label: Literal["retry", "drop", "fail"] = Field(
        default="retry",
        description="An answered label not on offer (unknown, or a category under "
        "leaves_only): retry quotes it back and asks again, drop leaves it out (a repair), "
        "fail fails the row at once.",
    )
    min_labels: int = Field(
        default=0,
        ge=0,
        description="Fewest labels an answer may hold, fewer is asked again (the none label "
        "alone always passes); 0: none needed with taxonomy.allow_empty, else 1.",
    )
    max_labels: int | None = Field(
        default=None,
        ge=1,
        description="Most labels an answer may hold (the schema's maxItems too), more is asked "
        "again; null: every label on offer.",
    )
    none_exclusive: Literal["retry", "drop_none"] = Field(
        default="retry",
        description="The none label beside others: retry quotes it back and asks again, "
        "drop_none keeps the others (a repair).",
    )
    dedupe: bool = Field(
        default=False,
        description="A label listed twice: true keeps it once (a repair), false asks again.",
    )
    normalize_case: bool = Field(
        default=True,
        description="Read a label in another case (Space for space) as the label, a repair; "
        "false: only the exact spelling.",
    )
    normalize_aliases: bool = Field(
        default=True,
        description="Read a label's alias as its id, a repair; false: an alias is an unknown "
        "label (validation.on_unknown_label).",
    )
    # A label with a parent: add_parents (a child implies its parent), leaves_only
    # (only labels without children are offered), as_is (no rule).
    hierarchy: Literal["add_parents", "leaves_only", "as_is"] = "add_parents"
    max_retries: int = Field(
        default=2,
        ge=0,
        description="Times a rejected answer is asked again, its problems quoted back, before "
        "the row fails (per question; calls that fail in transit are run.retry's).",
    )

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
    template: str | None = Field(
        default=None,
        description="The strategy's prompt template (prompts/NAME.jinja or a .jinja file's "
        "path), in place of prompt.template; null: prompt.template.",
    )
    confidence: Literal["auto", "logprobs", "self_consistency", "none"] = "auto"
    samples: int = Field(
        default=5,
        ge=2,
        description="Answers drawn per question with confidence=self_consistency, each a call "
        "of its own; one that fails fails the row.",
    )
    sample_temperature: float = Field(
        default=0.7,
        gt=0,
        le=2,
        description="The temperature of those drawn answers (model.temperature is the rest's).",
    )
    top_logprobs: int = Field(
        default=5,
        ge=2,
        le=20,
        description="Alternatives the provider returns at each answer token with "
        "confidence=logprobs; a yes is weighed against a no among them.",
    )
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
    images: ImageSettings = ImageSettings()
    sample: SampleSettings = SampleSettings()
    strategy: StrategyConfig = StrategyConfig()
    thresholds: ThresholdSettings = ThresholdSettings()
    chunking: ChunkSettings = ChunkSettings()
    trained: TrainedModelSettings = TrainedModelSettings()
    cascade: CascadeSettings = CascadeSettings()
    distill: DistillSettings = DistillSettings()
    zero_shot: ZeroShotSettings = ZeroShotSettings()
    route: RouteSettings = RouteSettings()
    quality: QualitySettings = QualitySettings()
    examples: ExamplesSettings = ExamplesSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    ray: RaySettings = RaySettings()
    tracking: TrackingSettings = TrackingSettings()
    tracing: TracingSettings = TracingSettings()
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
                ("zero_shot.use", self.zero_shot.use, self.zero_shot.use != "off"),
                ("route.tiers", "[...zero_shot...]", "zero_shot" in self.route.tiers),
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
        if self.zero_shot.use == "alone" and self.trained.use != "off":
            raise ValueError(
                f"zero_shot.use: alone labels every row itself, and trained.use is "
                f"{self.trained.use}; set one of them to off"
            )
        if self.trained.combine == "average" and self.trained.features != "both":
            raise ValueError(
                f"trained.combine: average needs two feature sets to average, and "
                f"trained.features is {self.trained.features}; set trained.features=both "
                "or trained.combine=one"
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
    def _route_needs_a_target(self) -> RunConfig:
        if self.route.tiers:
            _check_route(self)
        elif self.budget.tiers:
            raise ValueError(
                "budget.tiers: caps per tier are for a routed run (route.tiers); use "
                "budget.max_cost or budget.max_tokens for the run"
            )
        if self.quality.llm_rows and "llm" not in self.route.tiers:
            raise ValueError(
                f"quality.llm_rows: {self.quality.llm_rows} calibration rows certify a route's "
                "llm tier; name one (route.tiers=[trained,llm,human]) or set quality.llm_rows=0"
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


def _check_within(config: RunConfig) -> None:
    """quality.f1_within: the llm tier's answers on labeled rows are its reference."""
    quality, tiers = config.quality, config.route.tiers
    if quality.precision is not None or quality.recall is not None:
        raise ValueError(
            "quality.f1_within: a target is floors (quality.precision, quality.recall) or "
            "F1 within a delta of the llm tier, not both; unset one of them"
        )
    scored = [tier for tier in tiers if tier in ("trained", "zero_shot")]
    if "llm" not in tiers or len(scored) != 1 or not quality.llm_rows:
        raise ValueError(
            f"quality.f1_within: it certifies one tier against the llm tier's answers to "
            f"quality.llm_rows labeled rows; use route.tiers=[trained,llm] (or "
            f"[zero_shot,llm]) with quality.llm_rows=N (now {tiers}, "
            f"quality.llm_rows={quality.llm_rows})"
        )
    if quality.reference != "gold":
        raise ValueError(
            "quality.f1_within: F1 is measured against gold; use it with "
            "quality.reference=gold and labeled calibration rows"
        )


def _check_llm_tiers(config: RunConfig) -> None:
    """The further LLM tiers (route.llms) and the caps per tier (budget.tiers)."""
    quality = config.quality
    priced = ["llm", *config.route.llms]
    for tier in config.budget.tiers:
        if tier not in config.route.tiers or tier not in priced:
            raise ValueError(
                f"budget.tiers.{tier}: a cap is for a tier of the route that makes calls "
                f"(llm, or a further LLM tier of route.llms); the route's tiers: "
                f"{config.route.tiers}"
            )
    further = [tier for tier in config.route.tiers if tier in config.route.llms]
    if further and not quality.llm_rows:
        raise ValueError(
            f"quality.llm_rows: a further LLM tier ({', '.join(further)}) is asked what the "
            "certified llm tier leaves open, and an uncertified llm tier leaves nothing; "
            "set quality.llm_rows=N (its answers to N calibration rows certify it)"
        )
    if further and (quality.f1_within is not None or quality.reference != "gold"):
        raise ValueError(
            f"route.tiers: a further LLM tier ({', '.join(further)}) goes with precision and "
            "recall floors against gold for now, not with quality.f1_within or "
            "quality.reference=llm; drop one of them"
        )


def _check_route(config: RunConfig) -> None:
    """route.tiers: what a route needs (a target, the trained model it starts with)."""
    quality, trained = config.quality, config.trained
    if quality.f1_within is not None:
        _check_within(config)
    elif quality.precision is None:
        raise ValueError(
            "quality.precision: a route certifies each tier against a target; give one, "
            "e.g. quality.precision=0.8 (every label) or quality.precision={joy: 0.9}"
        )
    if "trained" in config.route.tiers:
        if trained.use != "ensemble" or config.distill.sample is not None:
            raise ValueError(
                f"trained.use: a route's trained tier is the trained model of a pool, its "
                f"probabilities fused with the LLM's answers on the rows it leaves; set "
                f"trained.use=ensemble (now {trained.use}) with trained.pool, without "
                "distill.sample"
            )
    elif trained.use != "off":
        raise ValueError(
            f"trained.use: route.tiers {config.route.tiers} has no trained tier, and "
            f"trained.use is {trained.use}; add trained to the route's tiers "
            "(route.tiers=[trained,zero_shot,...]) or set trained.use=off"
        )
    elif quality.calibration is None and quality.reference == "gold":
        raise ValueError(
            "quality.calibration: a route without a trained tier has no pool to certify "
            "on; give labeled rows: quality.calibration=FILE (id, text, labels)"
        )
    if quality.reference == "llm" and ("llm" not in config.route.tiers or not quality.llm_rows):
        raise ValueError(
            "quality.llm_rows: quality.reference=llm certifies the tiers against the LLM's "
            "answers to a sample; name an llm tier (route.tiers=[zero_shot,llm]) and set "
            f"quality.llm_rows=N (now {quality.llm_rows}), or quality.reference=gold"
        )
    _check_llm_tiers(config)
    if "zero_shot" in config.route.tiers and config.zero_shot.use == "alone":
        raise ValueError(
            "zero_shot.use: alone labels every row itself, and the route's zero_shot tier "
            "decides only what it is certified to; leave zero_shot.use=off (the tier turns "
            "the scorer on) or shortlist"
        )
    labels = {label.id for label in config.taxonomy.labels}
    for key, floor in (
        ("quality.precision", quality.precision),
        ("quality.recall", quality.recall),
    ):
        unknown = sorted(set(floor) - labels) if isinstance(floor, dict) else []
        if unknown:
            raise ValueError(
                f"{key}: {', '.join(unknown)} not in taxonomy {config.taxonomy.name}; "
                f"its labels: {', '.join(sorted(labels))}"
            )
