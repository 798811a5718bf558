"""The BPMN scripts' helpers for the branches and the end: psych, discipline, follow-ups,
closure, downgrade and withdrawal. Pure functions, as in `facts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.fraud_case.facts import fingerprint, finish_branch, money
from workflows.fraud_case.keys import CATEGORIES, COUNTED, RANK


def begin_psych(cf: dict[str, Any]) -> dict[str, Any]:
    """A referral reaches the psych centre (again, when a crisis hurries it)."""
    cf = dict(cf)
    cf["psych_state"] = "referred"
    cf["started"] = {**(cf.get("started") or {}), "psych": True}
    cf["running"] = {**(cf.get("running") or {}), "psych": True}
    return cf


def psych_decided(cf: dict[str, Any], accept: str) -> dict[str, Any]:
    """Record the psych centre's accept / decline."""
    cf = dict(cf)
    cf["psych_state"] = "counseling" if accept == "accept" else "declined"
    cf["psych_crisis"] = False
    return cf


def rerefer_psych(cf: dict[str, Any], crisis: bool) -> dict[str, Any]:
    """The college officer (or a crisis) sends a declined referral to the psych centre again."""
    cf = dict(cf)
    cf["psych_state"] = "referred"
    cf["psych_crisis"] = bool(crisis or cf.get("psych_crisis"))
    cf["psych_referrals"] = int(cf.get("psych_referrals") or 0) + 1
    return cf


def close_psych(cf: dict[str, Any]) -> dict[str, Any]:
    """The college officer closes the psych branch after a decline (not the case)."""
    cf = finish_branch(cf, "psych")
    cf["psych_state"] = "closed"
    return cf


def record_session(cf: dict[str, Any], assessment: str, more: bool) -> dict[str, Any]:
    """Count a counseling session and keep its (non-confidential) risk assessment."""
    cf = dict(cf)
    cf["sessions_held"] = int(cf.get("sessions_held") or 0) + 1
    cf["last_risk_assessment"] = assessment
    if not more:
        cf["psych_state"] = "summary"
    return cf


def finish_psych(cf: dict[str, Any], status: str) -> dict[str, Any]:
    """The psych centre's summary ends the psych branch."""
    cf = finish_branch(cf, "psych")
    cf["psych_state"] = "done"
    cf["psych_status"] = status
    return cf


def discipline_allowed(knowing: str | None, level: str | None, vetoes: Any) -> bool:
    """A sanction or a veto requires knowing participation (主观故意)."""
    sanction = bool(level) and level != "none"
    return knowing == "yes" or not (sanction or vetoes)


def record_discipline(cf: dict[str, Any], decision: Mapping[str, Any]
                      ) -> tuple[dict[str, Any], bool]:
    """Record a discipline decision; refuse (False) a sanction or veto without knowing."""
    cf = dict(cf)
    ok = discipline_allowed(decision.get("knowing"), decision.get("level"),
                            decision.get("vetoes"))
    if ok:
        cf["knowing"] = decision.get("knowing") or cf.get("knowing")
        cf["discipline"] = {"level": decision.get("level"),
                            "vetoes": sorted(decision.get("vetoes") or [])}
        cf["running"] = {**(cf.get("running") or {}), "discipline": False}
    return cf, ok


def plan_followups(cf: dict[str, Any], visits_by_level: Mapping[str, int]) -> dict[str, Any]:
    """Set the number of follow-up visits by the risk level when the visits start."""
    cf = dict(cf)
    cf["followups_planned"] = int(visits_by_level[cf.get("risk_level") or "yellow"])
    cf["followups_done"] = 0
    return cf


def record_followup(cf: dict[str, Any]) -> dict[str, Any]:
    """Count a follow-up visit."""
    cf = dict(cf)
    cf["followups_done"] = int(cf.get("followups_done") or 0) + 1
    return cf


def add_followup(cf: dict[str, Any]) -> dict[str, Any]:
    """Closure sent back: one more follow-up visit."""
    cf = dict(cf)
    cf["followups_planned"] = int(cf.get("followups_planned") or 0) + 1
    return cf


