"""`caseflow serve`'s machinery: warm the app up before forking, size its connection pool,
and run it under gunicorn."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click
from flask import Flask

if TYPE_CHECKING:
    from caseflow.services.watchdog import Watchdog

SPARE_CONNECTIONS = 2


def overrides(threads: int, timeout: int, environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings a serving process adds: its pool, and (unless configured) a
    statement timeout of half gunicorn's, so a runaway query ends in "try again"."""
    from caseflow import config

    found: dict[str, Any] = {"SQLALCHEMY_ENGINE_OPTIONS": pool_options(threads, timeout)}
    if "DB_STATEMENT_TIMEOUT_SECONDS" not in config.from_env(environ):
        found["DB_STATEMENT_TIMEOUT_SECONDS"] = max(1, timeout // 2) if timeout > 0 else 0
    return found


def pool_options(threads: int, timeout: int) -> dict[str, Any]:
    """Return the engine options for a worker process serving `threads` requests at once.

    A request holds one connection: keep one per thread (and two spare), so no request
    waits for another's; should one wait anyway (a stuck thread), it waits a third of
    gunicorn's timeout at most and then gets "try again" rather than being killed
    (`timeout` 0, gunicorn's "never": SQLAlchemy's 30 s).
    """
    from caseflow import config

    return {**config.ENGINE_OPTIONS, "pool_size": threads, "max_overflow": SPARE_CONNECTIONS,
            "pool_timeout": max(1, timeout // 3) if timeout > 0 else 30}


def connection_budget(workers: int, threads: int) -> str | None:
    """Say so when the workers' pools could open more connections than PostgreSQL allows.

    Needs an app context. Other app servers, timer workers and tools connect too, so this
    catches only a configuration that cannot work even on its own.
    """
    from caseflow.db import db
    from caseflow.dbcheck import allowed_connections

    if db.engine.dialect.name != "postgresql":
        return None
    allowed = allowed_connections(db.session.connection())
    db.session.rollback()
    most = workers * (threads + SPARE_CONNECTIONS)
    if most <= allowed:
        return None
    return (f"warning: {workers} workers x ({threads} threads + {SPARE_CONNECTIONS} spare) may "
            f"open {most} database connections, and this PostgreSQL server takes {allowed} "
            "for everything together (max_connections less the reserved ones): raise "
            "max_connections, or serve with fewer --workers or --threads")


def unencrypted_database() -> str | None:
    """Say so when this process reaches PostgreSQL across the network without TLS.

    Needs an app context."""
    from caseflow.db import db
    from caseflow.dbcheck import plaintext_warning, transport

    found = transport(db.session.connection())
    db.session.rollback()
    return plaintext_warning(found)


# The path without its query string: a search or a `next=` may carry a student's name.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def warm_up(app: Flask) -> None:
    """Do once in the master what every worker would do on its first requests; refuse a
    database whose schema is not this code's (empty, behind or newer).

    The workers fork from here: they share the parsed process specs and compiled
    templates, and `gc.freeze` keeps these long-lived objects out of every later garbage
    collection (full collections of a worker's heap were most of its GC time) and
    leaves their memory pages shared between the workers.
    """
    from caseflow.db import db
    from caseflow.services import runner

    with app.app_context():
        refuse_a_schema_not_ours()
        runner.warm_up()
        db.session.remove()
        db.engine.dispose()  # no connection of the master's may reach a worker
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
    gc.collect()
    gc.freeze()


def refuse_a_schema_not_ours() -> None:
    """Stop with the problem in words if the database's schema is not this code's."""
    from caseflow.services import health

    _, problems = health.schema_state()
    if problems:
        raise click.ClickException("; ".join(problems))


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def after_fork(app: Flask, watchdog: Watchdog | None = None) -> Callable[..., None]:
    """Return gunicorn's post_fork hook: honour a stop that came while booting, give the
    worker a pool of its own, and start its watchdog if it has one."""
    def post_fork(server: Any, worker: Any) -> None:
        stop_promptly_while_booting(server)
        # connections opened before the fork belong to the master: never share them
        from caseflow.db import db

        with app.app_context():
            db.engine.dispose(close=False)
        if watchdog is not None:
            watchdog.start()  # threads do not survive a fork: one per worker

    return post_fork


def watch_requests(app: Flask, limit: int) -> Watchdog:
    """Watch each request's database calls, for threaded workers: gunicorn's --timeout
    ends a sync worker whose request hangs, but never a threaded one's, so a request left
    waiting on a hung database server would hold its thread and connection for ever.
    A request that hears nothing from the database for `limit` seconds ends its worker
    process (gunicorn starts another), as --timeout would."""
    from caseflow.db import db
    from caseflow.services.watchdog import Watchdog, end_the_web_worker

    watchdog = Watchdog(limit, on_stall=end_the_web_worker, busy=False)
    with app.app_context():
        watchdog.attach(db.engine)
    # first: the session check before the view already talks to the database
    app.before_request_funcs.setdefault(None, []).insert(0, watchdog.begin)
    app.teardown_request(lambda error: watchdog.end())
    return watchdog


def stop_promptly_while_booting(server: Any) -> None:
    """Let a stop signal end a worker that has not installed its own handlers yet.

    Until then the worker runs the master's handler, which only queues the signal in
    the worker's copy of the master: the stop is lost and shutdown waits the whole
    graceful timeout before the master kills the worker.
    """
    for stop in _STOP_SIGNALS:
        signal.signal(stop, signal.SIG_DFL)
    if any(queued in _STOP_SIGNALS for queued in server.SIG_QUEUE):
        sys.exit(0)


def run_gunicorn(app: Flask, options: dict[str, Any]) -> None:
    """Run gunicorn on the already-built app (preloaded once, forked into the workers)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    Server().run()


