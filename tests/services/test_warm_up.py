"""`caseflow serve` parses every deployed process once, before gunicorn forks its workers."""

from __future__ import annotations

from pathlib import Path

from caseflow.db import db
from caseflow.engine import SPECS
from caseflow.models import ProcessVersion
from caseflow.services import runner, setup
from tests.factories import deployed_org

BPMN = Path(__file__).resolve().parents[2] / "bpmn"


def test_warm_up_parses_the_newest_version_of_every_deployed_process(app):
    deployed_org()
    # a second version of fraud_case: only the newest is what new steps run on
    files = setup.read_folder(BPMN)
    main = next(n for n in files if n.startswith("fraud_case"))
    files[main] = files[main].replace(b"</bpmn:definitions>", b"<!-- v2 --></bpmn:definitions>")
    setup.deploy_sources(files, by="test")
    SPECS.clear()

    names = runner.warm_up()

    versions = db.session.query(ProcessVersion).all()
    newest = {}
    for v in versions:
        newest[v.process_id] = max(newest.get(v.process_id, 0), v.id)
    assert names == sorted(newest)
    cached = {key.split(":")[0] for key in SPECS.parsed_keys()}
    assert cached == set(newest)
    fraud = [v for v in versions if v.process_id == "fraud_case"]
    assert len(fraud) == 2
    # the older fraud_case version was not parsed: its source hash is not in the cache
    older = min(fraud, key=lambda v: v.id)
    assert f"fraud_case:{older.source_hash}" not in SPECS.parsed_keys()


def test_warm_up_on_a_database_with_nothing_deployed_parses_nothing(app):
    SPECS.clear()
    assert runner.warm_up() == []
    assert SPECS.parsed_keys() == []
