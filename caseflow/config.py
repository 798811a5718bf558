"""Configuration: defaults, then CASEFLOW_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_KEYS = {
    "CASEFLOW_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "CASEFLOW_SECRET_KEY": "SECRET_KEY",
    "CASEFLOW_AUDIT_KEY": "AUDIT_KEY",
    "CASEFLOW_SCHOOL_NAME": "SCHOOL_NAME",
    "CASEFLOW_BPMN_DIR": "BPMN_DIR",
    "CASEFLOW_HEALTH_TIMER_GRACE_SECONDS": "HEALTH_TIMER_GRACE_SECONDS",
    "CASEFLOW_HEALTH_BACKUP_MAX_AGE_HOURS": "HEALTH_BACKUP_MAX_AGE_HOURS",
    "CASEFLOW_DB_LOCK_TIMEOUT_SECONDS": "DB_LOCK_TIMEOUT_SECONDS",
    "CASEFLOW_DB_IDLE_IN_TRANSACTION_SECONDS": "DB_IDLE_IN_TRANSACTION_SECONDS",
    "CASEFLOW_DB_STATEMENT_TIMEOUT_SECONDS": "DB_STATEMENT_TIMEOUT_SECONDS",
    "CASEFLOW_DB_CONNECT_TIMEOUT_SECONDS": "DB_CONNECT_TIMEOUT_SECONDS",
    "CASEFLOW_DB_NETWORK_TIMEOUT_SECONDS": "DB_NETWORK_TIMEOUT_SECONDS",
    "CASEFLOW_WORKER_STALL_SECONDS": "WORKER_STALL_SECONDS",
}

ROOT = Path(__file__).resolve().parent.parent
WORKER_STALL_SECONDS = 60
# a pooled connection is checked before use: one the database server cut (a restart) is
# replaced instead of failing the request
ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}


def defaults(instance_path: Path) -> dict[str, Any]:
    """Return the built-in defaults (a SQLite file under instance/)."""
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'caseflow.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": dict(ENGINE_OPTIONS),
        "BPMN_DIR": str(ROOT / "bpmn"),
        "SCHOOL_NAME": "示范职业技术学院",
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ("zh_CN", "en"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "PAGE_SIZE": 50,
        # a killed worker's lease is 60 s: later than this, no worker is firing timers
        "HEALTH_TIMER_GRACE_SECONDS": 120,
        # 0: the health check does not ask for backups (a school may back up otherwise)
        "HEALTH_BACKUP_MAX_AGE_HOURS": 0,
        # PostgreSQL: a step waits this long for a row another one holds, then the person
        # gets "try again" (SQLite's busy_timeout is the same 10 s); well under the 30 s
        # after which gunicorn kills a request
        "DB_LOCK_TIMEOUT_SECONDS": 10,
        # PostgreSQL: a session left idle inside a transaction this long (a stopped or hung
        # process) is ended, so the rows it locked are free again
        "DB_IDLE_IN_TRANSACTION_SECONDS": 300,
        # PostgreSQL: a statement running longer is cancelled (0: no limit); `caseflow
        # serve` uses half its --timeout unless this is set, so the database gives up on a
        # runaway query before gunicorn kills the worker and every request it holds
        "DB_STATEMENT_TIMEOUT_SECONDS": 0,
        # PostgreSQL on another host: a new connection that takes longer fails, and so
        # does an open one whose host has been silent this long (a network cut), with
        # "try again" and the worker's back-off instead of a wait of minutes (the server
        # also ends a session whose client went silent, releasing its locks)
        "DB_CONNECT_TIMEOUT_SECONDS": 5,
        "DB_NETWORK_TIMEOUT_SECONDS": 10,
        # `caseflow worker`: a database call unanswered this long (a hung server, which
        # the network bounds cannot see) ends the worker so that it starts afresh, and its
        # statements are cancelled by the server at half of it unless set above
        "WORKER_STALL_SECONDS": WORKER_STALL_SECONDS,
    }


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings given as CASEFLOW_* environment variables."""
    return {key: environ[name] for name, key in ENV_KEYS.items() if environ.get(name)}


def instance_secret(instance_path: Path, name: str) -> str:
    """Return a secret kept in instance/, generating it on first use (never in the repo)."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def build(instance_path: Path, overrides: Mapping[str, Any] | None,
          environ: Mapping[str, str]) -> dict[str, Any]:
    """Merge defaults, environment and overrides; fill in generated secrets."""
    config = defaults(instance_path)
    config.update(from_env(environ))
    config.update(overrides or {})
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = instance_secret(instance_path, "secret_key")
    if not config.get("AUDIT_KEY"):
        config["AUDIT_KEY"] = instance_secret(instance_path, "audit_key")
    config["HEALTH_TIMER_GRACE_SECONDS"] = _whole(
        "CASEFLOW_HEALTH_TIMER_GRACE_SECONDS", config["HEALTH_TIMER_GRACE_SECONDS"], "seconds", 1)
    config["HEALTH_BACKUP_MAX_AGE_HOURS"] = _whole(
        "CASEFLOW_HEALTH_BACKUP_MAX_AGE_HOURS", config["HEALTH_BACKUP_MAX_AGE_HOURS"], "hours", 0)
    for key in ("DB_LOCK_TIMEOUT_SECONDS", "DB_IDLE_IN_TRANSACTION_SECONDS",
                "DB_STATEMENT_TIMEOUT_SECONDS", "DB_CONNECT_TIMEOUT_SECONDS",
                "DB_NETWORK_TIMEOUT_SECONDS", "WORKER_STALL_SECONDS"):
        config[key] = _whole(f"CASEFLOW_{key}", config[key], "seconds (0: no limit)", 0)
    return config


def worker_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return what `caseflow worker` adds: unless configured, a statement timeout of half
    its stall limit, so the server cancels a slow statement (an error the worker backs off
    from) well before the watchdog would take it for a hung server and end the worker."""
    given = from_env(environ)
    if "DB_STATEMENT_TIMEOUT_SECONDS" in given:
        return {}
    stall = _whole("CASEFLOW_WORKER_STALL_SECONDS",
                   given.get("WORKER_STALL_SECONDS", WORKER_STALL_SECONDS),
                   "seconds (0: no limit)", 0)
    return {"DB_STATEMENT_TIMEOUT_SECONDS": max(1, stall // 2) if stall else 0}


class ConfigError(ValueError):
    """A setting that cannot be right; the message names it and says what it takes."""


def _whole(name: str, value: Any, unit: str, least: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = least - 1
    if number < least:
        raise ConfigError(f"{name} must be a whole number of {unit}, {least} or more; "
                          f"not {value!r}")
    return number
