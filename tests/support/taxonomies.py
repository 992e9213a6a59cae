"""Taxonomies written for a test."""

from __future__ import annotations

from pathlib import Path


def big_taxonomy(folder: Path, size: int) -> Path:
    """conf/taxonomy/products.yaml under `folder` with `size` facets and "other"; the
    folder to put on hydra.searchpath."""
    lines = ["name: products", 'version: "3.1.0"', "none_label: other", "labels:"]
    lines += [f"  facet_{n}: {{description: 'Product facet number {n}'}}" for n in range(size)]
    lines += ["  other: {description: 'None of the facets'}"]
    (folder / "taxonomy").mkdir(parents=True, exist_ok=True)
    (folder / "taxonomy" / "products.yaml").write_text("\n".join(lines) + "\n")
    return folder
