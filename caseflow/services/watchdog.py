"""End a worker whose database stopped answering, so that it starts afresh.

A database server that hangs (a stopped process, a frozen disk) still has its kernel
acknowledge every packet, so neither the network bounds (`caseflow.db.network_parameters`)
nor the server's own timeouts end the wait: the worker would wait for ever, and no
escalation would fire, even after a failover to a standby at another address. gunicorn ends
a hung sync web worker after `--timeout`; this does the same for `caseflow worker` and for
threaded web workers, which gunicorn's timeout does not cover. The process exits with
EXIT_STALLED (systemd, or gunicorn, starts another); what it had sent is committed whole or
not at all, and a timer worker's leases run out so that another fires its timers, once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

EXIT_STALLED = 75  # EX_TEMPFAIL: try again later


class Watchdog:
    """Watch database calls; call `on_stall` when one has not come back in time.

    A thread is busy from `begin` to `end` (the timer worker: from its start, but not while
    it sleeps between rounds, `idle`; a web worker's request thread: for one request). While
    busy, every database call it starts or ends (a statement, a commit, a rollback, a
    connection taken from the pool or given back) shows the database answers; a busy thread
    that hears nothing for `limit` seconds has stalled.
    """

    def __init__(self, limit: float, on_stall: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, busy: bool = True) -> None:
        self.limit = limit
        self.on_stall = on_stall or end_the_process
        self._clock = clock
        self._lock = threading.Lock()
        # per busy thread: when it last heard the database, and the call in flight if any
        self._waits: dict[int, tuple[float, str | None]] = {}
        self._stopped = threading.Event()
        if busy:
            self.begin()

    def attach(self, engine: Engine) -> None:
        """Hear every call `engine` makes to its database."""
        event.listen(engine, "before_cursor_execute", self._statement)
        for name, sent in (("after_cursor_execute", None), ("handle_error", None),
                           ("checkout", None), ("checkin", None), ("commit", "COMMIT"),
                           ("rollback", "ROLLBACK")):
            event.listen(engine, name, self._heard(sent))

    def begin(self) -> None:
        """Note that this thread starts work that talks to the database."""
        with self._lock:
            self._waits[threading.get_ident()] = (self._clock(), None)

    def end(self) -> None:
        """Note that this thread's work is done: it waits for nothing now."""
        with self._lock:
            self._waits.pop(threading.get_ident(), None)

    def idle(self, sleep: Callable[[float], Any]) -> Callable[[float], Any]:
        """Wrap the worker's sleep between rounds: no database call is due while it sleeps."""
        def sleeping(seconds: float) -> Any:
            self.end()
            try:
                return sleep(seconds)
            finally:
                self.begin()
        return sleeping

    def heard(self, sent: str | None = None) -> None:
        """Note that the database answered this thread now, or that call `sent` (COMMIT, …)
        starts; a thread that is not busy is not watched."""
        me = threading.get_ident()
        with self._lock:
            if me in self._waits:
                self._waits[me] = (self._clock(), sent)

    def stalled(self) -> str | None:
        """Say what the longest-waiting busy thread has waited for past the limit, else None."""
        with self._lock:
            if not self._waits or not self.limit:
                return None
            since, sent = min(self._waits.values(), key=lambda wait: wait[0])
            waited = self._clock() - since
            if waited < self.limit:
                return None
            if sent:
                return f"no answer to {sent} for {waited:.0f} s"
            return f"nothing heard from it for {waited:.0f} s"

    def start(self) -> threading.Thread:
        """Check once a second (or sooner, for a short limit) in a daemon thread, until
        `stop`."""
        every = max(0.05, min(1.0, self.limit / 4))

        def watch() -> None:
            while not self._stopped.wait(every):
                found = self.stalled()
                if found and not self._stopped.is_set():
                    self.on_stall(found)
                    return
        thread = threading.Thread(target=watch, name="caseflow-watchdog", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop watching: the worker is done (the process may live on, as under tests)."""
        self._stopped.set()

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.heard(statement.split(None, 1)[0].upper() if statement.strip() else "a statement")

    def _heard(self, sent: str | None) -> Callable[..., None]:
        return lambda *args, **kwargs: self.heard(sent)


def end_the_process(what: str) -> None:
    """Log why, then exit at once: the thread that waits cannot be woken, only ended."""
    _end(f"the database has stopped answering: {what} (a hung server, a frozen disk?). "
         "Ending this worker so that it starts afresh (systemd restarts it); a step it had "
         "sent is saved whole or not at all, and its timers fire once a worker reaches the "
         "database")


def end_the_web_worker(what: str) -> None:
    """Log why and end this gunicorn worker (gunicorn starts another): its threaded requests
    are not ended by gunicorn's --timeout, as a sync worker's are."""
    _end(f"the database has stopped answering a request: {what} (a hung server, a frozen "
         "disk?). Ending this gunicorn worker so that it starts afresh; a step it had sent "
         "is saved whole or not at all")


def _end(message: str) -> None:
    log.error("%s", message)
    for handler in logging.getLogger("caseflow").handlers:
        handler.flush()
    os._exit(EXIT_STALLED)
