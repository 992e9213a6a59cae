"""The Python API with images: Classifier.classify(text, images=[...]) against the stub."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from framework import Classifier
from framework.errors import ConfigError
from framework.testing import StubServer, colour_answers, images_in

PALETTE = {"space": (10, 10, 40), "science": (240, 240, 240)}


def test_classify_sends_the_images_given_and_reads_the_answer(tmp_path: Path) -> None:
    Image.new("RGB", (30, 20), PALETTE["science"]).save(tmp_path / "white.png")
    dark = io.BytesIO()
    Image.new("RGB", (30, 20), PALETTE["space"]).save(dark, format="PNG")
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        # Paths are read inside the working folder unless this says otherwise.
        overrides = stub.overrides(
            "taxonomy=news",
            "columns.image=image",
            "model.vision=true",
            "images.inside_input_folder=false",
        )
        with Classifier.from_config(overrides=overrides) as clf:
            white = clf.classify("", images=[str(tmp_path / "white.png")])
            both = clf.classify("a caption", images=[dark.getvalue(), str(tmp_path / "white.png")])
            missing = clf.classify("x", images=["nowhere.png"])
        bodies = list(stub.requests)
    assert white.labels == ("science",)
    assert set(both.labels) == {"space", "science"}
    assert missing.status == "failed" and "nowhere.png: no such file" in (missing.error or "")
    assert [len(images_in(body)) for body in bodies] == [1, 2]


def test_images_without_columns_image_are_a_config_error() -> None:
    with StubServer() as stub, Classifier.from_config(overrides=stub.overrides()) as clf:
        with pytest.raises(ConfigError, match=r"columns\.image"):
            clf.classify("x", images=["a.png"])
        assert stub.requests == []
