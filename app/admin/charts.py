"""Charts drawn on the server as SVG: no script, no library to ship, readable by a screen reader
through the table each chart stands beside."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 180, 24
COLOURS = ("#5b2a86", "#1a7f5a", "#b3541e")


def bars(days: Sequence[dict[str, Any]], series: Sequence[str]) -> Markup:
    """Grouped bars, one group per day, one bar per series; ``aria-hidden`` (the table speaks)."""
    if not days:
        return Markup("")
    top = max([1, *(int(d[name]) for d in days for name in series)])
    slot = (WIDTH - 2 * PAD) / len(days)
    width = max(slot / (len(series) + 1), 1)
    shapes = []
    for i, day in enumerate(days):
        for j, name in enumerate(series):
            height = (HEIGHT - 2 * PAD) * max(int(day[name]), 0) / top
            x = PAD + i * slot + j * width
            y = HEIGHT - PAD - height
            shapes.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(str(day["day"]))} '
                f"{escape(name)}: {int(day[name])}</title></rect>"
            )
    base = HEIGHT - PAD
    axis = f'<line x1="{PAD}" y1="{base}" x2="{WIDTH - PAD}" y2="{base}" stroke="#777"/>'
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-hidden="true" '
        f'focusable="false">{axis}{"".join(shapes)}</svg>'
    )
