"""The `caseflow` command: init-db, deploy, audit, bpmn check/render, demo, worker."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import Flask
from sqlalchemy.exc import DBAPIError

from caseflow.cli_common import cli_actor, database_error, remember_database

if TYPE_CHECKING:
    from caseflow.services.health import Health
    from caseflow.services.watchdog import Watchdog


def register(app: Flask) -> None:
    """Make the commands available as `flask --app caseflow …` too."""
    app.cli.add_command(main, "caseflow")


def _app(overrides: dict[str, Any] | None = None) -> Flask:
    from caseflow import create_app

    app = create_app(overrides)
    remember_database(app)
    return app


def _database_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a database that cannot be opened into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:  # unreachable, or it refused (read-only, say)
            database_error(exc)
        except _refusals() as exc:
            click.echo(f"refused: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _refusals() -> tuple[type[Exception], ...]:
    from caseflow.engine import BpmnCheckError
    from caseflow.services.setup import DeployError

    return (BpmnCheckError, DeployError)


class _Caseflow(click.Group):
    """The command group: a setting that cannot be right ends any command with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        from caseflow.config import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"caseflow: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Caseflow)
def main() -> None:
    """caseflow: BPMN-driven case management for schools' anti-fraud work."""


def _register_groups() -> None:
    from caseflow.cli_backup import backup_group
    from caseflow.cli_discovery import screening_group, warning_group
    from caseflow.cli_instances import instances_group
    from caseflow.cli_settings import settings_group
    from caseflow.cli_users import users_group

    for group in (settings_group, users_group, screening_group, warning_group, backup_group,
                  instances_group):
        main.add_command(group)


@main.command("init-db")
@_database_errors
def init_db() -> None:
    """Create or upgrade the database schema, then deploy the processes."""
    from caseflow.services import setup

    app = _app()
    with app.app_context(), setup.exclusive(_waiting_for_setup):
        for line in setup.prepare_database("cli"):
            click.echo(line)
    click.echo("database ready")


def _waiting_for_setup() -> None:
    click.echo("another caseflow init-db, deploy or demo is setting up this database: "
               "waiting for it to finish…", err=True)


@main.command("deploy")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default=None,
              help="folder with the .bpmn and .dmn files (default: bpmn/)")
@_database_errors
def deploy(folder: str | None) -> None:
    """Deploy the processes whose files changed; unchanged ones are left alone."""
    from caseflow.services import setup

    app = _app()
    with app.app_context(), setup.exclusive(_waiting_for_setup):
        for line in setup.deploy_processes(by="cli", folder=folder):
            click.echo(line)


@main.group("audit")
def audit_group() -> None:
    """Check and export the audit trail."""


@audit_group.command("verify")
@_database_errors
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first bad row."""
    from caseflow import audit
    from caseflow.db import db

    app = _app()
    with app.app_context():
        result = audit.verify(db.session, app.config["AUDIT_KEY"].encode())
    click.echo(result.message)
    sys.exit(0 if result.ok else 1)


@audit_group.command("export")
@click.option("--since", "since", type=int, default=0, help="export events after this seq")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@_database_errors
def audit_export(since: int, output: str) -> None:
    """Write the chain (with its hashes and a signed head) to a CSV file."""
    from caseflow.services import audit_export as export

    app = _app()
    with app.app_context():
        count, seq = export.write_csv(Path(output), cli_actor(), since)
    click.echo(f"wrote {count} events (up to seq {seq}) to {output}")


@main.group("bpmn")
def bpmn_group() -> None:
    """Check and draw BPMN/DMN files."""


@bpmn_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def bpmn_check(files: tuple[str, ...]) -> None:
    """Parse and validate files; one line each: ok (process ids) or refused (why)."""
    from caseflow.services.setup import check_paths

    lines, ok = check_paths([Path(f) for f in files])
    for line in lines:
        click.echo(line)
    sys.exit(0 if ok else 1)


@bpmn_group.command("render")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
def bpmn_render(file: str, output: str | None) -> None:
    """Draw a BPMN file's diagram as SVG."""
    from caseflow.diagram import DiagramError, render_svg

    try:
        result = render_svg(Path(file).read_bytes())
    except DiagramError as exc:
        click.echo(f"refused: {file}: {exc}", err=True)
        sys.exit(1)
    target = output or str(Path(file).with_suffix(".svg"))
    Path(target).write_text(result.svg, encoding="utf-8")
    click.echo(f"{target}: {result.shape_count} shapes, {result.edge_count} edges")


@main.command("worker")
@click.option("--once", is_flag=True, help="fire what is due now and exit")
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="seconds between polls")
@_database_errors
def worker(once: bool, interval: float) -> None:
    """Fire due timers (escalations, waits, retries); SIGTERM or Ctrl-C stops it cleanly."""
    from caseflow import config
    from caseflow.db import db
    from caseflow.services import watchdog as watching

    app = _app(config.worker_overrides(os.environ))
    _log_info_to_stderr()
    watchdog = watching.Watchdog(app.config["WORKER_STALL_SECONDS"])
    with app.app_context():
        watchdog.attach(db.engine)
    watchdog.start()
    try:
        _work(app, once, interval, watchdog)
    finally:
        watchdog.stop()


