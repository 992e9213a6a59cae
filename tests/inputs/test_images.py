"""Rows with images: read from JSONL, CSV and Parquet, checked and downscaled in one place
(framework.inputs.images), and every kind of bad image failing its row with its reason
while the run goes on."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from framework.config.schema import ColumnNames, ImageSettings
from framework.inputs.images import ImageRefused, prepare_image
from framework.inputs.readers import read_rows
from framework.providers.vision import image_limits
from framework.records import ImageRef
from framework.testing import Reply, StubServer, images_in
from tests.support import classify_command, read_jsonl, run_cli, write_jsonl

SETTINGS = ImageSettings()
OPENAI = image_limits("openai_compatible")


def png(size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def bomb() -> bytes:
    """A valid PNG header claiming 30000x30000 pixels (900 million), with one tiny row."""
    data = bytearray(png((1, 1)))
    ihdr = struct.pack(">II", 30000, 30000) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(out, format="BMP")
    return out.getvalue()


def prepare(value: str, root: Path, **settings: object):  # type: ignore[no-untyped-def]
    return prepare_image(
        ImageRef(value), root=root, settings=SETTINGS.model_copy(update=settings), limits=OPENAI
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ok.png").write_bytes(png())
    (tmp_path / "in" / "truncated.jpg").write_bytes(_jpeg()[:300])
    (tmp_path / "in" / "bitmap.bmp").write_bytes(bmp())
    (tmp_path / "in" / "bomb.png").write_bytes(bomb())
    (tmp_path / "in" / "big.png").write_bytes(png((900, 900)) + b"\0" * 5000)
    (tmp_path / "outside.png").write_bytes(png())
    return tmp_path / "in"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((200, 200), 60).convert("RGB").save(out, format="JPEG")
    return out.getvalue()


BAD = [
    ("missing.png", {}, "no such file"),
    ("https://example.org/a.png", {}, "fetches no URLs, and labelwise downloads nothing"),
    ("http://example.org/a.png", {}, "not https"),
    ("truncated.jpg", {}, "unreadable"),
    ("bitmap.bmp", {}, "format BMP, which this provider does not take"),
    ("big.png", {"max_file_bytes": 4000}, "over images.max_file_bytes (4000)"),
    ("bomb.png", {}, "a decompression bomb"),
    ("ok.png", {"max_pixels": 1000}, "40x30 pixels, over images.max_pixels (1000)"),
    ("../outside.png", {}, "outside the input file's folder"),
    ("data:image/png;base64,!!!", {}, "its base64 does not decode"),
    ("data:image/png,abc", {}, "not base64"),
]


@pytest.mark.parametrize(("value", "settings", "reason"), BAD)
def test_a_bad_image_is_refused_with_its_reason(
    folder: Path, value: str, settings: dict[str, object], reason: str
) -> None:
    with pytest.raises(ImageRefused, match=None) as refused:
        prepare(value, folder, **settings)
    assert reason in str(refused.value)
    if value.startswith("data:"):  # what a data: URI carries is never quoted back
        assert value.partition(",")[2] not in str(refused.value)


def test_a_path_outside_the_tree_is_read_when_allowed(folder: Path) -> None:
    image = prepare("../outside.png", folder, inside_input_folder=False)
    assert image.describe()["prepared"] == "sent as read"


def test_a_large_image_is_downscaled_to_the_providers_long_side(folder: Path) -> None:
    (folder / "wide.png").write_bytes(png((5000, 1000)))
    image = prepare_image(
        ImageRef("wide.png"), root=folder, settings=SETTINGS, limits=image_limits("anthropic")
    )
    assert image.size == (1568, 314) and image.read_size == (5000, 1000)
    assert image.describe()["prepared"] == "downscaled from 5000x1000"
    sent = base64.b64decode(image.url.partition(",")[2])
    assert Image.open(io.BytesIO(sent)).size == (1568, 314)
    assert "base64" not in repr(image) and "base64" not in json.dumps(image.describe())


def test_a_data_uri_and_bytes_are_read_like_a_file(folder: Path) -> None:
    data = png()
    from_file = prepare("ok.png", folder)
    from_uri = prepare(f"data:image/png;base64,{base64.b64encode(data).decode()}", folder)
    from_bytes = prepare_image(
        ImageRef("bytes", data), root=folder, settings=SETTINGS, limits=OPENAI
    )
    assert from_file.sha256 == from_uri.sha256 == from_bytes.sha256


def test_jsonl_csv_and_parquet_rows_name_their_images(tmp_path: Path) -> None:
    names = ColumnNames(image="image")
    write_jsonl(
        tmp_path / "a.jsonl",
        [{"id": "a", "image": "x.png"}, {"id": "b", "text": "t", "image": ["x.png", "y.png"]}],
    )
    (tmp_path / "a.csv").write_text("id,text,image\nc,,x.png\n", encoding="utf-8")
    table = pa.table({"id": ["d"], "text": ["cap"], "image": [png()]})
    pq.write_table(table, tmp_path / "a.parquet")
    items = [
        row.item
        for path in ("a.jsonl", "a.csv", "a.parquet")
        for row in read_rows(tmp_path / path, names)
    ]
    assert [(i.id, i.text, [r.value for r in i.images]) for i in items if i] == [
        ("a", "", ["x.png"]),
        ("b", "t", ["x.png", "y.png"]),
        ("c", "", ["x.png"]),
        ("d", "cap", ["bytes"]),
    ]
    assert items[3] is not None and items[3].images[0].data == png()
    bad = next(iter(read_rows(write_jsonl(tmp_path / "b.jsonl", [{"id": "e", "image": 5}]), names)))
    assert bad.error is not None and "image holds a int" in bad.error


def test_every_bad_image_fails_its_row_and_the_run_goes_on(folder: Path) -> None:
    rows = [
        {"id": f"bad{n}", "image": value}
        for n, (value, settings, _) in enumerate(BAD)
        if not settings
    ]
    rows += [{"id": "good", "text": "caption", "image": "ok.png"}, {"id": "text", "text": "words"}]
    source = write_jsonl(folder / "items.jsonl", rows)
    output = folder.parent / "results.jsonl"
    with StubServer(default=Reply(content='{"labels": ["space"]}')) as stub:
        result = run_cli(
            classify_command(
                source,
                output,
                stub,
                folder.parent / "run",
                "columns.image=image",
                "model.vision=true",
            )
        )
        bodies = list(stub.requests)
    assert result.returncode == 0, result.stderr
    by_id = {row["id"]: row for row in read_jsonl(output)}
    for n, (_, settings, reason) in enumerate(BAD):
        if not settings:
            assert by_id[f"bad{n}"]["status"] == "failed" and reason in by_id[f"bad{n}"]["error"]
            assert by_id[f"bad{n}"]["error_kind"] == "image"
    assert by_id["good"]["status"] == by_id["text"]["status"] == "ok"
    assert len(bodies) == 2 and sorted(len(images_in(b)) for b in bodies) == [0, 1]
    written = b"".join(
        p.read_bytes() for p in folder.parent.rglob("*") if p.is_file() and "in" not in p.parts
    )
    assert base64.b64encode(png())[:60] not in written  # the image sent, in no file written
    assert "base64" not in result.stderr


def test_a_model_without_vision_is_refused_before_any_call(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "image": "x.png"}])
    output = tmp_path / "results.jsonl"
    with StubServer() as stub:
        unknown = run_cli(
            classify_command(source, output, stub, tmp_path / "r1", "columns.image=image")
        )
        refused = run_cli(
            classify_command(
                source, output, stub, tmp_path / "r2", "columns.image=image", "model.vision=false"
            )
        )
        assert stub.requests == []
    assert (
        unknown.returncode == 2
        and "model.vision: litellm's model data does not know" in unknown.stderr
    )
    assert refused.returncode == 2 and "model.vision: false" in refused.stderr
    local = run_cli(
        [
            *classify_command(source, output, stub, tmp_path / "r3", "columns.image=image")[:5],
            "columns.image=image",
            f"hydra.run.dir={tmp_path / 'r3'}",
        ]
    )
    assert local.returncode == 2 and "columns.image: provider=local runs no vision" in local.stderr
