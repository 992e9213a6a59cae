"""The errors labelwise raises, in three families.

    LabelwiseError
    ├── ConfigError           the user's mistake: a config key, a group option, a template,
    │   │                     a taxonomy; the CLI prints it in one or two lines and exits 2
    │   └── InputError        an input or output file that cannot be used (missing, not
    │                         UTF-8, not JSONL, the input itself, held by another run)
    ├── ProviderError         the call did not come back with a completion
    │   ├── RateLimited       429: slow down; `retry_after` says for how long, when sent
    │   ├── AuthError         401/403: the key is wrong or lacks rights (fatal: exit 2)
    │   ├── UnknownModel      404: no such model or endpoint (fatal: exit 2)
    │   ├── BadRequest        another 4xx: this request is wrong; trying again cannot help
    │   │   └── ContextTooLong  the prompt exceeds the model's context
    │   ├── ServerError       5xx: the provider failed; retried
    │   ├── ProviderTimeout   no answer within provider.timeout; retried
    │   ├── Unreachable       no connection, or it dropped; retried
    │   └── ProviderDown      so many calls in a row failed to reach the provider that the
    │                         run stops (fatal: exit 1), leaving the undone rows undone
    ├── Deferred              run.mode=batch: the request waits for a provider batch job;
    │                         not a failure: its row waits, left out of the results
    ├── WriteError            a file labelwise writes could not be written (disk full);
    │                         the rows written so far stay, exit 1
    └── OutputError           the model answered, but not acceptably; carries the raw answer
                              (Prediction.raise_for_status raises it for a failed row)

A row whose call or answer fails is recorded as failed, with the reason; only
errors that would fail every row (a bad key, a model that does not exist, a
provider that stopped answering) stop a run. The retry policy reads the type:
`retryable` and `fatal` are properties of each class.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

__all__ = [
    "AuthError",
    "BadRequest",
    "ConfigError",
    "ContextTooLong",
    "Deferred",
    "InputError",
    "LabelwiseError",
    "OutputError",
    "ProviderDown",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "ServerError",
    "UnknownModel",
    "Unreachable",
    "WriteError",
    "did_you_mean",
    "error_for_status",
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
    retry_after: seconds the provider asked us to wait, when it said.
    attempts: how many calls were made before giving up (set by the retry policy).
    """

    kind = "provider_error"  # written on a failed row as its error_kind
    # How a transport words it: {kind} the provider, {text} what it said, {where} where the
    # key came from, {timeout} provider.timeout. Every transport words an error alike.
    template = "{kind} call failed: {text}"
    retryable = False  # whether trying the same call again can help
    fatal = False  # whether every other call would fail the same way: the run stops
    unreachable = False  # the provider did not answer at all (counted towards ProviderDown)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        fatal: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        if fatal is not None:
            self.fatal = fatal
        self.attempts = 1
        self.headers: Mapping[str, str] | None = None  # the response's, when there was one

    @classmethod
    def worded(
        cls,
        *,
        kind: str,
        text: str,
        where: str = "",
        timeout: float = 0.0,
        status: int | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderError:
        """This error, worded by its template (the same words from every transport)."""
        error = cls(
            cls.template.format(kind=kind, text=text, where=where, timeout=timeout),
            status=status,
            retry_after=retry_after,
        )
        error.headers = headers
        return error


class RateLimited(ProviderError):
    kind = "rate_limited"
    template = "rate limited by {kind}: {text}"
    retryable = True


class AuthError(ProviderError):
    kind = "auth"
    template = "{kind} refused the credentials{where}: {text}"
    fatal = True


class UnknownModel(ProviderError):
    kind = "unknown_model"
    template = (
        "{kind} does not know this model or endpoint; "
        "check model.name and provider.api_base: {text}"
    )
    fatal = True


class BadRequest(ProviderError):
    kind = "bad_request"
    template = "{kind} rejected the request: {text}"


class ContextTooLong(BadRequest):
    kind = "context_too_long"
    template = "the prompt is longer than the model's context; lower prompt.max_text_chars: {text}"


class ServerError(ProviderError):
    kind = "server_error"
    template = "{kind} failed: {text}"
    retryable = True
    unreachable = True


class ProviderTimeout(ProviderError):
    kind = "timeout"
    template = "no answer within {timeout:g} s: {text}"
    retryable = True
    unreachable = True


class Unreachable(ProviderError):
    kind = "unreachable"
    template = "{kind} cannot be reached: {text}"
    retryable = True
    unreachable = True


class ProviderDown(ProviderError):
    kind = "provider_down"
    fatal = True


def error_for_status(status: int | None) -> type[ProviderError]:
    """The error class of an HTTP status (for a transport that sees only the status)."""
    if status is None:
        return ProviderError
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return AuthError
    if status == 404:
        return UnknownModel
    if status in (408, 409) or status >= 500:  # 408/409: timeout and conflict, retried
        return ProviderTimeout if status == 408 else ServerError
    if 400 <= status < 500:
        return BadRequest
    return ProviderError


class Deferred(LabelwiseError):
    """run.mode=batch: a request waits for a provider batch job. Not a failure: raised by
    the batch layer through the engine, it makes the batch driver keep the row waiting,
    left out of the results until the job's answer is in (framework.runner.drivers.batch)."""


class WriteError(LabelwiseError):
    """A results, record or export file could not be written; the message says what to free."""


class OutputError(LabelwiseError):
    """A model answer that could not be accepted; `raw` is what the model said."""

    def __init__(self, message: str, *, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' when a close choice exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
