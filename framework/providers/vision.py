"""What each provider takes in images, as data, and whether a model reads them at all.

    limits = image_limits("anthropic")       # long side, bytes, formats, URLs fetched
    check_vision(config)                     # ConfigError naming the key, before any call

The limits are the providers' documented ones (checked 2026-12): an image larger than
`long_side` is downscaled to it before it is sent (the provider would shrink it anyway,
after charging for the upload), one over `max_bytes` after that fails its row.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.config.schema import ProviderKind, RunConfig
from framework.errors import ConfigError

__all__ = ["IMAGE_LIMITS", "ImageLimits", "check_vision", "image_limits"]

_COMMON = frozenset({"JPEG", "PNG", "WEBP", "GIF"})


@dataclass(frozen=True)
class ImageLimits:
    long_side: int  # pixels of the longer side an image is downscaled to
    max_bytes: int  # of one image as sent (before base64)
    formats: frozenset[str]  # Pillow's names of the formats it takes
    fetches_urls: bool  # it downloads an https:// image itself
    source: str  # where the numbers come from


_OPENAI = ImageLimits(
    2048,
    20_000_000,
    _COMMON,
    True,
    "OpenAI vision guide: high detail fits the image in 2048x2048; 20 MB an image",
)
# Servers the user runs (vLLM, llama-server, LM Studio): no one limit; OpenAI's wire.
_SERVER = ImageLimits(
    2048, 20_000_000, _COMMON, False, "no documented limit: OpenAI's, without fetching URLs"
)

IMAGE_LIMITS: dict[ProviderKind, ImageLimits] = {
    "openai": _OPENAI,
    "azure": _OPENAI,
    "anthropic": ImageLimits(
        1568,
        5_000_000,
        _COMMON,
        False,
        "Anthropic vision docs: a long edge over 1568 px is resized by the API; 5 MB an image",
    ),
    "gemini": ImageLimits(
        3072,
        20_000_000,
        frozenset({"JPEG", "PNG", "WEBP"}),
        False,
        "Gemini image understanding: images scaled to at most 3072x3072; 20 MB inline",
    ),
    "ollama": ImageLimits(
        1024,
        20_000_000,
        frozenset({"JPEG", "PNG"}),
        False,
        "Ollama documents no limit; 1024 px, more than its vision models' encoders take",
    ),
    "openai_compatible": _SERVER,
    "llamacpp": _SERVER,
    "groq": ImageLimits(
        2048, 4_000_000, _COMMON, False, "Groq vision docs: 4 MB for a base64 image"
    ),
    "together": _SERVER,
    "deepseek": _SERVER,
    "openrouter": _SERVER,
    "fireworks": _SERVER,
}


def image_limits(kind: ProviderKind) -> ImageLimits:
    return IMAGE_LIMITS.get(kind, _SERVER)


def check_vision(config: RunConfig) -> None:
    """A run with columns.image on a model that does not read images: a ConfigError
    naming the key (model.vision), from the config or litellm's model data."""
    if config.columns.image is None:
        return
    kind, name = config.provider.kind, config.model.name
    if kind == "local":
        raise ConfigError(
            f"columns.image: provider=local runs no vision projector, so {name} cannot read "
            "images; run a vision model on llama-server or vLLM and use provider=openai_compatible "
            "provider.api_base=URL model.name=NAME model.vision=true (docs/images.md)"
        )
    if config.model.vision is not None:
        if not config.model.vision:
            raise ConfigError(
                f"model.vision: false, but columns.image={config.columns.image} sends images; "
                "pick a model that reads images, or drop columns.image"
            )
        return
    from framework.providers.price_table import model_entry
    from framework.providers.profiles import profile_for

    entry = model_entry(name, profile_for(kind, name).litellm_prefix)
    if entry is None:
        raise ConfigError(
            f"model.vision: litellm's model data does not know whether {name} reads images "
            f"(columns.image={config.columns.image}); set model.vision=true if it does"
        )
    if not entry.get("supports_vision"):
        raise ConfigError(
            f"model.vision: litellm's model data says {name} does not read images "
            f"(columns.image={config.columns.image}); pick a vision model, or set "
            "model.vision=true if the data is wrong"
        )
