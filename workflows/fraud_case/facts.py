"""The BPMN scripts' helpers up to the branches: amounts, times, triage, talk, findings.

Pure functions: they take and return plain JSON-like values, never read the clock or the
settings themselves, and return a new dict instead of changing the one they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workflows.common import aware
from workflows.fraud_case.keys import BRANCHES, COUNTED, FLAGS, NEEDS_TALK, RANK
from workflows.fraud_case.lists import CRISIS_SIGNS


def money(value: Any) -> str:
    """Return an amount as a decimal string with two places ("8000.00"); bad input is 0."""
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except (InvalidOperation, ValueError):
        amount = Decimal("0")
    if not amount.is_finite() or amount < 0:
        amount = Decimal("0")
    return str(amount.quantize(Decimal("0.01")))


def money_add(a: Any, b: Any) -> str:
    """Add two amounts held as decimal strings."""
    return money(Decimal(money(a)) + Decimal(money(b)))


def iso(value: Any) -> str | None:
    """Return a time as ISO 8601 text (UTC when it carries no zone), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return aware(datetime.fromisoformat(str(value))).isoformat()


def _later(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b


def _earlier(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) <= datetime.fromisoformat(b) else b


def higher(a: str | None, b: str | None) -> str | None:
    """Return the higher of two risk levels (None counts as nothing)."""
    if a is None or b is None:
        return a or b
    return a if RANK[a] >= RANK[b] else b


def fingerprint(cf: Mapping[str, Any]) -> str:
    """The facts that can make triage rate a case higher (time passing only lowers it).

    A new fact changes it: a crisis, the fraud found still going on, a loss, a later
    transfer, a category that counts, a key-group or public-opinion sign.
    """
    keys = ("category", "loss_cny", "last_transfer_at", "crisis_events", "repeated_victim",
            "psych_watch", "hardship", "public_opinion_risk", "minor")
    parts = [f"{k}={cf.get(k)}" for k in keys]
    parts.append(f"ongoing={cf.get('ongoing') == 'yes'}")
    return "|".join(parts)


def init_case_facts(reg: Mapping[str, Any]) -> dict[str, Any]:
    """Build the case_facts data object from the registration (start) data."""
    signs = set(reg.get("risk_signs") or [])
    crisis = bool(reg.get("crisis_sign")) or bool(signs & CRISIS_SIGNS)
    category = reg.get("category") or "at_risk"
    loss = money(reg.get("loss_cny"))
    return {
        "category": category,
        "fraud_type": reg.get("fraud_type"),
        "behaviour": reg.get("behaviour"),
        "loss_cny": loss,
        "recovered_cny": "0.00",
        "money_source": reg.get("money_source"),
        "last_transfer_at": iso(reg.get("last_transfer_at")),
        "hours_since_transfer": None,
        "ongoing": reg.get("ongoing") or "unknown",
        "crisis_sign": crisis,
        "crisis_events": 1 if crisis else 0,
        "crisis_pending": crisis,
        "crisis_source": "registration" if crisis else None,
        "repeated_victim": bool(reg.get("repeated_victim")) or "repeated_victim" in signs,
        "psych_watch": bool(reg.get("psych_watch")),
        "hardship": bool(reg.get("hardship")),
        "public_opinion_risk": bool(reg.get("public_opinion_risk"))
        or "public_opinion" in signs,
        "minor": bool(reg.get("minor")),
        "happened_at": iso(reg.get("happened_at")),
        "discovered_at": iso(reg.get("discovered_at")),
        "risk_level": None,
        "risk_prev": None,
        "risk_rated": None,
        "risk_override": None,
        "override_reason": None,
        "override_facts": None,
        "flags": dict.fromkeys(FLAGS, False),
        "started": dict.fromkeys(BRANCHES, False),
        "running": {"review": True, "talk": True, **dict.fromkeys(BRANCHES, False)},
        "talk_done": False,
        "knowing": None,
        "counselor_id": None,
        "plan": None,
        "psych_state": None,
        "psych_crisis": False,
        "psych_referrals": 0,
        "sessions_held": 0,
        "last_risk_assessment": None,
        "psych_status": None,
        "stop_payment_result": None,
        "police_outcome": None,
        "discipline": None,
        "parent_reached": None,
        "followups_planned": 0,
        "followups_done": 0,
        "findings": 0,
        "downgraded": False,
        "withdraw_request": None,
        "outcome": None,
        "closing_summary": None,
        "lessons": None,
        "closed_at": None,
    }


def begin_triage(cf: dict[str, Any], hours: float | None) -> dict[str, Any]:
    """Prepare a triage run: set the hours since the last transfer, put the level aside.

    The level moves to `risk_prev` so that the triage table's rating is always a visible
    change of `risk_level` (the audit trail records what each decision gave);
    `apply_triage` then settles the level.
    """
    cf = dict(cf)
    cf["risk_prev"] = cf.get("risk_level")
    cf["risk_level"] = None
    cf["hours_since_transfer"] = None if hours is None else float(hours)
    return cf


def apply_triage(cf: dict[str, Any], flag_names: list[str] | None) -> dict[str, Any]:
    """Merge a triage run into the facts: flags are sticky, the risk only rises by itself.

    The triage table has just written its rating into `risk_level`. An officer's override
    stands unless new facts (see `fingerprint`) make triage rate the case higher.
    """
    cf = dict(cf)
    rated = cf.get("risk_level") or "yellow"
    cf["risk_rated"] = rated
    flags = dict(cf.get("flags") or {})
    for name in flag_names or []:
        if name in FLAGS:
            flags[name] = True
    cf["flags"] = flags
    override = cf.get("risk_override")
    if override:
        if RANK[rated] > RANK[override] and fingerprint(cf) != cf.get("override_facts"):
            cf["risk_level"] = rated
            cf["risk_override"] = None
        else:
            cf["risk_level"] = override
    else:
        cf["risk_level"] = higher(cf.get("risk_prev"), rated)
    cf["risk_prev"] = None
    return cf


def _crisis(cf: dict[str, Any], source: str) -> None:
    cf["crisis_source"] = source
    cf["crisis_sign"] = True
    cf["crisis_pending"] = True
    cf["crisis_events"] = int(cf.get("crisis_events") or 0) + 1


def merge_talk(cf: dict[str, Any], talk: Mapping[str, Any]) -> dict[str, Any]:
    """Record what the talk settled: still going on, crisis, knowing, a psych referral."""
    cf = dict(cf)
    if talk.get("ongoing") in ("yes", "no", "unknown"):
        cf["ongoing"] = talk["ongoing"]
    signs = set(talk.get("risk_signs") or [])
    if talk.get("crisis_indicated") or signs & CRISIS_SIGNS:
        _crisis(cf, "talk")
    if "public_opinion" in signs:
        cf["public_opinion_risk"] = True
    if "repeated_victim" in signs:
        cf["repeated_victim"] = True
    if talk.get("knowing"):
        cf["knowing"] = talk["knowing"]
    if talk.get("money_source") and not cf.get("money_source"):
        cf["money_source"] = talk["money_source"]
    if talk.get("refer_psych"):
        cf["flags"] = {**cf["flags"], "need_psych": True}
    cf["talk_done"] = True
    cf["running"] = {**cf["running"], "talk": False}
    return cf


def merge_finding(cf: dict[str, Any], finding: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a new finding: category may rise, losses add up, the latest transfer counts."""
    cf = dict(cf)
    finding = dict(finding or {})
    category = finding.get("category")
    if category in COUNTED and cf.get("category") == "at_risk":
        cf["category"] = category
        cf["happened_at"] = iso(finding.get("happened_at")) or cf.get("happened_at")
    elif category in COUNTED:
        cf["happened_at"] = _earlier(cf.get("happened_at"), iso(finding.get("happened_at")))
    for key in ("fraud_type", "behaviour", "money_source"):
        if finding.get(key) and not cf.get(key):
            cf[key] = finding[key]
    cf["loss_cny"] = money_add(cf.get("loss_cny"), finding.get("loss_cny"))
    cf["last_transfer_at"] = _later(cf.get("last_transfer_at"),
                                    iso(finding.get("last_transfer_at")))
    if finding.get("ongoing") in ("yes", "no"):
        cf["ongoing"] = finding["ongoing"]
    signs = set(finding.get("risk_signs") or [])
    if finding.get("crisis_sign") or signs & CRISIS_SIGNS:
        _crisis(cf, str(finding.get("source") or "finding"))
    if finding.get("public_opinion_risk") or "public_opinion" in signs:
        cf["public_opinion_risk"] = True
    if finding.get("repeated_victim") or "repeated_victim" in signs:
        cf["repeated_victim"] = True
    cf["findings"] = int(cf.get("findings") or 0) + 1
    return cf


def talk_due_key(cf: Mapping[str, Any]) -> str:
    """Return the due-time setting of the talk: 30 min while the fraud is still going on."""
    return "talk_ongoing" if cf.get("ongoing") == "yes" else "talk"


def dispatch_branches(cf: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Decide which branches start now (never one twice) and what a crisis calls for.

    Returns the facts and the list of things to start: branch names, plus `crisis`
    (notify the lead office and leaders) and `psych_urgent` (an open referral, or the
    next counseling session, is due within the crisis time) when a crisis is pending. A
    crisis (re)opens the psych referral when there is none, or it was closed after a
    decline, or it finished; a crisis the psych centre itself assessed in a session only
    notifies (the centre is already with the student).
    """
    cf = dict(cf)
    flags, started = cf.get("flags") or {}, dict(cf.get("started") or {})
    running = dict(cf.get("running") or {})
    out = []
    for branch, flag in BRANCHES.items():
        if branch in NEEDS_TALK and not cf.get("talk_done"):
            continue
        if flags.get(flag) and not started.get(branch):
            out.append(branch)
    if cf.get("crisis_pending"):
        cf["crisis_pending"] = False
        out.append("crisis")
        state = cf.get("psych_state")
        if "psych" in out or state in (None, "done", "closed"):
            cf["psych_crisis"] = True
            if "psych" not in out:
                out.append("psych")
        elif state in ("referred", "declined"):
            cf["psych_crisis"] = True
            out.append("psych_urgent")
        elif state == "counseling" and cf.get("crisis_source") != "counseling_session":
            out.append("psych_urgent")
    for branch in out:
        if branch in BRANCHES:
            started[branch] = True
            running[branch] = True
    if "psych" in out:
        cf["psych_state"] = "referred"
        cf["psych_referrals"] = int(cf.get("psych_referrals") or 0) + 1
    cf["started"], cf["running"] = started, running
    return cf, out


def finish_branch(cf: dict[str, Any], branch: str) -> dict[str, Any]:
    """Mark a branch as no longer running."""
    cf = dict(cf)
    cf["running"] = {**(cf.get("running") or {}), branch: False}
    return cf
