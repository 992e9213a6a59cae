"""examples.selection: labeled rows shown in the prompt, picked for each text from the
examples pool (the ExamplesComponent puts them ahead of the item's prompt).

    index = build_index(pool_rows, pool_sha256=...)     # framework.learning.prepare, once
    picker = ExamplePicker(index, config.examples, label_set)
    picker.pick(item, vector)     # the pool's rows to show, best first (never the item's own)
    picker.preface(item, vector)  # the rendered block that goes ahead of the prompt

Likeness is the cosine of word TF-IDF (1-2-grams, sublinear tf; scikit-learn), or with
`examples.likeness=embeddings` of the embedding model's vectors (`vector`, the item's,
comes from framework.providers.embeddings; the pool's are in the index). The
selections are `fixed` (k rows drawn with a seed, the same for every text), `similar`
(the k most like the text), `per_label` (for each label the k most like it that have
it) and `mmr` (maximal marginal relevance: greedy, each next row the one most like the
text and least like those already picked, weighed by mmr_lambda). A pool row with the
item's id or the item's text (normalised) is never picked, so a run over the pool
itself never shows a row its own answer.

The index (framework.learning.example_index) is a skops file: loading it runs no code;
its pool hash is in the run's identity and record, and the examples shown are in each
request, so in its cache key. The template (examples.template) is checked when the
picker is made, as prompt.template is: it must use `examples`, name no other variable
and render in the sandbox. A pool text is shown with the tags the template delimits
examples by (and <text>) written as [example], so it cannot close its own example.
"""

from __future__ import annotations

import hashlib
import json
import random
from itertools import islice
from pathlib import Path
from typing import Any

from framework.config.schema import ExamplesSettings
from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.templates import (
    delimiter_pattern,
    find_template,
    load_template,
    neutralise_delimiters,
    render_template,
    sandbox,
    template_tags,
)
from framework.errors import ConfigError
from framework.labels.label_set import LabelSet
from framework.learning.example_index import ExampleIndex, index_path, load_index
from framework.learning.trained import text_digest
from framework.records import Item, Prediction

__all__ = ["ExamplePicker", "ExamplesComponent", "examples_settings"]

EXAMPLES_VARIABLES = frozenset({"examples"})
# What an example looks like to the template when it is checked at load.
_PROBE = [{"text": "a probe", "labels": ["a", "b"]}, {"text": "another", "labels": []}]
_CANDIDATES = 64  # mmr weighs this many of the rows most like the text


