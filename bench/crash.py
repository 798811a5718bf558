"""Kill a process that completes tasks, again and again, mid-transaction; then check that no
completion was lost or doubled, that task rows match the workflow state, and that the
audit chain verifies.

    python bench/crash.py [--completions 1000] [--kills 100] [--database-url URL | --pg]

A forked child completes the ready tasks of many small instances (a two-step review
process), writing "B id" to a pipe before each completion and "D id" after its commit; the
parent SIGKILLs it after a random 30-150 ms (--window), starts another, and so on until both targets
are met. A kill that lands between a B and its D interrupted a transaction. Default
database: a SQLite file (WAL, synchronous=FULL); --pg starts a throw-away PostgreSQL
cluster (scripts/pg-cluster) with fsync on.
"""

from __future__ import annotations

import argparse
import os
import random
import select as _select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import Schema, fields
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workflows  # noqa: E402
from caseflow import audit, create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import (  # noqa: E402
    AuditEvent,
    College,
    CounselorClass,
    Klass,
    School,
    TaskRow,
    User,
    UserRole,
    WorkflowInstance,
)
from caseflow.services import runner, setup  # noqa: E402
from caseflow.services import tasks as task_service  # noqa: E402

BPMN = ROOT / "tests" / "data" / "review_test.bpmn"
PROCESS = "review_test"


class Review:
    """Lanes and forms of the two-step review process."""

    class CheckForm(Schema):
        needs_approval = fields.Boolean(required=True)
        note = fields.String(required=True)

    class ApproveForm(Schema):
        approved = fields.Boolean(required=True)

    LANES = {"辅导员": "counselor", "学院学工办": "college_officer"}
    FORMS = {"Check": CheckForm, "Approve": ApproveForm}


@dataclass
class Tally:
    """What the parent saw through the pipe."""

    begun: dict[int, int] = field(default_factory=dict)  # task id -> times begun
    done: set[int] = field(default_factory=set)
    kills: int = 0
    current: int | None = None  # the completion the running child has begun, if any
    mid_transaction: set[int] = field(default_factory=set)  # in flight when killed
    children: int = 0
    seconds: float = 0.0


def prepare(instances: int) -> None:
    """Deploy the review process and start `instances` instances (half need approval)."""
    workflows.register(PROCESS, Review)
    setup.deploy_sources({BPMN.name: BPMN.read_bytes()}, "bench")
    if db.session.scalar(select(func.count(School.id))) == 0:
        db.session.add(School(name="压测学院"))
    college = College(code="CC", name="崩溃测试学院")
    db.session.add(college)
    db.session.flush()
    klass = Klass(code="KC", name="崩溃测试班", grade=2024, college_id=college.id)
    db.session.add(klass)
    for name, role in (("crash_counselor", "counselor"), ("crash_officer", "college_officer")):
        user = User(username=name, display_name=name, password_hash="-", college_id=None)
        user.roles = [UserRole(role=role)]
        db.session.add(user)
    db.session.flush()
    counselor = db.session.scalars(select(User).where(User.username == "crash_counselor")).one()
    db.session.add(CounselorClass(user_id=counselor.id, class_id=klass.id))
    for n in range(instances):
        outcome = runner.start_instance(PROCESS, {"level": "red"}, audit.SYSTEM)
        db.session.execute(update(TaskRow).where(TaskRow.id == outcome.opened[0].id)
                           .values(class_id=klass.id))
        if n % 100 == 99:
            db.session.commit()
    db.session.commit()


def _complete_next(users: dict[str, User]) -> int | None:
    row = db.session.scalars(select(TaskRow).where(TaskRow.state == "ready")
                             .order_by(TaskRow.id).limit(1)).first()
    if row is None:
        return None
    if row.task_spec == "Check":
        user, data = users["counselor"], {"needs_approval": row.instance_id % 2 == 0,
                                          "note": f"核查 {row.id}"}
    else:
        user, data = users["college_officer"], {"approved": True}
    os.write(_PIPE_W, f"B {row.id}\n".encode())
    task_service.complete_task(row.id, data, user, audit.Actor(user.id, user.username))
    os.write(_PIPE_W, f"D {row.id}\n".encode())
    return row.id


