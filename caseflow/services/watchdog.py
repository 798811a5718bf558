"""End a timer worker whose database stopped answering, so that it starts afresh.

A database server that hangs (a stopped process, a frozen disk) still has its kernel
acknowledge every packet, so neither the network bounds (`caseflow.db.network_parameters`)
nor the server's own timeouts end the wait: the worker would wait for ever, and no
escalation would fire, even after a failover to a standby at another address. gunicorn ends
a hung web worker after `--timeout`; this does the same for `caseflow worker`. The process
exits with EXIT_STALLED (systemd restarts it); its leases run out and the timers are fired
by whichever worker reaches a live database, since nothing it did was committed.
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
    """Watch a worker's database calls; call `on_stall` when one has not come back in time.

    The worker is busy from the start until it sleeps between rounds (`idle`). While busy,
    every database call that starts or ends (a statement, a commit, a rollback, a connection
    taken from the pool or given back) shows the database answers; `limit` seconds busy
    without one is a stall.
    """

    def __init__(self, limit: float, on_stall: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.on_stall = on_stall or end_the_process
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = clock()  # busy, and nothing heard since then
        self._sent: str | None = None  # the call in flight, if one is
        self._stopped = threading.Event()

    def attach(self, engine: Engine) -> None:
        """Hear every call `engine` makes to its database."""
        event.listen(engine, "before_cursor_execute", self._statement)
        for name, sent in (("after_cursor_execute", None), ("handle_error", None),
                           ("checkout", None), ("checkin", None), ("commit", "COMMIT"),
                           ("rollback", "ROLLBACK")):
            event.listen(engine, name, self._heard(sent))

    def idle(self, sleep: Callable[[float], Any]) -> Callable[[float], Any]:
        """Wrap the worker's sleep between rounds: no database call is due while it sleeps."""
        def sleeping(seconds: float) -> Any:
            with self._lock:
                self._since = None
            try:
                return sleep(seconds)
            finally:
                self.heard()
        return sleeping

    def heard(self, sent: str | None = None) -> None:
        """Note that the database answered now, or that call `sent` (COMMIT, …) starts."""
        with self._lock:
            self._since, self._sent = self._clock(), sent

    def stalled(self) -> str | None:
        """Say what the worker has waited for past the limit, else None."""
        with self._lock:
            if self._since is None or not self.limit:
                return None
            waited = self._clock() - self._since
            if waited < self.limit:
                return None
            if self._sent:
                return f"no answer to {self._sent} for {waited:.0f} s"
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
    log.error("the database has stopped answering: %s (a hung server, a frozen disk?). "
              "Ending this worker so that it starts afresh (systemd restarts it); nothing "
              "it was doing was saved, and its timers fire once a worker reaches the "
              "database", what)
    for handler in logging.getLogger("caseflow").handlers:
        handler.flush()
    os._exit(EXIT_STALLED)
