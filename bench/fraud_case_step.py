"""The talk step of a red victim case in the real fraud_case process, three ways."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, select

from caseflow import audit, clock, create_app
from caseflow.db import db
from caseflow.models import TaskRow, WorkflowInstance
from caseflow.services import cases, runner, setup
from caseflow.services import tasks as task_service

ROOT = Path(__file__).resolve().parents[1]


def _registration() -> dict:
    now = clock.now()
    return {"discovery_source": "self_report", "category": "victim",
            "fraud_type": "order_brushing", "what_happened": "刷单被骗",
            "loss_cny": "8000.00", "money_source": "living_expenses",
            "last_transfer_at": (now - timedelta(hours=2)).isoformat(), "ongoing": "no"}


def _talk() -> dict:
    return {"reached_how": "in_person", "talked_at": clock.now().isoformat(), "ongoing": "no",
            "what_happened": "已停止联系", "mood": "worried"}


def _talk_data() -> dict:
    """The talk form as the service hands it to the engine (validated, defaults filled)."""
    from workflows.fraud_case import FORMS

    schema = FORMS["talk"]()
    return schema.dump(schema.load(_talk()))


def _world(instances: int):
    import sys

    sys.path.insert(0, str(ROOT))
    from tests import factories

    people = factories.org()

    students = []
    for i in range(instances):
        students.append(factories.student(f"B{i:06d}", f"学生{i}", people.class1,
                                          phone=f"139{i:08d}", id_card=None))
    db.session.commit()
    return people, students


def run_fraud_case(instances: int):
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-bench-"))
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(tmp / "instance")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench"})
    with app.app_context():
        setup.migrate_database()
        setup.seed_reference_data()
        setup.deploy_processes(by="bench")
        people, students = _world(instances)
        counselor = people.counselor1
        actor = audit.Actor(counselor.id, counselor.username, "counselor")
        for st in students:
            cases.register(st.id, _registration(), counselor, actor)
        rows = db.session.scalars(select(TaskRow).where(TaskRow.task_spec == "talk")).all()
        states = {r.id: db.session.get(WorkflowInstance, r.instance_id) for r in rows}
        raw_full, raw_state = _raw(rows, states)
        stats = {"statements": 0, "commits": 0}
        event.listen(db.engine, "before_cursor_execute",
                     lambda *a: stats.__setitem__("statements", stats["statements"] + 1))
        event.listen(db.engine, "commit",
                     lambda *a: stats.__setitem__("commits", stats["commits"] + 1))
        times = []
        for row in rows:
            db.session.expire_all()
            user = db.session.get(type(counselor), counselor.id)
            t0 = time.perf_counter()
            task_service.complete_task(row.id, _talk(), user, actor)
            times.append(time.perf_counter() - t0)
        print(f"audit chain after the run: {audit.verify(db.session).message}")
        sizes = [len(i.state) for i in db.session.scalars(select(WorkflowInstance))]
        print(f"instance state after the talk: median {sorted(sizes)[len(sizes) // 2]} bytes")
    return raw_full, raw_state, (times, stats["statements"] / len(rows),
                                 stats["commits"] / len(rows))


def _raw(rows, states):
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    from caseflow.engine import Run

    ser = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    full_t, state_t = [], []
    for row in rows:
        instance = states[row.id]
        process = runner.parsed(instance.process_version_id)
        funcs = runner.script_functions("fraud_case")
        run = Run.load(process, instance.state, funcs)
        full = ser.serialize_json(run.workflow)
        t0 = time.perf_counter()
        wf = ser.deserialize_json(full)
        wf.script_engine = run.workflow.script_engine
        task = wf.get_task_from_id(run.workflow.get_task_from_id(
            __import__("uuid").UUID(row.spiff_task_id)).id)
        task.set_data(**_talk_data())
        task.run()
        wf.do_engine_steps()
        ser.serialize_json(wf)
        full_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        again = Run.load(process, instance.state, funcs)
        again.complete(row.spiff_task_id, _talk_data())
        again.dump()
        state_t.append(time.perf_counter() - t0)
    return full_t, state_t
