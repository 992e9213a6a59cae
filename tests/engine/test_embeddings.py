"""embeddings: a provider's embedding model through litellm, for the examples' likeness
and the trained model's features, each vector cached like a completion.

The model is the stub's /v1/embeddings (framework/testing/embeddings.py: a hashed bag of
words, so texts sharing cue words are alike), reached over real HTTP by litellm.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from framework.config.schema import EmbeddingSettings, ExamplesSettings, TrainedModelSettings
from framework.engine.components.examples import ExamplePicker
from framework.errors import ProviderError
from framework.learning.example_index import build_index
from framework.learning.trained import TrainedModel, fit_model
from framework.records import Item
from framework.testing import Reply, StubServer
from tests.support import classify_command, cli_env, read_jsonl, run_cli, write_jsonl
from tests.support.news_pool import CUES, LABELS, embedding_args, news_label_set, pool_rows


def embedder_for(
    stub: StubServer, tmp_path: Path, *, mode: str = "on", **settings: object
) -> object:
    """An Embedder of the stub's model (or settings' model), its cache in tmp_path."""
    from framework.providers.embeddings import Embedder

    given = EmbeddingSettings.model_validate(
        {"model": "stub-embed", "kind": "openai_compatible", "api_base": stub.url, **settings}
    )
    return Embedder(given, cache_path=tmp_path / "responses.sqlite", cache_mode=mode)


@pytest.mark.slow
def test_vectors_come_in_batches_of_unit_length_and_a_second_ask_is_answered_by_the_cache(
    stub: StubServer, tmp_path: Path
) -> None:
    from framework.providers.embeddings import Embedder

    texts = [str(row["text"]) for row in pool_rows(10)]
    embedder = embedder_for(stub, tmp_path, batch_size=4)
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed_now(texts)
    assert vectors.shape == (10, 64)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert [len(body["input"]) for body in stub.embedding_requests] == [4, 4, 2]
    assert stub.embedding_requests[0]["model"] == "stub-embed"  # the prefix is litellm's

    stub.embedding_requests.clear()
    again = embedder_for(stub, tmp_path, batch_size=4)
    assert isinstance(again, Embedder)
    assert np.allclose(again.embed_now([texts[3], texts[0]]), vectors[[3, 0]])
    assert stub.embedding_requests == [] and again.cached == 2
    # Another model is another vector: not answered from this model's entries.
    other = embedder_for(stub, tmp_path, model="other")
    assert isinstance(other, Embedder)
    other.embed_now(texts[:1])
    assert len(stub.embedding_requests) == 1
    # cache.mode=off reads nothing.
    off = embedder_for(stub, tmp_path, mode="off")
    assert isinstance(off, Embedder)
    off.embed_now(texts[:2])
    assert len(stub.embedding_requests) == 2


def test_a_rate_limit_is_waited_out_and_a_bad_request_is_raised(
    stub: StubServer, tmp_path: Path
) -> None:
    from framework.providers.embeddings import Embedder

    embedder = embedder_for(stub, tmp_path, max_retries=2)
    assert isinstance(embedder, Embedder)
    stub.embedding_faults.extend([429])
    vectors = embedder.embed_now(["rocket orbit"])
    assert vectors.shape == (1, 64) and len(stub.embedding_requests) == 2

    stub.embedding_faults.extend([400])
    import asyncio

    with pytest.raises(ProviderError) as raised:
        asyncio.run(embedder.embed(["carbon drought"]))
    assert "injected embeddings error" in str(raised.value)
    assert len(stub.embedding_requests) == 3  # a bad request is not tried again


def test_examples_by_embeddings_are_the_nearest_rows_and_never_the_item(
    stub: StubServer, tmp_path: Path
) -> None:
    from framework.providers.embeddings import Embedder

    embedder = embedder_for(stub, tmp_path)
    assert isinstance(embedder, Embedder)
    rows = pool_rows(100)
    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in rows]  # type: ignore[call-overload]
    index = build_index(triples, pool_sha256="0" * 64, embed=embedder.embed_now)
    assert index.by_embeddings and index.vectors.shape == (100, 64)
    settings = ExamplesSettings(pool="pool.jsonl", selection="similar", k=3, likeness="embeddings")
    picker = ExamplePicker(index, settings, news_label_set())
    for topic in ("space", "climate", "technology"):
        text = " ".join(CUES[topic][:4])
        chosen = picker.pick(Item("new", text), embedder.embed_now([text])[0])
        assert len(chosen) == 3
        assert all(topic in rows[n]["labels"] for n in chosen), (topic, chosen)  # type: ignore[operator]
    own = rows[7]
    vector = embedder.embed_now([str(own["text"])])[0]
    assert 7 not in picker.pick(Item(str(own["id"]), str(own["text"])), vector)
    mmr = ExamplePicker(
        index, settings.model_copy(update={"selection": "mmr"}), news_label_set()
    ).pick(Item("x", "rocket orbit moon"), embedder.embed_now(["rocket orbit moon"])[0])
    assert len(mmr) == 3


@pytest.mark.parametrize("features", ["embeddings", "both"])
def test_a_model_on_embedding_features_learns_the_topics_and_reloads(
    stub: StubServer, tmp_path: Path, features: str
) -> None:
    from framework.providers.embeddings import Embedder

    embedder = embedder_for(stub, tmp_path)
    assert isinstance(embedder, Embedder)
    rows = pool_rows(150)
    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in rows]  # type: ignore[call-overload]
    settings = TrainedModelSettings(use="ensemble", pool="p", features=features)
    model = fit_model(triples, LABELS, settings, pool_sha256="0" * 64, embed=embedder.embed_now)
    assert model.embedded and model.describe()["features"] == features
    text = "astronaut telescope today report"
    got = model.probabilities(Item("new", text), embedder.embed_now([text])[0])
    assert got["space"] > 0.5 and got["space"] == max(got.values())
    with pytest.raises(ValueError, match="needs the vector"):
        model.probabilities(Item("new", text))
    path = tmp_path / "model.joblib"
    model.save(path)
    loaded = TrainedModel.load(path)
    vector = embedder.embed_now([text])[0]
    assert loaded.probabilities(Item("new", text), vector) == got
    nearest = loaded.similarity(Item("new", text), vector)
    assert 0 < nearest <= 1 + 1e-6


@pytest.mark.slow
def test_a_run_with_embeddings_shows_the_nearest_rows_and_a_rerun_makes_no_embedding_call(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    rows = pool_rows(80)
    pool = write_jsonl(tmp_path / "pool.jsonl", rows)
    space = {"id": "n1", "text": "rocket astronaut moon orbit week city", "labels": ["space"]}
    fresh = [space, {"id": "n2", "text": "carbon drought heatwave after", "labels": ["climate"]}]
    source = write_jsonl(tmp_path / "in.jsonl", fresh)
    out, run = tmp_path / "out.jsonl", tmp_path / "run"
    result = run_cli(classify_command(source, out, stub, run, *embedding_args(stub, pool)))
    assert result.returncode == 0, result.stderr
    # The pool once (its 80 texts in 2 calls of 64), then each input row's text.
    pool_calls = math.ceil(80 / 64)
    assert len(stub.embedding_requests) == pool_calls + 2
    embedded = [t for body in stub.embedding_requests for t in body["input"]]
    assert {str(r["text"]) for r in rows} | {r["text"] for r in fresh} == set(embedded)
    prompt = stub.requests[0]["messages"][-1]["content"]
    before, _ = prompt.rsplit("<text>", 1)
    first_text = str(stub.requests[0]["messages"][-1]["content"])
    wanted = "space" if "rocket" in first_text.rsplit("<text>", 1)[1] else "climate"
    shown = [r for r in rows if str(r["text"]) in before]
    assert len(shown) == 2 and all(wanted in r["labels"] for r in shown)  # type: ignore[operator]
    results = {r["id"]: r for r in read_jsonl(out)}
    assert set(results) == {"n1", "n2"} and all(r["status"] == "ok" for r in results.values())
    assert results["n1"]["sources"]["trained"]["space"] > 0.5
    record = json.loads((run / "record.json").read_text())
    assert record["embeddings"]["model"] == "openai/stub-embed"
    assert record["embeddings"]["for"] == ["examples.likeness", "trained.features"]
    assert record["embeddings"]["calls"] == 2  # this process's: one per input row

    # The same run again into a new output: every vector from the cache, the same labels.
    stub.embedding_requests.clear()
    again_out = tmp_path / "again.jsonl"
    again = run_cli(
        classify_command(source, again_out, stub, tmp_path / "r2", *embedding_args(stub, pool))
    )
    assert again.returncode == 0, again.stderr
    assert stub.embedding_requests == []
    assert {r["id"]: r["labels"] for r in read_jsonl(again_out)} == {
        k: v["labels"] for k, v in results.items()
    }


@pytest.mark.slow
def test_a_row_whose_embedding_fails_is_recorded_failed_and_the_run_goes_on(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(80))
    build = write_jsonl(tmp_path / "first.jsonl", pool_rows(1, seed=3))
    args = embedding_args(stub, pool, "run.concurrency=1")
    first = run_cli(classify_command(build, tmp_path / "o1.jsonl", stub, tmp_path / "r1", *args))
    assert first.returncode == 0, first.stderr  # the pool's artifacts are built and kept
    stub.embedding_faults.extend([400])
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": f"x{n}", "text": f"rocket orbit number {n}"} for n in range(3)],
    )
    out = tmp_path / "out.jsonl"
    result = run_cli(classify_command(source, out, stub, tmp_path / "r2", *args))
    assert result.returncode in (0, 1), result.stderr
    rows = read_jsonl(out)
    assert sorted(r["id"] for r in rows) == ["x0", "x1", "x2"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "embedding" in failed[0]["error"]
    assert "injected embeddings error" in failed[0]["error"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        (["examples=similar", "examples.likeness=embeddings"], "embeddings.model"),
        (["trained.use=ensemble", "trained.features=both"], "embeddings.model"),
        (["embeddings.kind=nosuch"], "embeddings.kind"),
        (
            [
                "embeddings=openai-small",
                "trained.use=cascade",
                "trained.features=embeddings",
                "trained.distill.sample=20",
            ],
            "trained.features",
        ),
        (
            ["embeddings=openai-small", "examples=similar", "examples.likeness=embeddings"],
            "embeddings.api_key_env",
        ),
        (["trained.features=words"], "trained.features"),
        (  # no server where the embedding model should be: the pool cannot be embedded
            [
                "embeddings=openai_compatible",
                "embeddings.api_base=http://127.0.0.1:9/v1",
                "embeddings.model=gone",
                "embeddings.max_retries=0",
                "trained.use=alone",
                "trained.features=both",
            ],
            "embeddings.model",
        ),
    ],
)
@pytest.mark.slow
def test_a_bad_embeddings_setting_names_its_key(
    stub: StubServer, tmp_path: Path, override: list[str], key: str
) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(30))
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(3, seed=5))
    out = tmp_path / "out.jsonl"
    extra = ["taxonomy=news", f"examples.pool={pool}", *override]
    if "trained.distill.sample=20" not in override:
        extra.append(f"trained.pool={pool}")
    env = {k: v for k, v in cli_env().items() if k != "OPENAI_API_KEY"}
    result = run_cli(classify_command(source, out, stub, tmp_path / "run", *extra), env=env)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "Traceback" not in result.stderr
    assert stub.requests == [] and stub.embedding_requests == [] and not out.exists()


def test_tune_tries_each_feature_set_where_a_model_is_used() -> None:
    from framework.config.tune_settings import TuneSettings

    settings = TuneSettings.from_overrides(
        ["tune.examples=[none]", "tune.trained=[off,alone]", "tune.features=[tfidf,both]"]
    )
    recipes = settings.recipes(pool="dev.jsonl")
    assert [r.name for r in recipes] == [
        "labels_array.no-examples.trained-off",  # no model: no features to choose
        "labels_array.no-examples.trained-alone",  # the name it had before features
        "labels_array.no-examples.trained-alone-both",
    ]
    assert "trained.features=both" in recipes[2].overrides
    assert not any(o.startswith("trained.features") for o in recipes[1].overrides)


@pytest.mark.slow
def test_tune_with_embedding_features_writes_the_features_into_the_experiment(
    stub: StubServer, tmp_path: Path
) -> None:
    from tests.support.cli import tune_command

    dev = write_jsonl(tmp_path / "dev.jsonl", pool_rows(160))
    out = tmp_path / "tune"
    embeddings = embedding_args(stub, dev)[2:5]
    command = tune_command(
        stub, dev, out, "tune.trained=[alone]", "tune.features=[tfidf,both]", *embeddings
    )
    result = run_cli(command)
    assert result.returncode == 0, result.stderr
    state = json.loads((out / "tune.json").read_text())
    recipes = {o["recipe"] for o in state["outcomes"]}
    assert recipes == {
        "labels_array.no-examples.trained-alone",
        "labels_array.no-examples.trained-alone-both",
    }
    assert stub.requests == [] and stub.embedding_requests  # no LLM call; vectors asked
    experiment = (out / "experiment" / "tuned.yaml").read_text()
    assert "override /embeddings: openai_compatible" in experiment  # the group, and its keys
    assert "model: stub-embed" in experiment
    both_won = state["winner"]["recipe"].endswith("-both")
    assert ("features: both" in experiment or "trained.features=both" in experiment) == both_won


@pytest.mark.slow
def test_refused_credentials_at_the_embedding_model_stop_the_run_and_it_resumes(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(80))
    args = embedding_args(stub, pool, "run.concurrency=1")
    first = write_jsonl(tmp_path / "first.jsonl", pool_rows(1, seed=3))
    built = run_cli(classify_command(first, tmp_path / "o1.jsonl", stub, tmp_path / "r1", *args))
    assert built.returncode == 0, built.stderr  # the pool's artifacts are built and kept
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": f"x{n}", "text": f"rocket orbit number {n}"} for n in range(3)],
    )
    out = tmp_path / "out.jsonl"
    stub.embedding_faults.extend([401])
    stopped = run_cli(classify_command(source, out, stub, tmp_path / "r2", *args))
    assert stopped.returncode == 2, stopped.stderr
    assert "refused the credentials" in stopped.stderr and "Traceback" not in stopped.stderr
    written = read_jsonl(out) if out.exists() else []
    assert not [r for r in written if r.get("status") == "failed"]  # not blamed on a row
    resumed = run_cli(classify_command(source, out, stub, tmp_path / "r3", *args))
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["id"] for r in read_jsonl(out)) == ["x0", "x1", "x2"]
