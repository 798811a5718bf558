"""A whole school's screening round: 30,000 students, 800 classes, 300 flagged students.

Seeds the organisation in bulk (like `caseflow.services.demo.load_school`), starts the
round through the service, writes each class's .xlsx template and fills it in as a
counselor would (prep, not timed), then imports every sheet through the service and
prints the total and per-sheet times and the number of fraud cases opened.

    python bench/screening.py [--students 30000] [--classes 800] [--flagged 300]
    python bench/screening.py --cli   # the same sheets as files, through
                                      # `caseflow screening import-many FOLDER`
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import load_workbook  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench.stats import pct  # noqa: E402
from caseflow import audit, clock, create_app, timefmt  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import (  # noqa: E402
    Case,
    College,
    CounselorClass,
    Klass,
    ScreeningClass,
    ScreeningEntry,
    Student,
    User,
    UserRole,
)
from caseflow.services import (  # noqa: E402
    runner,
    screening,
    screening_batch,
    screening_import,
    setup,
)
from caseflow.services.auth import hash_password  # noqa: E402

COLLEGES = 20
CLASSES_PER_COUNSELOR = 4
CHUNK = 5000


def _bulk(model, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start:start + CHUNK])


def seed(n_students: int, n_classes: int) -> None:
    """Insert colleges, classes, counselors (4 classes each), officers, staff, students."""
    digest, now = hash_password("bench-password-1234"), clock.now()
    users, roles, links = [], [], []

    def person(name: str, role: str, college: int | None) -> int:
        uid = len(users) + 1
        users.append({"id": uid, "username": name, "display_name": name, "active": True,
                      "password_hash": digest, "college_id": college, "created_at": now})
        roles.append({"user_id": uid, "role": role})
        return uid

    _bulk(College, [{"id": c, "code": f"C{c:02d}", "name": f"第{c}学院"}
                    for c in range(1, COLLEGES + 1)])
    classes = [{"id": k, "code": f"K{k:04d}", "name": f"{k}班", "grade": 2022 + k % 4,
                "college_id": 1 + (k - 1) * COLLEGES // n_classes} for k in range(1, n_classes + 1)]
    _bulk(Klass, classes)
    for c in range(1, COLLEGES + 1):
        person(f"officer{c}", "college_officer", c)
    for k in classes:
        if (k["id"] - 1) % CLASSES_PER_COUNSELOR == 0:
            counselor = person(f"counselor{k['id']}", "counselor", k["college_id"])
        links.append({"user_id": counselor, "class_id": k["id"]})
    for name, role in (("security", "security_office"), ("affairs", "student_affairs"),
                       ("leader", "leader"), ("psych", "psych_center")):
        person(name, role, None)
    _bulk(User, users)
    _bulk(UserRole, roles)
    _bulk(CounselorClass, links)
    rng = random.Random(7)
    _bulk(Student, [{"id": i, "student_no": f"20{i:08d}", "name": f"学生{i}", "gender": "女",
                     "class_id": 1 + (i - 1) % n_classes, "phone": f"138{i:08d}",
                     "id_card": None, "birth_date": date(2005, 1, 1),
                     "status": "实习" if rng.random() < 0.05 else "在校",
                     "hardship": rng.random() < 0.06, "academic_difficulty": False,
                     "psych_watch": rng.random() < 0.03} for i in range(1, n_students + 1)])
    db.session.commit()


def fill(template: bytes, flag: set[int], away: set[int], today: date) -> bytes:
    """Fill a class's template as a counselor would: talked, flagged, not reached."""
    book = load_workbook(io.BytesIO(template))
    sheet = book["摸排"]
    for row in range(2, sheet.max_row + 1):
        n = row - 2
        sheet.cell(row, 3, "谈话")
        if n in flag:
            sheet.cell(row, 3, "标记")
            sheet.cell(row, 4, "涉诈隐患")
            sheet.cell(row, 5, "虚假招聘/兼职")
        if n in away:
            sheet.cell(row, 3, "未能联系")
            sheet.cell(row, 7, "实习单位在外地，电话未接通")
            sheet.cell(row, 8, today + timedelta(days=3))
        if n in flag or sheet.cell(row, 6).fill.fgColor.rgb == "00FFF2CC":
            sheet.cell(row, 6, "摸排中发现网上兼职刷单线索" if n in flag else "重点关注学生已谈话")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(n_students: int, n_classes: int, n_flagged: int, single: bool = False,
        workers: int = 2, defer: bool = False, cli: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-bench-screening-"))
    os.environ.update(CASEFLOW_INSTANCE_PATH=str(tmp / "instance"),
                      CASEFLOW_DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
                      CASEFLOW_SECRET_KEY="bench", CASEFLOW_AUDIT_KEY="bench")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench"})
    with app.app_context():
        setup.migrate_database()
        setup.seed_reference_data()
        setup.deploy_processes(by="bench")
        t0 = time.perf_counter()
        seed(n_students, n_classes)
        print(f"seeded {n_students} students in {n_classes} classes: "
              f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        rnd = screening.start_round(None, audit.Actor(None, "bench"))
        print(f"started round {rnd.number}: {rnd.classes} class instances, {rnd.students} "
              f"students: {time.perf_counter() - t0:.1f} s")
        sheets = prepare(n_flagged)
        # a running server has parsed the fraud_case model long before; so does the bench
        runner.parsed(runner.latest_version("fraud_case").id)
        if cli:
            import_folder(sheets, tmp / "sheets", rnd.number, workers)
        else:
            import_all(sheets, single, workers, defer)
        print(f"audit chain: {audit.verify(db.session).message}")


def prepare(n_flagged: int) -> list[tuple[str, int, bytes]]:
    """Write each class's template and fill it in; return (class code, counselor, sheet)."""
    rows = db.session.execute(select(Klass.code, ScreeningClass.counselor_id)
                              .join(ScreeningClass, ScreeningClass.class_id == Klass.id)
                              .order_by(Klass.code)).all()
    rng = random.Random(11)
    flagged_classes = rng.sample(range(len(rows)), n_flagged) if n_flagged <= len(rows) \
        else [rng.randrange(len(rows)) for _ in range(n_flagged)]
    today = timefmt.local(clock.now()).date()
    t0, made, out = time.perf_counter(), [], []
    for n, (code, counselor) in enumerate(rows):
        s = time.perf_counter()
        _, template = screening_import.template(code)
        made.append(time.perf_counter() - s)
        flag = {i for i, c in enumerate(flagged_classes) if c == n}
        out.append((code, counselor, fill(template, {0} if flag else set(),
                                           {1} if n % 3 == 0 else set(), today)))
    print(f"templates: {len(rows)} in {sum(made):.1f} s ({statistics.median(made) * 1000:.1f} "
          f"ms each); filling them in (not timed): {time.perf_counter() - t0:.1f} s in all")
    return out


def import_all(sheets: list[tuple[str, int, bytes]], single: bool, workers: int,
               defer: bool = False) -> None:
    """Import every sheet through the service; print the times and what was created."""
    users = {u.id: u for u in db.session.scalars(select(User))}
    actors = {uid: audit.Actor(u.id, u.username, "counselor") for uid, u in users.items()}
    cases_before = db.session.scalar(select(func.count(Case.id)))
    times: list[float] = []
    t0, cpu0 = time.perf_counter(), time.process_time()
    if single:
        for code, counselor, data in sheets:
            s = time.perf_counter()
            screening_import.import_sheet(code, data, users[counselor], actors[counselor])
            times.append(time.perf_counter() - s)
    else:
        results = screening_batch.import_many(
            [screening_batch.Upload(code, data, users[c], actors[c]) for code, c, data in sheets],
            workers=workers, file_cases=not defer)
        refused = [r for r in results if not isinstance(r, screening_import.ImportResult)]
        assert not refused, refused[:3]
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if defer:
        print(f"SHEETS IN (cases left to the worker job): {total:.2f} s, CPU {cpu:.2f} s")
        t1 = time.perf_counter()
        while sum(screening_import.file_pending()):
            pass
        filing = time.perf_counter() - t1
        print(f"CASES FILED by the worker job's file_pending: {filing:.2f} s")
        total += filing
    entries = db.session.scalar(select(func.count(ScreeningEntry.id)))
    opened = db.session.scalar(select(func.count(Case.id))) - cases_before
    how = "one request per sheet" if single else f"import_many, {workers} reader processes" + (
        ", cases filed afterwards" if defer else "")
    print(f"IMPORT ({how}): {len(sheets)} sheets, {entries} students in {total:.2f} s "
          f"({'under' if total < 10 else 'OVER'} 10 s)")
    if times:
        times.sort()
        print(f"  per sheet: median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {pct(times, 95) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
    else:
        print(f"  per sheet: {total / len(sheets) * 1000:.1f} ms on average")
    print(f"  fraud cases opened: {opened}")
    print(f"  CPU of this process: {cpu:.2f} s (readers excluded); load average now: "
          f"{os.getloadavg()[0]:.1f}")


def import_folder(sheets: list[tuple[str, int, bytes]], folder: Path, round_no: str,
                  workers: int) -> None:
    """Write the sheets as the template names them and time `screening import-many`."""
    from click.testing import CliRunner

    from caseflow.cli_discovery import screening_group

    folder.mkdir()
    for code, _, data in sheets:
        (folder / f"摸排_{round_no}_{code}.xlsx").write_bytes(data)
    db.session.remove()  # the command opens the database on its own
    t0 = time.perf_counter()
    result = CliRunner().invoke(screening_group, ["import-many", str(folder),
                                                  "--workers", str(workers)])
    total = time.perf_counter() - t0
    assert result.exit_code == 0, result.output[-2000:]
    print(result.output.splitlines()[-1])
    print(f"IMPORT (caseflow screening import-many, {workers} reader processes): "
          f"{len(sheets)} files in {total:.2f} s ({'under' if total < 10 else 'OVER'} 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30_000)
    parser.add_argument("--classes", type=int, default=800)
    parser.add_argument("--flagged", type=int, default=300)
    parser.add_argument("--single", action="store_true",
                        help="import sheet by sheet (one service call each), timing each")
    parser.add_argument("--workers", type=int, default=2, help="reader processes (batch)")
    parser.add_argument("--defer-cases", action="store_true",
                        help="batch: leave the flagged students' cases to the worker job")
    parser.add_argument("--cli", action="store_true",
                        help="write the sheets to a folder and time the import-many command")
    args = parser.parse_args()
    run(args.students, args.classes, args.flagged, args.single, args.workers, args.defer_cases,
        args.cli)


if __name__ == "__main__":
    main()
