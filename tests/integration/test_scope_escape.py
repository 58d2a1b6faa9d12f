"""A hostile registered server cannot steer platscan off scope, through the real CLI.

The platform's own server answers with redirects and a login form whose URLs parsers disagree on
(``http://127.0.0.2:P\\@portal.scope.test/``: ``urllib.parse`` reads the registered host, urllib3
dials 127.0.0.2). Two unregistered listeners on 127.0.0.2 record every connection and request they
get: a plain one, and an HTTPS one whose certificate is valid for 127.0.0.2 (so that nothing but the
scope rule can stop a POST). After a full ``platscan scan`` of the http and auth families, with the
test account set, they must have received nothing, and the findings must name where those URLs
really lead.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.demo.http_server import LOOPBACK, Handler, HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import ListenerBase

HOST = "portal.scope.test"
ELSEWHERE = "127.0.0.2"  # loopback, but not the platform's: nothing may reach it
PASSWORD = "Scope-Escape-Secret-7"


class Recorder(ListenerBase):
    """Accepts anything on ``ELSEWHERE`` and keeps every byte."""

    def __init__(self) -> None:
        super().__init__(host=ELSEWHERE, io_timeout=2.0)
        self.connections = 0
        self.received = b""
        self._lock = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        with self._lock:
            self.received += data


def hostile_urls(plain: int, tls: int) -> list[str]:
    """Off-scope URLs that naive scope checks read as the registered host (or as harmless)."""
    there, there_tls = f"{ELSEWHERE}:{plain}", f"{ELSEWHERE}:{tls}"
    return [
        f"http://{there}\\@{HOST}/",  # backslash ends urllib3's authority; urlsplit reads past it
        f"https://{there_tls}\\\\@{HOST}/login",
        f"//{there_tls}\\@{HOST}/",  # scheme-relative
        f"http://{HOST}@{there}/",  # user info
        f"http://{there}#@{HOST}/",
        f"http://%31%32%37.0.0.2:{plain}/",  # percent-encoded host: urllib3 decodes it
        f" \t http://{there}/ ",  # whitespace browsers strip
        f"///{there}/",  # any run of slashes is one authority marker in http(s)
        f"https:///{there_tls}/",
        f"http://{there}/",  # the plain case, for comparison
    ]


@dataclass
class Hostile:
    recorder: Recorder
    tls_recorder: HttpSiteServer
    registered: HttpSiteServer
    targets: Path
    db: Path
    env: dict[str, str]


def _site(urls: list[str], tls_port: int) -> Handler:
    def form(action: str) -> bytes:
        return (
            f'<html><title>Login</title><form method="post" action="{action}">'
            '<input name="username"><input type="password" name="password"><button>Sign in</button></form></html>'
        ).encode()

    pages = {
        "/": form(f"///{ELSEWHERE}:{tls_port}/collect"),
        "/login": form(f"https://{ELSEWHERE}:{tls_port}\\\\@{HOST}/login"),
    }

    def handle(request: Request) -> Reply:
        if request.path in pages:
            return Reply(200, (("Content-Type", "text/html; charset=utf-8"),), pages[request.path])
        if request.path.startswith("/r/"):
            index = int(request.path.removeprefix("/r/"))
            return Reply(302, (("Location", urls[index]),))
        return Reply(404, (("Content-Type", "text/plain"),), b"not found")

    return handle


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    workdir = tmp_path_factory.mktemp("scope-escape")
    pki = Pki.create(workdir / "pki", organization="Platscan Scope Test")
    leaf = pki.issue("portal", LeafSpec(hosts=(HOST,)))
    elsewhere = pki.issue("elsewhere", LeafSpec(hosts=(ELSEWHERE,)))
    with (
        Recorder() as recorder,
        HttpSiteServer(
            lambda _: Reply(200, (), b"elsewhere"), tls=(pki.write_chain(elsewhere), elsewhere.key_path), host=ELSEWHERE
        ) as tls_recorder,
    ):
        redirects = hostile_urls(recorder.port, tls_recorder.port)
        handler = _site(redirects, tls_recorder.port)
        with HttpSiteServer(handler, tls=(pki.write_chain(leaf), leaf.key_path)) as registered:
            base = f"https://{HOST}:{registered.port}"
            urls = [f"{base}/", *(f"{base}/r/{n}" for n in range(len(redirects)))]
            targets = workdir / "targets.toml"
            targets.write_text(
                "\n".join(
                    [
                        "[scan]",
                        "timeout = 2",
                        "retries = 0",
                        f"ca_bundle = {json.dumps(str(pki.bundle_path))}",
                        "",
                        "[[platforms]]",
                        'id = "portal"',
                        'name = "Portal"',
                        f"urls = {json.dumps(urls)}",
                        f"resolve = {{ {json.dumps(HOST)} = {json.dumps(LOOPBACK)} }}",
                        "",
                        "[platforms.auth]",
                        f"login_url = {json.dumps(base + '/login')}",
                        'username_env = "SCOPE_USER"',
                        'password_env = "SCOPE_PASS"',
                    ]
                )
                + "\n"
            )
            env = {**os.environ, "SCOPE_USER": "scanner", "SCOPE_PASS": PASSWORD}
            yield Hostile(recorder, tls_recorder, registered, targets, workdir / "scope.db", env)


@pytest.fixture(scope="module")
def scanned(hostile: Hostile) -> dict[tuple[str, str], tuple[str, str, str]]:
    run = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(hostile.targets), "--db", str(hostile.db), "--only", "http,auth"],
        capture_output=True,
        text=True,
        env=hostile.env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(hostile.db) as db:
        rows = db.execute("select check_id, endpoint, status, detail, evidence from results").fetchall()
    return {(check, endpoint): (status, detail, evidence) for check, endpoint, status, detail, evidence in rows}


def test_the_unregistered_listeners_receive_nothing(hostile: Hostile, scanned: dict[object, object]) -> None:
    assert scanned, "the scan stored results"
    assert hostile.recorder.connections == 0, hostile.recorder.received[:500]
    assert hostile.recorder.received == b""
    assert hostile.tls_recorder.connections == 0, [(r.method, r.target) for r in hostile.tls_recorder.seen]


def test_no_credential_leaves_for_any_host(hostile: Hostile, scanned: dict[object, object]) -> None:
    sent_bodies = b"".join(request.body for request in hostile.registered.seen)
    assert PASSWORD.encode() not in sent_bodies  # the form posts off scope: platscan does not log in at all
    assert PASSWORD.encode() not in hostile.recorder.received
    assert not any(PASSWORD.encode() in request.body for request in hostile.tls_recorder.seen)


def test_every_hostile_redirect_is_reported_where_it_really_leads(
    hostile: Hostile, scanned: dict[tuple[str, str], tuple[str, str, str]]
) -> None:
    base = f"https://{HOST}:{hostile.registered.port}"
    plain, tls = hostile.recorder.port, hostile.tls_recorder.port
    for index, location in enumerate(hostile_urls(plain, tls)):
        endpoint = f"{base}/r/{index}"
        status, detail, _ = scanned[("http.csp", endpoint)]
        # Not judged as the platform's page, and the finding names the host the URL really dials.
        assert status in ("skip", "error"), (location, status, detail)
        if "@" in location.split("#", 1)[0].split("\\", 1)[0]:
            assert "user info" in detail, (location, detail)  # refused outright, not followed
        else:
            where = rf"redirects to https?://{re.escape(ELSEWHERE)}:({plain}|{tls})/"
            assert re.search(where, detail), (location, detail)


def test_the_login_form_posting_off_scope_fails(
    hostile: Hostile, scanned: dict[tuple[str, str], tuple[str, str, str]]
) -> None:
    base = f"https://{HOST}:{hostile.registered.port}"
    status, detail, evidence = scanned[("auth.form_action_https", f"{base}/")]
    assert status == "fail", detail
    assert ELSEWHERE in detail and "not one of the platform's registered hosts" in detail
    forms = json.loads(evidence)["forms"]
    assert len(forms) == 2 and all(form.get("problem") == "another host" for form in forms), forms
    session_status, session_detail, _ = scanned[("auth.session_cookie", f"{base}/")]
    assert session_status == "error" and "registered hosts" in session_detail, session_detail
