"""Load figures: caseflow under gunicorn on PostgreSQL with 100,000 cases, many clients.

    python bench/load.py [--cases 100000] [--seconds 60] [--clients 12] [--workers 2]
                         [--threads 1] [--timer-workers 2] [--database-url URL]

Starts a throw-away PostgreSQL cluster (scripts/pg-cluster start --durable: fsync on)
unless --database-url names an empty database; seeds N cases as bench/web_seed.py does
(a few registered through the services, the rest bulk copies of their rows); starts
`caseflow serve` on 127.0.0.1 and `caseflow worker` processes; signs every counselor in;
then, for a fixed time, client threads (loopback only) each open a counselor's inbox, open
one of their open talk tasks and submit it, over and over. Meanwhile a probe registers a
victim case every half second (another app process writing to the same database) whose
stop-payment escalation is due 10 s later, to measure how late the workers fire it.
Prints requests/s, completions/s, p50/p95/p99 per request kind (client-side, so they
include the client's own share of the 2 CPUs), errors, the timer lag, and where the CPU
went (app, timer workers, PostgreSQL, the bench itself), in all and per completion.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu, web_seed  # noqa: E402
from bench.crash import _pg_cluster, server_fsync  # noqa: E402
from caseflow import audit, clock, create_app, timefmt  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import Case, Setting, TaskRow, TimerRow, User, WorkflowInstance  # noqa: E402
from caseflow.services import cases, setup  # noqa: E402

CASEFLOW = str(Path(sys.executable).parent / "caseflow")
VICTIM = {"discovery_source": "self_report", "category": "victim",
          "fraud_type": "order_brushing", "what_happened": "刷单被骗", "loss_cny": "3000",
          "money_source": "living_expenses", "ongoing": "no"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- seeding ------------------------------------------------------------------------------


def seed(n: int) -> tuple[dict[str, list[int]], list[int]]:
    """Seed n cases (unless the database has cases already); return {counselor username:
    open talk task ids} and students for the probe."""
    start = time.perf_counter()
    setup.migrate_database()
    if db.session.scalar(select(Case.id).limit(1)) is None:
        _seed(n)
    work: dict[str, list[int]] = {}
    names = dict(db.session.execute(select(User.id, User.username)).all())
    for task_id, assignee in db.session.execute(
            select(TaskRow.id, TaskRow.assignee_id).where(
                TaskRow.task_spec == "talk", TaskRow.state == "ready",
                TaskRow.assignee_id.is_not(None)).order_by(TaskRow.id)):
        work.setdefault(names[assignee], []).append(task_id)
    closed = list(db.session.scalars(
        select(Case.student_id).where(Case.state == "closed", Case.student_id.not_in(
            select(Case.student_id).where(Case.state == "open"))).order_by(Case.id).limit(2000)))
    print(f"{db.session.scalar(select(func.count(Case.id))):,} cases ready after "
          f"{time.perf_counter() - start:.0f} s; {sum(map(len, work.values())):,} open talk "
          f"tasks of {len(work)} counselors")
    return work, closed


def _seed(n: int) -> None:
    org = web_seed.build_org(n)
    templates = [web_seed.template(cid) for cid in web_seed.real_cases(org)]
    web_seed.clone(org, templates, n - len(templates))
    _timers_as_the_engine_has_them(templates)
    _advance_sequences()
    db.session.merge(Setting(key="due.stop_payment", value=json.dumps(
        {"red": "PT10S", "orange": "PT10S", "yellow": "PT10S"})))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _advance_sequences() -> None:
    # The bulk copies carry explicit ids, which PostgreSQL's id sequences do not see.
    for table in db.metadata.sorted_tables:
        column = table.c.get("id")
        if column is not None and column.primary_key and column.type.python_type is int:
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"))


def _timers_as_the_engine_has_them(templates: list[web_seed.Template]) -> None:
    # web_seed shifts the copied timer rows into the past, but the copied workflow states
    # keep the template's due times: put the rows back in step with the states they copy.
    for t in templates:
        for row in t.timers:
            db.session.execute(update(TimerRow).where(
                TimerRow.spiff_task_id == row["spiff_task_id"], TimerRow.state == "waiting")
                .values(due_at=row["due_at"]))


# -- the client ---------------------------------------------------------------------------


class Browser:
    """One client thread's keep-alive connection; a cookie jar per signed-in person."""

    def __init__(self, port: int) -> None:
        self.port, self.conn, self.retries = port, None, 0

    def send(self, jar: dict[str, str], method: str, path: str,
             form: dict[str, str] | None = None) -> tuple[int, str, str]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
            if form is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            try:
                self.conn.request(method, path, urlencode(form) if form else None, headers)
                answer = self.conn.getresponse()
                body = answer.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle connection: send again (a repeated POST is
                # safe: the form's one-time token returns the first answer)
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                self.retries += 1
                continue
            for cookie in answer.headers.get_all("Set-Cookie") or []:
                name, value = cookie.split(";", 1)[0].split("=", 1)
                jar[name] = value
            if (answer.getheader("Connection") or "").lower() == "close":
                self.conn.close()
                self.conn = None
            return answer.status, answer.getheader("Location") or "", body
        raise AssertionError("not reached")


def _field(name: str, page: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    if found is None:
        raise ValueError(f"no {name} in the page")
    return found.group(1)


def sign_in(port: int, usernames: list[str]) -> dict[str, dict[str, str]]:
    """Sign each person in (scrypt makes this slow on purpose: done before timing)."""
    jars: dict[str, dict[str, str]] = {}
    lock = threading.Lock()

    def work(names: list[str]) -> None:
        browser = Browser(port)
        for name in names:
            jar: dict[str, str] = {}
            _, _, page = browser.send(jar, "GET", "/login")
            status, _, _ = browser.send(jar, "POST", "/login", {
                "username": name, "password": web_seed.PASSWORD,
                "csrf_token": _field("csrf_token", page)})
            assert status == 302, f"{name} could not sign in ({status})"
            with lock:
                jars[name] = jar

    threads = [threading.Thread(target=work, args=(usernames[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return jars


@dataclass
class Figures:
    """What the clients measured."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {
        "inbox": [], "task form": [], "completion": []})
    errors: dict[str, int] = field(default_factory=dict)
    retries: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def client(port: int, queue: list[tuple[str, int]], jars: dict, stop: float,
           figures: Figures, lock: threading.Lock) -> None:
    """Inbox, task form, submit; again until the time is up or the work runs out."""
    browser = Browser(port)

    def timed(kind: str, jar: dict, method: str, path: str, form: dict | None = None,
              expect: int = 200) -> str | None:
        t0 = time.perf_counter()
        try:
            status, _, body = browser.send(jar, method, path, form)
        except OSError as exc:
            figures.error(f"{kind}: {type(exc).__name__}")
            return None
        figures.ms[kind].append((time.perf_counter() - t0) * 1000)
        if status != expect:
            figures.error(f"{kind}: HTTP {status}")
            return None
        return body

    while time.monotonic() < stop:
        with lock:
            if not queue:
                return
            name, task_id = queue.pop()
        jar = jars[name]
        timed("inbox", jar, "GET", "/")
        page = timed("task form", jar, "GET", f"/tasks/{task_id}")
        if page is None:
            continue
        now = timefmt.local(clock.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
        timed("completion", jar, "POST", f"/tasks/{task_id}", {
            "csrf_token": _field("csrf_token", page),
            "submission_token": _field("submission_token", page),
            "reached_how": "in_person", "talked_at": now, "ongoing": "no", "mood": "worried",
            "what_happened": "谈话记录：已停止联系，已讲解反诈知识", "action": "complete"},
              expect=302)
    with lock:
        figures.retries += browser.retries


# -- the timer probe ------------------------------------------------------------------------


def probe(app, students: list[int], every: float, stop: float, opened: list[int]) -> None:
    """Register a victim case every `every` seconds (escalation due 10 s later)."""
    with app.app_context():
        security = db.session.scalars(select(User).where(User.username == "security")).one()
        actor = audit.Actor(security.id, "security", "security_office")
        for student in students:
            if time.monotonic() >= stop:
                return
            now = clock.now()
            facts = {**VICTIM, "happened_at": (now - timedelta(hours=1)).isoformat(),
                     "last_transfer_at": (now - timedelta(minutes=20)).isoformat()}
            case, _ = cases.register(student, facts, security, actor)
            opened.append(case.id)
            time.sleep(every)


def timer_lag(case_ids: list[int]) -> tuple[list[float], int]:
    """Return the lag (s) of every probe timer that fell due, and how many never fired."""
    rows = db.session.execute(
        select(TimerRow.due_at, TimerRow.fired_at, TimerRow.state)
        .join(WorkflowInstance, WorkflowInstance.id == TimerRow.instance_id)
        .where(WorkflowInstance.case_id.in_(case_ids), TimerRow.due_at <= clock.now())).all()
    lags = [(f - d).total_seconds() for d, f, s in rows if s == "fired"]
    return lags, sum(1 for _, _, s in rows if s == "waiting")


# -- running it -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def report(figures: Figures, seconds: float, lags: list[float], unfired: int) -> None:
    total = sum(len(v) for v in figures.ms.values())
    done = len(figures.ms["completion"])
    print(f"{total:,} requests in {seconds:.0f} s: {total / seconds:.0f} requests/s; "
          f"{done:,} completions: {done / seconds:.1f} completions/s")
    for kind, ms in figures.ms.items():
        if ms:
            print(f"  {kind:<11} n={len(ms):>6}  p50 {statistics.median(ms):6.1f} ms  "
                  f"p95 {pct(ms, 95):6.1f} ms  p99 {pct(ms, 99):6.1f} ms  max {max(ms):6.0f} ms")
    errors = sum(figures.errors.values())
    print(f"errors: {errors} {figures.errors or ''}  (reconnects after the server closed an "
          f"idle connection: {figures.retries})")
    if lags:
        print(f"timer lag ({len(lags)} probe escalations): p50 {statistics.median(lags):.2f} s  "
              f"p95 {pct(lags, 95):.2f} s  p99 {pct(lags, 99):.2f} s  max {max(lags):.2f} s; "
              f"due but not fired: {unfired}")
    ok_rate = done / seconds >= 100 and figures.ms["completion"] and pct(
        figures.ms["completion"], 99) <= 150 and errors == 0
    ok_lag = bool(lags) and pct(lags, 99) <= 5 and unfired == 0
    print(f"targets: >= 100 completions/s with p99 <= 150 ms and 0 errors: "
          f"{'met' if ok_rate else 'MISSED'}; timer lag p99 <= 5 s: "
          f"{'met' if ok_lag else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timer-workers", type=int, default=2)
    parser.add_argument("--database-url",
                        help="a PostgreSQL database: empty, or seeded by an earlier run")
    parser.add_argument("--keep", action="store_true",
                        help="keep the throw-away cluster (prints its URL) for a rerun")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflow-load-"))
    url, cluster = (args.database_url, None) if args.database_url else _pg_cluster()
    env = {**os.environ, "CASEFLOW_DATABASE_URL": url, "CASEFLOW_SECRET_KEY": "load",
           "CASEFLOW_AUDIT_KEY": "load", "CASEFLOW_INSTANCE_PATH": str(folder)}
    os.environ.update({k: v for k, v in env.items() if k.startswith("CASEFLOW_")})
    app = create_app()
    processes: list[subprocess.Popen] = []
    try:
        with app.app_context():
            work, students = seed(args.cases)
            db.session.remove()
        port = _free_port()
        processes.append(subprocess.Popen(
            [CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--threads", str(args.threads)], env=env, stdout=subprocess.DEVNULL,
            stderr=open(folder / "serve.log", "w")))  # noqa: SIM115
        for _ in range(args.timer_workers):
            processes.append(subprocess.Popen([CASEFLOW, "worker", "--interval", "1"], env=env,
                                              stdout=subprocess.DEVNULL,
                                              stderr=open(folder / "worker.log", "a")))  # noqa: SIM115
        _wait_ready(port, time.monotonic() + 60)
        jars = sign_in(port, sorted(work))
        # each client works as its own counselors (a person uses one browser at a time)
        names = sorted(work)
        queues = [[(n, t) for n in names[i::args.clients] for t in work[n]]
                  for i in range(args.clients)]
        for q in queues:
            q.sort(key=lambda item: item[1] % 7919)  # take turns between the counselors
        figures, lock, probes = Figures(), threading.Lock(), []
        print(f"load: {args.clients} clients for {args.seconds:.0f} s against gunicorn "
              f"({args.workers} workers x {args.threads} threads), {args.timer_workers} timer "
              f"workers, PostgreSQL {url.split('@')[-1]} (fsync {server_fsync(url)})")
        groups = {"app (gunicorn)": ("tree", [processes[0].pid]),
                  "timer workers": ("tree", [p.pid for p in processes[1:]]),
                  "PostgreSQL (this machine)": ("name", "postgres"),
                  "clients and probe (bench)": ("pid", os.getpid())}
        cpu_before = cpu.snapshot(groups)
        start = time.monotonic()
        stop = start + args.seconds
        threads = [threading.Thread(target=client, args=(port, q, jars, stop, figures, lock))
                   for q in queues]
        threads.append(threading.Thread(target=probe, args=(app, students, 0.5, stop, probes)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        cpu_after = cpu.snapshot(groups)
        time.sleep(15)  # let the last probe escalations fall due and fire
        with app.app_context():
            lags, unfired = timer_lag(probes)
        report(figures, elapsed, lags, unfired)
        print("\n".join(cpu.report(cpu_before, cpu_after, elapsed,
                                   len(figures.ms["completion"]), "completion")))
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=30)
        if cluster and args.keep:
            print(f"kept: --database-url '{url}'  (stop: scripts/pg-cluster stop {cluster})")
        elif cluster:
            subprocess.run([str(ROOT / "scripts" / "pg-cluster"), "stop", cluster], check=False)


if __name__ == "__main__":
    main()
