"""The tls family on mail sessions, end to end: a real `platscan scan --only tls` of a mail platform whose hosts
are the mail fleet's real SMTP, IMAP and POP3 servers (``tests.fleet.mail_servers``: STARTTLS, implicit TLS, plain
text only, 421, silent), each host reached through relays on an address of its own that count how many sessions
the scanner holds open with that host at once, across its ports."""

from __future__ import annotations

import contextlib
import errno
import json
import random
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from scanner.demo.pki import LeafSpec
from scanner.demo.tls_server import TlsServer, TlsServerConfig
from tests.fleet.mail_servers import MailFleet, MailHost
from tests.fleet.tls_fleet import TLS_CHECKS

PLATSCAN = [sys.executable, "-m", "scanner"]
DOMAIN = "mail.test"
CASES = ("good", "self_signed", "plain", "busy", "silent")
#: Services the mail family declares on every registered host of a mail platform.
SERVICES = (("smtp", 25), ("smtps", 465), ("smtp", 587), ("imap", 143), ("imaps", 993), ("pop3", 110), ("pop3s", 995))
SCHEMES = dict((port, scheme) for scheme, port in SERVICES)
SERVICE_CHECKS = [c for c in TLS_CHECKS if c != "tls.https_available"]
RELAXED_ON_25 = {"tls.cert_untrusted", "tls.cert_hostname_mismatch", "tls.cert_chain_incomplete"}
TIMEOUT = 2
_TCP_ESTABLISHED = 1


# -- servers ---------------------------------------------------------------------------------------------------------


class SessionCounter:
    """A TCP relay on ``address:port`` in front of a server: records how many sessions its clients hold open at
    once, across every relay of one address (``Tally``). A session counts as open until the client closes it: at
    each new connection the kernel's state of the others says whether their client has sent its FIN yet."""

    def __init__(self, tally: Tally, address: str, port: int, backend: tuple[str, int]) -> None:
        self.tally, self.backend = tally, backend
        self.listener = socket.create_server((address, port), reuse_port=False)
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> SessionCounter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.tally.opened(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.backend, timeout=10)
        except OSError:
            self.tally.closed(client)
            client.close()
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join(timeout=30)
        self.tally.closed(client)
        client.close()
        upstream.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass
class Tally:
    """Sessions with one address: how many connections, and the most open at once."""

    connections: int = 0
    most_at_once: int = 0
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, sock: socket.socket) -> None:
        with self._lock:
            still_open = [s for s in self._open if _tcp_state(s) == _TCP_ESTABLISHED]
            self.connections += 1
            self.most_at_once = max(self.most_at_once, len(still_open) + 1)
            self._open.append(sock)

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._open:
                self._open.remove(sock)


