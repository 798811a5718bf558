"""Render the BPMN DI diagram of any BPMN 2.0 file to a standalone SVG, with run states.

Pure Python (lxml), no SpiffWorkflow: it draws executable and descriptive models alike.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from caseflow.diagram import edges, shapes
from caseflow.diagram.model import Box, Diagram, DiagramError, parse, read
from caseflow.diagram.style import DEFAULT_LABELS, STATES, Context, check_marks, legend
from caseflow.diagram.svg import SVG_NS, num, root_svg, sub
from caseflow.diagram.text import block, text_width

__all__ = ["DEFAULT_LABELS", "STATES", "DiagramError", "RenderResult", "render_svg", "write_svg"]

MARGIN = 20
TEXT = f"{{{SVG_NS}}}text"
_OUTSIDE_LABEL = {"event", "gateway", "data", "store", "message", "conversation"}


@dataclass(frozen=True)
class RenderResult:
    """A rendered diagram and how many BPMN DI shapes and edges it drew."""

    svg: str
    shape_count: int
    edge_count: int


def _widened(box: Box, width: float) -> Box:
    """Return box made at least width wide about its centre, as its label text wraps."""
    width = max(box.w, width)
    return Box(box.cx - width / 2, box.y, width, box.h)


def _boxes(diagram: Diagram) -> Iterator[Box]:
    """Yield every box a diagram draws in: shapes, labels, waypoints."""
    for shape in diagram.shapes:
        yield shape.box
        if shape.label:
            yield _widened(shape.label, 80)
        elif shape.name and shape.kind in _OUTSIDE_LABEL:
            yield Box(shape.box.cx - 45, shape.box.bottom, 90, 40)
    for edge in diagram.edges:
        yield from (Box(x, y, 0, 0) for x, y in edge.points)
        if edge.label:
            yield _widened(edge.label, 60)


def _extent(diagram: Diagram) -> Box:
    """Return the box holding everything a diagram draws."""
    boxes = list(_boxes(diagram))
    if not boxes:
        return Box(0, 0, 200, 40)
    left, top = min(b.x for b in boxes), min(b.y for b in boxes)
    right, bottom = max(b.x + b.w for b in boxes), max(b.bottom for b in boxes)
    return Box(left, top, right - left, bottom - top)


def _draw_diagram(parent: etree._Element, diagram: Diagram, ctx: Context,
                  ids: dict[str, etree._Element]) -> None:
    """Draw shapes by layer (pools, lanes, expanded activities, nodes), then edges on top."""
    ordered = sorted(enumerate(diagram.shapes),
                     key=lambda item: (shapes.layer(item[1]),
                                       -item[1].box.w * item[1].box.h if item[1].expanded else 0,
                                       item[0]))
    layer_shapes = sub(parent, "g", class_="shapes")
    for _, shape in ordered:
        shapes.draw(layer_shapes, shape, ctx, ids)
    layer_edges = sub(parent, "g", class_="edges")
    for edge in diagram.edges:
        edges.draw(layer_edges, edge, ctx, ids)
    _lift_labels(parent, [*layer_shapes.iter(TEXT), *layer_edges.iter(TEXT)])


def _lift_labels(parent: etree._Element, texts: list[etree._Element]) -> None:
    """Move outside labels to a top layer so that no line crosses them."""
    layer = sub(parent, "g", class_="labels")
    for text in texts:
        if text.get("class") == "label":
            text.set("data-element-id", text.getparent().get("data-element-id", ""))
            layer.append(text)


def _heading(parent: etree._Element, text: str, y: float, size: float) -> float:
    block(parent, [text], MARGIN, y, size, anchor="start")
    return text_width(text, size)


def _compose(diagrams: list[Diagram], ctx: Context, ids: dict[str, etree._Element],
             title: str | None, labels: Mapping[str, str] | None) -> etree._Element:
    """Lay out the title, the legend and the diagrams one below the other."""
    body = etree.Element("g")
    y, width = float(MARGIN), 0.0
    if title:
        width = _heading(body, title, y, 16)
        y += 30
    if ctx.marks is not None or ctx.taken or ctx.overdue:
        width = max(width, legend(body, MARGIN, y, labels))
        y += 34
    for diagram in diagrams:
        if len(diagrams) > 1:
            width = max(width, _heading(body, diagram.name, y, 14))
            y += 26
        extent = _extent(diagram)
        group = sub(body, "g", class_="diagram", data_diagram=diagram.name,
                    transform=f"translate({num(MARGIN - extent.x)} {num(y - extent.y)})")
        _draw_diagram(group, diagram, ctx, ids)
        width, y = max(width, extent.w), y + extent.h + 30
    label = title or " / ".join(d.name for d in diagrams) or "BPMN diagram"
    svg = root_svg(width + 2 * MARGIN, y - 30 + MARGIN, label)
    sub(svg, "rect", class_="background", width="100%", height="100%", fill="#ffffff")
    svg.extend(list(body))
    return svg


def render_svg(source: bytes | str, *, marks: Mapping[str, str] | None = None,
               taken_flows: Collection[str] = (), overdue: Collection[str] = (),
               title: str | None = None, labels: Mapping[str, str] | None = None) -> RenderResult:
    """Render every BPMNDiagram of a BPMN file to one SVG, optionally showing run states.

    marks maps element ids to a state in STATES; when given, unmarked flow nodes are drawn
    as not reached. taken_flows are sequence flows on the path taken; overdue ids get the
    overdue look whatever their mark. labels overrides the legend texts (DEFAULT_LABELS).
    Raises DiagramError for a file that is not XML or has no diagram, ValueError for an
    unknown mark.
    """
    check_marks(marks)
    diagrams, ids = read(parse(source))
    ctx = Context(None if marks is None else dict(marks), frozenset(taken_flows),
                  frozenset(overdue))
    svg = _compose(diagrams, ctx, ids, title, labels)
    return RenderResult(etree.tostring(svg, encoding="unicode"),
                        sum(len(d.shapes) for d in diagrams), sum(len(d.edges) for d in diagrams))


def write_svg(path_in: str | os.PathLike[str], path_out: str | os.PathLike[str]) -> RenderResult:
    """Render the BPMN file at path_in to an SVG file at path_out."""
    try:
        source = Path(path_in).read_bytes()
    except OSError as err:
        raise DiagramError(f"{path_in}: cannot read: {err.strerror or err}") from None
    try:
        result = render_svg(source, title=None)
    except DiagramError as err:
        raise DiagramError(f"{path_in}: {err}") from None
    Path(path_out).write_text(result.svg, encoding="utf-8")
    return result
