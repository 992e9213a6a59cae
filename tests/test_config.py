"""Config loading: every bad config names its key or file in one or two lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.config.load import compose, load_run_config
from framework.errors import ConfigError
from framework.prompt import PromptRenderer
from tests.support import REPO


def load_error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose(list(overrides)))
    return str(caught.value)


def test_default_config_loads() -> None:
    config = load_run_config(compose([]))
    assert config.provider.kind == "local"
    assert config.taxonomy.name == "news"
    assert [label.id for label in config.taxonomy.labels] == [
        "space", "science", "technology", "climate", "none",
    ]  # fmt: skip


def test_support_tickets_taxonomy_loads() -> None:
    config = load_run_config(compose(["taxonomy=support_tickets"]))
    assert [label.id for label in config.taxonomy.labels] == ["ACCOUNT", "BILLING", "GENERAL_QUERY"]
    assert all(label.examples for label in config.taxonomy.labels)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["provider=opnai"], "provider=opnai: no such option (did you mean openai?)"),
        (["taxonomy=nope"], "taxonomy=nope: no such option"),
        (["validation.max_retires=3"], "validation.max_retires: not a known key (did you mean max_retries?)"),
        (["+validation.max_retires=3"], "validation.max_retires: not a known key (did you mean max_retries?)"),
        (["taxonomy.labels=[]"], "taxonomy.labels: the list is empty"),
        (["taxonomy.labels.1.id=space"], "taxonomy.labels: duplicate id 'space'"),
        (["taxonomy.none_label=nada"], "taxonomy.none_label: 'nada' is not a label id"),
        (["provider=openai_compatible"], "provider.api_base: required"),
        (["model.temperature=hot"], "model.temperature: Input should be a valid number"),
        (["validation.on_unknown_label=ignore"], "validation.on_unknown_label: Input should be 'retry', 'drop' or 'fail'"),
        (["validation.min_labels=3", "validation.max_labels=2"], "validation.min_labels: 3 is greater than max_labels (2)"),
        (["run.concurency=2"], "run.concurency: not a known key (did you mean concurrency?)"),
        (["provider=openai", "model=gpt-4o-mini", "provider.output_mode=json_object"], "provider.output_mode: json_object is not possible"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(overrides: list[str], expected: str) -> None:
    message = load_error(*overrides) if "output_mode" not in expected else _mode_error(overrides)
    assert expected in message
    assert len(message.splitlines()) <= 2


def _mode_error(overrides: list[str]) -> str:
    from framework.classifier import Classifier

    with pytest.raises(ConfigError) as caught:
        Classifier(load_run_config(compose([*overrides])))
    return str(caught.value)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    conf = _copy_conf(tmp_path)
    (conf / "validation" / "typo.yaml").write_text("on_unknown_lable: drop\n")
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose(["validation=typo"], config_dir=conf))
    message = str(caught.value)
    assert (
        "validation.on_unknown_lable: not a known key (did you mean on_unknown_label?)" in message
    )
    assert "validation/typo.yaml" in message


def test_missing_template_is_a_config_error() -> None:
    config = load_run_config(compose(["prompt.template=multilabel.v9"]))
    with pytest.raises(
        ConfigError, match=r"prompt template 'multilabel.v9'.*did you mean multilabel.v1"
    ):
        PromptRenderer(config.prompt, config.taxonomy, config.validation)


def test_template_with_an_undefined_variable_names_file_line_and_variable(tmp_path: Path) -> None:
    template = tmp_path / "mine.jinja"
    template.write_text("Label this.\n{{ text }}\nUse {{ labelz }}.\n")
    config = load_run_config(compose([f"prompt.template={template}"]))
    with pytest.raises(ConfigError) as caught:
        PromptRenderer(config.prompt, config.taxonomy, config.validation)
    assert f"{template}:3: the template uses 'labelz'" in str(caught.value)
    assert "did you mean labels?" in str(caught.value)


def test_template_syntax_error_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "broken.jinja"
    template.write_text("{{ text }}\n{% for label in labels %}\n")
    config = load_run_config(compose([f"prompt.template={template}"]))
    with pytest.raises(ConfigError, match=r"broken.jinja:\d+: template syntax error"):
        PromptRenderer(config.prompt, config.taxonomy, config.validation)


def test_missing_api_key_says_which_variable() -> None:
    from framework.classifier import Classifier

    config = load_run_config(compose(["provider=openai", "model=gpt-4o-mini"]))
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        Classifier(config)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["provider=opnai"], "provider=opnai: no such option"),
        (["validation.max_retires=3"], "validation.max_retires: not a known key"),
        (["taxonomy.labels=[]"], "taxonomy.labels: the list is empty"),
        (["prompt.template=multilabel.v9", "input=examples/news/items.jsonl"],
         "prompt template 'multilabel.v9'"),
        (["input=does/not/exist.jsonl", "provider=openai_compatible",
          "provider.api_base=http://127.0.0.1:9/v1", "model.name=m"], "does/not/exist.jsonl does not exist"),
        (["provider=openai_compatible", "provider.api_base=http://127.0.0.1:9/v1",
          "model.name=m"], "input: required"),
    ],
)  # fmt: skip
def test_cli_config_errors_exit_2_without_traceback(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "framework", "classify", *args, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def _copy_conf(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "conf"
    shutil.copytree(REPO / "conf", target)
    return target