_PIPE_W = -1


def _child(app, pipe_w: int) -> None:
    """Complete tasks until there are none (or until killed)."""
    global _PIPE_W
    _PIPE_W = pipe_w
    with app.app_context():
        db.engine.dispose(close=False)  # never use the parent's connections
        users = _users()
        while _complete_next(users) is not None:
            pass
    os._exit(0)


def _read(fd: int, tally: Tally, buffer: bytearray) -> None:
    while _select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer.extend(chunk)
    *lines, rest = buffer.split(b"\n")
    buffer[:] = rest
    for line in lines:
        kind, task = line.decode().split()
        if kind == "B":
            tally.begun[int(task)] = tally.begun.get(int(task), 0) + 1
            tally.current = int(task)
        else:
            tally.done.add(int(task))
            tally.current = None


def _warm_up(app) -> None:
    """Complete one task in the parent, so forked children start with warm caches (parsed
    spec, compiled SQL); then drop every connection before forking."""
    global _PIPE_W
    _PIPE_W = os.open(os.devnull, os.O_WRONLY)
    with app.app_context():
        users = _users()
        _complete_next(users)
        db.session.remove()
        db.engine.dispose()
    os.close(_PIPE_W)


def _users() -> dict[str, User]:
    return {r: db.session.scalars(select(User).join(UserRole).where(UserRole.role == r)
                                  .where(User.username.startswith("crash_"))).one()
            for r in ("counselor", "college_officer")}


def hammer(app, completions: int, kills: int, window: tuple[float, float] = (0.03, 0.15),
           seed: int = 6) -> Tally:
    """Fork completers and SIGKILL them until `completions` were acknowledged and `kills`
    kills happened (or the work ran out)."""
    rng, tally, start = random.Random(seed), Tally(), time.perf_counter()
    _warm_up(app)
    while len(tally.done) < completions or tally.kills < kills:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(app, write_fd)
        os.close(write_fd)
        tally.children += 1
        buffer = bytearray()
        deadline = time.monotonic() + rng.uniform(*window)
        exited = False
        while time.monotonic() < deadline and not exited:
            _read(read_fd, tally, buffer)
            exited = os.waitpid(pid, os.WNOHANG)[0] != 0
            time.sleep(0.002)
        if not exited:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            tally.kills += 1
        _read(read_fd, tally, buffer)
        os.close(read_fd)
        if not exited and tally.current is not None:
            tally.mid_transaction.add(tally.current)
        tally.current = None
        if exited:
            break  # the child found no task left: the work ran out
    tally.seconds = time.perf_counter() - start
    return tally


def verify(app, tally: Tally) -> list[str]:
    """Return every broken invariant (empty: all good)."""
    problems: list[str] = []
    with app.app_context():
        rows = {r.id: r for r in db.session.scalars(select(TaskRow))}
        counts = dict(db.session.execute(
            select(AuditEvent.task_id, func.count(AuditEvent.id))
            .where(AuditEvent.event_type == "task_completed")
            .group_by(AuditEvent.task_id)).all())
        for task_id, row in rows.items():
            n = counts.get(task_id, 0)
            if n > 1:
                problems.append(f"task {task_id} completed {n} times")
            if (row.state == "completed") != (n == 1):
                problems.append(f"task {task_id} is {row.state} with {n} completion events")
        problems += [f"acknowledged completion of task {t} was lost" for t in tally.done
                     if rows[t].state != "completed"]
        problems += _versions_and_state(rows)
        result = audit.verify(db.session, app.config["AUDIT_KEY"].encode())
        if not result.ok:
            problems.append(f"audit chain: {result.message}")
    return problems


