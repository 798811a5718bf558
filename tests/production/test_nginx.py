"""deploy/nginx/caseflow.conf under Debian's own nginx: the site as shipped (its listen
addresses, certificate, folder and upstream moved to the test's), in front of upstreams
that are down, hang, or answer with caseflow's own error page.

nginx comes from Debian: installed, or unpacked into .cache/nginx by
`scripts/bootstrap --test`."""

from __future__ import annotations

import http.client
import http.server
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, unavailable
from tests.production.test_serve import _free_port

SITE = ROOT / "deploy" / "nginx" / "caseflow.conf"
UNPACKED = ROOT / ".cache" / "nginx" / "usr" / "sbin" / "nginx"
pytestmark = pytest.mark.database("sqlite")  # no database here: run once, in the first pass
TRY_AGAIN = ("请稍后重试", "Please try again in a moment", "不会出现只保存一半的情况")


def _binary() -> str:
    found = shutil.which("nginx") or (str(UNPACKED) if UNPACKED.is_file() else None)
    if found is None:
        unavailable("nginx is missing (scripts/bootstrap --test unpacks Debian's)")
    return found


def _site(folder: Path, http_port: int, https_port: int, upstream: int) -> str:
    """The shipped site, moved to the test's ports, certificate and folders."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=caseflow.example.edu", "-keyout", str(folder / "site.key"),
                    "-out", str(folder / "site.pem")], check=True, capture_output=True)
    site = SITE.read_text()
    for old, new in ((r"listen \[::\]:\d+[^;]*;", ""),
                     (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
                     (r"listen 443 ", f"listen 127.0.0.1:{https_port} "),
                     (r"ssl_certificate +\S+;", f"ssl_certificate {folder / 'site.pem'};"),
                     (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {folder / 'site.key'};"),
                     (r"/opt/caseflow/", f"{ROOT}/"),
                     (r"proxy_pass http://127\.0\.0\.1:\d+;",
                      f"proxy_pass http://127.0.0.1:{upstream};"),
                     (r"proxy_read_timeout \d+s;", "proxy_read_timeout 2s;")):
        site, count = re.subn(old, new, site)
        assert count, f"the shipped site no longer has {old!r}"
    return site


class Nginx:
    """Debian's nginx serving the shipped site in front of 127.0.0.1:`upstream`."""

    def __init__(self, folder: Path, upstream: int) -> None:
        self.http, self.https = _free_port(), _free_port()
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / name).mkdir()
        (folder / "site.conf").write_text(_site(folder, self.http, self.https, upstream))
        temp = " ".join(f"{name}_temp_path {folder / name};" for name in
                        ("proxy", "fastcgi", "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"daemon off; user root; pid {folder / 'nginx.pid'}; error_log stderr;\n"
            "events {}\n"
            f"http {{ access_log off; client_body_temp_path {folder / 'body'}; {temp}\n"
            f"  include {folder / 'site.conf'};\n}}\n")
        checked = subprocess.run([_binary(), "-t", "-p", str(folder), "-c",
                                  str(folder / "nginx.conf"), "-e", "stderr"],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr  # what `nginx -t` says of the site
        self.process = subprocess.Popen([_binary(), "-p", str(folder), "-c",
                                         str(folder / "nginx.conf"), "-e", "stderr"],
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.https):
            assert time.monotonic() < deadline and self.process.poll() is None, "no nginx"
            time.sleep(0.05)

    def get(self, path: str, tls: bool = True) -> tuple[int, dict[str, str], str]:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https, context=context, timeout=30)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=30)
        conn.request("GET", path, headers={"Host": "caseflow.example.edu"})
        answer = conn.getresponse()
        found = (answer.status, dict(answer.getheaders()), answer.read().decode())
        conn.close()
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def upstream_port() -> int:
    return _free_port()


@pytest.fixture
def nginx(tmp_path: Path, upstream_port: int) -> Iterator[Nginx]:
    found = Nginx(tmp_path, upstream_port)
    yield found
    found.stop()


def _assert_try_again(status: int, headers: dict[str, str], body: str, code: int) -> None:
    assert status == code
    assert all(text in body for text in TRY_AGAIN), body[:300]
    assert headers["Cache-Control"] == "no-store"  # not kept in place of the page itself


def test_with_caseflow_down_people_get_the_try_again_page_not_nginxs(nginx):
    _assert_try_again(*nginx.get("/tasks/1"), code=502)
    status, _, _ = nginx.get("/unavailable.html")
    assert status == 404  # only an error answer shows it


def test_with_caseflow_too_slow_people_get_the_try_again_page(nginx, upstream_port):
    listener = socket.create_server(("127.0.0.1", upstream_port))  # accepts, never answers
    try:
        _assert_try_again(*nginx.get("/"), code=504)
    finally:
        listener.close()


def test_caseflows_own_error_pages_pass_through(nginx, upstream_port):
    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"caseflow's own try-again page"
            self.send_response(503)
            self.send_header("Retry-After", "5")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", upstream_port), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, headers, body = nginx.get("/")
    finally:
        server.shutdown()
        server.server_close()
    assert (status, body, headers["Retry-After"]) == (503, "caseflow's own try-again page", "5")


def test_the_site_sends_http_to_https_and_serves_the_static_folder_itself(nginx):
    status, headers, _ = nginx.get("/inbox?x=1", tls=False)
    assert status == 301 and headers["Location"] == "https://caseflow.example.edu/inbox?x=1"
    status, headers, body = nginx.get("/static/caseflow.css")  # caseflow is down meanwhile
    assert status == 200 and body == (ROOT / "caseflow/static/caseflow.css").read_text()
