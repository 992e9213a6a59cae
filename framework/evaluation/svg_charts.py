"""Charts as inline SVG, drawn by hand: small, with no font files, every text escaped.

    bars(["space", "climate"], {"F1": [0.8, 0.5]}, title="F1 by label")
    heatmap(gold_labels, predicted_labels, counts, title="gold -> predicted")
    histogram([0.1, 0.9, 0.95], title="space")
    intervals(["run a", "run b"], [(0.61, 0.55, 0.67), ...], title="macro-F1")

Each returns an `<svg>` element for an HTML page (hover a mark for its value).
matplotlib's SVG would be tens of kilobytes a chart (glyphs as paths) and its
import alone costs longer than drawing these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from framework.evaluation.html_page import esc

__all__ = ["bars", "heatmap", "histogram", "intervals"]

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d")


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f"<title>{esc(title)}</title>"
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
        f'font-weight="600">{esc(title)}</text>' + "".join(body) + "</svg>"
    )


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str) -> str:
    """Grouped vertical bars over [0, 1]: one group a category, one colour a series."""
    left, top, bottom, group = 40, 28, 70, max(36, 14 * len(series) + 12)
    plot_h = 180
    width = max(left + group * max(1, len(categories)) + 20, left + 130 * min(3, len(series)))
    legend_h = 16 * ((len(series) + 2) // 3)
    height = top + plot_h + bottom + legend_h
    body = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        body.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{tick:.2f}'
            "</text>"
        )
    bar_w = (group - 12) / max(1, len(series))
    for n, category in enumerate(categories):
        x0 = left + n * group + 6
        for s, (name, values) in enumerate(series.items()):
            value = max(0.0, min(1.0, float(values[n])))
            h = plot_h * value
            body.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{esc(category)} {esc(name)}: {value:.3f}</title></rect>"
            )
        cx = x0 + (group - 12) / 2
        body.append(
            f'<text transform="translate({cx:.1f},{top + plot_h + 10}) rotate(35)" '
            f'font-size="11">{esc(_short(category))}<title>{esc(category)}</title></text>'
        )
    body.extend(_legend(list(series), left, top + plot_h + bottom))
    return _svg(width, height, body, title)


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    marks = []
    for n, name in enumerate(names):
        cx, cy = x + (n % 3) * 130, y + 16 * (n // 3)
        marks.append(
            f'<rect x="{cx:.0f}" y="{cy:.0f}" width="10" height="10" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{cx + 14:.0f}" y="{cy + 9:.0f}" font-size="11">{esc(_short(name, 18))}'
            f"<title>{esc(name)}</title></text>"
        )
    return marks


def heatmap(
    rows: Sequence[str], columns: Sequence[str], counts: Sequence[Sequence[int]], *, title: str
) -> str:
    """A grid of counts, darker where larger; row names left, column names on top. Cells
    holding 0 are the grid's background, not drawn one by one (most are, of many labels)."""
    cell, left, top = 34, 130, 110
    width, height = left + cell * len(columns) + 10, top + cell * len(rows) + 10
    peak = max([1, *(value for line in counts for value in line)])
    body = [
        f'<rect x="{left}" y="{top}" width="{max(0, cell * len(columns) - 1)}" '
        f'height="{max(0, cell * len(rows) - 1)}" fill="rgb(255,255,255)" stroke="#e3e6ea"/>'
    ]
    for c, name in enumerate(columns):
        x = left + c * cell + cell / 2
        body.append(
            f'<text transform="translate({x:.0f},{top - 6}) rotate(-50)" font-size="11">'
            f"{esc(_short(name))}<title>{esc(name)}</title></text>"
        )
    for r, name in enumerate(rows):
        y = top + r * cell
        body.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end" font-size="11">'
            f"{esc(_short(name))}<title>{esc(name)}</title></text>"
        )
        for c, value in enumerate(counts[r]):
            if not value:
                continue
            share = value / peak
            shade = int(255 - 200 * share)
            ink = "#fff" if share > 0.55 else "#1d232a"
            body.append(
                f'<rect x="{left + c * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgb({shade},{shade + (255 - shade) // 4},255)">'
                f"<title>{esc(name)} / {esc(columns[c])}: {value}</title></rect>"
                f'<text x="{left + c * cell + cell / 2:.0f}" y="{y + cell / 2 + 4:.0f}" '
                f'text-anchor="middle" font-size="11" fill="{ink}">{value}</text>'
            )
    return _svg(width, height, body, title)


def histogram(values: Sequence[float], *, title: str, bins: int = 10) -> str:
    """Counts of values in [0, 1] in `bins` equal bins."""
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int(float(value) * bins)))] += 1
    left, top, plot_h, bar_w = 34, 26, 90, 18
    width, height = left + bins * bar_w + 12, top + plot_h + 30
    peak = max([1, *counts])
    body = [f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="10">{peak}</text>']
    for n, count in enumerate(counts):
        h = plot_h * count / peak
        body.append(
            f'<rect x="{left + n * bar_w}" y="{top + plot_h - h:.1f}" width="{bar_w - 2}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{n / bins:.1f}-{(n + 1) / bins:.1f}: '
            f"{count}</title></rect>"
        )
    for tick in (0.0, 0.5, 1.0):
        x = left + tick * bins * bar_w
        body.append(
            f'<text x="{x:.0f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="10">'
            f"{tick:.1f}</text>"
        )
    return _svg(width, height, body, title)


def intervals(
    names: Sequence[str], points: Sequence[tuple[float, float, float]], *, title: str
) -> str:
    """One line a run: its value (a dot) and its 95% interval (a bar), on [0, 1]."""
    left, top, row, plot_w = 220, 30, 24, 360
    width, height = left + plot_w + 30, top + row * len(names) + 30
    body = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * tick
        body.append(
            f'<line x1="{x:.0f}" x2="{x:.0f}" y1="{top - 6}" y2="{height - 24}" stroke="#e3e6ea"/>'
            f'<text x="{x:.0f}" y="{height - 10}" text-anchor="middle" font-size="10">'
            f"{tick:.2f}</text>"
        )
    for n, (name, (value, low, high)) in enumerate(zip(names, points, strict=True)):
        y = top + n * row + row / 2
        body.append(
            f'<text x="{left - 8}" y="{y + 4:.0f}" text-anchor="end" font-size="11">'
            f"{esc(_short(name, 34))}<title>{esc(name)}</title></text>"
            f'<line x1="{left + plot_w * low:.1f}" x2="{left + plot_w * high:.1f}" '
            f'y1="{y:.0f}" y2="{y:.0f}" stroke="{PALETTE[0]}" stroke-width="3"/>'
            f'<circle cx="{left + plot_w * value:.1f}" cy="{y:.0f}" r="5" fill="{PALETTE[1]}">'
            f"<title>{esc(name)}: {value:.3f} [{low:.3f}, {high:.3f}]</title></circle>"
        )
    return _svg(width, height, body, title)
