"""Templates: found by name or path, checked at load, rendered in a sandbox.

    path = find_template("multilabel.v1")         # prompts/multilabel.v1.jinja, or a file
    template = load_template(sandbox(), path, allowed, required="text", why="...")
    render_template(template, path, context)     # str; a failure is a ConfigError
    neutralise_delimiters(text, delimiter_pattern({"text", "example"}))

Every template labelwise renders (prompt.template, prompt.reask_template,
examples.template) goes through these, so each is refused the same way at load, naming
its file and line: a syntax error, a variable labelwise does not define, the variable it
must use left out, or what the sandbox refuses ({% include %}, `__class__`, ...). Data
shown inside a template (the text, the examples' texts) has the template's delimiting
tags written as [tag], so it cannot close its own part of the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from framework.errors import ConfigError, did_you_mean
from framework.resources import prompts_dir

__all__ = [
    "delimiter_pattern",
    "find_template",
    "load_template",
    "neutralise_delimiters",
    "render_template",
    "sandbox",
    "template_tags",
]

# The templates put the text between <text> and </text>; a text holding those tags could
# close the data early and have what follows read as instructions. [/text] reads as data.
_DELIMITER = re.compile(r"<\s*(/?)\s*text\s*>", re.IGNORECASE)
# A tag a template writes: <example>, </example>, <sample n="1">.
_TAG = re.compile(r"<\s*/?\s*([A-Za-z][\w.-]*)(?:\s[^<>{}]*)?\s*/?>")


def neutralise_delimiters(text: str, tags: re.Pattern[str] | None = None) -> str:
    """The text with any <text> or </text> tag in it written as [text] / [/text]; with
    `tags` (from delimiter_pattern), each of those tags likewise."""
    if "<" not in text:
        return text
    if tags is None:
        return _DELIMITER.sub(lambda m: f"[{m.group(1)}text]", text)
    return tags.sub(lambda m: f"[{m.group(1)}{m.group(2).lower()}]", text)


def delimiter_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """The tags <name>, </name> and <name with attributes> of the names, in any case."""
    words = sorted({re.escape(name.lower()) for name in names}, key=len, reverse=True)
    return re.compile(rf"<\s*(/?)\s*({'|'.join(words)})(?:\s[^<>]*)?\s*/?>", re.IGNORECASE)


def template_tags(source: str) -> set[str]:
    """The names of the tags a template's own text writes (<example>: example): the
    delimiters that data shown inside it must not hold."""
    return {match.group(1).lower() for match in _TAG.finditer(source)}


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


def sandbox() -> Any:
    """The Jinja environment every template renders in: sandboxed, StrictUndefined, and
    without a loader (so {% include %} and {% import %} reach no file)."""
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


def load_template(
    env: Any,
    path: Path,
    allowed: frozenset[str],
    *,
    required: str | None = None,
    why: str = "",
) -> Any:
    """The template of a file, refused (ConfigError naming the file and line) when it does
    not parse, names a variable outside `allowed`, or never uses `required` (`why`
    says what that would do)."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a template (not UTF-8 text)") from None
    try:
        parsed = env.parse(source, name=path.name, filename=str(path))
    except TemplateSyntaxError as error:
        raise ConfigError(
            f"{path}:{error.lineno}: template syntax error: {error.message}"
        ) from None
    used = meta.find_undeclared_variables(parsed)
    if required is not None and required not in used:
        raise ConfigError(
            f"{path}: the template never uses the {required} ({{{{ {required} }}}}), {why}"
        )
    unknown = sorted(used - allowed)
    if unknown:
        name = unknown[0]
        line = next((n for n, text in enumerate(source.splitlines(), 1) if name in text), "?")
        raise ConfigError(
            f"{path}:{line}: the template uses {name!r}, which labelwise does not define"
            f"{did_you_mean(name, allowed)}\n  available: {', '.join(sorted(allowed))}"
        )
    return env.from_string(parsed)


def render_template(template: Any, path: Path, context: dict[str, Any]) -> str:
    """The template rendered; what the sandbox refuses or the template fails on is a
    ConfigError naming the file."""
    try:
        return str(template.render(context)).strip()
    except SecurityError as error:
        raise ConfigError(f"{path}: the sandbox refused: {error}") from None
    except (
        TemplateError,
        TypeError,
        ValueError,
        LookupError,
        ArithmeticError,
        RecursionError,
    ) as error:
        raise ConfigError(f"{path}: the template failed: {error}") from None