class ExamplePicker:
    """Picks a text's examples and renders them as the block ahead of its prompt."""

    def __init__(self, index: ExampleIndex, settings: ExamplesSettings, labels: LabelSet) -> None:
        self.index = index
        self.settings = settings
        self.labels = labels  # the taxonomy's, and the key an answer names each by
        try:  # checked as prompt.template is: at load, naming the file
            self.path = find_template(settings.template)
            self.template = load_template(
                sandbox(),
                self.path,
                EXAMPLES_VARIABLES,
                required="examples",
                why="so no example would be shown; loop over them: "
                "{% for example in examples %}{{ example.text }} {{ example.labels }}{% endfor %}",
            )
            render_template(self.template, self.path, {"examples": _PROBE})
            source = self.path.read_text(encoding="utf-8")
        except ConfigError as error:
            raise ConfigError(f"examples.template: {error}") from None
        # The template's own tags (<example>) and the prompt's (<text>): a pool text
        # holding one could close its example and forge an answer.
        self.delimiters = delimiter_pattern({"text", "example", *template_tags(source)})
        order = list(range(len(index.ids)))
        random.Random(settings.seed).shuffle(order)
        self.fixed_order = order

    @property
    def digest(self) -> str:
        """What decides the block for a text: the template, the settings, the pool."""
        what = {
            "template": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "settings": examples_settings(self.settings),
            "pool_sha256": self.index.pool_sha256,
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()

    def pick(self, item: Item, vector: Any = None) -> list[int]:
        """Indices of the pool rows to show, best first (`vector`: the item's embedding,
        when likeness is by embeddings)."""
        settings, index = self.settings, self.index
        k = settings.k
        if settings.selection == "fixed":
            digest = text_digest(item.text)
            others = (
                n
                for n in self.fixed_order
                if index.ids[n] != item.id and index.digests[n] != digest
            )
            return list(islice(others, k))
        import numpy as np

        likeness = index.likeness(item, vector)
        ranked = [int(n) for n in np.argsort(-likeness, kind="stable") if likeness[n] >= 0]
        if settings.selection == "similar":
            return ranked[:k]
        if settings.selection == "per_label":
            picked: list[int] = []
            for label in self.labels.ids:
                having = [n for n in ranked if label in index.labels[n] and n not in picked]
                picked.extend(having[:k])
            return sorted(picked, key=lambda n: (-likeness[n], n))
        return self._mmr(ranked[:_CANDIDATES], likeness, k)

    def _mmr(self, candidates: list[int], likeness: Any, k: int) -> list[int]:
        """Greedy maximal marginal relevance: each next row the most like the text and the
        least like the rows already picked, weighed by mmr_lambda."""
        import numpy as np

        if not candidates:
            return []
        weight = self.settings.mmr_lambda
        rows = self.index.vectors[candidates]
        between = rows @ rows.T
        between = between.toarray() if hasattr(between, "toarray") else np.asarray(between)
        relevance = likeness[candidates]
        nearest = np.zeros(len(candidates))  # each candidate's likeness to the rows picked
        left = np.ones(len(candidates), dtype=bool)
        picked = []
        for _ in range(min(k, len(candidates))):
            score = np.where(left, weight * relevance - (1 - weight) * nearest, -np.inf)
            best = int(np.argmax(score))  # the first of equals: the one more like the text
            picked.append(best)
            left[best] = False
            nearest = np.maximum(nearest, between[best])
        return [candidates[c] for c in picked]

    def preface(self, item: Item, vector: Any = None) -> str | None:
        """The examples block for the item's prompt (None when the pool has none to show)."""
        chosen = self.pick(item, vector)
        if not chosen:
            return None
        cut, known = self.settings.max_chars, set(self.labels.ids)
        examples = [
            {
                "text": neutralise_delimiters(_cut(self.index.texts[n], cut), self.delimiters),
                "labels": [
                    self.labels.key(label) for label in self.index.labels[n] if label in known
                ],
            }
            for n in chosen
        ]
        return render_template(self.template, self.path, {"examples": examples})


def examples_settings(settings: ExamplesSettings) -> dict[str, Any]:
    """The settings that decide the examples shown, as the run's identity keeps them:
    likeness only when it is not the default, so runs from before it keep their identity."""
    exclude = {"pool"} | ({"likeness"} if settings.likeness == "tfidf" else set())
    return settings.model_dump(exclude=exclude)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class ExamplesComponent(Component):
    name = "examples"
    section = "examples"

    def __init__(self, picker: ExamplePicker, parts: Parts) -> None:
        self.picker, self.config = picker, parts.config

    @classmethod
    def build(cls, parts: Parts) -> ExamplesComponent | None:
        settings = parts.config.examples
        if settings.selection == "none":
            return None
        return cls(ExamplePicker(load_index(parts.config), settings, parts.labels), parts)

    def identity(self) -> dict[str, Any]:
        """Which rows the prompts show, by their pool (only when used: a run without
        examples keeps the identity it had before them)."""
        found = {f"examples.{k}": v for k, v in examples_settings(self.config.examples).items()}
        pool = self.picker.index.pool_sha256
        return {**found, "examples.pool_sha256": pool, "examples.digest": self.picker.digest}

    def describe(self) -> dict[str, Any]:
        """The pool the prompts' examples come from, by its hash."""
        settings, index = self.config.examples, self.picker.index
        return {
            "examples": {
                **settings.model_dump(),
                "pool": str(Path(settings.pool or "").resolve()),
                "pool_sha256": index.pool_sha256,
                "rows": len(index.ids),
                "index": str(index_path(self.config).resolve()),
                "digest": self.picker.digest,
            }
        }

    async def before(self, state: ItemState) -> Prediction | None:
        state.preface = self.picker.preface(state.item, state.vector)
        return None
