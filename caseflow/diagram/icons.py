"""Small BPMN markers: event definitions, gateway kinds, task kinds, activity markers."""

from __future__ import annotations

from lxml import etree

from caseflow.diagram.model import local
from caseflow.diagram.style import Look
from caseflow.diagram.svg import num, sub

# Event markers, drawn around (0, 0) for an event of radius 18: (element, attributes).
_EVENT = {
    "message": [("rect", {"x": -8, "y": -5.5, "width": 16, "height": 11}),
                ("path", {"d": "M-8 -5.5 L0 1 L8 -5.5", "role": "line"})],
    "timer": [("circle", {"r": 10, "role": "plain"}),
              ("path", {"d": "M0 -10 V-7.5 M10 0 H7.5 M0 10 V7.5 M-10 0 H-7.5 "
                             "M0 0 V-6.5 M0 0 L5 2", "role": "line"})],
    "error": [("path", {"d": "M-8 8 L-3 -8 L2 2 L8 -8 L3 8 L-2 -2 Z"})],
    "escalation": [("path", {"d": "M0 -9 L7 8 L0 2 L-7 8 Z"})],
    "signal": [("path", {"d": "M0 -9 L8.5 6 H-8.5 Z"})],
    "conditional": [("rect", {"x": -6.5, "y": -8.5, "width": 13, "height": 17, "role": "plain"}),
                    ("path", {"d": "M-4 -4.5 H4 M-4 -1.5 H4 M-4 1.5 H4 M-4 4.5 H4",
                              "role": "line"})],
    "terminate": [("circle", {"r": 10.5, "role": "solid"})],
    "compensate": [("path", {"d": "M-9 0 L-1 -6 V6 Z M-1 0 L7 -6 V6 Z"})],
    "cancel": [("path", {"d": "M-6 -6 L6 6 M6 -6 L-6 6", "role": "thick"})],
    "link": [("path", {"d": "M-7 -3 H1 V-7 L8 0 L1 7 V3 H-7 Z"})],
    "multiple": [("path", {"d": "M0 -9 L8.6 -2.8 L5.3 7.3 H-5.3 L-8.6 -2.8 Z"})],
    "parallelMultiple": [("path", {"d": "M-2.5 -9 H2.5 V-2.5 H9 V2.5 H2.5 V9 H-2.5 V2.5 H-9 "
                                        "V-2.5 H-2.5 Z", "role": "plain"})],
}
_GATEWAY = {
    "exclusiveGateway": "M-8 -8 L8 8 M8 -8 L-8 8",
    "parallelGateway": "M0 -12 V12 M-12 0 H12",
    "complexGateway": "M0 -12 V12 M-12 0 H12 M-8.5 -8.5 L8.5 8.5 M8.5 -8.5 L-8.5 8.5",
}
TASK_ICONS = {
    "userTask": [("circle", {"cx": 7, "cy": 4, "r": 3}),
                 ("path", {"d": "M1 14 C1 7.5 13 7.5 13 14 Z"})],
    "serviceTask": [("circle", {"cx": 7, "cy": 7, "r": 5.5, "stroke-width": 2.6,
                                "stroke-dasharray": "2.16 2.16"}),
                    ("circle", {"cx": 7, "cy": 7, "r": 4.2}),
                    ("circle", {"cx": 7, "cy": 7, "r": 1.6})],
    "scriptTask": [("path", {"d": "M4 1 H13 C10 4 10 6 12 8 S13 12 10 14 H1 C4 11 4 9 2 7 "
                                  "S1 3 4 1 Z M5 4.5 H10 M5 7.5 H10 M5 10.5 H9"})],
    "businessRuleTask": [("rect", {"x": 0, "y": 1, "width": 15, "height": 12}),
                         ("path", {"d": "M0 4.5 H15 M0 8.5 H15 M4.5 4.5 V13"})],
    "sendTask": [("rect", {"x": 0, "y": 2, "width": 15, "height": 10, "role": "solid"}),
                 ("path", {"d": "M0 2 L7.5 7.5 L15 2", "role": "inverse"})],
    "receiveTask": [("rect", {"x": 0, "y": 2, "width": 15, "height": 10}),
                    ("path", {"d": "M0 2 L7.5 7.5 L15 2", "role": "line"})],
    "manualTask": [("path", {"d": "M1 13 V6 L4.5 2.5 H13 M5.5 6 H13.5 M5.5 9 H13 M5 12 H11.5",
                             "stroke-linecap": "round"})],
}
_ACTIVITY = {
    "loop": "M3 11 A5 5 0 1 1 9 11 M9 11 L9 7.5 M9 11 L12.5 11",
    "parallel": "M2 0 V12 M6 0 V12 M10 0 V12",
    "sequential": "M0 2 H12 M0 6 H12 M0 10 H12",
    "collapsed": "M0 0 H12 V12 H0 Z M6 2.5 V9.5 M2.5 6 H9.5",
    "adhoc": "M0 7 C2 3 4 3 6 6 S10 9 12 5",
    "compensation": "M6 2 L0 6 L6 10 Z M12 2 L6 6 L12 10 Z",
}


