"""report.html and leaderboard.html opened from disk in a real headless Chromium.

Debian's chromium (.ci/run installs it), driven by playwright's Python package
with executable_path: playwright's own browser downloads are never used. The
tests skip when Chromium or playwright is missing here, and fail under CI=true.
Screenshots are kept in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.evaluation.report import evaluate_results
from framework.testing import StubServer
from tests.support import REPO, stub_overrides
from tests.support.cli import labelwise
from tests.support.reports import HOSTILE, answer_by_text, scored_run

ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium; skip without it here, fail without it in CI."""
    found = os.environ.get("LABELWISE_CHROMIUM") or shutil.which("chromium") or ""
    missing = ""
    if not found or not Path(found).is_file():
        missing = "no chromium (apt-get install chromium, or set LABELWISE_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "no playwright package (pip install -c constraints.txt -e '.[dev]')"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    return found


class Browser:
    """One page at a time; console errors, page errors and every request URL noted."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.errors: list[str] = []
        self.requests: list[str] = []

    def open(self, path: Path) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        return page


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield Browser(context)
        finally:
            context.close()


def keep_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def visible_rows(page: Any) -> int:
    return int(page.locator("#errors tbody tr:visible").count())


@pytest.mark.slow
def test_report_renders_filters_and_keeps_hostile_text_inert(
    browser: Browser, tmp_path: Path
) -> None:
    results = scored_run(tmp_path)
    evaluate_results(
        results, ["x", "y"], out_dir=tmp_path, input_path=tmp_path / "input.jsonl", resamples=50
    )
    page = browser.open(tmp_path / "report.html")
    assert page.title().startswith("Run report")
    assert page.locator("svg").count() >= 3  # per-label bars, confusion, co-occurrence, ...
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("td.text", has_text="</script>").inner_text() == HOSTILE
    count = page.locator("[data-filter-count]")
    assert visible_rows(page) == 4 and count.inner_text() == "4 of 4 rows shown"
    page.select_option("[data-filter-kind]", "missed")
    assert visible_rows(page) == 3  # c (y), evil (x), the failed f (x)
    page.select_option("[data-filter-label]", "y")
    assert visible_rows(page) == 1 and count.inner_text() == "1 of 4 rows shown"
    page.select_option("[data-filter-kind]", "extra")
    assert visible_rows(page) == 2  # b and evil predicted y without gold
    page.select_option("[data-filter-kind]", "failed")
    page.select_option("[data-filter-label]", "")
    assert visible_rows(page) == 1
    page.select_option("[data-filter-kind]", "")
    slider = page.locator("[data-filter-conf]")
    slider.click()  # a person drags it: the middle is 0.5
    page.keyboard.press("Home")
    for _ in range(18):
        page.keyboard.press("ArrowRight")
    assert page.locator("[data-filter-conf-value]").inner_text() == "0.90"
    assert visible_rows(page) == 1  # only b was that sure (0.95 on its extra y)
    keep_screenshot(page, tmp_path, "report.png")
    assert browser.errors == []
    assert all(url.startswith("file://") for url in browser.requests), browser.requests


def test_report_without_gold_renders(browser: Browser, tmp_path: Path) -> None:
    from framework.evaluation.html_run import write_run_html
    from tests.support import write_jsonl

    rows = [
        {"id": "1", "labels": ["x"], "status": "ok", "confidence": {"x": 0.9}},
        {"id": "2", "labels": [], "status": "failed", "error": HOSTILE},
    ]
    results = write_jsonl(tmp_path / "results.jsonl", rows)
    page = browser.open(write_run_html(results, ["x", "y"], out_dir=tmp_path))
    assert page.locator("#failed tbody tr").count() == 1
    assert page.evaluate("typeof window.pwned") == "undefined"
    keep_screenshot(page, tmp_path, "report-no-gold.png")
    assert browser.errors == []


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    cache = tmp_path_factory.mktemp("cache")
    folders = []
    with StubServer(responder=answer_by_text) as stub:
        for few_shot in ("true", "false"):
            folder = tmp_path_factory.mktemp("run") / few_shot
            result = labelwise(
                "classify",
                f"input={REPO / 'examples' / 'news' / 'items.jsonl'}",
                *stub_overrides(stub),
                f"prompt.few_shot={few_shot}",
                f"hydra.run.dir={folder}",
                LABELWISE_CACHE_DIR=str(cache),
            )
            assert result.returncode == 0, result.stderr
            assert f"{folder / 'report.html'} (open it in a browser)" in result.stderr
            folders.append(folder)
    return folders


@pytest.mark.slow
def test_leaderboard_shows_runs_side_by_side_and_what_differs(
    browser: Browser, two_runs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    result = labelwise("compare", *map(str, two_runs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out / 'leaderboard.html'}" in result.stdout
    page = browser.open(out / "leaderboard.html")
    assert page.locator("#board tbody tr").count() == 2
    differences = page.locator("#differences").inner_text()
    assert "prompt.few_shot" in differences
    assert page.locator("svg").count() == 3  # two interval charts, F1 by label
    keep_screenshot(page, tmp_path, "leaderboard.png")
    run_page = browser.open(two_runs[0] / "report.html")  # the README's run, opened
    assert run_page.locator("#errors tbody tr").count() > 0
    keep_screenshot(run_page, tmp_path, "news-report.png")
    assert browser.errors == []
    assert all(url.startswith("file://") for url in browser.requests), browser.requests