def _versions_and_state(rows: dict[int, TaskRow]) -> list[str]:
    problems = []
    done_per_instance: dict[int, int] = {}
    for row in rows.values():
        done_per_instance[row.instance_id] = (done_per_instance.get(row.instance_id, 0)
                                              + (row.state == "completed"))
    for instance in db.session.scalars(select(WorkflowInstance)):
        if instance.version != 1 + done_per_instance.get(instance.id, 0):
            problems.append(f"instance {instance.id}: version {instance.version} but "
                            f"{done_per_instance.get(instance.id, 0)} completions")
        ready = {t.id for t in runner.load(instance).ready_human_tasks()}
        open_rows = {r.spiff_task_id for r in rows.values()
                     if r.instance_id == instance.id and r.state == "ready"}
        if ready != open_rows:
            problems.append(f"instance {instance.id}: ready rows {sorted(open_rows)} != "
                            f"READY tasks {sorted(ready)}")
    return problems


def summary(app, tally: Tally) -> str:
    """Describe the run in two lines of figures."""
    with app.app_context():
        completed = set(db.session.scalars(select(TaskRow.id)
                                           .where(TaskRow.state == "completed")))
    mid = tally.mid_transaction
    committed = {t for t in mid if t in completed and t not in tally.done}
    return (f"{len(completed)} completions in {tally.seconds:.1f} s ({len(tally.done)} "
            f"acknowledged) by {tally.children} processes; {tally.kills} SIGKILLs\n"
            f"{len(mid)} kills hit a completion in flight: {len(committed)} had committed "
            f"(killed after COMMIT reached the database, before the answer), "
            f"{len(mid - committed)} rolled back entirely and were redone by the next process")


def audit_verify_cli(url: str, audit_key: str, instance_path: str) -> tuple[int, str]:
    """Run `caseflow audit verify` on the database; return (exit code, its line)."""
    env = {**os.environ, "CASEFLOW_DATABASE_URL": url, "CASEFLOW_AUDIT_KEY": audit_key,
           "CASEFLOW_INSTANCE_PATH": instance_path}
    done = subprocess.run([str(Path(sys.executable).parent / "caseflow"), "audit", "verify"],
                          env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1]


def _pg_cluster() -> tuple[str, str]:
    """Start a throw-away cluster with fsync on (figures of a durable server)."""
    out = subprocess.run([str(ROOT / "scripts" / "pg-cluster"), "start", "--durable"],
                         check=True, capture_output=True, text=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    url = env["CASEFLOW_TEST_DATABASE_URL"].strip("'")
    if server_fsync(url) != "on":
        raise SystemExit("the throw-away cluster runs with fsync off: its figures would flatter")
    return url, env["PGCLUSTER_DIR"]


def server_fsync(url: str) -> str:
    """Return the server's fsync setting ("on" or "off")."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        value = str(conn.execute(text("SHOW fsync")).scalar())
    engine.dispose()
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--window", default="30-150",
                        help="kill each process after a random MIN-MAX milliseconds")
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    parser.add_argument("--pg", action="store_true", help="start a throw-away PostgreSQL")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflow-crash-"))
    cluster = None
    url = args.database_url or f"sqlite:///{folder / 'crash.db'}"
    if args.pg:
        url, cluster = _pg_cluster()
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "crash",
                      "AUDIT_KEY": "crash-audit-key"})
    try:
        with app.app_context():
            setup.migrate_database()
            prepare(instances=args.completions + 30 * args.kills)
        low, high = (float(ms) / 1000 for ms in args.window.split("-"))
        tally = hammer(app, args.completions, args.kills, (low, high))
        problems = verify(app, tally)
        if len(tally.done) < args.completions or tally.kills < args.kills:
            problems.append("the work ran out before the targets were reached")
        code, line = audit_verify_cli(url, "crash-audit-key", str(folder / "instance"))
        figures = summary(app, tally)
    finally:
        if cluster:
            subprocess.run([str(ROOT / "scripts" / "pg-cluster"), "stop", cluster], check=False)
    print(f"database: {url.split(':')[0]}")
    print(figures)
    print(f"caseflow audit verify: exit {code}: {line}")
    print("invariants: " + ("all hold" if not problems else f"{len(problems)} BROKEN"))
    for problem in problems[:20]:
        print("  " + problem)
    sys.exit(0 if not problems and code == 0 else 1)


if __name__ == "__main__":
    main()
