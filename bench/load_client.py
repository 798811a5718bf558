"""The load bench's clients: keep-alive HTTP connections that sign counselors in, then
open an inbox, a talk task's form and submit it, over and over, timing each request; or,
with --api, list a counselor's tasks and complete one through the JSON API."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from bench import web_seed
from caseflow import clock, timefmt


class Browser:
    """One client thread's keep-alive connection; a cookie jar per signed-in person."""

    def __init__(self, port: int) -> None:
        self.port, self.conn, self.retries = port, None, 0

    def send(self, jar: dict[str, str], method: str, path: str,
             form: dict[str, str] | None = None, headers: dict[str, str] | None = None,
             body: str | None = None) -> tuple[int, str, str]:
        if form is not None:
            headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
            body = urlencode(form)
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            sent = {**(headers or {}),
                    "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
            try:
                self.conn.request(method, path, body, sent)
                answer = self.conn.getresponse()
                body = answer.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle connection: send again (a repeated POST is
                # safe: the form's one-time token, or the API's Idempotency-Key, returns
                # the first answer)
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                self.retries += 1
                continue
            for cookie in answer.headers.get_all("Set-Cookie") or []:
                name, value = cookie.split(";", 1)[0].split("=", 1)
                jar[name] = value
            if (answer.getheader("Connection") or "").lower() == "close":
                self.conn.close()
                self.conn = None
            return answer.status, answer.getheader("Location") or "", body
        raise AssertionError("not reached")


def _field(name: str, page: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    if found is None:
        raise ValueError(f"no {name} in the page")
    return found.group(1)


def sign_in(port: int, usernames: list[str]) -> dict[str, dict[str, str]]:
    """Sign each person in (scrypt makes this slow on purpose: done before timing)."""
    jars: dict[str, dict[str, str]] = {}
    lock = threading.Lock()

    def work(names: list[str]) -> None:
        browser = Browser(port)
        for name in names:
            jar: dict[str, str] = {}
            _, _, page = browser.send(jar, "GET", "/login")
            status, _, _ = browser.send(jar, "POST", "/login", {
                "username": name, "password": web_seed.PASSWORD,
                "csrf_token": _field("csrf_token", page)})
            assert status == 302, f"{name} could not sign in ({status})"
            with lock:
                jars[name] = jar

    threads = [threading.Thread(target=work, args=(usernames[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return jars


@dataclass
class Figures:
    """What the clients measured."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {
        "inbox": [], "task form": [], "completion": []})
    errors: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    ran_out: bool = False  # a client had no open task left before the time was up

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def client(port: int, queue: list[tuple[str, int]], jars: dict, stop: float,
           figures: Figures, lock: threading.Lock) -> None:
    """Inbox, task form, submit; again until the time is up or the work runs out."""
    browser = Browser(port)

    def timed(kind: str, jar: dict, method: str, path: str, form: dict | None = None,
              expect: int = 200) -> str | None:
        t0 = time.perf_counter()
        try:
            status, _, body = browser.send(jar, method, path, form)
        except OSError as exc:
            figures.error(f"{kind}: {type(exc).__name__}")
            return None
        figures.ms[kind].append((time.perf_counter() - t0) * 1000)
        if status != expect:
            figures.error(f"{kind}: HTTP {status}")
            return None
        return body

    while time.monotonic() < stop:
        with lock:
            if not queue:
                figures.ran_out = True
                return
            name, task_id = queue.pop()
        jar = jars[name]
        timed("inbox", jar, "GET", "/")
        page = timed("task form", jar, "GET", f"/tasks/{task_id}")
        if page is None:
            continue
        now = timefmt.local(clock.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
        timed("completion", jar, "POST", f"/tasks/{task_id}", {
            "csrf_token": _field("csrf_token", page),
            "submission_token": _field("submission_token", page),
            "reached_how": "in_person", "talked_at": now, "ongoing": "no", "mood": "worried",
            "what_happened": "谈话记录：已停止联系，已讲解反诈知识", "action": "complete"},
              expect=302)
    with lock:
        figures.retries += browser.retries


def api_client(port: int, queue: list[tuple[str, int]], tokens: dict[str, str], stop: float,
               figures: Figures, lock: threading.Lock) -> None:
    """The counselor's open tasks (GET /api/v1/tasks), then complete one; until the time
    is up or the work runs out. Each completion carries its own Idempotency-Key."""
    browser = Browser(port)

    def timed(kind: str, token: str, method: str, path: str, payload: dict | None = None
              ) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if payload is not None:
            headers.update({"Content-Type": "application/json",
                            "Idempotency-Key": str(uuid.uuid4())})
        t0 = time.perf_counter()
        try:
            status, _, _ = browser.send({}, method, path, headers=headers,
                                        body=json.dumps(payload) if payload else None)
        except OSError as exc:
            figures.error(f"{kind}: {type(exc).__name__}")
            return
        figures.ms[kind].append((time.perf_counter() - t0) * 1000)
        if status != 200:
            figures.error(f"{kind}: HTTP {status}")

    while time.monotonic() < stop:
        with lock:
            if not queue:
                figures.ran_out = True
                return
            name, task_id = queue.pop()
        timed("inbox", tokens[name], "GET", "/api/v1/tasks?per_page=20")
        talked = (clock.now() - timedelta(minutes=1)).isoformat()
        timed("completion", tokens[name], "POST", f"/api/v1/tasks/{task_id}/complete", {
            "data": {"reached_how": "in_person", "talked_at": talked, "ongoing": "no",
                     "mood": "worried", "what_happened": "谈话记录：已停止联系，已讲解反诈知识"}})
    with lock:
        figures.retries += browser.retries


def page_client(port: int, path: str, jar: dict[str, str], stop: float, ms: list[float],
                lock: threading.Lock) -> None:
    """GET one path again and again until the time is up (for the stack's ceiling)."""
    browser, mine = Browser(port), []
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        browser.send(jar, "GET", path)
        mine.append((time.perf_counter() - t0) * 1000)
    with lock:
        ms.extend(mine)
