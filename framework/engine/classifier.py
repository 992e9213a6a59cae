"""The public facade: a classifier built from a config, with a sync and an async API.

    with Classifier.from_config(overrides=["provider=openai", "model=gpt-4o-mini"]) as clf:
        clf.classify("NASA launches a probe to Europa").labels   # ('space',)

It checks what the config cannot run without, builds the transport stack
(framework.providers.transports.stack) and the engine over it
(framework.engine.engine), and closes both: the embedded local model's server
too, on close, on error and at exit. No Hydra globals are involved:
`from_config` composes without them, and `Classifier(run_config)` takes a config
built any other way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from framework.config.load import compose, load_run_config
from framework.config.moved_keys import said_as_written
from framework.config.schema import RunConfig
from framework.engine.components import Component, record_sections
from framework.engine.engine import Engine, build_engine
from framework.engine.loop import BackgroundLoop
from framework.engine.readings import choose_confidence
from framework.errors import ConfigError
from framework.integrations import Observers, observers_for
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import resolve_api_key
from framework.providers.loop_clients import release_loop_clients
from framework.providers.profiles import PROFILES, check_provider, profile_for
from framework.providers.transports.base import Transport
from framework.providers.transports.cache import ResponseCache
from framework.providers.transports.health import ProviderHealth
from framework.providers.transports.pacing import SharedPacing
from framework.providers.transports.recording import RecordingTransport
from framework.providers.transports.stack import TransportStack, build_stack
from framework.providers.transports.throttle import Throttle
from framework.records import Completion, ImageRef, Item, Prediction, Usage
from framework.run_record import merge_sections

if TYPE_CHECKING:
    from framework.providers.local.models import ModelFile
    from framework.providers.local.server import LocalServer
    from framework.providers.transports.batch import BatchLayer

__all__ = ["Classifier"]


class Classifier:
    def __init__(
        self,
        config: RunConfig,
        *,
        pacing: SharedPacing | None = None,
        observers: Observers | None = None,
    ) -> None:
        """`pacing`: the run's, when this classifier is one worker's of several;
        `observers`: the run's tracking and tracing (else the config's, made here)."""
        self.config = config
        check_provider(config)
        _check_budget_is_priced(config)
        profile = profile_for(config.provider.kind, config.model.name)
        wants_logprobs = choose_confidence(config, profile).method == "logprobs"
        # It may hash a large model file: what decides answers beyond the request.
        self.model_file = _local_model_file(config)
        self.stack: TransportStack = build_stack(
            config, model_file=self.model_file, logprobs=wants_logprobs, pacing=pacing
        )
        # Tracking and tracing (framework.integrations): none by default, at no cost.
        self.observers = observers if observers is not None else observers_for(config)
        self.stack.top = cast(Transport, self.observers.watch_calls(self.stack.top))
        self.endpoint = _endpoint(config, self.model_file)
        self.engine: Engine = build_engine(config, self.stack.top, endpoint=self.endpoint)
        if self.stack.options is not None:  # the prompt-caching hints' prefix and key
            renderer = self.engine.renderer
            self.stack.options.learn(
                renderer.shared_prefix(), renderer.digest, self.engine.plan.model
            )
        resolve_api_key(config.provider)  # a missing key is a ConfigError now, not per row
        self._preview: Engine | None = None
        self._loop: BackgroundLoop | None = None
        # Other LLM configurations the components ask (a route's further LLM tiers), each
        # a classifier of its own over its own transports, watched by the same observers.
        # Keyed by the config key that defines each (route.llms.<tier>): what its
        # errors name (its API key, a budget its price cannot count).
        self.companions: dict[str, Classifier] = {}
        for component in self.engine.components:
            for key, companion_config in component.companions().items():
                try:
                    companion = Classifier(companion_config, observers=self.observers)
                except ConfigError as error:
                    self.close()
                    raise ConfigError(f"{key}: {error}") from None
                self.companions[key] = companion
                component.attach(key, companion)

    @classmethod
    def from_config(
        cls, overrides: Sequence[str] = (), *, config_dir: str | Path | None = None
    ) -> Classifier:
        """Compose conf/ (or `config_dir`) with command-line style overrides."""
        directory = Path(config_dir).resolve() if config_dir is not None else None
        return cls(load_run_config(compose(overrides, config_dir=directory)))

    # -- what the runner and the record read ----------------------------------------

    @property
    def identity(self) -> dict[str, Any]:
        return self.engine.identity

    @property
    def cache(self) -> ResponseCache:
        return self.stack.cache

    @property
    def throttle(self) -> Throttle:
        return self.stack.throttle

    @property
    def health(self) -> ProviderHealth:
        return self.stack.health

    @property
    def local_server(self) -> LocalServer | None:
        return self.stack.local.server if self.stack.local is not None else None

    @property
    def embedded_model(self) -> bool:
        """Whether the run's model runs in this machine's local server (its cores are
        taken: no worker processes beside it)."""
        return self.stack.local is not None

    @property
    def batch(self) -> BatchLayer | None:
        """run.mode=batch: the transport's batch layer (the batch driver runs its rounds)."""
        return self.stack.batch

    @property
    def components(self) -> tuple[Component, ...]:
        """What stands beside the LLM for each item (framework.engine.components)."""
        return self.engine.components

    def describe(self) -> dict[str, Any]:
        """What record.json keeps of how this classifier asks: the prompt, the label keys,
        the output mode and the transport (for provider=local, which llama.cpp runtime and
        why, and its processes, threads and slots)."""
        engine = self.engine
        return {
            "prompt": {"template": self.config.prompt.template, "digest": engine.renderer.digest},
            "label_keys": dataclasses.asdict(engine.label_keys),
            "output_mode": dataclasses.asdict(engine.output_mode),
            "transport": dataclasses.asdict(self.stack.choice)
            | ({"local": self.stack.local.server.describe()} if self.stack.local else {}),
        }

    def sections(self) -> dict[str, Any]:
        """The components' sections of record.json, as they stand now (their counters
        too); null for a section no component of this run fills."""
        found: dict[str, Any] = dict.fromkeys(record_sections())
        for component in self.engine.components:
            merge_sections(found, component.describe())
        if self.engine.images is not None:
            merge_sections(found, self.engine.images.describe())
            # Beside the LLM, what reads a row reads its text: no image embeddings yet.
            names = [component.name for component in self.engine.components]
            if names:
                found["images"]["read_text_only"] = names
        return found

    def carry(self) -> dict[str, Any]:
        """What the components learnt in this process before the rows (a route's
        calibration answers), for the classifiers of worker processes: carried()."""
        found = {component.name: component.carry() for component in self.engine.components}
        return {name: state for name, state in found.items() if state is not None}

    def carried(self, states: dict[str, Any]) -> None:
        """In a worker process: what carry() gave in the run's process."""
        for component in self.engine.components:
            if component.name in states:
                component.carried(states[component.name])

    def engine_over(self, transport: Transport) -> Engine:
        """This run's engine over another transport (what `labelwise plan` and
        requests_for run on: one that sends nothing)."""
        return build_engine(self.config, transport, endpoint=self.endpoint)

    def example_answer(self, labels: int) -> str:
        """An answer of the usual shape naming `labels` labels (for estimates)."""
        return self.engine.strategy.example_answer(labels)

    def use_trained_model(self, config: RunConfig) -> None:
        """Label from now on with the trained model `config` names (a distilled run's next
        phase: framework.runner.distill), over the same transports; the identity stays
        the one the run's results file was opened with."""
        engine = build_engine(config, self.stack.top, endpoint=self.endpoint)
        self._close_components()  # the engine's before: its embedder, and the like
        self.engine = dataclasses.replace(engine, identity=self.engine.identity)
        self.config = config
        self._preview = None

    # -- the synchronous API -------------------------------------------------

    def classify(
        self, text: str, *, id: str = "0", images: Sequence[str | bytes] = ()
    ) -> Prediction:
        """`images`: paths (inside the working folder unless images.inside_input_folder=false),
        https URLs, data: URIs or bytes, sent beside the text (a classifier made with
        columns.image set; docs/images.md)."""
        return self._portal().run(self.aclassify(text, id=id, images=images))

    def classify_many(self, texts: Iterable[str | Item]) -> list[Prediction]:
        """Predictions in input order; strings get ids "0", "1", ..."""
        return self._portal().run(self.aclassify_many(texts))

    def requests_for(self, text: str) -> list[CompiledRequest]:
        """The requests a text's classification starts with (one per question, chunk and
        sample; re-asks come after them), as the engine compiles them; none for an empty
        text. Nothing is sent: the engine runs over a recording transport."""
        if self._preview is None:
            self._preview = self.engine_over(_Preview(self))
        transport = self._preview.asker.transport
        assert isinstance(transport, RecordingTransport)
        transport.requests.clear()
        self._portal().run(self._preview.classify_item(Item("preview", text)))
        return list(transport.requests)

    async def release(self) -> None:
        """Let go of the connections held in the running event loop (a runner calls it when
        its loop ends); the classifier stays usable."""
        await self.stack.top.release()
        for companion in self.companions.values():
            await companion.release()
        await release_loop_clients()

    async def aclose(self) -> None:
        """close() for asyncio code: from inside the loop that made the calls."""
        await self.stack.top.aclose()
        self._close_components()
        for companion in self.companions.values():
            await companion.aclose()
        await release_loop_clients()

    def close(self) -> None:
        """Stop the local model server, if one was started, and the private loop."""
        self._portal().run(self._close_in_loop())
        self._close_components()
        for companion in self.companions.values():
            companion.close()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    async def _close_in_loop(self) -> None:
        await self.stack.top.aclose()
        await release_loop_clients()

    def _close_components(self) -> None:
        for component in self.engine.components:
            component.close()

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the asynchronous API ------------------------------------------------

    async def aclassify(
        self, text: str, *, id: str = "0", images: Sequence[str | bytes] = ()
    ) -> Prediction:
        self.check_answers_now()
        if images and self.engine.images is None:
            raise ConfigError(
                "columns.image: images are sent by a classifier made with columns.image set "
                "(e.g. overrides=['columns.image=image', 'model.vision=true'])"
            )
        refs = tuple(
            ImageRef("bytes", image) if isinstance(image, bytes) else ImageRef(image)
            for image in images
        )
        return await self.classify_item(Item(id=id, text=text, images=refs))

    async def aclassify_many(self, texts: Iterable[str | Item]) -> list[Prediction]:
        self.check_answers_now()
        items = [t if isinstance(t, Item) else Item(str(n), t) for n, t in enumerate(texts)]
        limit = asyncio.Semaphore(self.config.run.concurrency)

        async def one(item: Item) -> Prediction:
            async with limit:
                return await self.classify_item(item)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(item)) for item in items]
        except ExceptionGroup as failed:  # a fatal error: the others were cancelled
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    async def classify_item(self, item: Item) -> Prediction:
        with self.observers.row(item) as row:
            prediction = await self.engine.classify_item(item)
            row.finished(prediction)
        return prediction

    def check_answers_now(self) -> None:
        """A ConfigError when this config cannot answer a text now (batch jobs,
        distillation): they need a file of rows."""
        if self.config.distill.sample is not None:
            raise ConfigError(
                said_as_written(
                    "distill.sample: the model is taught by the LLM's answers on a sample of "
                    "a file's rows, so single texts cannot be labeled this way; classify a "
                    "file (labelwise classify, or framework.runner.run.classify_file), or "
                    "give the trained model labeled rows with trained.pool"
                )
            )
        if self.config.quality.llm_rows:
            raise ConfigError(
                "quality.llm_rows: the route's llm tier is certified on the LLM's answers to "
                "calibration rows, asked when a file is classified, so single texts cannot be "
                "routed through it; classify a file (labelwise classify, or "
                "framework.runner.run.classify_file), or set quality.llm_rows=0"
            )
        if self.config.run.mode == "batch":
            raise ConfigError(
                "run.mode: batch jobs answer within hours, so classify() and classify_many() "
                "cannot wait for them; classify a file (labelwise classify, or "
                "framework.runner.run.classify_file) in batch mode, or use run.mode=online"
            )

    def _portal(self) -> BackgroundLoop:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop


class _Preview(RecordingTransport):
    """Records the requests and accepts each with an answer of the usual shape."""

    def __init__(self, classifier: Classifier) -> None:
        strategy = classifier.engine.strategy
        super().__init__(lambda _: Completion(strategy.example_answer(1), Usage(), 0.0))


def _endpoint(config: RunConfig, model_file: ModelFile | None) -> str:
    """What decides an answer beyond the request: the model file, or the server's URL."""
    if model_file is not None:
        return f"gguf:{model_file.sha256}"
    return config.provider.api_base or ""


def _check_budget_is_priced(config: RunConfig) -> None:
    """budget.max_cost needs a price; without one it would be ignored without a word (a
    further LLM tier's config carries its cap there: framework.config.tier_config)."""
    llm_cap = config.budget.tiers.get("llm")
    key = "budget.max_cost"
    if config.budget.max_cost is None and llm_cap is not None and llm_cap.max_cost is not None:
        key = "budget.tiers.llm.max_cost"
    elif config.budget.max_cost is None:
        return
    from framework.providers.pricing import price

    profile = PROFILES[config.provider.kind]
    litellm_model = f"{profile.litellm_prefix}/{config.model.name}"
    if price(config.provider, config.model, litellm_model, Usage(1000, 1000)) is None:
        raise ConfigError(
            f"{key}: the price of {config.model.name!r} on {config.provider.kind} is "
            "unknown, so spending cannot be counted; give it with model.input_cost_per_mtok=... "
            "and model.output_cost_per_mtok=... (USD per million tokens), or cap tokens with "
            "budget.max_tokens instead"
        )


def _local_model_file(config: RunConfig) -> ModelFile | None:
    if not PROFILES[config.provider.kind].embedded or config.model.gguf is None:
        return None
    from framework.providers.local.models import resolve_model_file

    return resolve_model_file(config.model.gguf, name=config.model.name)
