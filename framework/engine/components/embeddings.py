"""The item's embedding, asked once of the embedding model for whatever uses it (the
examples' likeness, the trained model's features, the cascade's likeness check).

A row whose embedding call fails (after the embedder's retries) fails with the
provider's words; an error that would fail every row (a refused key, an embedding
server taken for down) stops the run.
"""

from __future__ import annotations

from typing import Any

from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.conversation import Unanswered
from framework.errors import ProviderError
from framework.providers.embeddings import Embedder, embedding_identity, embedding_uses
from framework.records import Prediction
from framework.secrets import redact_url

__all__ = ["EmbeddingsComponent"]


class EmbeddingsComponent(Component):
    name = "embeddings"
    section = "embeddings"

    def __init__(self, embedder: Embedder, parts: Parts) -> None:
        self.embedder, self.config = embedder, parts.config

    @classmethod
    def build(cls, parts: Parts) -> EmbeddingsComponent | None:
        embedder = Embedder.for_run(parts.config)
        return None if embedder is None else cls(embedder, parts)

    def identity(self) -> dict[str, Any]:
        """Which vectors rank the examples or feed the model."""
        found = embedding_identity(self.config.embeddings)
        return {f"embeddings.{key}": value for key, value in found.items()}

    def describe(self) -> dict[str, Any]:
        """The embedding model and what uses it; this process's calls and cache hits."""
        identity = embedding_identity(self.config.embeddings)
        api_base = redact_url(identity["api_base"] or "") or None
        return {
            "embeddings": {
                **identity,
                "api_base": api_base,
                "for": embedding_uses(self.config),
                "calls": self.embedder.calls,
                "cached_texts": self.embedder.cached,
            }
        }

    async def before(self, state: ItemState) -> Prediction | None:
        try:
            state.vector = (await self.embedder.embed([state.item.text]))[0]
        except ProviderError as error:
            if error.fatal:
                raise
            raise Unanswered(f"embedding: {error}", kind=error.kind) from None
        return None

    def close(self) -> None:
        self.embedder.close()  # its connection to the cache file
