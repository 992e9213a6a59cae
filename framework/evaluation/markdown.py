"""Markdown for report.md and leaderboard.md, where row texts, ids, label and run names
are untrusted: shown as text, never as markup.

    md_text("<img src=x onerror=alert(1)>")    # '&lt;img src=x onerror=alert(1)&gt;'
    markdown_table(["label", "F1"], [["x|y", "0.5"]])

A renderer (GitHub, an editor's preview) turns raw HTML and `[text](javascript:...)`
into markup, and a `|` or a newline in a cell breaks its table. These functions
escape HTML (&, <, >), backslash-escape the Markdown punctuation that starts a
span (`*`, `_` at a word's edge, `` ` ``, `\\`, a `]` that would close a link),
and turn newlines and other control characters into a space or a visible escape.
Digits, dots, brackets and hyphens are left alone so the tables still read as
plain text on a terminal. Written here rather than taken from a library: the
Python Markdown packages render Markdown; none kept up escapes text for it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from framework.evaluation.texts import visible_controls

__all__ = ["markdown_table", "md_text"]

_WHITESPACE = re.compile(r"[\t\n\r\u2028\u2029]+")
# A link, an image or a reference definition needs a `]` followed by `(`, `[` or `:`:
# escaping that `]` breaks all of them and leaves intervals like [0.55, 0.67] as they are.
# `_` inside a word never opens emphasis (CommonMark); at a word's edge it can.
_SPAN = re.compile(r"[\\`*|]|\](?=[(\[:])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md_text(value: object) -> str:
    """One line of text that a Markdown renderer shows as the same text, not as markup."""
    text = visible_controls(_WHITESPACE.sub(" ", str(value)))
    return _SPAN.sub(lambda m: "\\" + m.group(), html.escape(text, quote=False))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table padded so its columns line up as plain text too; every cell is
    text (escaped here)."""
    cells = [[md_text(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[n]) for row in cells) for n in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
