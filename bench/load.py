"""Load figures: caseflow under gunicorn on PostgreSQL with 100,000 cases, many clients.

    python bench/load.py [--cases 100000] [--seconds 60] [--runs 1] [--clients 12]
                         [--workers 2] [--threads 1] [--timer-workers 2] [--database-url URL]
                         [--ceiling SECONDS] [--api]

Starts a throw-away PostgreSQL cluster (scripts/pg-cluster start --durable: fsync on)
unless --database-url names an empty database; seeds N cases as bench/web_seed.py does
(a few registered through the services, the rest bulk copies of their rows); starts
`caseflow serve` on 127.0.0.1 and `caseflow worker` processes; signs every counselor in;
then, for a fixed time, client threads (loopback only) each open a counselor's inbox, open
one of their open talk tasks and submit it, over and over. Meanwhile a probe registers a
victim case every half second (another app process writing to the same database) whose
stop-payment escalation is due 10 s later, to measure how late the workers fire it.
With --api the clients are other systems instead: each counselor's API token lists their
open tasks (GET /api/v1/tasks) and completes one (POST …/complete, an Idempotency-Key
each), two requests a completion and no HTML.
Prints requests/s, completions/s, p50/p95/p99 per request kind (client-side, so they
include the client's own share of the 2 CPUs), errors, the timer lag, and where the CPU
went (app, timer workers, PostgreSQL, the bench itself), in all and per completion.
With --runs N it times N runs back to back against the same server and ends with their
medians: on a shared machine the CPU one gets varies from minute to minute.
With --ceiling S it then drives the same clients for S seconds each at pages that do less
and less (a static file, /healthz, the change-password form, the inbox): what this machine's
Python stack serves at most, to set the completion target against.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu, web_seed  # noqa: E402
from bench.crash import _pg_cluster, server_fsync  # noqa: E402
from bench.load_client import Figures, api_client, client, page_client, sign_in  # noqa: E402
from bench.load_report import APP, Run, report, report_lag, summary  # noqa: E402
from caseflow import audit, clock, create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import Case, Setting, TaskRow, TimerRow, User, WorkflowInstance  # noqa: E402
from caseflow.services import api_tokens, cases, setup  # noqa: E402

CASEFLOW = str(Path(sys.executable).parent / "caseflow")
VICTIM = {"discovery_source": "self_report", "category": "victim",
          "fraud_type": "order_brushing", "what_happened": "刷单被骗", "loss_cny": "3000",
          "money_source": "living_expenses", "ongoing": "no"}


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


def timed_run(app, port: int, queues: list[list[tuple[str, int]]], jars: dict,
              students: list[int], seconds: float, groups: dict, probes: list[int],
              api: bool = False) -> Run:
    """Drive the clients (and the timer probe) for `seconds`; return what they measured.

    `jars` holds each counselor's cookies, or with `api` their API tokens."""
    figures, lock = Figures(), threading.Lock()
    cpu_before = cpu.snapshot(groups)
    start = time.monotonic()
    stop = start + seconds
    target = api_client if api else client
    threads = [threading.Thread(target=target, args=(port, q, jars, stop, figures, lock))
               for q in queues]
    threads.append(threading.Thread(target=probe, args=(app, students, 0.5, stop, probes)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return Run(figures, elapsed, cpu_before, cpu.snapshot(groups))


# What the stack alone can serve: the same clients and server on pages that do less and less.
CEILING = [("a static file (gunicorn and Flask)", "/static/caseflow.css", False),
           ("/healthz (schema and timer checks)", "/healthz", False),
           # next to nothing but what every screen has: session check, settings, badges, layout
           ("a signed-in page's frame", "/account/password", True),
           ("inbox", "/", True)]


def ceiling(port: int, jars: dict, clients: int, seconds: float, groups: dict) -> None:
    """Print requests/s and CPU per request of ever lighter pages, for scale."""
    names = sorted(jars)[:clients]
    print(f"\nceiling: {clients} clients, {seconds:.0f} s per page; a completion takes 3 "
          f"requests (inbox, form, submit), so 100 completions/s need 300 requests/s")
    for label, path, signed_in in CEILING:
        ms: list[float] = []
        lock, stop = threading.Lock(), time.monotonic() + seconds
        before = cpu.snapshot(groups)
        threads = [threading.Thread(target=page_client, args=(
            port, path, dict(jars[n]) if signed_in else {}, stop, ms, lock)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after, n = cpu.snapshot(groups), max(len(ms), 1)
        shares = ", ".join(f"{g.split()[0]} {(after[g] - before[g]) / n * 1000:.2f}"
                           for g in groups if g != "timer workers")
        print(f"  {label:<36} {len(ms) / seconds:6.0f} requests/s  p50 "
              f"{statistics.median(ms) if ms else 0:6.1f} ms  CPU ms per request: {shares}")


def issue_tokens(usernames: list[str]) -> dict[str, str]:
    """Issue each counselor an API token with the counselor role (audited, as an admin would)."""
    users = dict(db.session.execute(select(User.username, User.id)
                                    .where(User.username.in_(usernames))).all())
    actor = audit.Actor(None, "bench")
    tokens = {name: api_tokens.issue(users[name], "load bench", ["counselor"], actor)[1]
              for name in usernames}
    db.session.commit()
    return tokens


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60, help="length of each timed run")
    parser.add_argument("--runs", type=int, default=1,
                        help="timed runs back to back against the same server (each on other "
                             "open tasks); with several, also prints their medians")
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timer-workers", type=int, default=2)
    parser.add_argument("--database-url",
                        help="a PostgreSQL database: empty, or seeded by an earlier run")
    parser.add_argument("--ceiling", type=float, default=0, metavar="SECONDS",
                        help="afterwards, drive the clients at ever lighter pages for SECONDS "
                             "each and print the requests/s the stack alone reaches")
    parser.add_argument("--api", action="store_true",
                        help="clients use the JSON API (task list, complete) instead of pages")
    parser.add_argument("--keep", action="store_true",
                        help="keep the throw-away cluster (prints its URL) for a rerun")
    return parser.parse_args()


def _start(args: argparse.Namespace, env: dict[str, str], folder: Path
           ) -> tuple[list[subprocess.Popen], int]:
    """Start `caseflow serve` and the timer workers; return them and the server's port."""
    port = _free_port()
    processes = [subprocess.Popen(
        [CASEFLOW, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", str(args.threads)], env=env, stdout=subprocess.DEVNULL,
        stderr=open(folder / "serve.log", "w"))]  # noqa: SIM115
    for _ in range(args.timer_workers):
        processes.append(subprocess.Popen([CASEFLOW, "worker", "--interval", "1"], env=env,
                                          stdout=subprocess.DEVNULL,
                                          stderr=open(folder / "worker.log", "a")))  # noqa: SIM115
    _wait_ready(port, time.monotonic() + 60)
    return processes, port


def _queues(work: dict[str, list[int]], clients: int) -> list[list[tuple[str, int]]]:
    # each client works as its own counselors (a person uses one browser at a time)
    names = sorted(work)
    queues = [[(n, t) for n in names[i::clients] for t in work[n]] for i in range(clients)]
    for q in queues:
        q.sort(key=lambda item: item[1] % 7919)  # take turns between the counselors
    return queues


def main() -> None:
    args = _arguments()
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
        if args.api:
            with app.app_context():
                jars = issue_tokens(sorted(work))
                db.session.remove()
        processes, port = _start(args, env, folder)
        if not args.api:
            jars = sign_in(port, sorted(work))
        queues, probes, runs = _queues(work, args.clients), [], []
        print(f"load: {args.clients} {'API ' if args.api else ''}clients for {args.runs} x "
              f"{args.seconds:.0f} s against "
              f"gunicorn ({args.workers} workers x {args.threads} threads), "
              f"{args.timer_workers} timer workers, PostgreSQL {url.split('@')[-1]} "
              f"(fsync {server_fsync(url)})")
        groups = {APP: ("tree", [processes[0].pid]),
                  "timer workers": ("tree", [p.pid for p in processes[1:]]),
                  "PostgreSQL (this machine)": ("name", "postgres"),
                  "clients and probe (bench)": ("pid", os.getpid())}
        for n in range(args.runs):
            if args.runs > 1:
                print(f"\n-- run {n + 1} of {args.runs}")
            run = timed_run(app, port, queues, jars, students[n::args.runs], args.seconds,
                            groups, probes, args.api)
            runs.append(run)
            report(run.figures, run.seconds)
            print("\n".join(cpu.report(run.cpu_before, run.cpu_after, run.seconds,
                                       len(run.figures.ms["completion"]), "completion")))
        if args.runs > 1:
            summary(runs)
        time.sleep(15)  # let the last probe escalations fall due and fire
        with app.app_context():
            report_lag(*timer_lag(probes))
        if args.ceiling and not args.api:
            ceiling(port, jars, args.clients, args.ceiling, groups)
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