def _tcp_state(sock: socket.socket) -> int:
    try:
        return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])
    except OSError:
        return 0


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class BusySmtp:
    """Greets every connection with 421, as a mail server over its session limit does, and closes it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> BusySmtp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"421 4.7.0 mx.mail.test Too many connections, try again later\r\n")


def relay_address(ports: Iterator[int] | tuple[int, ...]) -> str:
    """A random 127.77.x.y address where every one of ``ports`` is free (parallel runs do not collide)."""
    rng = random.SystemRandom()
    for _ in range(200):
        address = f"127.77.{rng.randrange(256)}.{rng.randrange(2, 255)}"
        try:
            for port in ports:
                with socket.create_server((address, port)):
                    pass
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        return address
    raise OSError(errno.EADDRINUSE, "no free 127.77.0.0/16 address")


def fleet_like_server(fleet: MailFleet, name: str) -> TlsServer:
    """An HTTPS server whose TLS is configured as the mail fleet configures its servers' (``MailFleet._context``),
    with a certificate for ``name`` under the same root."""
    leaf = fleet.pki.issue(name.replace(".", "-"), LeafSpec(hosts=(name,)))
    chain = fleet.pki.write_chain(leaf)
    server = TlsServer(TlsServerConfig(cert_chain=chain, key=leaf.key_path))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(chain), str(leaf.key_path))
    server.context = context
    return server


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("mail-sessions")
    with contextlib.ExitStack() as stack:
        fleet = stack.enter_context(MailFleet(workdir, CASES, domain=DOMAIN))
        tallies: dict[str, Tally] = {}
        resolve: dict[str, str] = {}
        for host in fleet:
            tallies[host.case] = Tally()
            address = relay_address(tuple(host.ports))
            resolve[host.name] = address
            for port in host.ports:
                stack.enter_context(SessionCounter(tallies[host.case], address, port, (host.address, port)))
        # TLS configured as the fleet's, on an https:// URL: what "as for HTTPS" means, measured.
        www_name = f"www.{DOMAIN}"
        www = stack.enter_context(fleet_like_server(fleet, www_name))
        targets = workdir / "targets.toml"
        targets.write_text(
            "[scan]\n"
            f"timeout = {TIMEOUT}\nretries = 1\nendpoint_timeout = 60\n"
            f"ca_bundle = {json.dumps(str(fleet.ca_bundle))}\n\n"
            "[[platforms]]\n"
            'id = "mail"\nname = "Official e-mail system"\n'
            f"hosts = {json.dumps([h.name for h in fleet])}\n"
            f"resolve = {{ {', '.join(f'{json.dumps(n)} = {json.dumps(a)}' for n, a in resolve.items())} }}\n\n"
            "[platforms.mail]\n"
            f'domains = ["{DOMAIN}"]\n\n'
            # Not a mail platform: no mail services are declared on its host.
            "[[platforms]]\n"
            'id = "web"\nname = "Portal"\n'
            f'urls = ["https://{www_name}:{www.port}/"]\n'
            f'resolve = {{ "{www_name}" = "127.0.0.1" }}\n',
            encoding="utf-8",
        )
        db = workdir / "scan.db"
        started = time.monotonic()
        scan = subprocess.run(
            [*PLATSCAN, "scan", str(targets), "--db", str(db), "--only", "tls"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        elapsed = time.monotonic() - started
        report = workdir / "report.json"
        subprocess.run([*PLATSCAN, "report", "--db", str(db), "-o", str(report)], check=True, timeout=60)
        doc = json.loads(report.read_text(encoding="utf-8"))
        yield {
            "scan": scan,
            "elapsed": elapsed,
            "doc": doc,
            "hosts": {h.case: h for h in fleet},
            "tallies": tallies,
            "fleet": fleet,
            "www": f"https://{www_name}:{www.port}/",
        }


def results(scanned: dict[str, Any], endpoint: str, platform_id: str = "mail") -> dict[str, dict[str, Any]]:
    (platform,) = [p for p in scanned["doc"]["platforms"] if p["id"] == platform_id]
    found = {r["check"]: r for r in platform["results"] if r["endpoint"] == endpoint}
    assert found, f"no results for {endpoint}"
    return found


def service(scanned: dict[str, Any], case: str, scheme: str, port: int) -> dict[str, dict[str, Any]]:
    host: MailHost = scanned["hosts"][case]
    return results(scanned, f"{scheme}://{host.name}:{port}")


def statuses(found: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {check: r["status"] for check, r in found.items()}


def as_on_https(scanned: dict[str, Any]) -> dict[str, str]:
    """The verdicts of the https:// URL whose TLS is configured as the fleet's: what "as for HTTPS" gives."""
    found = statuses(results(scanned, scanned["www"], "web"))
    assert found.pop("tls.https_available") == "pass"
    return found


def test_the_scan_runs_every_tls_check_but_https_available_on_every_mail_service(scanned: dict[str, Any]) -> None:
    scan = scanned["scan"]
    assert scan.returncode in (0, 3), scan.stderr
    assert "Traceback" not in scan.stderr
    by_platform = {p["id"]: {r["endpoint"] for r in p["results"]} for p in scanned["doc"]["platforms"]}
    wanted = {f"{s}://{h.name}:{p}" for h in scanned["hosts"].values() for s, p in SERVICES}
    assert by_platform == {"mail": wanted, "web": {scanned["www"]}}
    for endpoint in wanted:
        assert sorted(results(scanned, endpoint)) == sorted(SERVICE_CHECKS), endpoint
    # Three silent ports cost their timeouts, one after another (one session at a time with that host).
    assert scanned["elapsed"] < 150


def test_starttls_on_25_with_a_good_certificate_is_judged_as_https_is(scanned: dict[str, Any]) -> None:
    relay = statuses(service(scanned, "good", "smtp", 25))
    assert relay == as_on_https(scanned)
    passing = {"tls.cert_untrusted", "tls.cert_hostname_mismatch", "tls.cert_chain_incomplete", "tls.protocol_tls13"}
    assert {relay[c] for c in passing | {"tls.protocol_legacy", "tls.vuln_heartbleed"}} == {"pass"}
    assert relay["tls.ocsp_stapling"] == "fail", "Python's ssl staples nothing: judged as on HTTPS"


@pytest.mark.parametrize(
    ("scheme", "port"),
    [("smtps", 465), ("smtp", 587), ("imap", 143), ("imaps", 993), ("pop3", 110), ("pop3s", 995)],
    ids=lambda v: str(v),
)
def test_submission_imap_and_pop3_are_judged_as_https_is(scanned: dict[str, Any], scheme: str, port: int) -> None:
    found = service(scanned, "good", scheme, port)
    assert statuses(found) == as_on_https(scanned), {c: r["detail"] for c, r in found.items()}
    assert all("opportunistic" not in r["detail"] for r in found.values())