def _paint(parent: etree._Element, items: list, look: Look, filled: bool,
           width: float = 1.5) -> None:
    """Draw icon parts; role picks fill: solid/filled use the stroke colour."""
    for tag, attrs in items:
        attrs = dict(attrs)
        role = attrs.pop("role", "filled" if filled else "plain")
        fill = {"solid": look.stroke, "filled": look.stroke, "inverse": "none",
                "line": "none", "thick": "none"}.get(role, look.fill)
        stroke = look.fill if role == "inverse" or (role == "line" and filled) else look.stroke
        attrs.setdefault("stroke-width", 3 if role == "thick" else width)
        el = sub(parent, tag, fill=fill, stroke=stroke, stroke_linejoin="round")
        for key, value in attrs.items():
            el.set(key, num(value) if isinstance(value, int | float) else value)


def event_kind(el: etree._Element | None, ids: dict[str, etree._Element]) -> str | None:
    """Return the marker name of an event's definition(s), if any."""
    if el is None:
        return None
    suffix = "EventDefinition"
    names = [local(d)[: -len(suffix)] for d in el if local(d).endswith(suffix)]
    for ref in el.iterfind("{*}eventDefinitionRef"):
        target = ids.get((ref.text or "").strip())
        names += [local(target)[: -len(suffix)]] if target is not None else []
    if len(names) > 1:
        return "parallelMultiple" if el.get("parallelMultiple") == "true" else "multiple"
    return names[0] if names and names[0] in _EVENT else None


def event_marker(parent: etree._Element, kind: str, cx: float, cy: float, r: float,
                 look: Look, throw: bool) -> None:
    """Draw an event definition marker inside an event circle."""
    group = sub(parent, "g", class_=f"marker {kind}",
                transform=f"translate({num(cx)} {num(cy)}) scale({num(r / 18)})")
    _paint(group, _EVENT[kind], look, throw)


def gateway_marker(parent: etree._Element, el: etree._Element | None, tag: str, cx: float,
                   cy: float, size: float, look: Look) -> None:
    """Draw the marker of a gateway kind inside its diamond."""
    group = sub(parent, "g", class_="marker",
                transform=f"translate({num(cx)} {num(cy)}) scale({num(size / 50)})")
    if tag in _GATEWAY:
        width = 3 if tag == "complexGateway" else 4
        sub(group, "path", d=_GATEWAY[tag], fill="none", stroke=look.stroke, stroke_width=width)
    elif tag == "inclusiveGateway":
        sub(group, "circle", r=10, fill="none", stroke=look.stroke, stroke_width=2.5)
    elif tag == "eventBasedGateway":
        for r in (13, 10.5) if (el is None or el.get("instantiate") != "true") else (13,):
            sub(group, "circle", r=r, fill="none", stroke=look.stroke, stroke_width=1)
        _paint(group, _EVENT["multiple"], look, False, 1.2)


def task_icon(parent: etree._Element, tag: str, x: float, y: float, look: Look) -> None:
    """Draw the task-kind icon in a task's top-left corner."""
    if tag in TASK_ICONS:
        group = sub(parent, "g", class_=f"icon {tag}", transform=f"translate({num(x)} {num(y)})")
        _paint(group, TASK_ICONS[tag], look, False, 1.2)


def activity_markers(el: etree._Element | None, collapsed: bool) -> list[str]:
    """Return the bottom markers of an activity: loop, multi-instance, collapsed, ad hoc."""
    names = []
    if el is not None:
        if el.find("{*}standardLoopCharacteristics") is not None:
            names.append("loop")
        multi = el.find("{*}multiInstanceLoopCharacteristics")
        if multi is not None:
            names.append("sequential" if multi.get("isSequential") == "true" else "parallel")
    names += ["collapsed"] if collapsed else []
    names += ["adhoc"] if el is not None and local(el) == "adHocSubProcess" else []
    names += ["compensation"] if el is not None and el.get("isForCompensation") == "true" else []
    return names


def bottom_markers(parent: etree._Element, names: list[str], cx: float, bottom: float,
                   look: Look) -> None:
    """Draw activity markers side by side, centred at the bottom of a box."""
    x = cx - (len(names) * 16 - 4) / 2
    for name in names:
        sub(parent, "path", class_=f"marker {name}", d=_ACTIVITY[name], fill="none",
            stroke=look.stroke, stroke_width=1.5,
            transform=f"translate({num(x)} {num(bottom - 16)})")
        x += 16
