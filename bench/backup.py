"""How long `caseflow backup make` and `check` take, and how big the copy is, at school scale.

    python bench/backup.py [--cases 100000] [--runs 3]              # SQLite (a temporary file)
    python bench/backup.py --database-url postgresql+psycopg://…    # PostgreSQL: an empty
        database (seeded here) or one seeded by bench/load.py; --check-into URL restores
        each dump into that empty database (dropped and made again between runs) to check it

Seeds N cases (the same bulk copies as bench/web.py and bench/load.py: real registrations
cloned with their workflow state, tasks, timers, findings and audit events), then times
whole backups and checks and prints medians, the file size and what each copy holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load, web_seed  # noqa: E402
from caseflow import audit, create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import AuditEvent, Case  # noqa: E402
from caseflow.services import backup, setup  # noqa: E402

OPERATOR = audit.Actor(None, "cli:bench")


def seed(cases: int) -> None:
    """Seed `cases` cases unless the database has some already."""
    setup.migrate_database()
    if db.session.scalar(select(Case.id).limit(1)) is not None:
        return
    if db.engine.dialect.name == "postgresql":
        load.seed(cases)  # it also sets the id sequences and runs VACUUM ANALYZE
        return
    start = time.perf_counter()
    org = web_seed.build_org(cases)
    templates = [web_seed.template(cid) for cid in web_seed.real_cases(org)]
    web_seed.clone(org, templates, cases - len(templates))
    print(f"seeded {cases:,} cases in {time.perf_counter() - start:.0f} s")


def _fresh(url: str) -> None:
    """Drop and create the (scratch) database at `url`."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def bench_app(prefix: str, database_url: str | None) -> tuple[Path, Flask]:
    """Return a temporary folder and an app on `database_url`, or on an SQLite file there."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(folder / "instance")
    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    # bench/load.py's key, so a database it seeded checks out here too
    return folder, create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "load",
                               "AUDIT_KEY": "load"})


def run(folder: Path, runs: int, check_into: str | None) -> None:
    """Make and check `runs` backups into `folder`; print the figures."""
    made_s, check_s, made = [], [], None
    for n in range(runs):
        start = time.perf_counter()
        made = backup.make(folder / f"run{n}", OPERATOR)
        made_s.append(time.perf_counter() - start)
        if check_into:
            _fresh(check_into)
        start = time.perf_counter()
        found = backup.check(made.path, check_into)
        check_s.append(time.perf_counter() - start)
        assert not found.problems, found.problems
    assert made is not None
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    print(f"{made.kind}: {made.cases:,} cases, {events:,} audit events; "
          f"copy {backup.size_text(made.size)}")
    print(f"backup make   runs {', '.join(f'{s:.1f}' for s in made_s)} s  "
          f"(median {statistics.median(made_s):.1f} s)")
    what = "with restore" if check_into else "in place"
    print(f"backup check  runs {', '.join(f'{s:.1f}' for s in check_s)} s  "
          f"(median {statistics.median(check_s):.1f} s, {what})")
    for line in found.facts:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite file)")
    parser.add_argument("--check-into", metavar="URL",
                        help="PostgreSQL: a scratch database each dump is restored into")
    args = parser.parse_args()
    folder, app = bench_app("caseflow-bench-backup-", args.database_url)
    with app.app_context():
        seed(args.cases)
        run(folder, args.runs, args.check_into)


if __name__ == "__main__":
    main()
