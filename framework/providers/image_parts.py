"""A row's images in the compiled request: OpenAI's `image_url` content parts.

    messages = with_images(messages, images)      # the user message as text and image parts
    request_key_view(kwargs, digests)             # the same request with each image's sha256

The messages stay in OpenAI's form, which the HTTP transport posts as they are and
litellm turns into each other wire's own parts (Anthropic `image` blocks with a base64
source, Gemini `inline_data`, Ollama's `images` list); tests/providers/test_image_wires.py
checks each at the stub. A template places the images with {{ images }}; one that does not
gets them after its text. A row without images gets its messages unchanged, so text-only
requests (and their cache keys) are what they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from framework.records import Message

__all__ = ["IMAGES_MARK", "SentImage", "request_key_view", "with_images"]

# What {{ images }} prints: nothing a template or a text prints looks like it.
IMAGES_MARK = "\x00labelwise:images:5d21e0\x00"


class SentImage(Protocol):
    @property
    def url(self) -> str: ...


def with_images(messages: Sequence[Message], images: Sequence[SentImage]) -> list[Any]:
    """The messages with the images where the first user message marks them (or after
    its text); without images, the mark (if a template printed one) is taken out."""
    result: list[Any] = []
    placed = False
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) and images and not placed and message.get("role") == "user":
            placed = True
            pieces = content.split(IMAGES_MARK) if IMAGES_MARK in content else [content, ""]
            parts: list[dict[str, Any]] = []
            for number, piece in enumerate(pieces):
                if number:
                    parts.extend(_image_part(image) for image in images)
                if piece:
                    parts.append({"type": "text", "text": piece})
            result.append({**message, "content": parts})
        elif isinstance(content, str) and IMAGES_MARK in content:
            result.append({**message, "content": content.replace(IMAGES_MARK, "")})
        else:
            result.append(dict(message))
    return result


def _image_part(image: SentImage) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image.url}}


def request_key_view(kwargs: Mapping[str, Any], digests: Sequence[str]) -> dict[str, Any]:
    """The request with each image's URL replaced by the sha256 of its bytes, in order:
    what the cache key is made of (the bytes are never hashed into it as text, stored or
    written)."""
    left = iter(digests)

    def part(item: Any) -> Any:
        if isinstance(item, Mapping) and item.get("type") == "image_url":
            return {"type": "image_url", "image_url": {"sha256": next(left, "")}}
        return item

    messages = [
        {**m, "content": [part(p) for p in m["content"]]}
        if isinstance(m.get("content"), list)
        else m
        for m in kwargs.get("messages", [])
    ]
    return {**kwargs, "messages": messages}
