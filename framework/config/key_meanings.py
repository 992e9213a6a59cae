"""What the schema says a config key means, for the reference (framework.config.reference).

    field_meanings(RunSettings)   -> {"resume": "An output that already holds rows: ..."}
    config_yaml_comments()        -> {"run.concurrency": "Requests in flight at once."}

A field's meaning is the first of: its pydantic description; the entry its class's
docstring gives it (`name: ...`, `a / b: ...`, or `(`name`): ...`), or gives its values
(`on: ...; off: ...`); the comment lines right above it in the class; the docstring's
first short clause that names it. The schema is written for people who read the code,
so the reference reads what is already there rather than a second copy kept by hand.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator
from typing import get_args

from pydantic import BaseModel

__all__ = ["config_yaml_comments", "field_meanings"]


def field_meanings(model: type[BaseModel]) -> dict[str, str]:
    """Each field's meaning (on one line), for the fields anything speaks of."""
    doc = (inspect.getdoc(model) or "") if model.__doc__ else ""
    names = list(model.model_fields)
    entries = _docstring_entries(doc, names)
    comments = _comments_above(model)
    found = {}
    for name, field in model.model_fields.items():
        values = [str(arg) for arg in get_args(field.annotation) if isinstance(arg, str)]
        of_values = _docstring_entries(doc, [*values, *names]) if values else {}
        said = [
            f"{value}: {of_values[value].rstrip('.')}" for value in values if value in of_values
        ]
        meaning = (
            field.description
            or entries.get(name)
            or ("; ".join(said) if len(said) > 1 else "")
            or comments.get(name)
            or _clause_naming(doc, name)
        )
        if meaning:
            found[name] = _one_line(meaning)
    return found


def config_yaml_comments() -> dict[str, str]:
    """The comment above each key of conf/config.yaml, by dotted key (`run.concurrency`)."""
    from framework.resources import conf_dir

    found: dict[str, str] = {}
    path: list[tuple[int, str]] = []  # (indent, key) of the keys enclosing the line
    above: list[str] = []
    for line in (conf_dir() / "config.yaml").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#"):
            above.append(line.strip().lstrip("#").strip())
            continue
        key = re.match(r"^(\s*)([A-Za-z_]\w*):", line)
        if key:
            indent = len(key.group(1))
            path = [*(step for step in path if step[0] < indent), (indent, key.group(2))]
            if above:
                found[".".join(name for _, name in path)] = " ".join(above)
        above = []
    return found


def _docstring_entries(doc: str, names: list[str]) -> dict[str, str]:
    """The `name: meaning` entries of a docstring, up to the next entry, paragraph or
    sentence that starts with a capital."""
    if not names:
        return {}
    one = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    starts = re.compile(
        rf"(?:(?<=^)|(?<=\n)|(?<=; )|(?<=\. ))(?P<keys>`?(?:{one})`?(?: / `?(?:{one})`?)*):\s"
        rf"|\(`(?P<quoted>{one})`\):\s"
    )
    matches = list(starts.finditer(doc))
    found: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(doc)
        text = doc[match.end() : end]
        stop = re.search(r"\n\s*\n|\.\s+(?=[A-Z])", text)
        text = _one_line(text[: stop.start() + 1 if stop else len(text)]).rstrip(";, ")
        for key in (match.group("keys") or match.group("quoted")).split(" / "):
            found.setdefault(key.strip("`"), text)
    return found


def _comments_above(model: type[BaseModel]) -> dict[str, str]:
    """The comment lines right above each field in the class's source."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):  # no source to read (a frozen build): no comments
        return {}
    lines = source.splitlines()
    found = {}
    body = ast.parse(source).body[0]
    for node in body.body if isinstance(body, ast.ClassDef) else []:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above: list[str] = []
            row = node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#"):
                above.insert(0, lines[row].strip().lstrip("#").strip())
                row -= 1
            if above:
                found[node.target.id] = " ".join(above)
    return found


def _clause_naming(doc: str, name: str) -> str:
    """The docstring's first short clause that names the field: in backticks, or bare
    when the name holds an underscore (no English word does)."""
    named = rf"`{re.escape(name)}`" if "_" not in name else rf"(?<![\w.]){re.escape(name)}\b"
    for clause in _clauses(doc):
        if re.search(named, clause) and len(clause) <= 160:
            return clause
    return ""


def _clauses(doc: str) -> Iterator[str]:
    for paragraph in doc.split("\n\n"):
        for sentence in re.split(r"(?<=\.)\s+", _one_line(paragraph)):
            yield from (part.strip() for part in re.split(r";\s+", sentence) if part.strip())


def _one_line(text: str) -> str:
    return " ".join(text.split())
