"""Draw one BPMNShape: pools, lanes, activities, events, gateways, data, artifacts."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from caseflow.diagram import icons
from caseflow.diagram.model import Shape
from caseflow.diagram.style import Context, Look, badge
from caseflow.diagram.svg import num, pts, sub
from caseflow.diagram.text import LINE, block, block_height, longest_word, text_width, wrap

Ids = dict[str, etree._Element]
_THROW = {"endEvent", "intermediateThrowEvent", "implicitThrowEvent"}


def _outline(look: Look, width: float | None = None, dash: str | None = None) -> dict:
    return {"fill": look.fill, "stroke": look.stroke,
            "stroke_width": max(look.width, width or 0), "stroke_dasharray": look.dash or dash}


def below(g: etree._Element, shape: Shape, look: Look) -> None:
    """Write a shape's name in its label bounds, else centred under it."""
    label, box = shape.label, shape.box
    if label is not None:
        lines = wrap(shape.name, max(label.w, 80), 11)
        block(g, lines, label.cx, label.y, 11, fill=look.ink, halo=True)
    else:
        block(g, wrap(shape.name, max(box.w, 90), 11, 4), box.cx, box.bottom + 4, 11,
              fill=look.ink, halo=True)


def _inside(g: etree._Element, shape: Shape, look: Look, icon: bool = False,
            markers: bool = False) -> None:
    """Centre a name in its box, shrinking it to fit, below the icon if they would touch."""
    box = shape.box
    low = box.bottom - (18 if markers else 4)
    for size in (12, 11, 10):
        lines = wrap(shape.name, box.w - 12, size)
        top = (box.y + low - block_height(lines, size)) / 2
        if icon and top < box.y + 20 and text_width(lines[0] if lines else "", size) > box.w - 44:
            top = box.y + 20
        fits = longest_word(shape.name, size) <= box.w - 12
        if top + block_height(lines, size) <= low + 1 and fits:
            break
    else:
        top = box.y + (20 if icon else 4)
        lines = wrap(shape.name, box.w - 12, size, max(1, int((low - top) // (size * LINE))))
    block(g, lines, box.cx, top, size, fill=look.ink)


def _band(g: etree._Element, shape: Shape, look: Look, band: float) -> None:
    """Write a pool/lane name in its left band, rotated (or in its top band if vertical)."""
    box = shape.box
    horizontal = shape.di.get("isHorizontal", str(box.w >= box.h)).lower() == "true"
    length = box.h if horizontal else box.w
    lines = wrap(shape.name, length - 10, 12, 2)
    if horizontal:
        block(g, lines, box.x + band / 2, box.cy, 12, fill=look.ink, rotate=True)
    else:
        block(g, lines, box.cx, box.y + band / 2 - block_height(lines, 12) / 2, 12, fill=look.ink)
    if shape.kind == "pool" and band:
        line = f"M{num(box.x + band)} {num(box.y)} V{num(box.bottom)}" if horizontal else \
            f"M{num(box.x)} {num(box.y + band)} H{num(box.x + box.w)}"
        sub(g, "path", d=line, fill="none", stroke=look.stroke, stroke_width=look.width)


def pool(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a pool (participant) or a lane."""
    box = shape.box
    fill = look.fill if shape.kind == "pool" else "none"
    sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, fill=fill, stroke=look.stroke,
        stroke_width=look.width)
    _band(g, shape, look, 30)
    el = shape.element
    multi = el.find("{*}participantMultiplicity") if el is not None else None
    if multi is not None and multi.get("maximum") != "1":
        icons.bottom_markers(g, ["parallel"], box.cx, box.bottom, look)


def activity(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a task, call activity or sub-process, expanded or collapsed."""
    box, el = shape.box, shape.element
    expanded = shape.kind in ("subprocess", "call") and shape.expanded
    width = 4 if shape.kind == "call" else None
    dash = "4 3" if el is not None and el.get("triggeredByEvent") == "true" else None
    outline = _outline(look, width, dash)
    if expanded and look.fill not in ("#ffffff", "#fff", "white"):
        outline["fill_opacity"] = 0.4
    sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=10, **outline)
    if shape.tag == "transaction":
        sub(g, "rect", x=box.x + 3, y=box.y + 3, width=box.w - 6, height=box.h - 6, rx=8,
            fill="none", stroke=look.stroke, stroke_width=1)
    icons.task_icon(g, shape.tag, box.x + 6, box.y + 6, look)
    collapsed = shape.kind == "subprocess" and not expanded
    markers = icons.activity_markers(el, collapsed)
    icons.bottom_markers(g, markers, box.cx, box.bottom, look)
    if expanded:
        block(g, wrap(shape.name, box.w - 16, 12, 3), box.x + 10, box.y + 6, 12,
              anchor="start", fill=look.ink)
    else:
        _inside(g, shape, look, shape.tag in icons.TASK_ICONS, bool(markers))


def event(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a start, intermediate, boundary or end event with its definition marker."""
    box, el, tag = shape.box, shape.element, shape.tag
    r = min(box.w, box.h) / 2
    cancel = "isInterrupting" if tag == "startEvent" else "cancelActivity"
    dash = "5 3" if el is not None and el.get(cancel) == "false" else None
    width = 4 if tag == "endEvent" else 1.5
    sub(g, "circle", cx=box.cx, cy=box.cy, r=r, **_outline(look, width, dash))
    if tag not in ("startEvent", "endEvent"):
        sub(g, "circle", cx=box.cx, cy=box.cy, r=r - 3, fill="none", stroke=look.stroke,
            stroke_width=1.2, stroke_dasharray=look.dash or dash)
    kind = icons.event_kind(el, ids)
    if kind:
        icons.event_marker(g, kind, box.cx, box.cy, r, look, tag in _THROW)
    below(g, shape, look)


def gateway(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a gateway diamond with its kind marker."""
    box = shape.box
    corners = [(box.cx, box.y), (box.x + box.w, box.cy), (box.cx, box.bottom), (box.x, box.cy)]
    sub(g, "polygon", points=pts(corners), stroke_linejoin="round", **_outline(look))
    if not (shape.tag == "exclusiveGateway" and shape.di.get("isMarkerVisible") == "false"):
        icons.gateway_marker(g, shape.element, shape.tag, box.cx, box.cy,
                             min(box.w, box.h), look)
    below(g, shape, look)


def data(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a data object (reference, input, output) with its collection marker."""
    box, el = shape.box, shape.element
    fold = min(box.w, box.h) * 0.3
    x, y, r, b = box.x, box.y, box.x + box.w, box.bottom
    page = f"M{num(x)} {num(y)} H{num(r - fold)} L{num(r)} {num(y + fold)} V{num(b)} H{num(x)} Z"
    sub(g, "path", d=page, stroke_linejoin="round", **_outline(look))
    sub(g, "path", d=f"M{num(r - fold)} {num(y)} V{num(y + fold)} H{num(r)}", fill="none",
        stroke=look.stroke, stroke_width=1)
    target = ids.get(el.get("dataObjectRef", "")) if el is not None else None
    if any(e is not None and e.get("isCollection") == "true" for e in (el, target)):
        icons.bottom_markers(g, ["parallel"], box.cx, b + 2, look)
    if shape.tag in ("dataInput", "dataOutput"):
        arrow = [(x + 4, y + 6), (x + 10, y + 6), (x + 10, y + 3), (x + 16, y + 9),
                 (x + 10, y + 15), (x + 10, y + 12), (x + 4, y + 12)]
        fill = look.stroke if shape.tag == "dataOutput" else "none"
        sub(g, "polygon", points=pts(arrow), fill=fill, stroke=look.stroke, stroke_width=1)
    below(g, shape, look)


def store(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a data store cylinder."""
    box = shape.box
    rx, ry = box.w / 2, min(box.h * 0.12, 8)
    x, top, right, low = box.x, box.y + ry, box.x + box.w, box.bottom - ry
    arc = f"A{num(rx)} {num(ry)} 0 0 0"
    body = f"M{num(x)} {num(top)} V{num(low)} {arc} {num(right)} {num(low)} V{num(top)}"
    sub(g, "path", d=body, **_outline(look))
    sub(g, "ellipse", cx=box.cx, cy=top, rx=rx, ry=ry, **_outline(look))
    for dy in (5, 10):
        sub(g, "path", d=f"M{num(x)} {num(top + dy)} {arc} {num(right)} {num(top + dy)}",
            fill="none", stroke=look.stroke, stroke_width=1)
    below(g, shape, look)


def annotation(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a text annotation: an open bracket with the text beside it."""
    b = shape.box
    sub(g, "rect", x=b.x, y=b.y, width=b.w, height=b.h, fill="#ffffff", fill_opacity=0.6,
        stroke="none")
    bracket = f"M{num(b.x + 12)} {num(b.y)} H{num(b.x)} V{num(b.bottom)} H{num(b.x + 12)}"
    sub(g, "path", d=bracket, fill="none", stroke=look.stroke, stroke_width=1.5)
    lines = wrap(shape.name, b.w - 10, 11, max(1, int((b.h - 4) // (11 * LINE))))
    block(g, lines, b.x + 6, b.y + 3, 11, anchor="start", fill=look.ink)


def group(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a group: a dash-dotted rounded rectangle with its category name on top."""
    box = shape.box
    sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=10, fill="none",
        stroke=look.stroke, stroke_width=1.5, stroke_dasharray="10 4 2 4")
    block(g, wrap(shape.name, box.w - 10, 11, 2), box.cx, box.y + 4, 11, fill=look.ink, halo=True)


def other(g: etree._Element, shape: Shape, look: Look, ids: Ids) -> None:
    """Draw a message, conversation, choreography or unknown element."""
    b = shape.box
    if shape.kind == "message":
        sub(g, "rect", x=b.x, y=b.y, width=b.w, height=b.h, **_outline(look))
        flap = [(b.x, b.y), (b.cx, b.cy), (b.x + b.w, b.y)]
        sub(g, "polyline", points=pts(flap), fill="none", stroke=look.stroke, stroke_width=1)
        below(g, shape, look)
        return
    if shape.kind == "conversation":
        q = b.w / 4
        hexagon = [(b.x + q, b.y), (b.x + 3 * q, b.y), (b.x + b.w, b.cy),
                   (b.x + 3 * q, b.bottom), (b.x + q, b.bottom), (b.x, b.cy)]
        sub(g, "polygon", points=pts(hexagon), **_outline(look))
        below(g, shape, look)
        return
    dash = None if shape.kind == "choreography" else "4 3"
    sub(g, "rect", x=b.x, y=b.y, width=b.w, height=b.h, rx=6, **_outline(look, None, dash))
    _inside(g, shape, look)


DRAW: dict[str, Callable[[etree._Element, Shape, Look, Ids], None]] = {
    "pool": pool, "lane": pool, "task": activity, "subprocess": activity, "call": activity,
    "event": event, "gateway": gateway, "data": data, "store": store,
    "annotation": annotation, "group": group,
}


def layer(shape: Shape) -> int:
    """Return the drawing layer: pools, lanes, expanded activities, others, boundary events."""
    if shape.kind in ("pool", "lane"):
        return 0 if shape.kind == "pool" else 1
    if shape.expanded:
        return 2
    return 4 if shape.tag == "boundaryEvent" else 3


def draw(parent: etree._Element, shape: Shape, ctx: Context, ids: Ids) -> None:
    """Draw one shape as <g class="shape KIND TAG STATE" data-element-id=ID>."""
    state = ctx.state(shape)
    look = ctx.look(shape, state)
    classes = " ".join(filter(None, ("shape", shape.kind, shape.tag, state,
                                     "expanded" if shape.expanded else None)))
    g = sub(parent, "g", class_=classes, data_element_id=shape.element_id)
    sub(g, "title", text=shape.name or shape.tag or shape.element_id or "shape")
    DRAW.get(shape.kind, other)(g, shape, look, ids)
    if shape.kind not in ("pool", "lane", "group"):
        box, inset = shape.box, {"event": 0.15, "gateway": 0.25}.get(shape.kind, 0)
        badge(g, box.x + box.w * (1 - inset) - 2, box.y + box.h * inset + 2, state)
