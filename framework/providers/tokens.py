"""Counting, cutting and splitting text by a model's tokens (litellm's tokenizer for the
model; tiktoken's cl100k where it has none: an approximation for local models)."""

from __future__ import annotations

from typing import Any

__all__ = ["count_tokens", "split_by_tokens", "truncate_to_tokens"]


def _litellm() -> Any:
    """The module that imports litellm (2-4 s), when a count is first asked for."""
    from framework.providers import litellm_api

    return litellm_api


def truncate_to_tokens(model: str, text: str, limit: int) -> tuple[str, int]:
    """The text cut to `limit` tokens, and its length in tokens before the cut."""
    tokens = _litellm().encode(model, text)
    if len(tokens) <= limit:
        return text, len(tokens)
    return _litellm().decode(model, tokens[:limit]), len(tokens)


def split_by_tokens(model: str, text: str, size: int, overlap: int) -> list[str]:
    """The text in windows of at most `size` tokens, each sharing `overlap` with the last."""
    tokens = _litellm().encode(model, text)
    if len(tokens) <= size:
        return [text]
    step = max(1, size - overlap)
    starts = range(0, max(1, len(tokens) - overlap), step)
    return [_litellm().decode(model, tokens[i : i + size]) for i in starts]


def count_tokens(model: str, messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a request."""
    return int(_litellm().count_tokens(model, messages))
