"""How long `caseflow instances migrate` takes to move a school's running cases to a fix.

    python bench/migrate.py [--cases 10000] [--database-url postgresql+psycopg://…]

Seeds N cases (the bulk copies bench/backup.py and bench/load.py use: real registrations
cloned with their workflow state, tasks and timers) on SQLite (a temporary file) or an
empty PostgreSQL database, deploys a fraud_case version whose only change is one script
line (as a fix would be), times a dry run and then the moves (one transaction each), and
prints instances per second, the per-instance p50/p99 and how long 100,000 running
instances would take.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.backup import bench_app, seed  # noqa: E402
from bench.stats import pct  # noqa: E402
from caseflow import audit  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.models import WorkflowInstance  # noqa: E402
from caseflow.services import migration, runner, setup  # noqa: E402

OPERATOR = audit.Actor(None, "cli:bench")
FIX = ("<bpmn:script>case_facts = record_session(case_facts, risk_assessment, more_sessions)",
       "<bpmn:script>case_facts = record_session(case_facts, risk_assessment, more_sessions)\n"
       "session_recorded = True")


def deploy_fix() -> int:
    """Deploy fraud_case with one script line changed; return the new version's id."""
    files = {name: (ROOT / "bpmn" / name).read_bytes()
             for name in ("fraud_case_triage.dmn", "fraud_case_flags.dmn")}
    model = (ROOT / "bpmn" / "fraud_case.bpmn").read_text(encoding="utf-8")
    assert FIX[0] in model
    files["fraud_case.bpmn"] = model.replace(*FIX).encode()
    for line in setup.deploy_sources(files, "bench"):
        print(line)
    return runner.latest_version("fraud_case").id


def timed(ids: list[int], target: int, dry_run: bool) -> tuple[float, list[float], int]:
    """Move (or check) each instance; return seconds, per-instance ms, and how many moved."""
    each, moved = [], 0
    start = time.perf_counter()
    for instance_id in ids:
        t0 = time.perf_counter()
        result = migration.move_instance(instance_id, target, OPERATOR, dry_run)
        each.append((time.perf_counter() - t0) * 1000)
        moved += result.possible
        assert result.possible, result.blockers
    return time.perf_counter() - start, each, moved


def report(label: str, seconds: float, each: list[float], count: int) -> None:
    """Print one pass's rate and per-instance figures."""
    rate = count / seconds if seconds else 0
    print(f"{label:<9} {count:,} instances in {seconds:.1f} s: {rate:.0f}/s; per instance "
          f"p50 {statistics.median(each):.1f} ms  p99 {pct(each, 99):.1f} ms; "
          f"100,000 running instances would take {100_000 / rate / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    _, app = bench_app("caseflow-bench-migrate-", args.database_url)
    with app.app_context():
        seed(args.cases)
        target = deploy_fix()
        ids = migration.to_move("fraud_case", runner.latest_version("fraud_case"))
        running = db.session.scalar(select(func.count(WorkflowInstance.id))
                                    .where(WorkflowInstance.status == "running"))
        db.session.rollback()
        print(f"{len(ids):,} running fraud_case instances to move ({running:,} running in all)")
        report("dry run", *timed(ids, target, dry_run=True))
        report("move", *timed(ids, target, dry_run=False))
        left = migration.to_move("fraud_case", runner.latest_version("fraud_case"))
        print(f"left on other versions: {len(left)}")


if __name__ == "__main__":
    main()
