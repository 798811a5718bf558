"""A throw-away PostgreSQL cluster of a test's own (scripts/pg-cluster), for tests that stop
and start the server or need it set up differently (TLS on a TCP port)."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from caseflow.db import db
from caseflow.services import setup
from tests.conftest import _make_app, unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-cluster"


class Server:
    """A cluster started by `scripts/pg-cluster start [ARGS]`; `url` reaches it."""

    def __init__(self, *start: str, command: str = "start", inside: tuple[str, ...] = ()
                 ) -> None:
        if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
            unavailable("PostgreSQL server binaries are missing (apt-get install postgresql)")
        self.inside = inside  # a command prefix the server runs under (a network namespace)
        env = dict(line.removeprefix("export ").split("=", 1)
                   for line in self._script(*inside, str(SCRIPT), command, *start).splitlines())
        self.dir = env["PGCLUSTER_DIR"]
        self.url = env["CASEFLOW_TEST_DATABASE_URL"].strip("'")

    @staticmethod
    def _script(*command: str) -> str:
        return subprocess.run(list(command), check=True, capture_output=True, text=True,
                              timeout=120).stdout

    def stop(self) -> None:
        """Stop the server the way a restart does: open connections are cut."""
        self._script(str(SCRIPT), "halt", self.dir)

    def start(self) -> None:
        self._script(*self.inside, str(SCRIPT), "resume", self.dir)

    def standby(self) -> Server:
        """Start a read-only standby streaming from this cluster (a replica)."""
        return Server(self.dir, command="standby")

    def promote(self) -> None:
        """Make this standby the primary, as a failover does."""
        self._script(str(SCRIPT), "promote", self.dir)

    def freeze(self) -> None:
        """Hang the server the way a frozen disk or a stopped process does: every process of
        it stops (SIGSTOP), while its kernel still takes connections and acknowledges data."""
        self._signal(signal.SIGSTOP, self._processes())

    def thaw(self) -> None:
        self._signal(signal.SIGCONT, self._processes()[::-1])

    @staticmethod
    def _signal(which: int, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # a child that ended meanwhile
                os.kill(pid, which)

    def _processes(self) -> list[int]:
        """Return the postmaster's pid, then its children's (none while it is stopped)."""
        pidfile = Path(self.dir, "data", "postmaster.pid")
        if not pidfile.exists():
            return []
        postmaster = int(pidfile.read_text().split()[0])
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = Path(stat).read_text()
            except OSError:
                continue  # ended while we looked
            if int(text[text.rindex(")") + 2:].split()[1]) == postmaster:
                children.append(int(stat.split("/")[2]))
        return [postmaster, *children]

    def remove(self) -> None:
        self.thaw()  # a stopped server would not stop
        self._script(str(SCRIPT), "stop", self.dir)


def own_server() -> Iterator[Server]:
    """A cluster of the test's own (as a fixture: `server = pytest.fixture(name="server")(…)`)."""
    found = Server()
    yield found
    found.remove()


def app_on(tmp_path: Path, server: Server) -> Iterator[Flask]:
    """The app on the test's own cluster, overriding the shared test database (as a
    fixture named `app`, beside `own_server`)."""
    with migrated_app(server, tmp_path) as flask_app:
        yield flask_app


@contextmanager
def migrated_app(server: Server, folder: Path, **settings: Any) -> Iterator[Flask]:
    """Give an app on the server's database, migrated, inside its app context."""
    flask_app = _make_app(folder, server.url, **settings)
    with flask_app.app_context():
        setup.migrate_database()
        try:
            yield flask_app
        finally:
            db.session.remove()
            db.engine.dispose()
