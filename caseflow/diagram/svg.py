"""Build SVG elements with lxml so every text and attribute is escaped."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif"
Point = tuple[float, float]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Drop the characters that XML cannot carry."""
    return _NOT_XML.sub("", text)


def num(value: float) -> str:
    """Format a coordinate with at most two decimals."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def pts(points: Iterable[Point]) -> str:
    """Format points for a polyline or polygon."""
    return " ".join(f"{num(x)},{num(y)}" for x, y in points)


def _value(value: object) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return num(float(value))
    return clean(str(value))


def sub(parent: etree._Element, tag: str, text: str | None = None,
        **attrs: object) -> etree._Element:
    """Append an SVG child; `stroke_width` becomes `stroke-width`, `class_` becomes `class`."""
    el = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for key, value in attrs.items():
        if value is not None:
            el.set(key.rstrip("_").replace("_", "-"), _value(value))
    if text:
        el.text = clean(text)
    return el


def root_svg(width: float, height: float, label: str) -> etree._Element:
    """Create the outer <svg> element."""
    svg = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    for key, value in (("version", "1.1"), ("width", width), ("height", height),
                       ("viewBox", f"0 0 {num(width)} {num(height)}"),
                       ("font-family", FONT), ("font-size", 12), ("role", "img"),
                       ("aria-label", label)):
        svg.set(key, _value(value))
    sub(svg, "title", text=label)
    return svg


def unit(a: Point, b: Point) -> Point:
    """Return the unit vector from a to b (0,0 if they coincide)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    return (dx / length, dy / length) if length else (0.0, 0.0)
