"""A database on a host of its own: PostgreSQL in a network namespace, reached from this
one through a router namespace, so a test can cut the network to it the way a broken
switch or firewall does (packets silently lost: no reset, no "unreachable") and heal it.

    this namespace (app, worker)  --veth--  router  --veth--  database host (PostgreSQL)
         10.78.N.1                  .2 | .5                       10.78.N.6:5432

A cut is a blackhole route in the router for both directions; the Unix socket of the
server stays reachable, so the test itself can look on while the app's network is cut.

Each namespace is held by a process of its own (`unshare --net`) and entered with
`nsenter`, not named with `ip netns`: that mounts under /run and remounts /sys, which a
chroot (the fresh-Debian check) refuses, and a crashed test would leave the mounts behind.
Needs root (CAP_NET_ADMIN), util-linux and iproute2's `ip`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from tests.conftest import unavailable
from tests.production.cluster import Server

PORT = 5432


class _Namespace:
    """A network namespace, alive while its `sleep` runs."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        mine, deadline = os.readlink("/proc/self/ns/net"), time.monotonic() + 10
        while not self._entered(mine):  # unshare has not made it yet
            assert time.monotonic() < deadline and self.process.poll() is None, "no namespace"
            time.sleep(0.01)
        self.pid = str(self.process.pid)
        self.enter = ("nsenter", "-t", self.pid, "-n")

    def _entered(self, mine: str) -> bool:
        try:
            return os.readlink(f"/proc/{self.process.pid}/ns/net") != mine
        except OSError:
            return False

    def ip(self, *args: str) -> None:
        _run(*self.enter, "ip", *args)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _run(*command: str) -> None:
    subprocess.run(list(command), check=True, capture_output=True, text=True, timeout=30)


def _claim_link() -> int:
    """Create this host's link under the first free index (other tests may hold some)."""
    for index in range(1, 250):
        done = subprocess.run(["ip", "link", "add", f"cfa{index}", "type", "veth", "peer",
                               "name", f"cfb{index}"], capture_output=True)
        if done.returncode == 0:
            return index
    raise RuntimeError("no free link index for a database host")


class DatabaseHost:
    """PostgreSQL on a host of its own; `server.url` reaches it over TCP, `address` is
    the host's address and `client` is this namespace's address as the server sees it."""

    def __init__(self) -> None:
        if os.geteuid() != 0 or not all(map(shutil.which, ("ip", "unshare", "nsenter"))):
            unavailable("a database host of its own needs root, util-linux and iproute2's ip")
        self._cuts: tuple[str, ...] = ()
        self.router, self.db = _Namespace(), _Namespace()
        self.index = 0
        try:
            self.index = _claim_link()
            net = f"10.78.{self.index}"
            self.address, self.client = f"{net}.6", f"{net}.1"
            self._wire(net)
            self.server = Server("--tcp", f"{self.address}:{PORT}", inside=self.db.enter)
        except BaseException:
            self._close_namespaces()
            raise
        self.socket_url = f"postgresql+psycopg://postgres@/postgres?host={self.server.dir}"

    def _wire(self, net: str) -> None:
        n, router, db = self.index, self.router, self.db
        _run("ip", "link", "add", f"cfc{n}", "netns", router.pid, "type", "veth", "peer",
             "name", f"cfe{n}", "netns", db.pid)
        _run("ip", "link", "set", f"cfb{n}", "netns", router.pid)
        _run("ip", "addr", "add", f"{net}.1/30", "dev", f"cfa{n}")
        _run("ip", "link", "set", f"cfa{n}", "up")
        _run("ip", "route", "add", f"{net}.4/30", "via", f"{net}.2")
        for args in (("addr", "add", f"{net}.2/30", "dev", f"cfb{n}"),
                     ("addr", "add", f"{net}.5/30", "dev", f"cfc{n}"),
                     ("link", "set", f"cfb{n}", "up"), ("link", "set", f"cfc{n}", "up"),
                     ("link", "set", "lo", "up")):
            router.ip(*args)
        _run(*router.enter, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        for args in (("addr", "add", f"{net}.6/30", "dev", f"cfe{n}"),
                     ("link", "set", f"cfe{n}", "up"), ("link", "set", "lo", "up"),
                     ("route", "add", "default", "via", f"{net}.5")):
            db.ip(*args)

    def cut(self, back_only: bool = False) -> None:
        """Lose every packet between this namespace and the database host, silently (with
        `back_only`, only those coming back: what is sent arrives, no answer does)."""
        self._cuts = (self.client,) if back_only else (self.address, self.client)
        for address in self._cuts:
            self.router.ip("route", "add", "blackhole", f"{address}/32")

    def heal(self) -> None:
        for address in self._cuts:
            self.router.ip("route", "del", "blackhole", f"{address}/32")
        self._cuts = ()

    def remove(self) -> None:
        """Stop the server, then end the namespaces (and so the links with them)."""
        try:
            self.server.remove()
        finally:
            self._close_namespaces()

    def _close_namespaces(self) -> None:
        for namespace in (self.router, self.db):
            namespace.close()
        if self.index:  # gone with its peer's namespace, unless the peer never got there
            subprocess.run(["ip", "link", "del", f"cfa{self.index}"], capture_output=True)
