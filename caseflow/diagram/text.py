"""Estimate text widths, wrap names (CJK anywhere, latin at spaces) and draw text blocks."""

from __future__ import annotations

import unicodedata

from lxml import etree

from caseflow.diagram.svg import num, sub

LINE = 1.25
_NO_LINE_START = set("，。、；：！？）》」』】〉,.;:!?)]}%…")
_WIDTHS = {**dict.fromkeys("il.,:;|!'`ijtf()[] ", 0.3), **dict.fromkeys("mwMW@%", 0.85)}


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def char_width(ch: str) -> float:
    """Return the estimated width of one character, in em."""
    if _wide(ch):
        return 1.0
    if ch in _WIDTHS:
        return _WIDTHS[ch]
    if ch.isupper():
        return 0.68
    return 0.55


def text_width(text: str, size: float) -> float:
    """Return the estimated width of a line of text, in px."""
    return sum(char_width(ch) for ch in text) * size


def _tokens(text: str) -> list[str]:
    """Split text into breakable units: space runs, latin words, single CJK chars."""
    tokens: list[str] = []
    for ch in text:
        joinable = tokens and not _wide(ch) and not _wide(tokens[-1][-1])
        if joinable and tokens[-1][-1].isspace() == ch.isspace():
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def longest_word(text: str, size: float) -> float:
    """Return the width of the widest unbreakable run of text (CJK breaks anywhere)."""
    return max((text_width(t, size) for t in _tokens(text) if not t.isspace()), default=0.0)


def _split_long(word: str, width: float, size: float) -> list[str]:
    parts = [""]
    for ch in word:
        if parts[-1] and text_width(parts[-1] + ch, size) > width:
            parts.append("")
        parts[-1] += ch
    return parts


def _wrap_paragraph(text: str, width: float, size: float) -> list[str]:
    lines = [""]
    for token in _tokens(text):
        for part in [token] if token.isspace() else _split_long(token, width, size):
            fits = text_width(lines[-1] + part, size) <= width
            if fits or not lines[-1].strip() or part[0] in _NO_LINE_START:
                lines[-1] += part
            else:
                lines.append("" if part.isspace() else part)
    return [line.strip() for line in lines if line.strip()]


def wrap(text: str, width: float, size: float, max_lines: int = 0) -> list[str]:
    """Wrap text to lines no wider than width; cut with an ellipsis past max_lines."""
    width = max(width, size * 1.2)
    lines = [line for para in text.splitlines() for line in _wrap_paragraph(para, width, size)]
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "…", size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def block(parent: etree._Element, lines: list[str], x: float, top: float, size: float,
          *, anchor: str = "middle", fill: str = "#222222", halo: bool = False,
          rotate: bool = False) -> None:
    """Draw lines as one <text>; top is the top of the first line (its centre if rotate)."""
    if not lines:
        return
    if rotate:
        top -= len(lines) * size * LINE / 2
    text = sub(parent, "text", x=x, y=top + size, font_size=size, text_anchor=anchor,
               fill=fill)
    if halo:
        text.set("class", "label")
        text.set("stroke", "#ffffff")
        text.set("stroke-width", "3")
        text.set("stroke-linejoin", "round")
        text.set("paint-order", "stroke")
    if rotate:
        centre_y = top + len(lines) * size * LINE / 2
        text.set("transform", f"rotate(-90 {num(x)} {num(centre_y)})")
    for i, line in enumerate(lines):
        sub(text, "tspan", text=line, x=x, y=top + size * (0.92 + i * LINE))


def block_height(lines: list[str], size: float) -> float:
    """Return the height taken by lines of this size."""
    return len(lines) * size * LINE
