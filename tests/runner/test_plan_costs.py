"""`labelwise plan` with prompt caching and service tiers: the prompt's shared prefix
expected from the provider's cache on every call after the first, and the tier's price."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.cli import NEWS, labelwise, numbers

GUIDE = (
    "Read the whole text before you choose. A label applies when the text is mainly about "
    "its subject, not when the subject is only named in passing; a story about a launch "
    "delayed by weather is about space first and climate only if the weather is its point. "
)


def long_template(folder: Path) -> Path:
    """multilabel.v1 with an annotation guide ahead of it: a prefix over 1,024 tokens."""
    source = (REPO / "prompts" / "multilabel.v1.jinja").read_text(encoding="utf-8")
    path = folder / "guided.v1.jinja"
    path.write_text(GUIDE * 40 + "\n\n" + source, encoding="utf-8")
    return path


def dollars(text: str, label: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return [float(n.replace(",", "")) for n in re.findall(r"\$([\d.,]+\d)", line)]


@pytest.mark.slow
def test_plan_expects_the_shared_prefix_from_the_cache_and_prices_it_lower(
    tmp_path: Path,
) -> None:
    template = long_template(tmp_path)
    common = [f"input={NEWS}", "provider=anthropic", "model=claude-haiku-4-5", "taxonomy=news"]
    common.append(f"prompt.template={template}")
    on = labelwise(
        "plan",
        *common,
        "provider.prompt_caching=on",
        ANTHROPIC_API_KEY="sk-ant-t",
        OPENAI_API_KEY="sk-t",
    )
    off = labelwise(
        "plan",
        *common,
        "provider.prompt_caching=off",
        ANTHROPIC_API_KEY="sk-ant-t",
        OPENAI_API_KEY="sk-t",
    )
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    read, written = numbers(on.stdout, "prompt cache")[:2]
    calls = numbers(on.stdout, "calls")[0]
    assert calls == 20 and written > 1024 and read == written * (calls - 1)
    assert "prompt cache" not in off.stdout  # Anthropic caches only where asked
    assert dollars(on.stdout, "cost")[0] < 0.5 * dollars(off.stdout, "cost")[0]


@pytest.mark.slow
def test_plan_prices_a_flex_run_at_the_flex_price_which_is_the_batch_price() -> None:
    result = labelwise(
        "plan",
        f"input={NEWS}",
        "provider=openai",
        "model=gpt-4o-mini",
        "model.name=gpt-5-mini",
        "taxonomy=news",
        "provider.service_tier=flex",
        ANTHROPIC_API_KEY="sk-ant-t",
        OPENAI_API_KEY="sk-t",
    )
    assert result.returncode == 0, result.stderr
    assert "at the flex tier's price" in result.stdout
    assert dollars(result.stdout, "cost")[0] == dollars(result.stdout, "batch cost")[0]
