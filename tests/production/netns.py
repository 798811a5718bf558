"""A database on a host of its own: PostgreSQL in a network namespace, reached from this
one through a router namespace, so a test can cut the network to it the way a broken
switch or firewall does (packets silently lost: no reset, no "unreachable") and heal it.

    this namespace (app, worker)  --veth--  router  --veth--  database host (PostgreSQL)
         10.78.N.1                  .2 | .5                       10.78.N.6:5432

A cut is a blackhole route in the router for both directions; the Unix socket of the
server stays reachable, so the test itself can look on while the app's network is cut.
Needs root (CAP_NET_ADMIN) and iproute2's `ip`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.conftest import unavailable
from tests.production.cluster import Server

PORT = 5432


def _ip(*args: str, inside: str | None = None) -> None:
    command = ["ip", "netns", "exec", inside, "ip", *args] if inside else ["ip", *args]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)


def _claim_index() -> int:
    """Create this host's namespaces under the first free index (another test process may
    hold some)."""
    for index in range(1, 250):
        done = subprocess.run(["ip", "netns", "add", f"cfdb{index}"], capture_output=True)
        if done.returncode == 0:
            _ip("netns", "add", f"cfrt{index}")
            return index
    raise RuntimeError("no free network namespace index for a database host")


class DatabaseHost:
    """PostgreSQL on a host of its own; `server.url` reaches it over TCP, `address` is
    the host's address and `client` is this namespace's address as the server sees it."""

    def __init__(self) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            unavailable("a database host of its own needs root and iproute2's ip")
        self.index = _claim_index()
        net = f"10.78.{self.index}"
        self.address, self.client = f"{net}.6", f"{net}.1"
        self.db, self.router = f"cfdb{self.index}", f"cfrt{self.index}"
        self._cuts: tuple[str, ...] = ()
        self._wire(net)
        self.server = Server("--tcp", f"{self.address}:{PORT}",
                             inside=("ip", "netns", "exec", self.db))
        self.socket_url = f"postgresql+psycopg://postgres@/postgres?host={self.server.dir}"

    def _wire(self, net: str) -> None:
        n, router, db = self.index, self.router, self.db
        _ip("link", "add", f"cfa{n}", "type", "veth", "peer", "name", f"cfb{n}")
        _ip("link", "add", f"cfc{n}", "type", "veth", "peer", "name", f"cfe{n}")
        _ip("link", "set", f"cfb{n}", "netns", router)
        _ip("link", "set", f"cfc{n}", "netns", router)
        _ip("link", "set", f"cfe{n}", "netns", db)
        _ip("addr", "add", f"{net}.1/30", "dev", f"cfa{n}")
        _ip("link", "set", f"cfa{n}", "up")
        _ip("route", "add", f"{net}.4/30", "via", f"{net}.2")
        for args in (("addr", "add", f"{net}.2/30", "dev", f"cfb{n}"),
                     ("addr", "add", f"{net}.5/30", "dev", f"cfc{n}"),
                     ("link", "set", f"cfb{n}", "up"), ("link", "set", f"cfc{n}", "up"),
                     ("link", "set", "lo", "up")):
            _ip(*args, inside=router)
        subprocess.run(["ip", "netns", "exec", router, "sh", "-c",
                        "echo 1 > /proc/sys/net/ipv4/ip_forward"], check=True, timeout=30)
        for args in (("addr", "add", f"{net}.6/30", "dev", f"cfe{n}"),
                     ("link", "set", f"cfe{n}", "up"), ("link", "set", "lo", "up"),
                     ("route", "add", "default", "via", f"{net}.5")):
            _ip(*args, inside=db)

    def cut(self, back_only: bool = False) -> None:
        """Lose every packet between this namespace and the database host, silently (with
        `back_only`, only those coming back: what is sent arrives, no answer does)."""
        self._cuts = (self.client,) if back_only else (self.address, self.client)
        for address in self._cuts:
            _ip("route", "add", "blackhole", f"{address}/32", inside=self.router)

    def heal(self) -> None:
        for address in self._cuts:
            _ip("route", "del", "blackhole", f"{address}/32", inside=self.router)
        self._cuts = ()

    def remove(self) -> None:
        """Stop the server, then take the namespaces (and so the links) away."""
        try:
            self.server.remove()
        finally:
            for name in (self.router, self.db):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