def _work(app: Flask, once: bool, interval: float, watchdog: Watchdog) -> None:
    """The worker command's own work, under its watchdog."""
    from caseflow.services import timers
    from caseflow.serving import refuse_a_schema_not_ours, unencrypted_database

    with app.app_context():
        refuse_a_schema_not_ours()  # else every round would fail on a missing table
        unencrypted = unencrypted_database()
    if unencrypted:
        click.echo(unencrypted, err=True)
    grace = app.config["HEALTH_TIMER_GRACE_SECONDS"]
    if not once and interval >= grace:
        click.echo(f"warning: --interval {interval:g} s is not shorter than the health "
                   f"check's {grace} s grace: /healthz will say no worker runs between rounds",
                   err=True)
    stop = _stop_on_signal()
    if not once:
        click.echo(f"caseflow worker: firing due timers, polling every {interval:g} s at most "
                   f"(database: {_describe_db(app)}); SIGTERM or Ctrl-C stops it cleanly")
    with app.app_context():
        fired = timers.run_worker(interval, once=once, stop=stop,
                                  sleep=watchdog.idle(stop.wait))
    click.echo(f"{'stopped after firing' if stop.is_set() else 'fired'} {fired} timers")


def _log_info_to_stderr() -> None:
    """Show caseflow's own INFO lines (each fired timer), not the libraries' chatter."""
    logger = logging.getLogger("caseflow")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _stop_on_signal() -> threading.Event:
    """Return an event that SIGTERM or SIGINT sets; a second signal ends the process at once.

    A stopped worker finishes the instance in hand and gives back the leases on the rest,
    so a restart (a deploy, systemd) does not hold escalations for the 60 s lease.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        for again in (signal.SIGTERM, signal.SIGINT):
            signal.signal(again, signal.SIG_DFL)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return stop


@main.command("health")
@click.option("--json", "as_json", is_flag=True, help="print the answers as JSON (as /healthz)")
@click.option("--ready", is_flag=True,
              help="check only that this machine can serve pages: database and schema "
                   "(as /readyz, for a load balancer or a container's readiness)")
def health(as_json: bool, ready: bool) -> None:
    """Check the database, its schema and that timers fire on time; exit 1 if not."""
    import json

    from caseflow.services import health as health_service

    app = _app()
    with app.app_context():
        result = health_service.check(ready_only=ready)
    if as_json:
        answers = result.readiness_dict() if ready else result.as_dict()
        click.echo(json.dumps(answers, ensure_ascii=False))
    else:
        click.echo(f"database: {result.database}; schema: {result.schema}"
                   + ("" if ready else _timers_and_backup(result)))
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo(("ready" if ready else "healthy") if result.ok
                   else ("NOT READY" if ready else "FAILING"))
    sys.exit(0 if result.ok else 1)


def _timers_and_backup(result: Health) -> str:
    overdue = "not counted" if result.overdue_timers is None else result.overdue_timers
    workers = "not counted" if result.workers_running is None else result.workers_running
    age = result.backup_age_seconds
    server = ""  # PostgreSQL only
    if result.clock_skew is not None:
        server += f"; clock: {result.clock_skew.total_seconds():+.3f} s to the database server's"
    if result.connections is not None:
        server += "; connections: {} of {}".format(*result.connections)
    return (f"; overdue timers: {overdue}; timer workers running: {workers}; last backup: "
            f"{'none made' if age is None else f'{age // 3600} h ago'}{server}")


@main.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT to listen on")
@click.option("--workers", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 2, 64),
              show_default="one per CPU core",
              help="worker processes: the app is CPU-bound, so one per core serves most")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="threads per worker (more than 1 uses gunicorn's gthread workers)")
@click.option("--timeout", type=click.IntRange(0), default=30, show_default=True,
              help="seconds before a stuck worker is restarted")
@click.option("--access-log", metavar="FILE", default=None,
              help="log each request to FILE (- for stderr): client, time, method, path "
                   "without its query, status, bytes, milliseconds")
@_database_errors
def serve(bind: str, workers: int, threads: int, timeout: int, access_log: str | None) -> None:
    """Serve caseflow under gunicorn (production); run `caseflow worker` beside it."""
    from caseflow import serving

    app = _app(serving.overrides(threads, timeout, os.environ))
    with app.app_context():
        warnings = [serving.connection_budget(workers, threads), serving.unencrypted_database()]
    for warning in filter(None, warnings):
        click.echo(warning, err=True)
    watchdog = serving.watch_requests(app, timeout) if threads > 1 and timeout else None
    serving.warm_up(app)
    click.echo(f"caseflow on http://{bind}/ with {workers} workers x {threads} threads "
               f"(database: {_describe_db(app)})")
    serving.run_gunicorn(app, {"bind": bind, "workers": workers, "threads": threads,
                               "worker_class": "gthread" if threads > 1 else "sync",
                               "timeout": timeout, "preload_app": True,
                               "accesslog": access_log,
                               "access_log_format": serving.ACCESS_LOG_FORMAT,
                               "errorlog": "-", "post_fork": serving.after_fork(app, watchdog)})


def _describe_db(app: Flask) -> str:
    from caseflow.dbcheck import describe_url

    return describe_url(app.config["SQLALCHEMY_DATABASE_URI"])


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="prepare the demo data and exit")
@_database_errors
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create the demo school, open cases at different steps, and serve the app."""
    from caseflow.services import demo as demo_service

    app = _app()
    with app.app_context():
        for line in demo_service.prepare(_waiting_for_setup):
            click.echo(line)
    if no_serve:
        return
    demo_service.start_worker(app)
    click.echo(f"caseflow demo on http://{host}:{port}/  (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=False, use_reloader=False)


_register_groups()
