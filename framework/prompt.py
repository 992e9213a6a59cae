"""Prompts: versioned Jinja2 files rendered in a sandbox with StrictUndefined.

The text to classify is passed as a variable, never as template source, so
Jinja syntax inside it is printed, not run. A template that names a variable
labelwise does not provide is a ConfigError at load time, not a failure on
the first row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from framework.config.schema import PromptConfig, TaxonomyConfig, ValidationConfig
from framework.errors import ConfigError, did_you_mean
from framework.records import Message
from framework.resources import prompts_dir

__all__ = ["PROMPT_VARIABLES", "REASK_VARIABLES", "PromptRenderer", "find_template"]

PROMPT_VARIABLES = frozenset(
    {
        "taxonomy",
        "labels",
        "text",
        "few_shot",
        "none_label",
        "allow_empty",
        "min_labels",
        "max_labels",
        "schema",
    }
)
REASK_VARIABLES = frozenset({"problems", "label_ids", "answer"})


def find_template(name: str) -> Path:
    """A template by name (multilabel.v1 -> prompts/multilabel.v1.jinja) or by file path."""
    as_path = Path(name)
    if as_path.suffix == ".jinja" or as_path.parent != Path("."):
        if as_path.is_file():
            return as_path
        raise ConfigError(f"prompt template file {name} does not exist")
    bundled = prompts_dir() / f"{name}.jinja"
    if bundled.is_file():
        return bundled
    available = sorted(p.name.removesuffix(".jinja") for p in prompts_dir().glob("*.jinja"))
    raise ConfigError(
        f"prompt template {name!r}: no file {bundled.name} in {prompts_dir()}"
        f"{did_you_mean(name, available)}; available: {', '.join(available)}"
    )


class PromptRenderer:
    """Renders the messages for one text, and the re-ask after a rejected answer."""

    def __init__(
        self,
        prompt: PromptConfig,
        taxonomy: TaxonomyConfig,
        policy: ValidationConfig,
        *,
        schema_in_prompt: str | None = None,
    ) -> None:
        self._env = ImmutableSandboxedEnvironment(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._system = prompt.system
        self._paths = (find_template(prompt.template), find_template(prompt.reask_template))
        self._template = self._load(self._paths[0], PROMPT_VARIABLES)
        self._reask = self._load(self._paths[1], REASK_VARIABLES)
        self._context: dict[str, Any] = {
            "taxonomy": {
                "name": taxonomy.name,
                "version": taxonomy.version,
                "description": taxonomy.description,
            },
            "labels": [label.model_dump() for label in taxonomy.labels],
            "few_shot": prompt.few_shot,
            "none_label": taxonomy.none_label,
            "allow_empty": taxonomy.allow_empty,
            "min_labels": policy.min_labels,
            "max_labels": policy.max_labels,
            "schema": schema_in_prompt,
        }
        self._label_ids = [label.id for label in taxonomy.labels]
        # Render once now, so a template that fails at run time fails here instead.
        self.render("probe")
        self.reask([], "{}", ["probe"])

    @property
    def digest(self) -> str:
        """sha256 over the template sources and the system text: the prompt's identity."""
        digest = hashlib.sha256(self._system.encode("utf-8"))
        for path in self._paths:
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def render(self, text: str) -> tuple[Message, ...]:
        user = self._run(self._template, self._paths[0], {**self._context, "text": text})
        system = [{"role": "system", "content": self._system}] if self._system else []
        return (*system, {"role": "user", "content": user})

    def reask(
        self, messages: Sequence[Message], answer: str, problems: Sequence[str]
    ) -> tuple[Message, ...]:
        """The conversation so far, the rejected answer, and the problems quoted back."""
        context = {"problems": list(problems), "label_ids": self._label_ids, "answer": answer}
        feedback = self._run(self._reask, self._paths[1], context)
        return (
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": feedback},
        )

    def _load(self, path: Path, allowed: frozenset[str]) -> Any:
        source = path.read_text(encoding="utf-8")
        try:
            parsed = self._env.parse(source, name=path.name, filename=str(path))
        except TemplateSyntaxError as error:
            raise ConfigError(
                f"{path}:{error.lineno}: template syntax error: {error.message}"
            ) from None
        unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
        if unknown:
            name = unknown[0]
            line = next((n for n, text in enumerate(source.splitlines(), 1) if name in text), "?")
            raise ConfigError(
                f"{path}:{line}: the template uses {name!r}, which labelwise does not define"
                f"{did_you_mean(name, allowed)}\n  available: {', '.join(sorted(allowed))}"
            )
        return self._env.from_string(parsed)

    @staticmethod
    def _run(template: Any, path: Path, context: dict[str, Any]) -> str:
        try:
            return str(template.render(context)).strip()
        except SecurityError as error:
            raise ConfigError(f"{path}: the sandbox refused: {error}") from None
        except TemplateError as error:
            raise ConfigError(f"{path}: {error}") from None
