"""The GoEmotions-Ekman dev split's local embeddings (embeddings=local), made once a
session: the presets use them, and embedding 5,426 texts takes minutes on 2 cores.

    shutil.copy(dev_vectors_cache, cache_folder / "responses.sqlite")

The file is labelwise's own response cache holding only those vectors, under the
identity a run with embeddings=local gives them, so a run whose cache folder starts
from a copy asks the model for none of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support import REPO

DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"


def build_dev_vectors(folder: Path) -> Path:
    """responses.sqlite in `folder` with every dev-split text's vector."""
    from framework.config.schema import EmbeddingSettings
    from framework.providers.embeddings import Embedder

    path = folder / "responses.sqlite"
    texts = [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=path, cache_mode="on")
    try:
        embedder.embed_now(texts)
    finally:
        embedder.close()
    return path


def with_dev_vectors(vectors: Path, cache_folder: Path) -> None:
    """Start a cache folder from the dev split's vectors."""
    cache_folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(vectors, cache_folder / "responses.sqlite")