def any_running(cf: Mapping[str, Any]) -> bool:
    """Say whether a started branch (or the review) is still running."""
    return any((cf.get("running") or {}).values())


def record_closure(cf: dict[str, Any], review: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the closing summary, amount recovered and lessons of an approved closure."""
    cf = dict(cf)
    if review.get("closure_decision") == "approve":
        cf["closing_summary"] = review.get("closing_summary")
        cf["recovered_cny"] = money(review.get("recovered_cny"))
        cf["lessons"] = review.get("lessons")
    return cf


def close_case(cf: dict[str, Any], now: str) -> dict[str, Any]:
    """The case ends closed."""
    return _ended(cf, "closed", now)


def _ended(cf: dict[str, Any], outcome: str, now: str) -> dict[str, Any]:
    cf = dict(cf)
    cf["outcome"] = outcome
    cf["closed_at"] = now
    return cf


def review_outcome(cf: dict[str, Any], review: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Apply the triage review; return the facts, a downgrade request and a finding.

    Raising the level takes effect at once (it stands as the officer's level). Lowering
    it, or moving the category away from victim/involved, is a request for the lead
    office's approval when the case is victim or involved; at-risk cases change at once.
    An at-risk case corrected to victim/involved becomes a finding, so triage re-runs.
    """
    cf = dict(cf)
    cf["counselor_id"] = review.get("counselor_id")
    cf["plan"] = review.get("plan")
    cf["running"] = {**(cf.get("running") or {}), "review": False}
    request: dict[str, Any] = {}
    finding = None
    level = None if review.get("confirm_risk", True) else review.get("new_risk_level")
    reason = review.get("override_reason")
    if level and level != cf.get("risk_level"):
        lowering = RANK[level] < RANK[cf.get("risk_level") or "yellow"]
        if lowering and cf.get("category") in COUNTED:
            request["risk_level"] = level
        else:
            cf = _override(cf, level, reason)
            cf["downgraded"] = cf["downgraded"] or lowering
    category = review.get("new_category")
    if category and category != cf.get("category"):
        if cf.get("category") in COUNTED:
            request["category"] = category
            reason = reason or review.get("category_reason")
        else:
            finding = {"category": category, "source": "triage_review"}
    if request:
        request["reason"] = reason or review.get("category_reason")
        request["by"] = "triage_review"
        return cf, request, finding
    return cf, None, finding


def _override(cf: dict[str, Any], level: str, reason: str | None) -> dict[str, Any]:
    cf = dict(cf)
    cf["risk_override"] = level
    cf["override_reason"] = reason
    cf["risk_level"] = level
    cf["override_facts"] = fingerprint(cf)
    return cf


def needs_approval(cf: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """A downgrade of a victim or involved case needs the lead office's approval."""
    if cf.get("category") not in COUNTED:
        return False
    level = request.get("risk_level")
    lowering = bool(level) and RANK[level] < RANK[cf.get("risk_level") or "yellow"]
    recategorised = bool(request.get("category")) and request["category"] != cf.get("category")
    return lowering or recategorised


def apply_downgrade(cf: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Let an (approved) downgrade or correction take effect."""
    cf = dict(cf)
    level = request.get("risk_level")
    if level and level in RANK and level != cf.get("risk_level"):
        lowering = RANK[level] < RANK[cf.get("risk_level") or "yellow"]
        cf = _override(cf, level, request.get("reason"))
        cf["downgraded"] = cf["downgraded"] or lowering
    category = request.get("category")
    if category in CATEGORIES and category != cf.get("category"):
        if cf.get("category") in COUNTED and category not in COUNTED:
            cf["downgraded"] = True
        cf["category"] = category
    return cf


def note_withdraw_request(cf: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the latest withdrawal request (reason, by)."""
    cf = dict(cf)
    cf["withdraw_request"] = {"reason": request.get("reason"), "by": request.get("by")}
    return cf


def withdraw_case(cf: dict[str, Any], now: str) -> dict[str, Any]:
    """The case ends as withdrawn (a false alarm); nothing is deleted."""
    return _ended(cf, "withdrawn", now)
