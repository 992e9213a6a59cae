"""No code from data files: a trained model or an examples index is a skops file, and
loading one runs no code (hostile cases 45-48, turn 3).

Each hostile file is put where labelwise loads from: the explicit `trained.artifact=`,
and the cache folder's own name for the trained model and for the examples index. The
payloads are live (each test shows its file would write the marker if it were trusted);
labelwise must refuse them with exit 2 and one line naming the key, and write nothing.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from framework.config.load import compose, load_run_config
from framework.labels.taxonomy import label_ids
from framework.learning.example_index import build_index, index_path
from framework.learning.trained import TrainedModel, artifact_path
from framework.records import Item
from framework.testing import Reply, StubServer
from tests.support import classify_command, read_jsonl, run_cli, stub_overrides, write_jsonl
from tests.support.news_pool import fitted, pool_rows


class Payload:
    """A pickle that writes the marker file when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def evil_pickle(path: Path, marker: Path, format: str) -> Path:
    """What an earlier labelwise's joblib artifact looks like, with a payload inside."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format": format, "model": Payload(marker), "index": Payload(marker)}, path)
    return path


def evil_skops(path: Path, marker: Path, format: str) -> Path:
    """A skops archive with the right format tag whose schema names builtins.exec, called
    with code that writes the marker when the file is built."""
    import skops.io

    path.parent.mkdir(parents=True, exist_ok=True)
    code = f"open({str(marker)!r}, 'w').close()"
    skops.io.dump({"format": format, "payload": (code,)}, path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    payload = schema["content"]["payload"]  # the tuple node: exec's arguments
    schema["content"]["payload"] = {
        "__class__": "exec",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "content": payload,
        "__id__": 1,
    }
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_the_payloads_are_live(tmp_path: Path) -> None:
    """Without labelwise's refusal each file would run its code: the tests below mean it."""
    import joblib
    import skops.io

    marker = tmp_path / "PWNED"
    joblib.load(evil_pickle(tmp_path / "a.joblib", marker, "x"))
    assert marker.exists()
    marker.unlink()
    evil = evil_skops(tmp_path / "a.skops", marker, "x")
    assert "builtins.exec" in skops.io.get_untrusted_types(file=evil)
    skops.io.load(evil, trusted=["builtins.exec"])
    assert marker.exists()


@pytest.mark.slow
def test_a_model_saved_and_loaded_gives_the_same_probabilities(tmp_path: Path) -> None:
    rows = pool_rows(120)
    model = fitted(rows)
    path = tmp_path / "model.skops"
    model.save(path)
    assert zipfile.is_zipfile(path)
    loaded = TrainedModel.load(path)
    assert loaded.labels == model.labels and loaded.pool_sha256 == model.pool_sha256
    # rows of the pool (each from its fold's model) and new texts (the whole pool's)
    items = [Item(str(r["id"]), str(r["text"])) for r in rows[:10]]
    items += [Item(f"new{n}", str(r["text"])) for n, r in enumerate(pool_rows(10, seed=5))]
    for item in items:
        assert loaded.probabilities(item) == model.probabilities(item)
        assert loaded.similarity(item) == model.similarity(item)
    assert (loaded.pool_scores == model.pool_scores).all()


def test_an_index_saved_and_loaded_shows_the_same_rows(tmp_path: Path) -> None:
    from framework.learning.example_index import ExampleIndex

    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in pool_rows(60)]  # type: ignore[call-overload]
    index = build_index(triples, pool_sha256="1" * 64)
    path = tmp_path / "index.skops"
    index.save(path)
    loaded = ExampleIndex.load(path)
    assert (loaded.ids, loaded.texts, loaded.labels) == (index.ids, index.texts, index.labels)
    item = Item("x", "rocket orbit carbon today")
    assert (loaded.likeness(item) == index.likeness(item)).all()


# -- through the command line, against the stub --------------------------------------------


def trained_overrides(pool: Path, *extra: str) -> list[str]:
    return [
        "taxonomy=news",
        "validation=lenient",
        "trained.use=alone",
        f"trained.pool={pool}",
        *extra,
    ]


def examples_overrides(pool: Path) -> list[str]:
    return ["taxonomy=news", "validation=lenient", "examples=similar", f"examples.pool={pool}"]


def command(name: str, stub: StubServer, tmp_path: Path, overrides: list[str]) -> list[str]:
    source = write_jsonl(tmp_path / "in.jsonl", pool_rows(5, seed=8))
    if name == "classify":
        return classify_command(source, tmp_path / "out.jsonl", stub, tmp_path / "run", *overrides)
    run = f"hydra.run.dir={tmp_path / 'run'}"
    plan = ["plan", f"input={source}", *stub_overrides(stub), run, *overrides]
    return [sys.executable, "-m", "framework", *plan]


