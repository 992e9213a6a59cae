"""The files labelwise fits from a run's pools: a trained model, an examples index.

    save_artifact(path, FORMAT, state)   # state: plain values, arrays, fitted scikit-learn
    model = load_artifact(path, FORMAT, TRUSTED, build, key="trained.artifact", ...)

Why skops and not joblib: joblib files are pickles, and loading a pickle runs whatever
code the file names. The cache folder may be shared and its names are predictable, so
one written file would run code in every later run (hostile cases 45-47). skops.io (0.16)
reads a zip of JSON and .npy files (numpy's, without pickle) and, before it builds
anything, refuses a file that names any type beyond scikit-learn's and numpy's and the
`trusted` names given here. Only labelwise's own names are given: never a function that
could run other code. Numpy arrays and JSON alone would mean rebuilding fitted
scikit-learn estimators from their private attributes by hand.

Each file is written atomically (a temporary file of this process, then renamed), so two
runs fitting at once never leave half a file. A missing, truncated or foreign file, or a
pickle from an earlier labelwise (never unpickled), is a ConfigError naming the config
key behind it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from framework.errors import ConfigError

__all__ = ["LEGACY_NOTE", "SUFFIX", "is_pickle", "load_artifact", "save_artifact"]

SUFFIX = ".skops"
# Said once when a pool's artifact is fit anew beside an old pickle of the same pool.
LEGACY_NOTE = (
    "an artifact from an earlier labelwise (pickle) is not loaded; refitting from the pool"
)
T = TypeVar("T")
# How a file of joblib (zlib, gzip, bz2, xz, lz4 compressed, or plain) or pickle starts.
_PICKLE_STARTS = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x04\x22\x4d\x18")


def save_artifact(path: Path, format: str, state: dict[str, Any]) -> None:
    import skops.io

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    skops.io.dump({"format": format, **state}, temporary, compression=zipfile.ZIP_DEFLATED)
    temporary.replace(path)


def is_pickle(path: Path) -> bool:
    """Whether the file is a joblib or pickle file (what labelwise wrote before it used
    skops), by its name or its first bytes: such a file is never loaded."""
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return head.startswith(_PICKLE_STARTS)


def load_artifact(
    path: Path,
    format: str,
    trusted: Sequence[str | type],
    build: Callable[[dict[str, Any]], T],
    *,
    key: str,
    what: str,
    missing: str,
    remake: str,
    legacy: str | None = None,
) -> T:
    """What `build` makes of the state saved under `format`; `missing` is the error when
    there is no file, `what` and `remake` word the one for a file that is not one, and
    `legacy` says what to do about a pickle from an earlier labelwise (by default: delete
    it and run again)."""
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    if not path.is_file():
        raise ConfigError(f"{key}: {missing}")
    redo = f"delete it and run again to {remake}"
    if not zipfile.is_zipfile(path) and is_pickle(path):
        raise ConfigError(
            f"{key}: {path} is a pickle from an earlier labelwise, which is never loaded "
            f"(loading a pickle can run any code); {legacy or redo}"
        )
    try:
        data = skops.io.load(path, trusted=list(trusted))
    except UntrustedTypesFoundException as error:
        unsafe = str(error).splitlines()[0].removeprefix("Untrusted types found in the file: ")
        unsafe = unsafe.rstrip(".").strip("[]").replace("'", "")
        raise ConfigError(
            f"{key}: {path} names types labelwise never writes ({_line(unsafe)}), so it is "
            f"not loaded (they could run code); {redo}"
        ) from None
    except Exception as error:  # truncated, not a zip, not skops's
        raise ConfigError(
            f"{key}: {path} is not a labelwise {what} ({_line(error)}); {redo}"
        ) from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != format:
        raise ConfigError(f"{key}: {path} is not a {format} file ({_line(found)}); {redo}")
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ConfigError(
            f"{key}: {path} is not a labelwise {what} (it holds no valid {_line(error)}); {redo}"
        ) from None


def _line(value: Any, limit: int = 200) -> str:
    """A value as one short line, for an error message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
