"""The scoped HTTP client against real loopback servers: resolve, trust, scope, caps and deadlines."""

from __future__ import annotations

import contextlib
import gzip
import socket
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.http.client import PAGE_CAP, USER_AGENT, HttpClient
from checks.http.facts import ErrorKind
from scanner.demo.http_server import LOOPBACK, HttpSiteServer, Reply, Request
from scanner.demo.pki import IssuerKind, LeafSpec, Pki
from scanner.demo.tls_server import ListenerBase, SilentServer
from scanner.model import Platform
from scanner.plugin import ScanSettings
from tests.fleet.nginx import free_port

HOST = "portal.client.test"
OTHER = "sso.client.test"


@dataclass(frozen=True)
class Tls:
    pki: Pki
    chain: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    pki = Pki.create(tmp_path_factory.mktemp("client-pki"), organization="Platscan Client Test")
    leaf = pki.issue("portal", LeafSpec(hosts=(HOST, OTHER)))
    return Tls(pki, pki.write_chain(leaf), leaf.key_path)


def site(request: Request) -> Reply:
    path = request.path
    if path == "/":
        return Reply(
            200,
            (
                ("Content-Type", "text/html"),
                ("set-cookie", "a=1; Secure"),
                ("X-Echo-Host", request.header("Host") or ""),
                ("Set-Cookie", "b=2; Secure"),
                ("X-Echo-Agent", request.header("User-Agent") or ""),
            ),
            b"<html>ok</html>",
        )
    if path == "/to-other":
        return Reply(302, (("Location", f"https://{OTHER}:{request.header('X-Port')}/landing"),))
    if path == "/relative":
        return Reply(301, (("Location", "/landing#frag"),))
    if path == "/landing":
        return Reply(200, (("X-Method", request.method),), request.body or b"landed")
    if path == "/bad-redirect":
        return Reply(302, (("Location", "https://[not-an-address/x"),))
    if path == "/loop":
        return Reply(302, (("Location", "/loop2"),))
    if path == "/loop2":
        return Reply(302, (("Location", "/loop"),))
    if path == "/see-other":
        return Reply(303, (("Location", "/landing"),))
    if path == "/temporary":
        return Reply(307, (("Location", "/landing"),))
    if path == "/downgrade":
        return Reply(307, (("Location", f"http://{HOST}:{request.header('X-Plain-Port')}/landing"),))
    if path == "/off":
        return Reply(302, (("Location", request.header("X-Canary") or "https://elsewhere.example/"),))
    if path == "/redirect-huge":
        return Reply(302, (("Location", "/landing"),), b"<html>", filler=50_000_000)
    if path == "/redirect-endless":
        return Reply(302, (("Location", "/landing"),), b"x", endless=True)
    if path == "/huge":
        return Reply(200, (("Content-Type", "text/html"),), b"<html>", filler=50_000_000)
    if path == "/endless":
        return Reply(200, (("Content-Type", "text/plain"),), b"start", endless=True)
    if path == "/gzip":
        return Reply(200, (("Content-Encoding", "gzip"),), gzip.compress(b"decoded " * 1000))
    if path == "/trickle":
        return Reply(200, (), b"x", trickle=0.2)
    return Reply(404, (), b"nf")


@pytest.fixture(scope="module")
def server(tls: Tls) -> Iterator[HttpSiteServer]:
    with HttpSiteServer(site, tls=(tls.chain, tls.key)) as running:
        yield running


@pytest.fixture(scope="module")
def canary(tls: Tls) -> Iterator[HttpSiteServer]:
    with HttpSiteServer(lambda r: Reply(200, (), b"canary"), tls=(tls.chain, tls.key)) as running:
        yield running


def platform(*hosts: str, urls: tuple[str, ...] = ()) -> Platform:
    names = hosts or (HOST, OTHER)
    return Platform(
        id="portal",
        name="Portal",
        urls=urls or (f"https://{names[0]}/",),
        hosts=names[1:],
        resolve=tuple((name, LOOPBACK) for name in names if not name.endswith(".invalid")),
    )


def settings(tls: Tls | None, timeout: float = 2.0) -> ScanSettings:
    return ScanSettings(timeout=timeout, retries=0, ca_bundle=tls.pki.bundle_path if tls else None)


