"""A run's door to its rows' images: each row's images prepared alike, and a count of
what was done, for record.json (framework.inputs.images reads and checks one image).

    reader = ImageReader(input_folder, config.images, image_limits(config.provider.kind))
    images = reader.read(item.images)     # or ImageRefused, which fails that row
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from framework.config.schema import ImageSettings
from framework.inputs.images import ImageRefused, PreparedImage, prepare_image
from framework.records import ImageRef

if TYPE_CHECKING:  # the limits are a provider's, passed in (inputs sit below providers)
    from framework.providers.vision import ImageLimits

__all__ = ["ImageReader"]


@dataclass
class ImageReader:
    """Prepares the images of each row of a run alike: paths resolve against `root`
    (the input file's folder), checks and limits as configured and as the provider takes.
    `counts` adds up what it did, for record.json."""

    root: Path
    settings: ImageSettings
    limits: ImageLimits
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("sent_as_read", "downscaled", "urls_passed", "refused", "bytes_read", "bytes_sent"),
            0,
        )
    )

    def read(self, refs: tuple[ImageRef, ...]) -> tuple[PreparedImage, ...]:
        """Every image of a row, or ImageRefused for the first that cannot be sent."""
        images = []
        for ref in refs:
            try:
                image = prepare_image(
                    ref, root=self.root, settings=self.settings, limits=self.limits
                )
            except ImageRefused:
                self.counts["refused"] += 1
                raise
            how = (
                "urls_passed"
                if image.size is None
                else "sent_as_read"
                if image.size == image.read_size
                else "downscaled"
            )
            self.counts[how] += 1
            self.counts["bytes_read"] += image.bytes_read
            self.counts["bytes_sent"] += image.bytes_sent
            images.append(image)
        return tuple(images)

    def describe(self) -> dict[str, object]:
        """record.json's images section: the limits and checks, and what was done."""
        settings = {key.removeprefix("images."): value for key, value in self.identity().items()}
        return {"images": {**settings, "root": str(self.root), **self.counts}}

    def identity(self) -> dict[str, object]:
        """What decides the bytes sent, for the run's identity and record.json."""
        return {
            "images.long_side": self.limits.long_side,
            "images.max_bytes": self.limits.max_bytes,
            "images.formats": sorted(self.limits.formats),
            "images.fetches_urls": self.limits.fetches_urls,
            "images.limits_source": self.limits.source,
            "images.inside_input_folder": self.settings.inside_input_folder,
            "images.max_file_bytes": self.settings.max_file_bytes,
            "images.max_pixels": self.settings.max_pixels,
            "images.urls": self.settings.urls,
        }
