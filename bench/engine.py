"""Per-step cost: raw SpiffWorkflow vs caseflow's complete_task service (durable SQLite).

    python bench/engine.py [--instances N]              # the demo process: the talk step
    python bench/engine.py --bpmn FILE [--instances N]  # any model: every user task in turn

Prints medians and p99 of
  raw-full   SpiffWorkflow alone with its stock serializer (state + spec as JSON);
  raw-state  SpiffWorkflow alone with caseflow's state-only serializer (spec cached);
  service    caseflow's complete_task: load the state row, validate, run, save state,
             task/timer rows and audit chain, one durable commit (WAL, synchronous=FULL);
and the ratio service / raw, plus SQL statements and commits per completion.
Any BPMN with user tasks works (default: the model peers were measured on); every lane is
mapped to the student_affairs queue and every user task gets a permissive form.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from marshmallow import INCLUDE, Schema
from sqlalchemy import event, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workflows  # noqa: E402
from bench.stats import pct  # noqa: E402
from caseflow import audit, create_app  # noqa: E402
from caseflow.db import db  # noqa: E402
from caseflow.engine import Run, load_process, split_bundle, standard_functions  # noqa: E402
from caseflow.models import TaskRow, User, UserRole  # noqa: E402
from caseflow.services import runner, setup  # noqa: E402
from caseflow.services import tasks as task_service  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "testdata" / "bench" / "seq10.bpmn"


class AnyForm(Schema):
    """Accept whatever the bench submits."""

    class Meta:
        unknown = INCLUDE


def show(name: str, values: list[float]) -> tuple[float, float]:
    ms = [v * 1000 for v in values]
    p50, p99 = statistics.median(ms), pct(ms, 99)
    print(f"{name:<10} n={len(ms):>5}  p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  "
          f"mean {statistics.fmean(ms):7.3f} ms")
    return p50, p99


def raw_full(path: Path, instances: int) -> list[float]:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    source = split_bundle({path.name: path.read_bytes()})[0]
    process = load_process(source.process_id, source.files)
    ser = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    times = []
    for _ in range(instances):
        wf = BpmnWorkflow(process.spec, process.subprocess_specs)
        wf.do_engine_steps()
        state = ser.serialize_json(wf)
        while True:
            t0 = time.perf_counter()
            wf = ser.deserialize_json(state)
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            ready[0].set_data(step=1)
            ready[0].run()
            wf.do_engine_steps()
            state = ser.serialize_json(wf)
            times.append(time.perf_counter() - t0)
    return times


def raw_state(path: Path, instances: int) -> list[float]:
    source = split_bundle({path.name: path.read_bytes()})[0]
    process = load_process(source.process_id, source.files)
    funcs = standard_functions()
    times = []
    for _ in range(instances):
        run, _ = Run.start(process, {}, funcs)
        state = run.dump()
        while True:
            t0 = time.perf_counter()
            run = Run.load(process, state, funcs)
            ready = run.ready_human_tasks()
            if not ready:
                break
            run.complete(ready[0].id, {"step": 1})
            state = run.dump()
            times.append(time.perf_counter() - t0)
    return times


def service(path: Path, instances: int) -> tuple[list[float], float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-bench-"))
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(tmp / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench"})
    source = split_bundle({path.name: path.read_bytes()})[0]
    process = load_process(source.process_id, source.files)
    workflows.register(source.process_id, type("Bench", (), {
        "LANES": {lane: "student_affairs" for lane in process.lanes},
        "FORMS": {spec.bpmn_id: AnyForm for spec in process.spec.task_specs.values()
                  if getattr(spec, "manual", False)},
    }))
    stats = {"statements": 0, "commits": 0}
    with app.app_context():
        setup.migrate_database()
        setup.deploy_sources({path.name: path.read_bytes()}, "bench")
        user = User(username="bench", display_name="bench", password_hash="x")
        user.roles = [UserRole(role="student_affairs")]
        db.session.add(user)
        db.session.commit()
        for _ in range(instances):
            runner.start_instance(source.process_id, {}, audit.SYSTEM)
        db.session.query(TaskRow).update({"assignee_id": user.id})
        db.session.commit()
        event.listen(db.engine, "before_cursor_execute",
                     lambda *a: stats.__setitem__("statements", stats["statements"] + 1))
        event.listen(db.engine, "commit",
                     lambda *a: stats.__setitem__("commits", stats["commits"] + 1))
        actor = audit.Actor(user.id, "bench", "student_affairs")
        times = []
        while True:
            ids = db.session.scalars(select(TaskRow.id).where(TaskRow.state == "ready")
                                     .order_by(TaskRow.id)).all()
            if not ids:
                break
            stats.update(statements=0, commits=0)
            for task_id in ids:
                db.session.expire_all()
                user = db.session.get(User, user.id)
                t0 = time.perf_counter()
                task_service.complete_task(task_id, {"step": 1}, user, actor)
                times.append(time.perf_counter() - t0)
            per = (stats["statements"] / len(ids), stats["commits"] / len(ids))
        result = audit.verify(db.session)
        print(f"audit chain after the run: {result.message}")
    return times, per[0], per[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpmn", type=Path, default=None)
    parser.add_argument("--instances", type=int, default=100)
    args = parser.parse_args()
    if args.bpmn is None:
        from fraud_case_step import run_fraud_case

        print(f"model: bpmn/fraud_case.bpmn, the talk step of a red victim case, "
              f"instances: {args.instances}")
        full_t, state_t, (times, statements, commits) = run_fraud_case(args.instances)
        full, raw = show("raw-full", full_t), show("raw-state", state_t)
    else:
        print(f"model: {args.bpmn}  instances: {args.instances}")
        full = show("raw-full", raw_full(args.bpmn, args.instances))
        raw = show("raw-state", raw_state(args.bpmn, args.instances))
        times, statements, commits = service(args.bpmn, args.instances)
    svc = show("service", times)
    print(f"ratio service/raw-state: p50 {svc[0] / raw[0]:.2f}  p99 {svc[1] / raw[1]:.2f}")
    print(f"ratio service/raw-full:  p50 {svc[0] / full[0]:.2f}  p99 {svc[1] / full[1]:.2f}")
    print(f"per completion: {statements:.1f} SQL statements, {commits:.2f} commits")
    print("targets: ratio <= 3, service p50 <= 5 ms, p99 <= 20 ms")


if __name__ == "__main__":
    main()
