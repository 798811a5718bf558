"""scripts/pg-cluster: the test cluster skips fsync; the benches' durable one really flushes."""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.conftest import unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-cluster"


def _start(*flags: str) -> dict[str, str]:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        unavailable("PostgreSQL server binaries are missing (apt-get install postgresql)")
    out = subprocess.run([str(SCRIPT), "start", *flags], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize(("flags", "fsync"), [((), "off"), (("--durable",), "on")])
def test_pg_cluster_starts_with_fsync_off_unless_durable(flags, fsync):
    env = _start(*flags)
    try:
        folder = env["PGCLUSTER_DIR"]
        with psycopg.connect(host=folder, user="postgres", dbname="postgres") as conn:
            assert conn.execute("SHOW fsync").fetchone() == (fsync,)
    finally:
        subprocess.run([str(SCRIPT), "stop", env["PGCLUSTER_DIR"]], check=True, timeout=60)
    assert not Path(folder).exists()


@pytest.mark.parametrize("flags", [("--tls", "5999", "--tcp", "127.0.0.1:5998"),
                                   ("--fast",)])
def test_pg_cluster_refuses_options_it_cannot_honour_and_starts_nothing(flags):
    before = set(glob.glob("/tmp/caseflow-pg.*"))
    done = subprocess.run([str(SCRIPT), "start", *flags], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("pg-cluster start: ")
    assert set(glob.glob("/tmp/caseflow-pg.*")) == before
