"""Run states: their looks, badges and legend."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from lxml import etree

from caseflow.diagram.model import Edge, Shape
from caseflow.diagram.svg import num, sub
from caseflow.diagram.text import block, text_width

STATES = ("completed", "current", "overdue", "cancelled", "not_reached")
DEFAULT_LABELS = {"completed": "已完成", "current": "进行中", "overdue": "已超时",
                  "cancelled": "已取消", "not_reached": "未到达"}
FLOW_NODES = {"task", "subprocess", "call", "event", "gateway", "choreography"}
INK = "#222222"


@dataclass(frozen=True)
class Look:
    """Fill, stroke, stroke width, dash pattern and text colour of a shape."""

    fill: str = "#ffffff"
    stroke: str = INK
    width: float = 1.5
    dash: str | None = None
    ink: str = INK


LOOKS = {
    "completed": Look("#e6f4ea", "#2e7d32", 2),
    "current": Look("#e3f0fd", "#1565c0", 3.5),
    "overdue": Look("#fdecea", "#c62828", 3),
    "cancelled": Look("#efebe9", "#6d4c41", 1.5, "6 3", "#5d4037"),
    "not_reached": Look("#f7f7f7", "#b4b4b4", 1, None, "#8a8a8a"),
}
TAKEN = LOOKS["completed"].stroke
UNTAKEN = "#9a9a9a"


@dataclass(frozen=True)
class Context:
    """What the caller asked to show."""

    marks: Mapping[str, str] | None
    taken: Collection[str]
    overdue: Collection[str]

    def state(self, shape: Shape) -> str | None:
        """Return the run state a shape is drawn in, if any."""
        if shape.element_id and shape.element_id in self.overdue:
            return "overdue"
        if self.marks is None:
            return None
        mark = self.marks.get(shape.element_id)
        return mark or ("not_reached" if shape.kind in FLOW_NODES else None)

    def look(self, shape: Shape, state: str | None) -> Look:
        """Return the look of a shape: its state's, else the modeler's colours."""
        if state:
            return LOOKS[state]
        return Look(fill=shape.fill or "#ffffff", stroke=shape.stroke or INK)

    def edge_stroke(self, edge: Edge) -> tuple[str, float]:
        """Return the stroke colour and width of an edge."""
        if edge.element_id and edge.element_id in self.taken:
            return TAKEN, 3.0
        if self.marks is not None and edge.kind == "sequence":
            return UNTAKEN, 1.5
        return edge.stroke or INK, 1.5


def check_marks(marks: Mapping[str, str] | None) -> None:
    """Raise ValueError for a mark that is not a known state."""
    for element_id, state in (marks or {}).items():
        if state not in STATES:
            raise ValueError(f"mark {state!r} for element {element_id!r} is not one of "
                             f"{', '.join(STATES)}")


def badge(parent: etree._Element, x: float, y: float, state: str | None) -> None:
    """Draw the corner badge of a state: a check when completed, a clock '!' when overdue."""
    if state not in ("overdue", "completed"):
        return
    group = sub(parent, "g", class_=f"badge {state}", transform=f"translate({num(x)} {num(y)})")
    sub(group, "circle", r=8 if state == "overdue" else 7, fill=LOOKS[state].stroke,
        stroke="#ffffff", stroke_width=1.5)
    mark = "M0 -5 V1.5 M0 3.5 V5" if state == "overdue" else "M-3.5 0 L-1 3 L3.5 -3"
    sub(group, "path", d=mark, fill="none", stroke="#ffffff", stroke_width=2,
        stroke_linecap="round")


def _swatch(parent: etree._Element, state: str, x: float, y: float) -> None:
    look = LOOKS[state]
    sub(parent, "rect", x=x, y=y, width=26, height=16, rx=4, fill=look.fill,
        stroke=look.stroke, stroke_width=look.width, stroke_dasharray=look.dash)
    badge(parent, x + 26, y, state)


def legend(parent: etree._Element, x: float, y: float,
           labels: Mapping[str, str] | None) -> float:
    """Draw the state legend in one row at (x, y); return its width."""
    texts = {**DEFAULT_LABELS, **(labels or {})}
    group = sub(parent, "g", class_="legend")
    start = x
    for state in STATES:
        item = sub(group, "g", class_=f"legend-item {state}")
        _swatch(item, state, x, y + 2)
        block(item, [texts[state]], x + 38, y + 3, 12, anchor="start", fill=INK)
        x += 38 + text_width(texts[state], 12) + 22
    return x - start
