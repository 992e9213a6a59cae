"""The errors labelwise raises, in three families.

    LabelwiseError
    ├── ConfigError      the user's mistake: a config key, a group option, a template,
    │   │                a taxonomy; the CLI prints it in one or two lines and exits 2
    │   └── InputError   the input file cannot be read (missing, not UTF-8, not JSONL)
    ├── ProviderError    the call did not come back: connection, timeout, HTTP status;
    │                    `retryable` says whether trying again can help
    └── OutputError      the model answered, but not acceptably; carries the raw answer
                         (Prediction.raise_for_status raises it for a failed row)

A row whose call or answer fails is recorded as failed, with the reason; only
errors that would fail every row (a bad key, a model that does not exist)
stop a run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "InputError",
    "LabelwiseError",
    "OutputError",
    "ProviderError",
    "did_you_mean",
]


class LabelwiseError(Exception):
    """Base class of every error labelwise raises on purpose."""


class ConfigError(LabelwiseError):
    """A configuration the run cannot start with. The message names the key or file."""


class InputError(ConfigError):
    """An input file that cannot be read. The message names the file and line."""


class ProviderError(LabelwiseError):
    """A call that did not return a completion.

    status: the HTTP status, when there was one.
    retryable: True for rate limits, server errors, timeouts and dropped connections.
    retry_after: seconds the provider asked us to wait, when it said.
    fatal: True when every other call would fail the same way (authentication,
        an unknown model, a wrong endpoint): the run stops instead of failing each row.
    attempts: how many calls were made before giving up (set by the retry policy).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.fatal = fatal
        self.attempts = 1


class OutputError(LabelwiseError):
    """A model answer that could not be accepted; `raw` is what the model said."""

    def __init__(self, message: str, *, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' when a close choice exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
