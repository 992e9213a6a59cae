"""docs/reference.md: every config key with its default and meaning, generated from the
schema (framework.config.reference), and never stale."""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

from framework.config.reference import REGENERATE, main, render_reference
from tests.support import REPO

REFERENCE = REPO / "docs" / "reference.md"
STALE = f"docs/reference.md is stale: regenerate it with `{REGENERATE}` (and commit it)"


def test_the_reference_is_what_the_generator_writes() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), STALE


def test_the_module_prints_the_reference() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main()
    assert printed.getvalue() == render_reference()
    assert REGENERATE in printed.getvalue(), "the page says how it is made"


def test_every_key_of_the_default_config_has_its_row() -> None:
    """Each key `labelwise classify --cfg job` shows (moved keys' old names aside) is in a
    table, with the default the composed config gives it."""
    from omegaconf import OmegaConf

    from framework.config.load import compose

    composed = OmegaConf.to_container(compose([]), resolve=False)
    assert isinstance(composed, dict)
    tree = {str(key): value for key, value in composed.items() if key != "hydra"}
    rows = dict(re.findall(r"^\| `([^`]+)` \| [^|]*(?:\\\|[^|]*)* \| (.*?) \|", _text(), re.M))
    moved = ("run.ray.", "trained.distill.")  # old names of moved keys, kept as aliases
    keys = {key for key in _leaves(tree) if not key.startswith(moved)}
    missing = sorted(key for key in keys if key not in rows)
    assert not missing, f"keys without a row: {missing}"
    assert rows["run.concurrency"].startswith("`4`")
    assert rows["prompt.template"] == "`multilabel.v2` (schema: `multilabel.v1`)"


def test_every_tune_key_has_its_row() -> None:
    from framework.config.tune_settings import TuneSettings

    for name in TuneSettings.model_fields:
        assert f"| `tune.{name}` |" in _text()


def test_a_changed_default_makes_the_reference_stale(monkeypatch: Any) -> None:
    """The comparison above would see a default that moved."""
    from framework.config.run_settings import RunSettings

    field = RunSettings.model_fields["progress_interval"]
    monkeypatch.setattr(field, "default", 11.0)
    assert "| `run.progress_interval` | float > 0 | `10.0` |" in _text()
    assert "| `run.progress_interval` | float > 0 | `10.0` |" not in render_reference()


def _text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def _leaves(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of a config tree, down to values (a taxonomy's labels: one key)."""
    found = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and dotted not in ("taxonomy.labels",):
            found += _leaves(value, f"{dotted}.")
        else:
            found.append(dotted)
    return found
