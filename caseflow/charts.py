"""Small server-side SVG charts (horizontal bars, a monthly trend) with escaped text.

Each chart is an <svg role="img"> named by its <title>; the page shows the same numbers
in a table beside it. Colours are presentation attributes (no inline style), so the same
markup works on screen, in print and in WeasyPrint's PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | float | Decimal
BAR = "#0b5cad"
ALERT = "#b42318"
TEXT = "#1b1f24"
GRID = "#d0d7de"
FONT = 'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"'


def _num(value: Number) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _head(chart_id: str, title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'aria-labelledby="{escape(chart_id)}-t" {FONT} font-size="12">'
            f'<title id="{escape(chart_id)}-t">{escape(title)}</title>')


def bars(items: Sequence[tuple[str, Number]], *, title: str, chart_id: str,
         marked: Sequence[str] = (), width: int = 520) -> Markup:
    """Draw one horizontal bar per item (label, value); `marked` labels are drawn in red."""
    rows = list(items)
    label_w, row_h, top = 150, 22, 8
    height = top * 2 + row_h * max(len(rows), 1)
    peak = max((float(v) for _, v in rows), default=0.0) or 1.0
    room = width - label_w - 70
    out = [_head(chart_id, title, width, height)]
    if not rows:
        out.append(f'<text x="8" y="{top + 14}" fill="{TEXT}">—</text>')
    for n, (name, value) in enumerate(rows):
        y = top + n * row_h
        w = max(round(room * float(value) / peak), 1 if value else 0)
        colour = ALERT if name in marked else BAR
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
                   f'fill="{TEXT}">{escape(_clip(name))}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 7}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{label_w + w + 5}" y="{y + 15}" fill="{TEXT}">'
                   f'{escape(_num(value))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def trend(points: Sequence[tuple[str, Number]], *, title: str, chart_id: str,
          width: int = 520, height: int = 200) -> Markup:
    """Draw a column per month (label, value) with the values above the columns."""
    rows = list(points)
    left, bottom, top = 10, 34, 18
    plot_h = height - bottom - top
    peak = max((float(v) for _, v in rows), default=0.0) or 1.0
    step = (width - left * 2) / max(len(rows), 1)
    out = [_head(chart_id, title, width, height),
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" '
           f'stroke="{GRID}"/>']
    for n, (name, value) in enumerate(rows):
        h = round(plot_h * float(value) / peak)
        x = left + n * step
        mid = x + step / 2
        out.append(f'<rect x="{x + step * 0.2:.1f}" y="{top + plot_h - h}" '
                   f'width="{step * 0.6:.1f}" height="{h}" fill="{BAR}"/>')
        out.append(f'<text x="{mid:.1f}" y="{top + plot_h - h - 4}" text-anchor="middle" '
                   f'fill="{TEXT}">{escape(_num(value))}</text>')
        out.append(f'<text x="{mid:.1f}" y="{height - 18}" text-anchor="middle" '
                   f'font-size="10" fill="{TEXT}">{escape(_short_month(name))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _clip(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _short_month(label: str) -> str:
    """Shorten 2025年10月 to 25/10 under a column."""
    if "年" in label and label.endswith("月"):
        year, month = label[:-1].split("年", 1)
        return f"{year[-2:]}/{month}"
    return label
