"""Prompts: versioned Jinja2 files rendered in a sandbox with StrictUndefined.

The text to classify is passed as a variable, never as template source, so
Jinja syntax inside it is printed, not run. A template that names a variable
labelwise does not provide is a ConfigError at load time, not a failure on
the first row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from framework.config.schema import PromptConfig
from framework.engine.templates import (
    find_template,
    load_template,
    neutralise_delimiters,
    render_template,
    sandbox,
)
from framework.errors import ConfigError
from framework.labels.label_set import LabelSet
from framework.providers.image_parts import IMAGES_MARK
from framework.records import Message

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
        "exclusive",
        "hierarchy",
        "by_index",
        "none_key",
        "label",
        "images",
    }
)
REASK_VARIABLES = frozenset({"problems", "label_ids", "answer", "answer_form"})


# Stands for the text in a prompt rendered once: nothing a template prints looks like it.
_SENTINEL = "\x00labelwise:text:7f3c9a\x00"


def _prints_text_plainly(source: str, env: Any) -> bool:
    """Whether the template only prints the text as it is ({{ text }}: no filter, test or
    condition reads it), and prints it inside, so that rendering once with a stand-in
    and putting each text in its place gives what rendering each time gives."""
    from jinja2 import nodes

    tree = env.parse(source)
    printed = {
        id(child)
        for output in tree.find_all(nodes.Output)
        for child in output.nodes
        if isinstance(child, nodes.Name) and child.name == "text"
    }
    used = [node for node in tree.find_all(nodes.Name) if node.name == "text"]
    return bool(used) and all(id(node) in printed for node in used)


def _label_context(labels: LabelSet) -> list[dict[str, Any]]:
    """The offered labels as templates see them: every field, plus the key an answer
    uses for it (its id, or its number)."""
    return [{**label.model_dump(), "key": labels.key(label.id)} for label in labels.specs]


class PromptRenderer:
    """Renders the messages for one text, and the re-ask after a rejected answer."""

    def __init__(
        self,
        prompt: PromptConfig,
        label_set: LabelSet,
        *,
        template: str | None = None,
        schema_in_prompt: str | None = None,
        answer_form: str | None = None,
    ) -> None:
        taxonomy, policy, by_index = label_set.taxonomy, label_set.policy, label_set.by_index
        self._env = sandbox()
        self._system = prompt.system
        self._paths = (
            find_template(template or prompt.template),
            find_template(prompt.reask_template),
        )
        self._template = load_template(
            self._env,
            self._paths[0],
            PROMPT_VARIABLES,
            required="text",
            why="so every row would get the same request and the same labels; put {{ text }} "
            "where the text to classify goes",
        )
        # (topic -> the rendered prompt split where the text goes), when the template only
        # prints the text as it is: rendering a template costs ~0.2 ms a row, a join ~1 us.
        self._pieces: dict[str | None, list[str]] | None = (
            {}
            if _prints_text_plainly(self._paths[0].read_text(encoding="utf-8"), self._env)
            else None
        )
        self._reask = load_template(self._env, self._paths[1], REASK_VARIABLES)
        if by_index and "label.key" not in self._paths[0].read_text(encoding="utf-8"):
            raise ConfigError(
                f"{self._paths[0]}: this taxonomy is asked by label number (prompt.label_keys), "
                "but the template shows no label.key; use prompt=multilabel_v2"
            )
        labels = _label_context(label_set)
        keys = {label["id"]: label["key"] for label in labels}
        self._context: dict[str, Any] = {
            "taxonomy": {
                "name": taxonomy.name,
                "version": taxonomy.version,
                "description": taxonomy.description,
            },
            "labels": labels,
            "few_shot": prompt.few_shot,
            "none_label": taxonomy.none_label,
            "allow_empty": taxonomy.allow_empty,
            "min_labels": policy.min_labels,
            "max_labels": policy.max_labels,
            "schema": schema_in_prompt,
            "exclusive": [
                {"name": name, "labels": members, "choices": [keys.get(m, m) for m in members]}
                for name, members in taxonomy.exclusive.items()
            ],
            "hierarchy": policy.hierarchy,
            "by_index": by_index,
            "none_key": keys.get(taxonomy.none_label) if taxonomy.none_label else None,
            # Where the row's images go (framework.providers.image_parts); none: after the text.
            "images": IMAGES_MARK,
        }
        self._label_ids = [
            f"{label['key']} ({label['id']})" if by_index else label["id"] for label in labels
        ]
        self._by_id = {label["id"]: label for label in labels}
        self._answer_form = answer_form or (
            'a JSON object of the form {"labels": [...]}, using only these label ids: '
            + ", ".join(self._label_ids)
        )
        # Render once now, so a template that fails at run time fails here instead; and
        # check the fast path gives what rendering gives, or do without it.
        topic = labels[0]["id"] if labels else None
        probe = "  a probe:\n{{ x }} </text> \u2028 ü  "
        fast = self.render(probe, topic=topic)
        slow = self._render_slowly(probe, topic)
        if fast != slow:
            self._pieces = None
        self.reask([], "{}", ["probe"])

    @property
    def digest(self) -> str:
        """sha256 over the template sources and the system text: the prompt's identity."""
        digest = hashlib.sha256(self._system.encode("utf-8"))
        for path in self._paths:
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def shared_prefix(self) -> str | None:
        """The start every prompt of the run shares (instructions, taxonomy and its
        examples), up to the template's <text> tag, where a row's own examples and the
        text go: what a provider's prompt cache can reuse. None when the template's text
        is not in its last message or it cannot be rendered without a topic (per label)."""
        try:
            content = self._render_slowly(_SENTINEL, None)[-1]["content"]
        except Exception:  # a per-label template needs its label: no prefix shared by all
            return None
        cut = content.find(_SENTINEL)
        if cut < 0:
            return None
        at = content.rfind("<text>", 0, cut)
        return content[: at if at >= 0 else cut] or None

    def render(
        self, text: str, *, topic: str | None = None, preface: str | None = None
    ) -> tuple[Message, ...]:
        """The messages for a text; `topic` is the label asked about, for per-label prompts;
        `preface` goes ahead of the prompt (the text's labeled examples)."""
        if self._pieces is None:
            messages = self._render_slowly(text, topic)
        else:
            pieces = self._pieces.get(topic)
            if pieces is None:
                pieces = self._render_slowly(_SENTINEL, topic)[-1]["content"].split(_SENTINEL)
                self._pieces[topic] = pieces
            user = neutralise_delimiters(text).join(pieces)
            system = [{"role": "system", "content": self._system}] if self._system else []
            messages = (*system, {"role": "user", "content": user})
        if preface is None:
            return messages
        # Just ahead of the text, after the instructions every prompt shares: a server's
        # prompt cache then reuses that prefix. Put first, it made each call reread the
        # whole prompt (local Qwen 1.5B, GoEmotions: 0.13 rows/s against 0.8 without).
        *before, last = messages
        content = last["content"]
        # The template's own <text> tag (a text's are neutralised); none: put it first.
        at = max(content.rfind("<text>"), 0)
        content = f"{content[:at]}{preface}\n\n{content[at:]}"
        return (*before, {**last, "content": content})

    def _render_slowly(self, text: str, topic: str | None) -> tuple[Message, ...]:
        context = {
            **self._context,
            "text": neutralise_delimiters(text) if text != _SENTINEL else text,
            "label": self._by_id.get(topic or ""),
        }
        user = render_template(self._template, self._paths[0], context)
        system = [{"role": "system", "content": self._system}] if self._system else []
        return (*system, {"role": "user", "content": user})

    def reask(
        self, messages: Sequence[Message], answer: str, problems: Sequence[str]
    ) -> tuple[Message, ...]:
        """The conversation so far, the rejected answer, and the problems quoted back."""
        context = {
            "problems": list(problems),
            "label_ids": self._label_ids,
            "answer": answer,
            "answer_form": self._answer_form,
        }
        feedback = render_template(self._reask, self._paths[1], context)
        return (
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": feedback},
        )
