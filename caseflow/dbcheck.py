"""Say which database caseflow is using, without its password, and whether the way to it
is private."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)


def describe_url(url: str | None = None) -> str:
    """Return the database URL with the password hidden (a SQLite path stays readable)."""
    if url is None:
        url = current_app.config["SQLALCHEMY_DATABASE_URI"] if has_app_context() else "?"
    try:
        parsed = make_url(url)
    except Exception:
        return url
    if parsed.drivername.startswith("sqlite"):
        return f"(SQLite file {parsed.database})"
    return parsed.render_as_string(hide_password=True)


def allowed_connections(connection: Any) -> int:
    """Return how many client connections PostgreSQL takes: max_connections less the ones
    it reserves for superusers."""
    from sqlalchemy import text

    return int(connection.execute(text(
        "SELECT current_setting('max_connections')::int "
        "- current_setting('superuser_reserved_connections')::int")).scalar_one())


def transport(connection: Any) -> Transport | None:
    """Return how a live SQLAlchemy connection reaches PostgreSQL (None for SQLite)."""
    if connection.dialect.name != "postgresql":
        return None
    return _transport(connection.connection.dbapi_connection)


def _transport(raw: Any) -> Transport:
    return Transport(raw.info.host, raw.info.hostaddr, bool(raw.pgconn.ssl_in_use))


def watch_later_servers(engine: Engine) -> None:
    """Log the plaintext warning when a later connection reaches another server than the
    first did (a URL naming several hosts, after a failover), once per address.

    `serve` and `worker` judge their first connection at start (serving.unencrypted_database).
    """
    if engine.dialect.name != "postgresql":
        return
    seen: set[str] = set()

    def connected(dbapi_connection: Any, record: Any) -> None:
        found = _transport(dbapi_connection)
        address = found.address or found.host
        if address in seen:
            return
        later = bool(seen)  # the first is judged at start
        seen.add(address)
        if later and (text := plaintext_warning(found)):
            log.warning("%s (a server this process had not used before)", text)

    event.listen(engine, "connect", connected)


@dataclass(frozen=True)
class Transport:
    """Where a PostgreSQL connection goes: the host named, the server's address ("" over a
    Unix socket), and whether TLS encrypts it."""

    host: str
    address: str
    encrypted: bool

    @property
    def crosses_network(self) -> bool:
        """Return whether the data leaves this machine (TCP to an address not loopback)."""
        return bool(self.address) and not ipaddress.ip_address(self.address).is_loopback


def plaintext_warning(found: Transport | None) -> str | None:
    """Say so when students' data would cross the network to the database unencrypted."""
    if found is None or found.encrypted or not found.crosses_network:
        return None
    return (f"warning: the connection to the database at {found.host} ({found.address}) is "
            "not encrypted: students' data crosses the network in clear text. Turn on TLS "
            "in PostgreSQL and add sslmode=verify-full&sslrootcert=/path/to/ca.pem to "
            "CASEFLOW_DATABASE_URL")


READ_ONLY = "25006"  # PostgreSQL's read_only_sql_transaction


def trouble(exc: DBAPIError) -> str:
    """Say what a database error means (unavailable, or refused and why), with what to do
    about a database that takes no writes (after a failover, a URL naming only the old
    primary)."""
    kind = "unavailable" if isinstance(exc, OperationalError) else "refused"
    said = f"{kind} ({exc.orig})"
    if getattr(exc.orig, "sqlstate", None) == READ_ONLY:
        said += ("; it takes no writes (a standby server, or default_transaction_read_only): "
                 "point CASEFLOW_DATABASE_URL at the primary")
    return said
