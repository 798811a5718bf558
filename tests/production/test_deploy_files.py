"""The service files in deploy/ fit the code: their commands parse against the real CLI,
their environment holds only settings caseflow reads (and valid values), and nginx
forwards to where the web unit listens and lets through what the app accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from caseflow import config
from caseflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = Path("/opt/caseflow")  # where README installs the checkout
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _unit(path: Path) -> dict[str, list[str]]:
    """Return a systemd unit's (or the env file's) settings, across sections; keys may repeat."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def _env() -> dict[str, str]:
    return {key: values[-1] for key, values in _unit(DEPLOY / "caseflow.env").items()}


def _parse(command_line: str) -> tuple[str, dict[str, Any]]:
    """Parse a unit's caseflow command line as the CLI would; return its command and params."""
    program, *args = shlex.split(command_line)
    assert Path(program) == INSTALL / ".venv/bin/caseflow", program
    command: click.Command = main
    names = []
    while isinstance(command, click.Group):
        name, *args = args
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"caseflow has no command {' '.join([*names, name])!r}"
        names.append(name)
        command = sub
    ctx = command.make_context(" ".join(names), args)  # raises on an unknown option
    return " ".join(names), ctx.params


def _commands() -> dict[str, dict[str, Any]]:
    return dict(_parse(line) for unit in UNITS for key in ("ExecStart", "ExecStartPost")
                for line in _unit(unit).get(key, []))


def test_every_unit_runs_a_real_command_as_the_caseflow_user_with_the_env_file():
    assert {u.name for u in UNITS} == {"caseflow-web.service", "caseflow-worker.service",
                                       "caseflow-backup.service"}
    instance = _env()["CASEFLOW_INSTANCE_PATH"]
    for path in UNITS:
        unit = _unit(path)
        assert unit["User"] == ["caseflow"] and unit["UMask"] == ["0077"], path.name
        assert unit["EnvironmentFile"] == ["/etc/caseflow/caseflow.env"], path.name
        assert unit["WorkingDirectory"] == [str(INSTALL)], path.name
        assert unit["ProtectSystem"] == ["strict"], path.name
        assert instance in unit["ReadWritePaths"][0].split(), path.name  # the SQLite file
    assert set(_commands()) == {"serve", "worker", "backup make", "backup prune"}


def test_a_misspelled_option_or_command_in_a_unit_would_be_caught():
    with pytest.raises(click.NoSuchOption):
        _parse(f"{INSTALL}/.venv/bin/caseflow serve --acces-log -")
    with pytest.raises(AssertionError, match="no command 'backup take'"):
        _parse(f"{INSTALL}/.venv/bin/caseflow backup take /var/backups/caseflow/")


def test_the_backup_timer_starts_the_backup_into_a_folder_the_unit_may_write_and_prunes():
    timer = _unit(DEPLOY / "systemd/caseflow-backup.timer")
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]
    assert timer["WantedBy"] == ["timers.target"]
    commands = _commands()
    dest = str(commands["backup make"]["dest"]).rstrip("/")
    writable = _unit(DEPLOY / "systemd/caseflow-backup.service")["ReadWritePaths"][0].split()
    assert dest in writable
    assert str(commands["backup prune"]["folder"]).rstrip("/") == dest  # prunes what it made
    assert commands["backup prune"]["keep_last"] >= 1


def test_the_env_file_holds_only_settings_caseflow_reads_and_they_are_valid(tmp_path: Path):
    read = set()
    for source in (ROOT / "caseflow").rglob("*.py"):
        read |= set(re.findall(r"CASEFLOW_[A-Z_]+", source.read_text()))
    written = (DEPLOY / "caseflow.env").read_text()
    named = set(re.findall(r"^#?(CASEFLOW_[A-Z_]+)=", written, re.MULTILINE))
    assert named and named <= read, named - read
    env = {**_env(), "CASEFLOW_INSTANCE_PATH": str(tmp_path)}
    built = config.build(tmp_path, None, env)  # raises on a value caseflow refuses
    assert built["HEALTH_BACKUP_MAX_AGE_HOURS"] == 26
    assert env["CASEFLOW_HTTPS"] == "1" and env["CASEFLOW_PROXY_HOPS"] == "1"


def test_nginx_forwards_to_the_web_unit_and_serves_the_real_static_folder(tmp_path: Path):
    conf = (DEPLOY / "nginx/caseflow.conf").read_text()
    [upstream] = re.findall(r"proxy_pass http://([\d.]+:\d+);", conf)
    assert upstream == _commands()["serve"]["bind"]
    [size] = re.findall(r"client_max_body_size (\d+)m;", conf)
    assert int(size) * 1024 * 1024 > config.defaults(tmp_path)["MAX_CONTENT_LENGTH"]
    [static] = re.findall(r"location /static/ \{\s*alias ([^;]+);", conf)
    assert (ROOT / Path(static).relative_to(INSTALL) / "caseflow.css").is_file()
    assert "X-Forwarded-For" in conf and "X-Forwarded-Proto" in conf  # CASEFLOW_PROXY_HOPS
