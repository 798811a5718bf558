"""Server-side response time of the reports dashboard at volume.

    python bench/reports.py [--cases 100000] [--requests 50] [--db FILE]
    python bench/reports.py --db FILE --reuse      # time again without seeding

Seeds a school on SQLite with N cases the way bench/web.py does (a few registered through
the services, one with a stop-payment liaison completed, the rest bulk copies of their
rows with a valid audit chain), then spreads the copies over two years of realistic facts
(categories, fraud types, 案发时间 before registration, losses, withdrawn and downgraded
cases), adds police warnings and fortnightly screening rounds, and times the dashboard
(school-wide and for one college) and the cases behind a figure through the Flask test
client, against the 200 ms target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import bindparam, func, insert, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import web_seed  # noqa: E402
from bench.stats import pct  # noqa: E402
from bench.web import timed  # noqa: E402
from caseflow import audit, clock, create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import (  # noqa: E402
    AuditEvent,
    Case,
    PoliceWarning,
    ScreeningClass,
    ScreeningEntry,
    ScreeningRound,
    Student,
    TaskRow,
    User,
)
from caseflow.services import cases, setup  # noqa: E402
from caseflow.services import tasks as task_service  # noqa: E402

TARGET_MS = 200.0
TYPES = ("order_brushing", "fake_ecommerce_service", "fake_shopping", "fake_game_trade",
         "online_loan", "fake_investment", "fake_authority", "fake_acquaintance",
         "fake_leader_teacher", "fake_ticket_refund", "fake_job", "romance_scam", "other")
BEHAVIOURS = ("phone_card", "bank_card", "payment_account", "social_account", "money_laundering")


def stop_payment_case(org: web_seed.Org) -> int:
    """Register a victim with a fresh transfer and complete its stop-payment liaison."""
    now = clock.now()
    student = db.session.get(Student, org.students[10])
    counselor = next(c for k, _, c in org.classes if k == student.class_id)
    user = db.session.get(User, counselor)
    facts = {"discovery_source": "self_report", "category": "victim",
             "fraud_type": "fake_authority", "what_happened": "冒充公检法",
             "happened_at": (now - timedelta(hours=3)).isoformat(), "loss_cny": "30000",
             "last_transfer_at": (now - timedelta(hours=1)).isoformat(), "ongoing": "no"}
    case, _ = cases.register(student.id, facts, user, audit.Actor(user.id, user.username))
    row = db.session.scalar(select(TaskRow).where(TaskRow.case_id == case.id,
                                                  TaskRow.task_spec == "stop_payment"))
    security = db.session.scalar(select(User).where(User.username == "security"))
    who = audit.Actor(security.id, "security", "security_office")
    task_service.claim(row.id, security, who)
    task_service.complete_task(row.id, {"bank": "某银行", "account": "6222000011112222",
                                        "amount_cny": "30000", "police_called_at": now.isoformat(),
                                        "freeze_result": "frozen"}, security, who)
    return case.id


def diversify(rng: random.Random) -> None:
    """Give the copied cases varied facts: category, type, 案发时间, loss, outcome."""
    rows = db.session.execute(select(Case.id, Case.registered_at, Case.category)).all()
    changes = []
    for cid, registered, category in rows:
        category = rng.choices(("victim", "involved", "at_risk"), (5, 1, 3))[0]
        loss = Decimal(rng.randint(0, 2_000_000)) / 100 if category == "victim" else Decimal(0)
        changes.append({
            "cid": cid, "category": category,
            "fraud_type": None if category == "involved" else rng.choice(TYPES),
            "behaviour": rng.choice(BEHAVIOURS) if category == "involved" else None,
            "happened_at": registered - timedelta(hours=rng.expovariate(1 / 30)),
            "loss_cny": loss, "recovered_cny": (loss * rng.choice((0, 0, 0, 1)) / 4).quantize(
                Decimal("0.01")),
            "withdrawn": rng.random() < 0.03, "downgraded": rng.random() < 0.02})
    stmt = update(Case.__table__).where(Case.__table__.c.id == bindparam("cid"))
    for start in range(0, len(changes), 5000):
        db.session.execute(stmt.values(
            category=bindparam("category"), fraud_type=bindparam("fraud_type"),
            behaviour=bindparam("behaviour"), happened_at=bindparam("happened_at"),
            loss_cny=bindparam("loss_cny"), recovered_cny=bindparam("recovered_cny"),
            withdrawn=bindparam("withdrawn"), downgraded=bindparam("downgraded")),
            changes[start:start + 5000])
    db.session.commit()


def discovery(org: web_seed.Org, rng: random.Random, warnings: int = 5000) -> None:
    """Add police warnings and fortnightly screening rounds over two years."""
    now, by_class = clock.now(), {k: c for k, c, _ in org.classes}
    rows = []
    for n in range(warnings):
        warned = now - timedelta(minutes=rng.uniform(0, 720 * 1440))
        kid = rng.choice(list(by_class))
        minutes = int(rng.expovariate(1 / 25))
        rows.append({"number": f"YJ{n:07d}", "source": "cli", "warned_at": warned,
                     "state": "reached", "urgency": "urgent", "college_id": by_class[kid],
                     "class_id": kid, "reached_at": warned + timedelta(minutes=minutes),
                     "minutes_to_reach": minutes, "dissuaded": rng.random() < 0.9,
                     "loss_cny": Decimal("0.00"), "created_at": warned})
    web_seed._bulk(PoliceWarning.__table__, rows)
    for n in range(52):
        started = now - timedelta(days=14 * n + 1)
        rnd = ScreeningRound(number=f"MP{n:05d}", started_at=started,
                             due_at=started + timedelta(days=7), classes=len(by_class))
        db.session.add(rnd)
        db.session.flush()
        first = int(db.session.scalar(select(func.max(ScreeningClass.id))) or 0) + 1
        classes, entries = [], []
        for i, (kid, college) in enumerate(by_class.items()):
            late = rng.random() < 0.05
            classes.append({"id": first + i, "round_id": rnd.id, "class_id": kid,
                            "college_id": college, "state": "done", "students": 40,
                            "due_at": rnd.due_at, "done_at": rnd.due_at + timedelta(
                                days=1 if late else -1), "talked": 39, "flagged": 0,
                            "not_reached": 1})
            entries.append({"round_id": rnd.id, "screening_class_id": first + i,
                            "class_id": kid, "student_id": org.students[(n * 977 + i) % len(
                                org.students)], "status": "not_reached", "reason": "实习",
                            "entered_at": started})
        db.session.execute(insert(ScreeningClass.__table__), classes)
        web_seed._bulk(ScreeningEntry.__table__, entries)
    db.session.commit()


def seed(n_cases: int) -> None:
    start = time.perf_counter()
    setup.migrate_database()
    org = web_seed.build_org(n_cases)
    real = web_seed.real_cases(org) + [stop_payment_case(org)]
    templates = [web_seed.template(cid) for cid in real]
    web_seed.clone(org, templates, n_cases - len(real))
    rng = random.Random(8)
    diversify(rng)
    discovery(org, rng)
    counts = {m.__name__: db.session.scalar(select(func.count(m.id)))
              for m in (Case, TaskRow, AuditEvent, PoliceWarning, ScreeningEntry)}
    print(f"seeded in {time.perf_counter() - start:.0f} s: {counts}")


def report(name: str, ms: list[float]) -> bool:
    p50, p95 = statistics.median(ms), pct(ms, 95)
    ok = p95 <= TARGET_MS
    print(f"{name:<46} n={len(ms):>4}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
          f"{'ok' if ok else 'OVER'} (target p95 <= {TARGET_MS:.0f} ms)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", help="SQLite file to create (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="time an existing --db")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflow-bench-reports-"))
    path = Path(args.db) if args.db else folder / "bench.db"
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench"})
    if not args.reuse:
        with app.app_context():
            seed(args.cases)
    n, ok = args.requests, True
    print(f"timing {n} requests each (Flask test client, server-side, SQLite {path})")
    for kind in ("two_weeks", "month", "term", "academic_year"):
        ok &= report(f"dashboard, whole school, {kind} (leader)",
                     timed(app, "leader", f"/reports?kind={kind}", n))
    ok &= report("dashboard, one college, two_weeks (officer1)",
                 timed(app, "officer1", "/reports", n))
    ok &= report("dashboard, one class, month (counselor1)",
                 timed(app, "counselor1", "/reports?kind=month", n))
    ok &= report("cases behind a figure (victims, month, leader)",
                 timed(app, "leader", "/reports/cases?kind=month&cat=victim", n))
    ok &= report("cases behind a figure (late, term, leader)",
                 timed(app, "leader", "/reports/cases?kind=term&flag=late", n))
    ok &= report("cases behind a figure (loss, term, officer1)",
                 timed(app, "officer1", "/reports/cases?kind=term&flag=loss", n))
    ok &= report("cases behind a figure (overdue, year, leader)",
                 timed(app, "leader", "/reports/cases?kind=academic_year&flag=overdue", n))
    print(json.dumps({"target_ms": TARGET_MS, "ok": bool(ok)}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
