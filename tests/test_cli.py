"""The caseflow command: init-db, deploy, bpmn check/render, audit verify, bad databases."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from caseflow.cli import main
from tests.conftest import DATA, TESTDATA

MIWG = TESTDATA / "bpmn-miwg-reference"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, review_process: str) -> Path:
    """A fresh instance folder and a BPMN folder with the test process."""
    bpmn = tmp_path / "bpmn"
    bpmn.mkdir()
    shutil.copy(DATA / "review_test.bpmn", bpmn / "review_test.bpmn")
    monkeypatch.setenv("CASEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CASEFLOW_BPMN_DIR", str(bpmn))
    return bpmn


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_db_then_deploy_only_what_changed(env: Path):
    first = run("init-db")
    assert first.exit_code == 0, first.output
    assert "deployed review_test (version 1" in first.output
    again = run("deploy")
    assert "unchanged review_test (version 1)" in again.output
    text = (env / "review_test.bpmn").read_text().replace("核查情况", "核查全部情况")
    (env / "review_test.bpmn").write_text(text)
    changed = run("deploy")
    assert "deployed review_test (version 2" in changed.output
    # the first files again (a broken model rolled back): version 1 is current again
    (env / "review_test.bpmn").write_text(text.replace("核查全部情况", "核查情况"))
    back = run("deploy")
    assert "restored review_test (version 1" in back.output
    assert "new instances start on it again" in back.output
    assert "unchanged review_test (version 1)" in run("deploy").output
    assert run("audit", "verify").output.startswith("ok:")


def test_deploy_refuses_a_lane_without_a_role(env: Path):
    text = (env / "review_test.bpmn").read_text().replace('name="学院学工办"', 'name="食堂"')
    (env / "review_test.bpmn").write_text(text)
    result = run("init-db")
    assert result.exit_code != 0
    refused = run("deploy")
    assert refused.exit_code == 1
    assert "review_test.bpmn" in refused.output and "'食堂'" in refused.output


def test_deploy_names_file_and_line_of_malformed_bpmn(env: Path):
    (env / "broken.bpmn").write_text('<?xml version="1.0"?>\n<bpmn:definitions>\n<oops>\n')
    run("init-db")
    result = run("deploy")
    assert result.exit_code == 1
    assert "broken.bpmn:2:" in result.output and "not well-formed XML" in result.output


def test_bpmn_check_reports_every_reference_file_without_a_traceback():
    files = sorted(str(p) for p in MIWG.glob("*.bpmn"))
    result = CliRunner().invoke(main, ["bpmn", "check", *files])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if not line.startswith("    ")]
    assert len(lines) == len(files)
    assert all(line.startswith(("ok ", "refused ")) for line in lines)
    assert "Traceback" not in result.output
    assert result.exit_code == (1 if any(ln.startswith("refused") for ln in lines) else 0)


def test_bpmn_check_accepts_the_benchmark_model():
    result = run("bpmn", "check", str(TESTDATA / "bench" / "seq10.bpmn"))
    assert result.exit_code == 0 and "Process_seq10" in result.output


def test_bpmn_check_refuses_junk_and_missing_files(tmp_path: Path):
    junk = tmp_path / "junk.bpmn"
    junk.write_bytes(b"\x00\x01binary")
    result = run("bpmn", "check", str(junk), str(tmp_path / "missing.bpmn"))
    assert result.exit_code == 1
    assert "refused" in result.output and "missing.bpmn" in result.output


def test_bpmn_render_writes_svg(tmp_path: Path):
    out = tmp_path / "a.svg"
    result = run("bpmn", "render", str(MIWG / "A.1.0.bpmn"), "-o", str(out))
    assert result.exit_code == 0 and out.read_text().startswith("<svg")


def test_unopenable_database_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CASEFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    target = tmp_path / "no" / "such" / "folder" / "x.db"
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{target}")
    result = CliRunner().invoke(main, ["init-db"])
    assert result.exit_code == 2
    assert f"cannot open the database (SQLite file {target})" in result.output
    assert "unable to open database file" in result.output


def test_a_setting_that_cannot_be_right_is_one_clear_line(env: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    for name, value, command in (("CASEFLOW_DB_LOCK_TIMEOUT_SECONDS", "ten", "init-db"),
                                 ("CASEFLOW_WORKER_STALL_SECONDS", "-1", "worker")):
        monkeypatch.setenv(name, value)
        result = CliRunner().invoke(main, [command])
        monkeypatch.delenv(name)
        assert result.exit_code == 2
        assert result.output == (f"caseflow: {name} must be a whole number of seconds "
                                 f"(0: no limit), 0 or more; not '{value}'\n")
    assert not (env.parent / "cli.db").exists()  # nothing was done


def test_the_worker_command_stops_its_watchdog_when_it_returns(env: Path):
    assert run("init-db").exit_code == 0
    result = run("worker", "--once")
    assert result.exit_code == 0 and "fired 0 timers" in result.output
    watching = [t for t in threading.enumerate() if t.name == "caseflow-watchdog"]
    for thread in watching:
        thread.join(10)  # it wakes within a check period and ends
    # else, run in a longer-lived process (the tests, the demo), it would end that process
    # a minute later, taking the quiet for a hung database
    assert not any(t.is_alive() for t in watching)


def test_audit_verify_fails_on_a_tampered_chain(env: Path, tmp_path: Path):
    import sqlite3

    run("init-db")
    con = sqlite3.connect(tmp_path / "cli.db")
    con.execute("DROP TRIGGER audit_event_no_update")
    con.execute("UPDATE audit_event SET detail = '{}' WHERE seq = 1")
    con.commit()
    con.close()
    result = run("audit", "verify")
    assert result.exit_code == 1 and "seq 1" in result.output


def test_audit_export_writes_the_chain_and_a_signature(env: Path, tmp_path: Path):
    import csv

    from caseflow import audit as audit_module

    run("init-db")
    out = tmp_path / "trail.csv"
    result = run("audit", "export", "-o", str(out))
    assert result.exit_code == 0 and "wrote" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and rows[0]["seq"] == "1" and rows[0]["prev_hash"] == audit_module.GENESIS
    for a, b in zip(rows, rows[1:], strict=False):
        assert b["prev_hash"] == a["hash"]
    assert "signature=" in (tmp_path / "trail.csv.sig").read_text()
    assert run("audit", "verify").output.startswith("ok:")
    import getpass
    import sqlite3

    con = sqlite3.connect(tmp_path / "cli.db")
    [(who,)] = con.execute("SELECT actor FROM audit_event WHERE event_type = 'audit_exported'")
    con.close()
    assert who == f"cli:{getpass.getuser()}"  # who took a copy of the whole trail
