"""The frame of labelwise's HTML files: one self-contained page, every text escaped.

    html = page("Evaluation: run", [section("Scores", table(header, rows))])

Rows are untrusted input (a text may hold `</script>` or markup), so everything
that is not our own markup goes through `esc`. The page loads nothing: its
Content-Security-Policy allows no fetch at all, and the one script it runs is
ours, allowed by its hash (an injected script would not run even if escaping
failed somewhere).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Sequence

from framework.evaluation.html_script import FILTER_SCRIPT
from framework.evaluation.texts import visible_controls

__all__ = ["attr_json", "esc", "page", "section", "table"]

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:1em 2em;color:#1d232a;background:#fff}
h1{font-size:1.5em;margin:.4em 0}
h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f5f6f8}td.num,th.num{text-align:right}
.text{max-width:520px;white-space:pre-wrap;word-break:break-word}
.thumb{float:left;max-width:96px;max-height:96px;margin:0 8px 4px 0}
.muted{color:#68717a}.chip{display:inline-block;padding:0 6px;margin:1px;border-radius:8px;
background:#eef1f5;font-size:.9em}.chip.missed{background:#fde2e1}.chip.extra{background:#fff1c9}
.filters{display:flex;gap:1.2em;align-items:center;flex-wrap:wrap;margin:.6em 0;padding:.5em;
background:#f5f6f8;border-radius:6px}.charts{display:flex;flex-wrap:wrap;gap:1em}
svg text{font-family:system-ui,sans-serif}
"""


def esc(value: object) -> str:
    """Text for HTML content or a quoted attribute (&, <, >, " and ' escaped; a control
    character such as NUL, which HTML forbids, shown as \\x00)."""
    return html.escape(visible_controls(str(value)), quote=True)


def attr_json(value: object) -> str:
    """A value as JSON inside a quoted HTML attribute (read back with JSON.parse)."""
    return esc(json.dumps(value, ensure_ascii=True))


def _digest(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def page(title: str, sections: Iterable[str], *, subtitle: str = "") -> str:
    """A whole HTML document: the title, the sections in order, our filter script."""
    script = FILTER_SCRIPT
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {_digest(script)}; base-uri 'none'; form-action 'none'"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(subtitle)}</p>' if subtitle else "",
        *sections,
        f"<script>{script}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def section(heading: str, *content: str, anchor: str = "") -> str:
    """An <h2> and what follows it; `content` is markup already escaped."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(heading)}</h2>\n" + "\n".join(content) + "\n</section>"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    ident: str = "",
) -> str:
    """A table of plain-text cells (escaped here); columns in `numeric` align right."""
    right = set(numeric)

    def cell(tag: str, n: int, text: str) -> str:
        cls = ' class="num"' if n in right else ""
        return f"<{tag}{cls}>{esc(text)}</{tag}>"

    head = "".join(cell("th", n, text) for n, text in enumerate(header))
    body = "\n".join(
        "<tr>" + "".join(cell("td", n, text) for n, text in enumerate(row)) + "</tr>"
        for row in rows
    )
    ident_attr = f' id="{esc(ident)}"' if ident else ""
    return f"<table{ident_attr}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
