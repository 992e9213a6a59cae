"""The images a request carried, read on each wire the stub serves, and a responder that
answers from them, so a test can tell an image arrived whole and was read.

    images_in(stub.requests[-1])       # [b"\\xff\\xd8...", ...] on any wire, in order
    StubServer(responder=colour_answers({"red": (255, 0, 0), "blue": (0, 0, 255)}))

Where each wire puts an image (what litellm makes of OpenAI's `image_url` parts):

    openai, azure  messages[].content[] {"type": "image_url", "image_url": {"url": "data:..."}}
    anthropic      messages[].content[] {"type": "image", "source": {"type": "base64", "data"}}
    gemini         contents[].parts[] {"inline_data": {"mime_type", "data"}} (or inlineData)
    ollama         messages[].images: [base64, ...]
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from framework.testing.reply import Reply, Responder

__all__ = ["colour_answers", "image_urls_in", "images_in"]


def images_in(body: Mapping[str, Any]) -> list[bytes]:
    """The bytes of every base64 image in a request body, whichever wire it is on."""
    return [base64.b64decode(data) for data in _base64_images(body)]


def image_urls_in(body: Mapping[str, Any]) -> list[str]:
    """The http(s) URLs of images a request passed through (OpenAI's wire)."""
    return [
        url
        for part in _parts(body)
        if isinstance(url := (part.get("image_url") or {}).get("url"), str)
        and url.startswith("http")
    ]


def _parts(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            yield from (part for part in content if isinstance(part, Mapping))
    for content in body.get("contents") or []:
        yield from (part for part in content.get("parts") or [] if isinstance(part, Mapping))


def _base64_images(body: Mapping[str, Any]) -> Iterator[str]:
    for part in _parts(body):
        url = (part.get("image_url") or {}).get("url")
        if isinstance(url, str) and url.startswith("data:"):
            yield url.partition(",")[2]
        source = part.get("source") or {}
        if part.get("type") == "image" and source.get("type") == "base64":
            yield str(source["data"])
        inline = part.get("inline_data") or part.get("inlineData")
        if isinstance(inline, Mapping):
            yield str(inline["data"])
    for message in body.get("messages") or []:
        yield from (str(image) for image in message.get("images") or [])


def colour_answers(palette: Mapping[str, tuple[int, int, int]]) -> Responder:
    """Answers {"labels": [...]} with the palette's name nearest each image's middle pixel
    (in order, once each), so a test that paints an image red expects "red" back."""
    from PIL import Image

    def nearest(data: bytes) -> str:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
            pixel = rgb.getpixel((rgb.width // 2, rgb.height // 2))
        assert isinstance(pixel, tuple)
        return min(
            palette,
            key=lambda name: sum((a - b) ** 2 for a, b in zip(palette[name], pixel, strict=True)),
        )

    def respond(request: dict[str, Any]) -> Reply:
        names = list(dict.fromkeys(nearest(data) for data in images_in(request)))
        return Reply(content=json.dumps({"labels": names}))

    return respond