def test_a_self_signed_certificate_on_25_warns_and_on_587_fails(scanned: dict[str, Any]) -> None:
    relay = service(scanned, "self_signed", "smtp", 25)
    submission = service(scanned, "self_signed", "smtp", 587)
    untrusted_relay, untrusted_submission = relay["tls.cert_untrusted"], submission["tls.cert_untrusted"]
    assert untrusted_submission["status"] == "fail", untrusted_submission["detail"]
    assert untrusted_relay["status"] == "warn", untrusted_relay["detail"]
    assert untrusted_relay["severity"] == untrusted_submission["severity"] == "high"
    assert untrusted_relay["detail"].startswith(untrusted_submission["detail"])
    assert "self-signed" in untrusted_relay["detail"]
    assert "SMTP between servers is opportunistic" in untrusted_relay["detail"]
    # Everything else is judged as on submission: the name matches, the chain ends at the self-signed certificate.
    others = {c for c in SERVICE_CHECKS if c != "tls.cert_untrusted"}
    assert {c: relay[c]["status"] for c in others} == {c: submission[c]["status"] for c in others}
    assert {relay[c]["status"] for c in RELAXED_ON_25 - {"tls.cert_untrusted"}} == {"pass"}


def test_a_closed_port_is_no_service_not_a_failure(scanned: dict[str, Any]) -> None:
    for case, scheme, port in [("plain", "smtps", 465), ("busy", "imaps", 993), ("self_signed", "pop3", 110)]:
        found = service(scanned, case, scheme, port)
        assert set(statuses(found).values()) == {"skip"}, (case, scheme, port)
        assert all(r["detail"].startswith(f"Not applicable: no service on port {port}.") for r in found.values())
        assert "Connection refused" in found["tls.cert_expired"]["detail"]


def test_a_silent_port_is_no_service_and_costs_its_timeout(scanned: dict[str, Any]) -> None:
    for scheme, port in [("smtp", 25), ("smtp", 587), ("imap", 143)]:
        found = service(scanned, "silent", scheme, port)
        assert set(statuses(found).values()) == {"skip"}, (scheme, port)
        detail = found["tls.protocol_tls12"]["detail"]
        assert detail.startswith(f"Not applicable: no service on port {port}.")
        assert f"sent no greeting within {TIMEOUT} s" in detail
        assert max(r["duration"] for r in found.values()) < TIMEOUT + 5
        assert scanned["fleet"].connections("silent", port) == 1


def test_plain_text_only_smtp_is_no_tls_on_this_session(scanned: dict[str, Any]) -> None:
    found = service(scanned, "plain", "smtp", 25)
    assert set(statuses(found).values()) == {"skip"}
    detail = found["tls.cert_untrusted"]["detail"]
    assert detail.startswith("Not applicable: no TLS on this session.")
    assert "The SMTP server on port 25 does not offer STARTTLS" in detail
    assert scanned["fleet"].connections("plain", 25) == 1, "the plain-text start alone: sslyze never ran"


def test_a_421_is_rate_limited_not_tested_and_never_retried(scanned: dict[str, Any]) -> None:
    found = service(scanned, "busy", "smtp", 25)
    assert set(statuses(found).values()) == {"error"}
    detail = found["tls.protocol_tls12"]["detail"]
    assert detail.startswith("Rate-limited, not tested:")
    assert "421 4.7.0" in detail and "does not retry" in detail
    assert scanned["fleet"].connections("busy", 25) == 1


def test_a_mail_server_never_sees_two_sessions_at_once(scanned: dict[str, Any]) -> None:
    # Counted where the scanner connects, across the host's ports (the relay's own sessions with the fleet's
    # servers may overlap by a moment, each closed once both its directions are done: not the scanner's doing).
    fleet: MailFleet = scanned["fleet"]
    for case, host in scanned["hosts"].items():
        tally = scanned["tallies"][case]
        assert tally.connections >= len(host.ports), case
        assert tally.most_at_once == 1, (case, "across its ports", tally)
    # The scan of one STARTTLS service alone is hundreds of sessions, one after another.
    assert fleet.connections("good", 25) > 100


def test_the_session_counter_tells_sessions_at_once_from_one_after_another() -> None:
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(BusySmtp())
        tally = Tally()
        stack.enter_context(SessionCounter(tally, "127.77.13.99", 2525, ("127.0.0.1", backend.port)))
        for _ in range(3):
            with socket.create_connection(("127.77.13.99", 2525), timeout=5) as one:
                assert one.recv(100).startswith(b"421")
        assert (tally.connections, tally.most_at_once) == (3, 1)
        with (
            socket.create_connection(("127.77.13.99", 2525), timeout=5) as first,
            socket.create_connection(("127.77.13.99", 2525), timeout=5) as second,
        ):
            time.sleep(0.2)
            assert first and second
        assert (tally.connections, tally.most_at_once) == (5, 2)