def test_resolve_dials_the_address_but_keeps_the_name(tls: Tls, server: HttpSiteServer) -> None:
    with HttpClient(platform(), settings(tls)) as client:
        fetch = client.get(f"https://{HOST}:{server.port}/")
    response = fetch.final
    assert fetch.ok and response is not None and response.status == 200
    assert response.tls_verified is True and response.address == LOOPBACK
    assert response.header("X-Echo-Host") == f"{HOST}:{server.port}"
    assert response.header("X-Echo-Agent") == USER_AGENT and "platscan" in USER_AGENT
    assert server.seen[-1].server_name == HOST  # SNI carries the name, not 127.0.0.1
    # Headers as received: order, spelling and repeats kept.
    names = [name for name, _ in response.headers]
    assert names[:5] == ["Content-Type", "set-cookie", "X-Echo-Host", "Set-Cookie", "X-Echo-Agent"]
    assert response.set_cookies == ("a=1; Secure", "b=2; Secure")


def test_environment_settings_do_not_change_trust_or_routing(
    tls: Tls, server: HttpSiteServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bogus = tmp_path / "empty.pem"
    bogus.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("HTTPS_PROXY", f"http://{LOOPBACK}:{free_port()}")
    with HttpClient(platform(), settings(tls)) as client:
        fetch = client.get(f"https://{HOST}:{server.port}/")
    assert fetch.final is not None and fetch.final.tls_verified is True


def test_an_untrusted_certificate_is_read_anyway_and_recorded(server: HttpSiteServer) -> None:
    with HttpClient(platform(), settings(None)) as client:
        first = client.get(f"https://{HOST}:{server.port}/")
        second = client.get(f"https://{HOST}:{server.port}/landing")
        problems = dict(client.tls_problems)
    assert first.final is not None and first.final.status == 200 and first.final.tls_verified is False
    assert second.final is not None and second.final.tls_verified is False
    assert "certificate not trusted" in str(problems[f"{HOST}:{server.port}"])


def test_a_body_never_goes_where_its_certificate_failed(server: HttpSiteServer) -> None:
    """Reading an untrusted server is fine; sending it a form (perhaps a password) is not."""
    with HttpClient(platform(), settings(None)) as client:
        assert client.get(f"https://{HOST}:{server.port}/").final is not None  # learns the certificate fails
        before = len(server.seen)
        posted = client.fetch("POST", f"https://{HOST}:{server.port}/landing", data={"password": "s3cret"})
    assert posted.final is None and posted.error is not None and posted.error.kind is ErrorKind.TLS
    assert "Not sent" in posted.error.message
    assert len(server.seen) == before, "the POST must not reach the server"


def test_a_307_to_plain_http_does_not_resend_the_body(tls: Tls, server: HttpSiteServer) -> None:
    with HttpSiteServer(site) as plain, HttpClient(platform(), settings(tls)) as client:
        posted = client.fetch(
            "POST",
            f"https://{HOST}:{server.port}/downgrade",
            headers={"X-Plain-Port": str(plain.port)},
            data={"password": "s3cret"},
        )
        assert posted.blocked_redirect == f"http://{HOST}:{plain.port}/landing"
        assert plain.seen == [] or all(r.method != "POST" for r in plain.seen)


def test_a_self_signed_server_under_the_wrong_name(tls: Tls, tmp_path: Path) -> None:
    own = tls.pki.issue(
        "selfie", LeafSpec(hosts=("other.name.test",), issuer=IssuerKind.SELF, ca_issuers_url=None, ocsp_url=None)
    )
    with (
        HttpSiteServer(site, tls=(tls.pki.write_chain(own), own.key_path)) as selfie,
        HttpClient(platform(), settings(tls)) as client,
    ):
        fetch = client.get(f"https://{HOST}:{selfie.port}/")
    assert fetch.final is not None and fetch.final.tls_verified is False


def test_redirects_are_followed_on_the_platforms_hosts(tls: Tls, server: HttpSiteServer) -> None:
    base = f"https://{HOST}:{server.port}"
    with HttpClient(platform(), settings(tls)) as client:
        other = client.get(f"{base}/to-other", headers={"X-Port": str(server.port)})
        relative = client.get(f"{base}/relative")
        see_other = client.fetch("POST", f"{base}/see-other", data={"a": "1"})
        temporary = client.fetch("POST", f"{base}/temporary", data={"a": "1"})
        loop = client.get(f"{base}/loop")
        bad = client.get(f"{base}/bad-redirect")
        not_followed = client.get(f"{base}/to-other", headers={"X-Port": "1"}, follow=False)
    assert [r.url for r in other.responses] == [f"{base}/to-other", f"https://{OTHER}:{server.port}/landing"]
    assert other.ok and other.redirects == [
        {"url": f"{base}/to-other", "status": 302, "location": f"https://{OTHER}:{server.port}/landing"}
    ]
    assert relative.final is not None and relative.final.url == f"{base}/landing"  # fragment dropped
    assert see_other.final is not None and see_other.final.header("X-Method") == "GET"
    assert temporary.final is not None and temporary.final.header("X-Method") == "POST"
    assert temporary.final.body == b"a=1"
    assert loop.error is not None and loop.error.kind is ErrorKind.INVALID and "loop" in loop.error.message
    assert len(not_followed.responses) == 1 and not_followed.ok
    assert bad.error is not None and bad.error.kind is ErrorKind.INVALID and len(bad.responses) == 1


def test_a_redirect_off_the_platform_is_recorded_and_not_followed(
    tls: Tls, server: HttpSiteServer, canary: HttpSiteServer
) -> None:
    target = f"https://{LOOPBACK}:{canary.port}/steal"
    with HttpClient(platform(), settings(tls)) as client:
        fetch = client.get(f"https://{HOST}:{server.port}/off", headers={"X-Canary": target})
        direct = client.get(target)
    assert fetch.blocked_redirect == target and fetch.error is None and not fetch.ok
    assert fetch.final is not None and fetch.final.status == 302
    assert direct.error is not None and direct.error.kind is ErrorKind.OFF_SCOPE
    assert canary.connections == 0


def test_bodies_are_capped_in_memory_and_time(tls: Tls, server: HttpSiteServer) -> None:
    with HttpClient(platform(), settings(tls)) as client:
        client.get(f"https://{HOST}:{server.port}/")  # connect first: measure the bodies only
        tracemalloc.start()
        started = time.monotonic()
        huge = client.get(f"https://{HOST}:{server.port}/huge")
        endless = client.get(f"https://{HOST}:{server.port}/endless", cap=4096)
        redirect_huge = client.get(f"https://{HOST}:{server.port}/redirect-huge")
        redirect_endless = client.get(f"https://{HOST}:{server.port}/redirect-endless", follow=False)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gzipped = client.get(f"https://{HOST}:{server.port}/gzip")
    assert huge.final is not None and len(huge.final.body) == PAGE_CAP and not huge.final.body_complete
    assert endless.final is not None and len(endless.final.body) == 4096 and not endless.final.body_complete
    # requests reads a redirect's whole body before it hands the response back; the client must not.
    assert redirect_huge.ok and [r.status for r in redirect_huge.responses] == [302, 200]
    assert len(redirect_huge.responses[0].body) == PAGE_CAP
    assert redirect_endless.final is not None and redirect_endless.final.status == 302
    assert elapsed < 2 and peak < 8 * 1024 * 1024, (elapsed, peak)
    assert gzipped.final is not None and gzipped.final.body == b"decoded " * 1000 and gzipped.final.body_complete


def test_one_connection_per_host_is_kept_alive(tls: Tls) -> None:
    with HttpSiteServer(site, tls=(tls.chain, tls.key)) as fresh:
        with HttpClient(platform(), settings(tls)) as client:
            for _ in range(10):
                assert client.get(f"https://{HOST}:{fresh.port}/landing").ok
            assert client.sent == 10
        assert (fresh.connections, fresh.requests) == (1, 10)


def test_a_trickling_server_is_cut_at_the_request_budget_and_not_asked_again(tls: Tls, server: HttpSiteServer) -> None:
    with HttpClient(platform(), settings(tls, timeout=0.5)) as client:
        started = time.monotonic()
        first = client.get(f"https://{HOST}:{server.port}/trickle")
        elapsed = time.monotonic() - started
        second = client.get(f"https://{HOST}:{server.port}/trickle")
        started = time.monotonic()
        third = client.get(f"https://{HOST}:{server.port}/")
        skipped_in = time.monotonic() - started
    assert first.error is not None and first.error.kind is ErrorKind.DEADLINE, first.error
    assert 0.9 <= elapsed < 2.0  # budget: 2 x timeout, although every single read succeeded
    assert second.error is not None and second.error.kind is ErrorKind.DEADLINE  # not asked again
    assert second.error.message.startswith("Not attempted")
    assert third.error is not None and third.error.message.startswith("Not attempted") and skipped_in < 0.05


def test_a_silent_server_times_out_twice_then_is_not_asked_again() -> None:
    with SilentServer() as silent:
        plat = platform("silent.client.test", urls=(f"http://silent.client.test:{silent.port}/",))
        with HttpClient(plat, settings(None, timeout=0.3)) as client:
            started = time.monotonic()
            outcomes = [client.get(f"http://silent.client.test:{silent.port}/{n}") for n in range(5)]
            elapsed = time.monotonic() - started
    kinds = [o.error.kind if o.error else None for o in outcomes]
    assert kinds == [ErrorKind.READ_TIMEOUT] * 5
    assert [o.error.message.startswith("Not attempted") for o in outcomes if o.error] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert elapsed < 1.5


class HttpOnAnything(ListenerBase):
    """Answers whatever arrives (a TLS ClientHello too) with an HTTP 400, like nginx on a plain port."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def test_refused_unresolvable_and_not_tls(tls: Tls) -> None:
    with HttpOnAnything() as plain, socket.socket() as reserved:
        reserved.bind((LOOPBACK, 0))  # bound, never listening: refuses, and nothing else can take the port
        closed = reserved.getsockname()[1]
        plat = platform(HOST, "nowhere.invalid")
        with HttpClient(plat, settings(tls)) as client:
            refused = client.get(f"https://{HOST}:{closed}/")
            again = client.get(f"https://{HOST}:{closed}/other")
            dns = client.get("https://nowhere.invalid/")
            not_tls = client.get(f"https://{HOST}:{plain.port}/")
            over_http = client.get(f"http://{HOST}:{plain.port}/landing")
            sent = client.sent
    assert refused.error is not None and refused.error.kind is ErrorKind.REFUSED
    assert again.error is not None and again.error.kind is ErrorKind.REFUSED and "Not attempted" in again.error.message
    assert dns.error is not None and dns.error.kind is ErrorKind.DNS
    assert not_tls.error is not None and not_tls.error.kind is ErrorKind.TLS
    assert over_http.ok and over_http.final is not None and over_http.final.status == 400
    assert over_http.final.tls_verified is None
    assert sent == 5  # refused once, DNS once, TLS twice (verified, then lenient), plain once


def test_the_client_deadline_stops_new_requests(tls: Tls, server: HttpSiteServer) -> None:
    with HttpClient(platform(), settings(tls), deadline=time.monotonic() - 1) as client:
        fetch = client.get(f"https://{HOST}:{server.port}/")
        assert client.sent == 0
    assert fetch.error is not None and fetch.error.kind is ErrorKind.SKIPPED


def test_an_answer_cut_at_the_budget_marks_its_origin_too_slow(tls: Tls) -> None:
    """Headers arrive at once, the body a byte at a time: the page is kept as far as it came, and the
    origin's later requests are not sent (each would cost the whole budget again)."""

    def slow(request: Request) -> Reply:
        return Reply(200, (("Content-Type", "text/html"),), b"<html>", filler=20_000, body_trickle=0.02)

    with (
        HttpSiteServer(slow, tls=(tls.chain, tls.key)) as server,
        HttpClient(platform(), settings(tls, timeout=0.5)) as client,
    ):
        started = time.monotonic()
        first = client.get(f"https://{HOST}:{server.port}/")
        second = client.get(f"https://{HOST}:{server.port}/.env")
        elapsed = time.monotonic() - started
        sent = client.sent
    assert first.final is not None and first.final.status == 200 and not first.final.body_complete
    assert first.final.cut_at == 1.0 and first.final.body.startswith(b"<html>")
    assert second.final is None and second.error is not None and second.error.kind is ErrorKind.DEADLINE
    assert second.error.message.startswith("Not attempted") and "too slowly" in second.error.message
    assert sent == 1 and elapsed < 1.8


class RawReply(ListenerBase):
    """Answers every request with the same raw bytes, then closes: whatever a broken server sends."""

    def __init__(self, payload: bytes) -> None:
        super().__init__()
        self.payload = payload

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        with contextlib.suppress(OSError):
            conn.sendall(self.payload)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(150)) + b"\r\n", "more than 100 header"),
        (b"HTTP/1.1 200 OK\r\n" + b"Set-Cookie: a=b\r\n" * 5000 + b"\r\n", "more than 100 header"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n", "header line longer than 64 KiB"),
        (b"<html>an HTTP/0.9 answer</html>", "did not answer with an HTTP status line"),
        (b"", "closed the connection without answering"),
    ],
)
def test_a_broken_answer_names_the_limit_or_rule_it_broke(payload: bytes, says: str) -> None:
    with RawReply(payload) as raw:
        plat = platform("raw.client.test", urls=(f"http://raw.client.test:{raw.port}/",))
        with HttpClient(plat, settings(None)) as client:
            fetch = client.get(f"http://raw.client.test:{raw.port}/")
    assert fetch.error is not None and fetch.error.kind is ErrorKind.PROTOCOL
    assert says in fetch.error.message, fetch.error.message
