"""What a provider's response headers say about pacing: its rate-limit quota
(OpenAI's x-ratelimit-*, Anthropic's anthropic-ratelimit-*) and Retry-After.

    read_quota(headers)            # QuotaState(requests_left=0, requests_reset=2.0, ...)
    retry_after_seconds(headers)   # 1.0 for "retry-after: 1", 0.05 for "retry-after-ms: 50"
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from datetime import datetime

from framework.records import QuotaState

__all__ = ["read_quota", "retry_after_seconds"]


def read_quota(headers: Mapping[str, str] | None) -> QuotaState | None:
    """The rate-limit headers of a response (OpenAI's x-ratelimit-*, Anthropic's
    anthropic-ratelimit-*), or None when it sent none."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    found = {}
    for field, names in _QUOTA_HEADERS.items():
        value = next((lower[n] for n in names if n in lower), None)
        if value is not None:
            found[field] = value
    if not found:
        return None
    return QuotaState(
        requests_left=_int(found.get("requests_left")),
        tokens_left=_int(found.get("tokens_left")),
        requests_reset=_seconds(found.get("requests_reset")),
        tokens_reset=_seconds(found.get("tokens_reset")),
    )


_QUOTA_HEADERS = {
    "requests_left": ("x-ratelimit-remaining-requests", "anthropic-ratelimit-requests-remaining"),
    "tokens_left": ("x-ratelimit-remaining-tokens", "anthropic-ratelimit-tokens-remaining"),
    "requests_reset": ("x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset"),
    "tokens_reset": ("x-ratelimit-reset-tokens", "anthropic-ratelimit-tokens-reset"),
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _seconds(value: str | None) -> float | None:
    """'1s', '6m0s', '20ms', '1h2m3.5s', '2.5', or an RFC 3339 time -> seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        return sum(float(n) * scale[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds a response's retry-after-ms or retry-after header asks to wait, if any."""
    lower = {str(k).lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lower.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return None
