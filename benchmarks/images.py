"""Rows with images against the loopback stub: rows/s of the bundled photo example (repeated
to --rows rows, cache off) beside the same rows as text only, and the bytes of a request
carrying a 4032x3024 photo before and after each provider's downscaling.

    python benchmarks/images.py                 # 400 rows; a phone-sized photo made from astronaut.jpg
    python benchmarks/images.py --rows 1000

Results go to outputs/benchmarks/images/ (the input files, each run's folder).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from framework.config.schema import ImageSettings
from framework.inputs.images import prepare_image
from framework.providers.vision import image_limits
from framework.records import ImageRef
from framework.testing import Reply, StubServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "images"
OUT = REPO / "outputs" / "benchmarks" / "images"


def inputs(rows: int) -> tuple[Path, Path]:
    """The example's rows repeated to `rows` rows, with images and as text only."""
    OUT.mkdir(parents=True, exist_ok=True)
    example = [json.loads(line) for line in (EXAMPLE / "items.jsonl").read_text().splitlines()]
    for photo in EXAMPLE.glob("*.jpg"):  # beside the input: paths inside its folder
        shutil.copyfile(photo, OUT / photo.name)
    with_images, text_only = OUT / "items.jsonl", OUT / "text.jsonl"
    lines, texts = [], []
    for n in range(rows):
        row = example[n % len(example)]
        lines.append(json.dumps({**row, "id": f"{row['id']}-{n}"}))
        texts.append(json.dumps({"id": f"{row['id']}-{n}", "text": f"a photo of {row['id']}"}))
    with_images.write_text("\n".join(lines) + "\n")
    text_only.write_text("\n".join(texts) + "\n")
    return with_images, text_only


def rows_per_second(source: Path, stub: StubServer, *extra: str) -> float:
    run = OUT / f"run-{source.stem}"
    argv = [
        sys.executable, "-m", "framework", "classify", f"input={source}",
        f"output={run / 'results.jsonl'}", f"hydra.run.dir={run}", "taxonomy=photo_subjects",
        "provider=openai_compatible", f"provider.api_base={stub.url}", "model.name=stub",
        "cache.mode=off", "run.resume=never", "run.progress=off", *extra,
    ]  # fmt: skip
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env=env, check=True, capture_output=True)
    rows = sum(1 for _ in (run / "results.jsonl").open())
    return rows / (time.perf_counter() - started)


def request_bytes() -> dict[str, dict[str, int | str]]:
    """A 4032x3024 JPEG as read, and as each provider's limits send it."""
    photo = OUT / "photo.jpg"
    Image.open(EXAMPLE / "astronaut.jpg").resize((4032, 3024)).save(photo, quality=90)
    read = photo.stat().st_size
    found: dict[str, dict[str, int | str]] = {
        "as read": {"bytes": read, "base64": len(base64.b64encode(photo.read_bytes()))}
    }
    for kind in ("openai", "anthropic", "gemini", "ollama"):
        image = prepare_image(
            ImageRef(photo.name), root=OUT, settings=ImageSettings(), limits=image_limits(kind)
        )
        found[kind] = {"size": str(image.describe()["size"]), "bytes": image.bytes_sent,
                       "base64": len(image.url)}  # fmt: skip
    return found


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=int, default=400)
    args = cli.parse_args()
    with_images, text_only = inputs(args.rows)
    with StubServer(default=Reply(content='{"labels": ["space"]}'), record=False) as stub:
        images = rows_per_second(with_images, stub, "columns.image=image", "model.vision=true")
        text = rows_per_second(text_only, stub)
    print(f"rows/s, whole process, {args.rows} rows: images {images:.1f}, text only {text:.1f}")
    for name, figures in request_bytes().items():
        print(f"{name:>10}: {figures}")


if __name__ == "__main__":
    main()
