"""Reading a row's images: the one place an image is opened, checked and made ready to send.

    image = prepare_image(ImageRef("photos/cat.jpg"), root=input_folder,
                          settings=config.images, limits=image_limits("anthropic"))
    image.url        # a data: URI (base64) or the https:// URL passed through
    image.sha256     # of the bytes sent: what cache keys and records hold, never the bytes
    image.describe() # how it was prepared, for the results and the record (no bytes)

Anything wrong with an image raises ImageRefused with the reason, which fails that row
only: a missing file, a path outside the input's folder tree (images.inside_input_folder),
a URL the provider does not fetch (labelwise downloads nothing), a file over
images.max_file_bytes, more pixels than images.max_pixels (a decompression bomb is refused
from its header, before its pixels are decoded), a truncated or unreadable image, a format
the provider does not take. An image larger than the provider's long side is downscaled
with Pillow and re-encoded; one that fits is sent as it was read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.config.schema import ImageSettings
from framework.records import ImageRef

if TYPE_CHECKING:  # the limits are a provider's, passed in (inputs sit below providers)
    from framework.providers.vision import ImageLimits

__all__ = ["ImageRefused", "PreparedImage", "prepare_image"]

_MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class ImageRefused(Exception):
    """An image that cannot be sent; str() is the row's reason (never the image's bytes)."""


@dataclass(frozen=True)
class PreparedImage:
    name: str  # the path or URL as the row wrote it; "data: URI" or "bytes" otherwise
    sha256: str  # of the bytes sent (of the URL, for a URL passed through)
    url: str = field(repr=False)  # data:image/...;base64,... or the https:// URL
    media_type: str | None = None
    size: tuple[int, int] | None = None  # as sent
    read_size: tuple[int, int] | None = None  # as read
    bytes_read: int = 0
    bytes_sent: int = 0

    def describe(self) -> dict[str, Any]:
        """How it was prepared, for results and record.json: no bytes."""
        if self.size is None:
            return {"image": self.name, "sha256": self.sha256, "prepared": "URL passed through"}
        how = (
            "sent as read"
            if self.size == self.read_size
            else f"downscaled from {self.read_size[0]}x{self.read_size[1]}"  # type: ignore[index]
        )
        return {
            "image": self.name,
            "sha256": self.sha256,
            "prepared": how,
            "size": f"{self.size[0]}x{self.size[1]}",
            "bytes_read": self.bytes_read,
            "bytes_sent": self.bytes_sent,
        }


def prepare_image(
    ref: ImageRef, *, root: Path, settings: ImageSettings, limits: ImageLimits
) -> PreparedImage:
    """The image ready to send, or ImageRefused with the reason."""
    value = ref.value
    if ref.data is not None:
        return _checked("bytes", ref.data, settings, limits)
    lowered = value[:8].lower()
    if lowered.startswith(("https://", "http://")):
        return _url(value, settings, limits)
    if lowered.startswith("data:"):
        return _checked("data: URI", _data_uri(value, settings), settings, limits)
    return _checked(value, _read_file(value, root, settings), settings, limits)


def _url(url: str, settings: ImageSettings, limits: ImageLimits) -> PreparedImage:
    if not url.lower().startswith("https://"):
        raise ImageRefused(f"image {url}: not https; give an https:// URL or a local path")
    if settings.urls == "fail" or not limits.fetches_urls:
        why = "images.urls=fail" if settings.urls == "fail" else "this provider fetches no URLs"
        raise ImageRefused(
            f"image {url}: {why}, and labelwise downloads nothing; download the image and "
            "give its path"
        )
    return PreparedImage(url, hashlib.sha256(url.encode("utf-8")).hexdigest(), url)


def _data_uri(uri: str, settings: ImageSettings) -> bytes:
    head, comma, payload = uri.partition(",")
    if not comma or not head.endswith(";base64"):
        raise ImageRefused("image data: URI: not base64-encoded (data:image/png;base64,DATA)")
    if len(payload) * 3 // 4 > settings.max_file_bytes:
        raise ImageRefused(
            f"image data: URI: over images.max_file_bytes ({settings.max_file_bytes} bytes)"
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRefused("image data: URI: its base64 does not decode") from None


def _read_file(name: str, root: Path, settings: ImageSettings) -> bytes:
    path = (root / name).resolve()
    if settings.inside_input_folder and not path.is_relative_to(root.resolve()):
        raise ImageRefused(
            f"image {name}: outside the input file's folder {root}; move it there, or set "
            "images.inside_input_folder=false"
        )
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            raise ImageRefused(
                f"image {name}: {size} bytes, over images.max_file_bytes "
                f"({settings.max_file_bytes})"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageRefused(f"image {name}: no such file (looked in {root})") from None
    except (IsADirectoryError, PermissionError, OSError) as error:
        raise ImageRefused(f"image {name}: cannot be read ({error.strerror})") from None


def _checked(name: str, data: bytes, settings: ImageSettings, limits: ImageLimits) -> PreparedImage:
    """Open with Pillow: format, pixels (from the header), then every pixel; downscale."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > settings.max_file_bytes:
        raise ImageRefused(
            f"image {name}: {len(data)} bytes, over images.max_file_bytes "
            f"({settings.max_file_bytes})"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > settings.max_pixels:
                raise ImageRefused(
                    f"image {name}: {width}x{height} pixels, over images.max_pixels "
                    f"({settings.max_pixels}); refused unread (a decompression bomb?)"
                )
            kind = image.format or "unknown"
            if kind not in limits.formats:
                raise ImageRefused(
                    f"image {name}: format {kind}, which this provider does not take (it "
                    f"takes {', '.join(sorted(limits.formats))}); convert it"
                )
            if kind == "JPEG" and max(width, height) > limits.long_side:
                # Decode at the smallest scale (1/2, 1/4, 1/8) still larger than needed:
                # at half scale a quarter of the pixels are decoded.
                image.draft("RGB", _at_least(width, height, limits.long_side))
            image.load()  # a truncated or corrupt image fails here
            fits = max(width, height) <= limits.long_side  # the size before any draft
            sent = _fitted(image, kind, data, limits, fits=fits)
    except Image.DecompressionBombError:
        raise ImageRefused(
            f"image {name}: more pixels than Pillow opens (a decompression bomb); refused unread"
        ) from None
    except UnidentifiedImageError:
        raise ImageRefused(f"image {name}: not an image Pillow can read") from None
    except ImageRefused:
        raise
    except Exception as error:  # a crafted file can make a decoder raise anything: one row
        raise ImageRefused(f"image {name}: unreadable ({type(error).__name__}: {error})") from None
    payload, media, size = sent
    if len(payload) > limits.max_bytes:
        raise ImageRefused(
            f"image {name}: {len(payload)} bytes after downscaling, over this provider's "
            f"{limits.max_bytes}"
        )
    return PreparedImage(
        name,
        hashlib.sha256(payload).hexdigest(),
        f"data:{media};base64,{base64.b64encode(payload).decode('ascii')}",
        media,
        size,
        (width, height),
        len(data),
        len(payload),
    )


def _at_least(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size whose longer side is long_side, in the image's proportions."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fitted(
    image: Any, kind: str, data: bytes, limits: ImageLimits, *, fits: bool
) -> tuple[bytes, str, tuple[int, int]]:
    """The bytes to send: as read when the image fits (in a format a browser shows), else
    downscaled and re-encoded (JPEG, or PNG for an image with transparency)."""
    from PIL import Image

    if fits and len(data) <= limits.max_bytes and kind in _MEDIA:
        return data, _MEDIA[kind], image.size
    small = image  # downscaled in place: the full-size pixels are not needed again
    small.thumbnail((limits.long_side, limits.long_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if small.mode in ("RGBA", "LA", "P") and "PNG" in limits.formats:
        small.save(out, format="PNG", optimize=True)
        return out.getvalue(), "image/png", small.size
    small.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue(), "image/jpeg", small.size
