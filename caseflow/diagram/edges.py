"""Draw one BPMNEdge: sequence flows, message flows, associations, with heads and labels."""

from __future__ import annotations

import math

from lxml import etree

from caseflow.diagram.model import Edge, local
from caseflow.diagram.style import Context
from caseflow.diagram.svg import Point, pts, sub, unit
from caseflow.diagram.text import block, block_height, wrap

Ids = dict[str, etree._Element]
_DASH = {"message": "7 4", "association": "2 3", "data": "2 3"}


def _end(points: list[Point]) -> tuple[Point, Point] | None:
    """Return the tip and the direction of the last non-empty segment."""
    tip = points[-1]
    for prev in reversed(points[:-1]):
        direction = unit(prev, tip)
        if direction != (0.0, 0.0):
            return tip, direction
    return None


def _head(g: etree._Element, points: list[Point], colour: str, style: str) -> None:
    """Draw an arrow head at the last point: filled, open (white) or a plain V."""
    end = _end(points)
    if end is None:
        return
    (x, y), (dx, dy) = end
    size, half = (11, 4) if style == "filled" else (10, 5)
    base = (x - dx * size, y - dy * size)
    wing1 = (base[0] - dy * half, base[1] + dx * half)
    wing2 = (base[0] + dy * half, base[1] - dx * half)
    if style == "v":
        sub(g, "polyline", points=pts([wing1, (x, y), wing2]), fill="none", stroke=colour,
            stroke_width=1.5)
        return
    fill = colour if style == "filled" else "#ffffff"
    sub(g, "polygon", points=pts([(x, y), wing1, wing2]), fill=fill, stroke=colour,
        stroke_width=1, stroke_linejoin="round")


def _start_marker(g: etree._Element, edge: Edge, ids: Ids, colour: str) -> None:
    """Draw the start of an edge: circle for messages, slash for default, diamond if conditional."""
    end = _end(list(reversed(edge.points)))
    if end is None:
        return
    (x, y), (bx, by) = end
    dx, dy = -bx, -by
    if edge.kind == "message":
        sub(g, "circle", cx=x + dx * 4, cy=y + dy * 4, r=4, fill="#ffffff", stroke=colour)
        return
    el = edge.element
    if edge.kind != "sequence" or el is None:
        return
    source = ids.get(el.get("sourceRef", ""))
    if source is not None and source.get("default") == el.get("id"):
        cx, cy = x + dx * 10, y + dy * 10
        ends = [(cx - dx * 4 + dy * 6, cy - dy * 4 - dx * 6),
                (cx + dx * 4 - dy * 6, cy + dy * 4 + dx * 6)]
        sub(g, "polyline", points=pts(ends), fill="none", stroke=colour, stroke_width=1.5)
    elif el.find("{*}conditionExpression") is not None and source is not None \
            and not local(source).endswith("Gateway"):
        diamond = [(x, y), (x + dx * 8 - dy * 5, y + dy * 8 + dx * 5), (x + dx * 16, y + dy * 16),
                   (x + dx * 8 + dy * 5, y + dy * 8 - dx * 5)]
        sub(g, "polygon", points=pts(diamond), fill="#ffffff", stroke=colour, stroke_width=1)


def midpoint(points: list[Point]) -> Point:
    """Return the point halfway along a polyline."""
    lengths = [math.dist(a, b) for a, b in zip(points, points[1:], strict=False)]
    rest = sum(lengths) / 2
    for (a, b), length in zip(zip(points, points[1:], strict=False), lengths, strict=True):
        if rest <= length and length:
            t = rest / length
            return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        rest -= length
    return points[len(points) // 2]


def _label(g: etree._Element, edge: Edge) -> None:
    if not edge.name:
        return
    if edge.label is not None:
        lines = wrap(edge.name, max(edge.label.w, 60), 11)
        block(g, lines, edge.label.cx, edge.label.y, 11, fill="#333333", halo=True)
        return
    x, y = midpoint(edge.points)
    lines = wrap(edge.name, 100, 11, 3)
    block(g, lines, x, y - block_height(lines, 11) - 3, 11, fill="#333333", halo=True)


def _head_style(edge: Edge) -> str | None:
    if edge.kind in ("sequence", "other"):
        return "filled" if edge.kind == "sequence" else None
    if edge.kind == "message":
        return "open"
    if edge.kind == "data":
        return "v"
    direction = edge.element.get("associationDirection") if edge.element is not None else None
    return "v" if direction in ("One", "Both") else None


def draw(parent: etree._Element, edge: Edge, ctx: Context, ids: Ids) -> None:
    """Draw one edge as <g class="edge KIND [taken]" data-element-id=ID>."""
    colour, width = ctx.edge_stroke(edge)
    taken = "taken" if edge.element_id and edge.element_id in ctx.taken else None
    g = sub(parent, "g", class_=" ".join(filter(None, ("edge", edge.kind, taken))),
            data_element_id=edge.element_id)
    sub(g, "title", text=edge.name or edge.tag or edge.element_id or "edge")
    sub(g, "polyline", points=pts(edge.points), fill="none", stroke=colour, stroke_width=width,
        stroke_dasharray=_DASH.get(edge.kind), stroke_linejoin="round", stroke_linecap="round")
    style = _head_style(edge)
    if style:
        _head(g, edge.points, colour, style)
    if edge.kind == "association" and style and edge.element.get("associationDirection") == "Both":
        _head(g, list(reversed(edge.points)), colour, style)
    _start_marker(g, edge, ids, colour)
    _label(g, edge)
