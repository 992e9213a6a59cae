"""Thumbnails of rows' images for report.html: small JPEGs inlined as data: URIs beside the
errors, read through the one door for images (framework.inputs.images) and capped in all.

    thumbs = read_thumbnails(input_path, ids, columns)   # {row id: "data:image/jpeg;base64,..."}

A row whose image cannot be read (moved, a URL, refused) gets none; the page says nothing
of it beyond the text. Past THUMBNAIL_BUDGET bytes, later rows get none, so a page of a
thousand errors stays small.
"""

from __future__ import annotations

from pathlib import Path

from framework.config.schema import ColumnNames, ImageSettings
from framework.errors import InputError
from framework.inputs.images import ImageRefused, prepare_image
from framework.providers.vision import ImageLimits

__all__ = ["THUMBNAIL_BUDGET", "THUMBNAIL_SIDE", "read_thumbnails"]

THUMBNAIL_SIDE = 96  # pixels of the longer side
THUMBNAIL_BUDGET = 1_000_000  # bytes of thumbnails in one page, base64 included
_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"})


def read_thumbnails(
    path: Path,
    ids: set[str],
    columns: ColumnNames | None,
    *,
    side: int = THUMBNAIL_SIDE,
    budget: int = THUMBNAIL_BUDGET,
) -> dict[str, str]:
    """The first image of each of these rows as a data: URI at most `side` pixels on its
    longer side, until `budget` bytes of them (Label Studio tasks ask for larger ones)."""
    if columns is None or columns.image is None or not ids:
        return {}
    from framework.inputs.readers import read_rows

    # A small image larger than side x side x 0.4 bytes is re-encoded smaller.
    limits = ImageLimits(side, max(12_000, side * side * 2 // 5), _FORMATS, False, "previews")
    root, settings = path.expanduser().resolve().parent, ImageSettings()
    thumbs: dict[str, str] = {}
    spent = 0
    try:
        for row in read_rows(path, columns):
            if row.id not in ids or row.item is None or not row.item.images:
                continue
            try:
                image = prepare_image(
                    row.item.images[0], root=root, settings=settings, limits=limits
                )
            except ImageRefused:
                continue
            if image.size is None or spent + len(image.url) > budget:
                continue
            thumbs[row.id] = image.url
            spent += len(image.url)
    except (InputError, OSError):
        return thumbs
    return thumbs
