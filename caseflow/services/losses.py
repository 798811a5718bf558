"""Losses of a 发案 with several findings: each finding's loss counts in its own period.

The findings of such cases are read once and kept until a finding is added (or the
counting setting changes); each request only checks which of them its scope may see.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from caseflow.db import db
from caseflow.models import Case, Finding
from caseflow.services.reports_scope import CENT, COUNTED, Scope, by_registration, counted

if TYPE_CHECKING:
    from caseflow.services.reports import CaseFigures


@dataclass
class LossFinding:
    """A finding of a case with several findings: its loss counts in its own period."""

    case_id: int
    college_id: int
    when: datetime
    loss: Decimal


def _finding_time(data: dict[str, Any], created: datetime) -> datetime:
    if by_registration() or data.get("category") not in COUNTED or not data.get("happened_at"):
        return created
    when = datetime.fromisoformat(str(data["happened_at"]))
    return when if when.tzinfo else when.replace(tzinfo=created.tzinfo)


_SPLITS: dict[tuple[Any, ...], list[tuple[int, LossFinding]]] = {}


def _all_splits() -> list[tuple[int, LossFinding]]:
    """Return every finding of the 发案 with several findings (cached until one is added)."""
    key = (db.session.scalar(select(func.max(Finding.id))), by_registration(),
           db.engine.url.render_as_string())
    if key not in _SPLITS:
        several = select(Finding.case_id).group_by(Finding.case_id).having(func.count() > 1)
        rows = db.session.execute(
            select(Finding.case_id, Case.college_id, Finding.data, Finding.created_at)
            .join(Case, Case.id == Finding.case_id)
            .where(Finding.case_id.in_(several), counted())).all()
        found = []
        for case_id, college_id, text, created in rows:
            data = json.loads(text or "{}")
            loss = Decimal(str(data.get("loss_cny") or "0")).quantize(CENT)
            found.append((case_id, LossFinding(case_id, college_id, _finding_time(data, created),
                                               loss)))
        _SPLITS.clear()
        _SPLITS[key] = found
    return _SPLITS[key]


def split_losses(scope: Scope) -> dict[int, list[LossFinding]]:
    """Return the findings of the 发案 in scope that have several findings (case → list)."""
    found = _all_splits()
    if not found:
        return {}
    ids = {case_id for case_id, _ in found}
    visible = set(db.session.scalars(select(Case.id).where(
        Case.id.in_(ids), counted(), *scope.cases())))
    out: dict[int, list[LossFinding]] = defaultdict(list)
    for case_id, item in found:
        if case_id in visible:
            out[case_id].append(item)
    return out


def loss_case_ids(figures: CaseFigures) -> list[int]:
    """Return cases outside the period whose later finding brought a loss into it."""
    return [cid for cid, items in figures.splits.items()
            if any(f.loss and figures.period.contains(f.when) for f in items)]
