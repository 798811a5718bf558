"""A failover to a standby at another address, followed by caseflow without a restart: the
URL names both servers (`?host=a&host=b&target_session_attrs=read-write`, libpq's own
multi-host connection), so when the primary goes away and the standby is promoted, the
app, the worker and backups carry on on the new primary. Each test starts a primary and a
streaming standby of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from caseflow import audit, clock
from caseflow.db import db
from caseflow.dbcheck import transport
from caseflow.services import backup, timers
from tests.conftest import login
from tests.production.cluster import Server, migrated_app
from tests.production.support import SYSTEM, events, start_review, version
from tests.production.test_db_errors import _form

pytestmark = [pytest.mark.database("postgresql"), pytest.mark.timeout(180)]


class Pair:
    """A primary and a standby streaming from it."""

    def __init__(self) -> None:
        self.primary = Server()
        self.standby = self.primary.standby()

    def url(self, *servers: Server, **query: str) -> str:
        """A URL naming `servers` in that order."""
        hosts = "&".join(f"host={server.dir}" for server in servers)
        extra = "".join(f"&{key}={value}" for key, value in query.items())
        return f"postgresql+psycopg://postgres@/postgres?{hosts}{extra}"

    def remove(self) -> None:
        for server in (self.standby, self.primary):
            server.remove()


@pytest.fixture
def pair() -> Iterator[Pair]:
    found = Pair()
    yield found
    found.remove()


@pytest.fixture
def app(tmp_path: Path, pair: Pair) -> Iterator[Flask]:
    """The app on both servers, the standby named first: it connects to the one that
    takes writes (this overrides the shared test database)."""
    url = pair.url(pair.standby, pair.primary, target_session_attrs="read-write")
    with migrated_app(pair.primary, tmp_path, SQLALCHEMY_DATABASE_URI=url) as flask_app:
        yield flask_app


def _server_in_use() -> str:
    with db.engine.connect() as conn:
        return transport(conn).host


def test_after_a_failover_people_and_the_worker_carry_on_on_the_new_primary(
        app, client, people, pair):
    instance_id, task_id = start_review(people.class1.id, people.counselor1.id)
    waiting = start_review(people.class1.id, people.counselor1.id)[0]
    assert _server_in_use() == pair.primary.dir  # the standby was skipped: it takes no writes
    login(client, "counselor1")
    form = _form(client, task_id, needs_approval="on")
    db.session.close()
    pair.primary.stop()  # the primary goes away...
    pair.standby.promote()  # ...and the standby takes over
    assert client.get("/").status_code == 200  # no restart: the pool reconnected
    assert _server_in_use() == pair.standby.dir
    assert client.get("/readyz").get_json()["database"] == "ok"
    assert client.post(f"/tasks/{task_id}", data=form).status_code == 302
    assert timers.fire_due(clock.now() + timedelta(hours=3)) >= 1  # the worker fires there
    db.session.expire_all()
    assert version(instance_id) == 2 and events("task_completed") == 1
    assert version(waiting) == 2 and events("timer_fired") == 1
    assert audit.verify(db.session).ok  # the chain went on across the failover


def test_a_backup_reads_its_snapshot_on_the_server_that_made_it(pair, tmp_path):
    # both servers named, the primary first and no target_session_attrs: the app reaches
    # the primary, and pg_dump must read there too (the standby lacks the app's snapshot)
    url = pair.url(pair.primary, pair.standby)
    with migrated_app(pair.primary, tmp_path, SQLALCHEMY_DATABASE_URI=url):
        assert _server_in_use() == pair.primary.dir
        made = backup.make(tmp_path / "copy.pgdump", SYSTEM)
        assert made.path.read_bytes().startswith(b"PGDMP")
        assert backup.check(made.path).problems == []
        assert events("backup_made") == 1
