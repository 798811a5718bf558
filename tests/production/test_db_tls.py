"""The way to the database is private: `serve` and `worker` warn at start when students'
data would cross the network to PostgreSQL without TLS. The facts (the server's address,
whether TLS is on) are read from real connections to a cluster of the test's own that
speaks TLS on 127.0.0.1; the decision's remote cases are given by hand here, and a real
remote address (a host in a network namespace) is in test_db_network.py."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from caseflow import serving
from caseflow.dbcheck import Transport, plaintext_warning, transport
from tests.production.cluster import Server, migrated_app
from tests.production.test_serve import _free_port
from tests.production.test_worker import CASEFLOW

pytestmark = pytest.mark.database("postgresql")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Server]:
    found = Server("--tls", str(_free_port()))
    yield found
    found.remove()


def _facts(url: str) -> Transport | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = transport(conn)
    engine.dispose()
    return found


def _with(url: str, sslmode: str) -> str:
    return make_url(url).update_query_dict({"sslmode": sslmode}).render_as_string(False)


def test_a_connection_says_where_it_goes_and_whether_tls_encrypts_it(tls_server):
    assert _facts(tls_server.url) == Transport("127.0.0.1", "127.0.0.1", True)
    assert _facts(_with(tls_server.url, "disable")) == Transport("127.0.0.1", "127.0.0.1", False)
    port = make_url(tls_server.url).port
    socket = _facts(f"postgresql+psycopg://postgres@/postgres?host={tls_server.dir}&port={port}")
    assert socket == Transport(tls_server.dir, "", False)
    assert not socket.crosses_network


def test_plaintext_is_warned_about_only_when_it_leaves_this_machine(tls_server):
    plain = _facts(_with(tls_server.url, "disable"))
    assert plaintext_warning(plain) is None, "loopback stays on this machine"
    remote = dataclasses.replace(plain, host="db.example.edu", address="192.0.2.10")
    assert plaintext_warning(remote) == (
        "warning: the connection to the database at db.example.edu (192.0.2.10) is not "
        "encrypted: students' data crosses the network in clear text. Turn on TLS in "
        "PostgreSQL and add sslmode=verify-full&sslrootcert=/path/to/ca.pem to "
        "CASEFLOW_DATABASE_URL")
    assert plaintext_warning(dataclasses.replace(remote, encrypted=True)) is None
    assert plaintext_warning(dataclasses.replace(remote, address="2001:db8::5")) is not None
    assert plaintext_warning(dataclasses.replace(remote, address="::1")) is None
    assert plaintext_warning(None) is None  # SQLite: no network at all


@pytest.fixture
def tls_app(tmp_path: Path, tls_server: Server) -> Iterator[Flask]:
    with migrated_app(tls_server, tmp_path) as flask_app:
        yield flask_app


def test_caseflow_runs_over_tls_and_the_worker_starts_without_a_warning(tls_app, tmp_path,
                                                                      tls_server):
    assert serving.unencrypted_database() is None
    env = {"PATH": "/usr/bin:/bin", "CASEFLOW_DATABASE_URL": tls_server.url,
           "CASEFLOW_SECRET_KEY": "test-secret", "CASEFLOW_AUDIT_KEY": "test-audit-key",
           "CASEFLOW_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([CASEFLOW, "worker", "--once"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "not encrypted" not in done.stderr
