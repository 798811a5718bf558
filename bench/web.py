"""Server-side response times of the inbox, a task screen, a case file and a student page.

    python bench/web.py [--cases 100000] [--history 500] [--requests 200] [--db FILE]
    python bench/web.py --db FILE --reuse      # time again without seeding

Seeds a school on SQLite (durable: WAL, synchronous=FULL) with N cases: a few registered
through the services, the rest bulk copies of their rows (case, instance, task and timer
rows, findings, audit events on a valid hash chain), one case with a history of 500
audit events; then times requests through the Flask test client and prints p50/p95 per
screen against the 50 ms target. Every case-file view adds a `case_viewed` event, so that
history grows by one per request; "cold" empties the cache of rendered events first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import web_seed  # noqa: E402
from bench.stats import pct  # noqa: E402
from caseflow import create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import AuditEvent, Case, TaskRow  # noqa: E402
from caseflow.services import setup  # noqa: E402
from caseflow.views import timeline  # noqa: E402

TARGET_MS = 50.0


def sign_in(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": username, "csrf_token": token,
                                         "password": web_seed.PASSWORD})
    assert answer.status_code == 302, f"{username} could not sign in"


def timed(app, username: str, url: str, requests: int, before=None) -> list[float]:
    """Time `requests` GETs of `url` by one signed-in user (after a warm-up).

    `before` runs ahead of each timed request, outside the timing (e.g. to empty a cache).
    """
    client = app.test_client()
    sign_in(client, username)
    for _ in range(10):
        assert client.get(url).status_code == 200, url
    out = []
    for _ in range(requests):
        if before is not None:
            before()
        start = time.perf_counter()
        answer = client.get(url)
        out.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    return out


def seed(cases: int, history: int) -> dict[str, object]:
    start = time.perf_counter()
    setup.migrate_database()
    org = web_seed.build_org(cases)
    real = web_seed.real_cases(org)
    templates = [web_seed.template(cid) for cid in real]
    opened = web_seed.clone(org, templates, cases - len(real))
    big = opened[1]
    events = web_seed.grow_history(big, history)
    counts = {m.__name__: db.session.scalar(select(func.count(m.id)))
              for m in (Case, TaskRow, AuditEvent)}
    print(f"seeded in {time.perf_counter() - start:.0f} s: {counts}, "
          f"{history} audit events on case {big} ({events})")
    case = db.session.get(Case, big)
    counselor = f"counselor{case.class_id}"
    task = db.session.scalar(select(TaskRow.id).where(TaskRow.case_id == big,
                                                      TaskRow.state == "ready",
                                                      TaskRow.role == "counselor"))
    officer = f"officer{case.college_id}"
    return {"case": big, "task": task, "counselor": counselor, "officer": officer}


def report(name: str, ms: list[float]) -> bool:
    p50, p95 = statistics.median(ms), pct(ms, 95)
    ok = p95 <= TARGET_MS
    print(f"{name:<34} n={len(ms):>4}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
          f"{'ok' if ok else 'OVER'} (target p95 <= {TARGET_MS:.0f} ms)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", help="SQLite file to create (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="time an existing --db seeded by an earlier run (no seeding)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflow-bench-web-"))
    path = Path(args.db) if args.db else folder / "bench.db"
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench"})
    marker = path.with_suffix(".ids.json")
    if args.reuse:
        ids = json.loads(marker.read_text())
    else:
        with app.app_context():
            ids = seed(args.cases, args.history)
        marker.write_text(json.dumps(ids))
    n, ok = args.requests, True
    print(f"timing {n} requests each (Flask test client, server-side, SQLite {path})")
    ok &= report(f"inbox, counselor ({ids['counselor']})",
                 timed(app, str(ids["counselor"]), "/", n))
    ok &= report(f"inbox, college officer ({ids['officer']})",
                 timed(app, str(ids["officer"]), "/", n))
    ok &= report("inbox, student affairs (lead office)", timed(app, "affairs", "/", n))
    ok &= report(f"task screen (task {ids['task']})",
                 timed(app, str(ids["counselor"]), f"/tasks/{ids['task']}", n))
    case_url = f"/cases/{ids['case']}"
    ok &= report(f"case file, {args.history}+ events, cold", timed(
        app, "leader", case_url, n, before=timeline.clear_cache))
    ok &= report(f"case file, {args.history + n + 10}+ events (leader)",
                 timed(app, "leader", case_url, n))
    ok &= report("case list, student affairs", timed(app, "affairs", "/cases", n))
    with app.app_context():
        from caseflow.db import db
        from caseflow.models import Case

        student = db.session.get(Case, ids["case"]).student_id
    ok &= report("student page (its case has the long history), leader",
                 timed(app, "leader", f"/students/{student}", n))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
