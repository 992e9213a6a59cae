"""What `labelwise plan` says of the images it would send: how many, the tokens litellm
counts for one, and what one costs at the model's price.

litellm's token counter (which counted the prompt tokens) gives an image a fixed figure
whatever the provider (85 tokens in litellm 1.106: OpenAI's low-detail count); providers
count otherwise (OpenAI high detail 85 + 170 a 512-px tile, Anthropic about
width x height / 750, Gemini 258 an image up to 384 px), so the note says whose figure it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from framework.config.schema import RunConfig
from framework.providers.compile import CompiledRequest
from framework.providers.pricing import price
from framework.providers.tokens import count_tokens
from framework.records import Usage

__all__ = ["count_images", "image_note"]

# A 1x1 PNG: litellm's count for it is its count for any image.
_PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4"
    "z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


def count_images(requests: Iterable[CompiledRequest]) -> int:
    """Image parts in these requests."""
    return sum(
        1
        for request in requests
        for message in request.kwargs.get("messages", [])
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, Mapping) and part.get("type") == "image_url"
    )


def image_note(config: RunConfig, model: str, images: int) -> tuple[str, str] | None:
    """("images", what plan prints), or None for a run without images."""
    if not images:
        return None
    with_image: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": _PIXEL}}]}
    ]
    tokens = count_tokens(model, with_image) - count_tokens(
        model, [{"role": "user", "content": ""}]
    )
    cost = price(config.provider, config.model, model, Usage(tokens, 0))
    each = "unknown (no price for this model)" if cost is None else f"~${cost:.6f}"
    return (
        "images",
        f"{images:,} sent, {tokens} prompt tokens each as litellm counts them (its "
        f"figure for any provider; see docs/images.md), {each} an image",
    )
