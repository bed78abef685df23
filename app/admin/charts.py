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


def intervals(rows: Sequence[tuple[str, Any, Any, Any]]) -> Markup:
    """One line per row ``(label, difference, low, high)``: the 95 % interval as a bar, the
    difference as a dot, and zero as a dashed line, each row on its own scale (its units are
    its own); a row without an interval is left empty. ``aria-hidden``: the table speaks."""
    if not rows:
        return Markup("")
    row_h = 48
    height = row_h * len(rows) + PAD
    shapes = []
    for i, (label, diff, low, high) in enumerate(rows):
        y = PAD + i * row_h + row_h / 2
        shapes.append(f'<text x="{PAD}" y="{y - 12:.1f}" font-size="12">{escape(label)}</text>')
        if diff is None:
            continue
        span = max(abs(float(low)), abs(float(high)), 1e-12) * 1.1  # for drawing only
        x0 = WIDTH / 2

        def x(v: Any, span: float = span, x0: float = x0) -> float:
            return x0 + (WIDTH / 2 - PAD) * float(v) / span

        colour = COLOURS[0] if float(low) > 0 else COLOURS[2] if float(high) < 0 else "#777"
        shapes.append(
            f'<line x1="{x0:.1f}" y1="{y - 10:.1f}" x2="{x0:.1f}" y2="{y + 10:.1f}" '
            f'stroke="#777" stroke-dasharray="3 3"/>'
            f'<text x="{x0:.1f}" y="{y + 22:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#4a4a4a">0</text>'
            f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="4"><title>{escape(label)}: {escape(str(low))} '
            f"… {escape(str(high))}</title></line>"
            f'<circle cx="{x(diff):.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>'
        )
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-hidden="true" '
        f'focusable="false" data-chart="lift">{"".join(shapes)}</svg>'
    )
