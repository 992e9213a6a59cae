"""Keeping secrets out of everything labelwise prints or writes.

Every secret a run knows of is registered here: the provider's key (from the
config, the command line or its environment variable), the values of
environment variables named like credentials, and the password of a URL with
credentials in it. `scrub` replaces each by "***" in a text; the CLI's error
line, every log handler, record.json, the results rows' error and raw fields
and Hydra's saved files pass through it. A provider that echoes the key back in
an error ("Incorrect API key provided: sk-...") cannot leak it that way.

    register_secret(key)
    scrub("Incorrect API key provided: sk-abc123")   # "Incorrect API key provided: ***"
    redact_url("http://user:pw@host/v1")              # "http://user:***@host/v1"
    scrub_stderr()          # from now on every line written to sys.stderr is scrubbed

Why stderr is wrapped rather than each printer fixed: what reaches stderr comes from
many writers labelwise does not own (Hydra's "Error executing job with overrides:
[...]" line, which quotes the command line; the interpreter's traceback of an
unexpected error, whose message may quote a URL or a key; warnings; multiprocessing's
report of a worker that crashed). Scrubbing the stream they all write to covers the
writers we know of and the ones we do not.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "ScrubbingFilter",
    "ScrubbingStream",
    "install_log_scrubbing",
    "is_secret_override",
    "redact_overrides",
    "redact_tree",
    "redact_url",
    "register_environment",
    "register_secret",
    "registered",
    "scrub",
    "scrub_secrets",
    "scrub_stderr",
]

REDACTED = "***"
# A secret shorter than this is too likely to be an ordinary word to replace everywhere.
_SHORTEST = 6
_SECRET_NAMES = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)@"
)

_values: set[str] = set()
_ordered: list[str] = []  # longest first, so a secret inside another is not half replaced
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret; from now on `scrub` hides it."""
    if not value or len(value) < _SHORTEST:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        _ordered[:] = sorted(_values, key=len, reverse=True)


def register_environment(environ: dict[str, str] | None = None) -> None:
    """Register the values of environment variables named like credentials (*_API_KEY,
    *_TOKEN, *SECRET*, *PASSWORD*), and the passwords of URLs in the environment."""
    for name, value in (os.environ if environ is None else environ).items():
        if _SECRET_NAMES.search(name):
            register_secret(value.strip())
        for match in _URL_CREDENTIALS.finditer(value):
            register_secret(match.group("pw"))


def registered() -> frozenset[str]:
    return frozenset(_values)


def scrub(text: str) -> str:
    """The text with every registered secret, and every URL password, replaced by ***."""
    if "://" in text:
        text = redact_url(text)
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(text: str) -> str:
    """URLs with their password replaced: http://user:secret@host -> http://user:***@host."""
    return _URL_CREDENTIALS.sub(rf"\g<scheme>\g<user>:{REDACTED}@", text)


class ScrubbingFilter(logging.Filter):
    """Scrubs each record's message (after formatting its arguments) before a handler
    writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_scrubbing(logger: logging.Logger | None = None) -> None:
    """Put a ScrubbingFilter on every handler of `logger` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in handler.filters):
            handler.addFilter(ScrubbingFilter())


class ScrubbingStream:
    """A text stream that scrubs what it is given, a line at a time, before passing it on.

    Text is held until a line ends (or a carriage return redraws one, or the stream is
    flushed), so a secret written in pieces by one print is still seen whole; everything
    else (isatty, fileno, encoding) is the wrapped stream's."""

    _MOST_HELD = 1 << 16  # a line longer than this is let through in pieces

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self._held = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            held = self._held + text
            end = max(held.rfind("\n"), held.rfind("\r")) + 1
            if end == 0 and len(held) > self._MOST_HELD:
                end = len(held)
            self._held = held[end:]
            if end:
                self.inner.write(scrub(held[:end]))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            held, self._held = self._held, ""
            if held:
                self.inner.write(scrub(held))
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scrub_stderr() -> None:
    """Wrap sys.stderr (once, for the rest of the process) in a ScrubbingStream, so that
    no registered secret or URL password reaches it, whoever writes."""
    if not isinstance(sys.stderr, ScrubbingStream) and sys.stderr is not None:
        sys.stderr = ScrubbingStream(sys.stderr)


# -- secrets in a config and on a command line (record.json, Hydra's saved files) ----------

# Config keys whose values are secrets, whatever their group (provider.api_key, ...).
SECRET_KEYS = frozenset({"api_key", "password", "secret", "token", "access_token"})


def _is_secret_key(key: object) -> bool:
    return str(key).lower() in SECRET_KEYS


def _is_reference(value: object) -> bool:
    """`${oc.env:KEY}` and other interpolations name a value without holding it."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def redact_tree(tree: Any) -> Any:
    """A copy of a config tree with the value of every secret key replaced by "***"."""
    if isinstance(tree, dict):
        return {
            key: REDACTED
            if _is_secret_key(key) and value is not None and not _is_reference(value)
            else redact_tree(value)
            for key, value in tree.items()
        }
    if isinstance(tree, list):
        return [redact_tree(value) for value in tree]
    return tree


def redact_overrides(overrides: Iterable[str]) -> list[str]:
    """Command-line overrides with the value of every secret key replaced by "***"."""
    return [f"{o.partition('=')[0]}={REDACTED}" if _secret_override(o) else o for o in overrides]


def is_secret_override(override: str) -> bool:
    """`provider.api_key=sk-...` and the like (not `provider.api_key=${oc.env:K}`)."""
    return _secret_override(override)


def _secret_override(override: str) -> bool:
    key, equals, value = override.partition("=")
    leaf = key.lstrip("+~").rsplit(".", 1)[-1]
    return bool(equals) and _is_secret_key(leaf) and not _is_reference(value)


def _secret_values(cfg: DictConfig, overrides: Iterable[str]) -> set[str]:
    """Every secret in the config (raw and resolved) and in the overrides."""
    from omegaconf import OmegaConf

    found = {o.partition("=")[2] for o in overrides if _secret_override(o)}

    def walk(node: Any, path: str) -> None:
        for key, value in node.items() if isinstance(node, dict) else ():
            dotted = f"{path}{key}"
            if _is_secret_key(key) and isinstance(value, str):
                found.add(value)
                try:
                    resolved = OmegaConf.select(cfg, dotted, throw_on_missing=False)
                except Exception:  # an unresolvable reference holds no value to hide
                    resolved = None
                if isinstance(resolved, str):
                    found.add(resolved)
            walk(value, dotted + ".")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return {value for value in found if len(value) >= 4 and not _is_reference(value)}


def scrub_secrets(
    cfg: DictConfig, overrides: Sequence[str], run_dir: Path, sweep_dir: Path | None = None
) -> None:
    """Replace each secret of the config and overrides by "***" in the files Hydra saved:
    run_dir/.hydra/*.yaml and, in a multirun, sweep_dir/multirun.yaml."""
    secrets = _secret_values(cfg, overrides) | registered()
    forms = {form for s in secrets for form in (s, s.replace("'", "''"), json.dumps(s)[1:-1])}
    files = [*sorted((run_dir / ".hydra").glob("*.yaml"))]
    if sweep_dir is not None:
        files.append(sweep_dir / "multirun.yaml")
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        scrubbed = redact_url(text)
        for form in sorted(forms, key=len, reverse=True):
            scrubbed = scrubbed.replace(form, REDACTED)
        if scrubbed != text:
            path.write_text(scrubbed, encoding="utf-8")