def cache_path(overrides: list[str], kind: str) -> Path:
    config = load_run_config(compose(overrides))
    if kind == "trained":
        return artifact_path(config, label_ids(config.taxonomy))
    return index_path(config)


def assert_refused(result: Any, key: str, marker: Path) -> None:
    assert not marker.exists(), "the artifact ran code"
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "AssertionError" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "labelwise: error:" in line]
    assert len(errors) == 1 and f"error: {key}: " in errors[0], result.stderr
    assert "labelwise: error:" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["classify", "plan"])
@pytest.mark.parametrize("make", [evil_pickle, evil_skops], ids=["pickle", "skops"])
@pytest.mark.parametrize("where", ["trained.artifact", "cache-trained", "cache-examples"])
def test_a_hostile_artifact_runs_no_code_and_is_refused(
    stub: StubServer, tmp_path: Path, name: str, make: Any, where: str
) -> None:
    marker = tmp_path / "PWNED"
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(60))
    if where == "trained.artifact":
        overrides = trained_overrides(pool, f"trained.artifact={tmp_path / 'evil.bin'}")
        make(tmp_path / "evil.bin", marker, "labelwise-trained/3")
        key = "trained.artifact"
    elif where == "cache-trained":
        overrides = trained_overrides(pool)
        make(cache_path(overrides, "trained"), marker, "labelwise-trained/3")
        key = "trained.artifact"
    else:
        overrides = examples_overrides(pool)
        make(cache_path(overrides, "examples"), marker, "labelwise-examples/2")
        key = "examples.pool"
    result = run_cli(command(name, stub, tmp_path, overrides))
    assert_refused(result, key, marker)
    assert stub.requests == []
    if make is evil_pickle:
        assert "a pickle from an earlier labelwise, which is never loaded" in result.stderr
    else:
        assert "builtins.exec" in result.stderr and "could run code" in result.stderr


@pytest.mark.slow
def test_an_old_joblib_artifact_named_by_trained_artifact_is_refused_with_the_way_out(
    stub: StubServer, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(60))
    old = evil_pickle(tmp_path / "model.joblib", marker, "labelwise-trained/2")
    overrides = trained_overrides(pool, f"trained.artifact={old}")
    result = run_cli(command("classify", stub, tmp_path, overrides))
    assert_refused(result, "trained.artifact", marker)
    assert "remove trained.artifact to fit the model from trained.pool" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["trained", "examples"])
def test_an_old_pickle_in_the_cache_folder_is_left_alone_and_the_artifact_refit(
    stub: StubServer, tmp_path: Path, kind: str
) -> None:
    """The names changed with the format: the old file is never opened, a new one is fit."""
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    marker = tmp_path / "PWNED"
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(60))
    overrides = trained_overrides(pool) if kind == "trained" else examples_overrides(pool)
    new = cache_path(overrides, kind)
    old_name = f"{new.name.split('-')[0]}-{new.name.split('-')[1]}-1.joblib"
    evil_pickle(new.parent / old_name, marker, "labelwise-trained/2")
    result = run_cli(command("classify", stub, tmp_path, overrides))
    assert result.returncode == 0, result.stderr
    assert not marker.exists() and new.is_file() and zipfile.is_zipfile(new)
    note = "an artifact from an earlier labelwise (pickle) is not loaded; refitting from the pool"
    assert result.stderr.count(note) == 1
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("truncated", "is not a labelwise trained model"),
        ("examples index", "is not a labelwise-trained/3 file"),
        ("right tag, foreign content", "is not a labelwise trained model"),
        ("another pool", "was fit on another pool"),
    ],
)
@pytest.mark.slow
def test_a_foreign_trained_artifact_is_refused_naming_the_key(
    stub: StubServer, tmp_path: Path, damage: str, says: str
) -> None:
    import skops.io

    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(60))
    artifact = tmp_path / "model.skops"
    if damage == "truncated":
        fitted(pool_rows(60)).save(artifact)
        artifact.write_bytes(artifact.read_bytes()[:5000])
    elif damage == "examples index":
        triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in pool_rows(60)]  # type: ignore[call-overload]
        build_index(triples, pool_sha256="0" * 64).save(artifact)
    elif damage == "right tag, foreign content":
        skops.io.dump({"format": "labelwise-trained/3", "model": [1, 2, 3]}, artifact)
    else:  # a model fit on another pool, then named beside trained.pool
        other = write_jsonl(tmp_path / "other.jsonl", pool_rows(60, seed=4))
        fit = run_cli(
            command(
                "plan", stub, tmp_path, trained_overrides(other, f"trained.artifact={artifact}")
            )
        )
        assert fit.returncode == 0 and artifact.is_file(), fit.stderr
    overrides = trained_overrides(pool, f"trained.artifact={artifact}")
    result = run_cli(command("classify", stub, tmp_path, overrides))
    assert_refused(result, "trained.artifact", tmp_path / "no-marker")
    assert says in result.stderr
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "run" / "record.json").exists()
