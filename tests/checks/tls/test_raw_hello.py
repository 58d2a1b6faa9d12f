"""Servers sslyze cannot negotiate with (insecure suites or SSL 2.0 only) are judged from hand-built hellos.

The servers are real listeners on loopback: small raw-socket servers that answer a ClientHello with a ServerHello
(or an SSL 2.0 CLIENT-HELLO with a SERVER-HELLO), and, where Debian's openssl allows, a real ``openssl s_server``
that accepts only a NULL suite. Collection runs through ``ScanContext.collect`` in a worker process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.tls import raw_hello
from checks.tls._collect import TlsTarget, collect_tls
from checks.tls.base import TlsCheck
from checks.tls.facts import Connectivity, RawServerHello, TlsVersion
from checks.tls.raw_hello import Invalid, Refused, parse_ssl2_reply, parse_tls_reply
from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import LOOPBACK, ListenerBase
from scanner.facts import FactCache, Workers
from scanner.model import Endpoint, Platform, Result, Severity, Status
from scanner.plugin import ScanContext, ScanSettings, discover_checks
from tests.fleet.nginx import free_port

HOST = "portal.dvc.test"
TLS_CHECKS: list[TlsCheck] = [c for c in discover_checks().checks if isinstance(c, TlsCheck)]
ALERT = bytes.fromhex("15030100020228")
EXPORT_RC4 = 0x0003
DH_ANON_AES = 0x0034


def _offered_suites(hello: bytes) -> tuple[int, list[int]]:
    """(client_version, suites) of a TLS ClientHello record (the test server trusts its own client)."""
    body = hello[9:]
    session = body[34]
    position = 35 + session
    length = int.from_bytes(body[position : position + 2], "big")
    raw = body[position + 2 : position + 2 + length]
    return int.from_bytes(body[:2], "big"), [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def server_hello(version: int, suite: int) -> bytes:
    body = version.to_bytes(2, "big") + os.urandom(32) + b"\x00" + suite.to_bytes(2, "big") + b"\x00"
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


def ssl2_server_hello(specs: list[int]) -> bytes:
    cert = b"\x30\x03\x02\x01\x00"  # not a real certificate: the parser must not need one
    cipher_specs = b"".join(s.to_bytes(3, "big") for s in specs)
    connection_id = os.urandom(16)
    body = (
        b"\x04\x00\x01\x00\x02"
        + len(cert).to_bytes(2, "big")
        + len(cipher_specs).to_bytes(2, "big")
        + len(connection_id).to_bytes(2, "big")
        + cert
        + cipher_specs
        + connection_id
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


class InsecureOnlyServer(ListenerBase):
    """Accepts one insecure TLS suite (at most ``max_version``), or only SSL 2.0 with ``ssl2``: no TLS library
    can finish a handshake with it. Anything else gets a handshake_failure alert. With ``stall_raw`` it never
    answers a hello that offers TLS_RSA_WITH_NULL_MD5 first (platscan's hand-built hellos): a hostile server
    that tries to hold the scan."""

    def __init__(
        self, suite: int | None = None, max_version: int = 0x0303, *, ssl2: bool = False, stall_raw: bool = False
    ) -> None:
        super().__init__(io_timeout=5)
        self.suite, self.max_version, self.ssl2, self.stall_raw = suite, max_version, ssl2, stall_raw

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(3)
        data = conn.recv(65536)
        if not data:
            return
        if data[0] & 0x80:  # an SSL 2.0 CLIENT-HELLO
            if self.ssl2:
                conn.sendall(ssl2_server_hello([0x020080, 0x0700C0]))
            return
        with contextlib.suppress(TimeoutError):
            while len(data) < 5 + int.from_bytes(data[3:5], "big"):
                data += conn.recv(65536)
        client_version, suites = _offered_suites(data)
        if self.stall_raw and suites[:1] == [0x0001]:
            with contextlib.suppress(OSError):
                time.sleep(10)
            return
        if self.suite is not None and self.suite in suites:
            conn.sendall(server_hello(min(client_version, self.max_version), self.suite))
            return
        conn.sendall(ALERT)


@pytest.fixture(scope="module")
def settings() -> ScanSettings:
    return ScanSettings(timeout=2, retries=0)


def scan(port: int, settings: ScanSettings) -> dict[str, Result]:
    """Every tls check on https://HOST:port/, collected in a worker process as a scan does."""
    platform = Platform(id="dvc", name="DVC", urls=(f"https://{HOST}:{port}/",), resolve=((HOST, LOOPBACK),))
    endpoint = Endpoint.for_url(platform, platform.urls[0])
    workers = Workers(preload=["checks.tls._collect"])
    try:
        ctx = ScanContext(platform, settings, FactCache(workers), deadline=time.monotonic() + 60)
        return {r.check: r for c in TLS_CHECKS for r in c.run(endpoint, ctx)}
    finally:
        workers.kill_all()


def test_export_only_server_fails_cipher_insecure(settings: ScanSettings) -> None:
    with InsecureOnlyServer(EXPORT_RC4, max_version=0x0301) as server:
        results = scan(server.port, settings)
    insecure = results["tls.cipher_insecure"]
    assert insecure.status is Status.FAIL, insecure.detail
    assert insecure.severity is Severity.CRITICAL
    assert "TLS_RSA_EXPORT_WITH_RC4_40_MD5 (EXPORT, RC4, MD5) with TLS 1.0" in insecure.detail
    suites = insecure.evidence["insecure_suites"]
    assert suites == [{"suite": "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "versions": ["TLS 1.0", "SSL 3.0"]}]
    chosen = {(h["offered"], h["version"]) for h in insecure.evidence["raw_handshakes"]}
    assert chosen == {("TLS 1.2", "TLS 1.0"), ("SSL 3.0", "SSL 3.0")}  # one entry per version chosen
    assert results["tls.https_available"].status is Status.FAIL
    # The server also chose SSL 3.0 when the hello offered no more: a protocol finding too.
    assert results["tls.protocol_ssl"].status is Status.FAIL
    assert "SSL 3.0 is accepted" in results["tls.protocol_ssl"].detail


def test_anonymous_only_server_fails_cipher_insecure(settings: ScanSettings) -> None:
    with InsecureOnlyServer(DH_ANON_AES, max_version=0x0303) as server:
        results = scan(server.port, settings)
    insecure = results["tls.cipher_insecure"]
    assert insecure.status is Status.FAIL, insecure.detail
    assert insecure.severity is Severity.CRITICAL
    assert "TLS_DH_anon_WITH_AES_128_CBC_SHA (anonymous)" in insecure.detail
    versions = next(s["versions"] for s in insecure.evidence["insecure_suites"])
    assert versions == ["TLS 1.2", "TLS 1.0", "SSL 3.0"]
    # The other checks could not test what they judge: error, never pass or skip.
    assert results["tls.cipher_cbc"].status is Status.ERROR


def test_ssl2_only_server_fails_protocol_ssl_with_its_ciphers(settings: ScanSettings) -> None:
    with InsecureOnlyServer(ssl2=True) as server:
        results = scan(server.port, settings)
    ssl = results["tls.protocol_ssl"]
    assert ssl.status is Status.FAIL, ssl.detail
    assert ssl.detail.startswith("SSL 2.0 is accepted")
    assert "SSL_CK_RC4_128_EXPORT40_WITH_MD5 (SSL 2.0)" in ssl.detail
    assert ssl.evidence["accepted_versions"] == ["SSL 2.0"]
    insecure = results["tls.cipher_insecure"]
    assert insecure.status is Status.FAIL and insecure.severity is Severity.CRITICAL
    assert "SSL_CK_DES_192_EDE3_CBC_WITH_MD5 (3DES, MD5) with SSL 2.0" in insecure.detail


def test_a_server_that_stalls_the_raw_hellos_is_bounded(settings: ScanSettings) -> None:
    """Refuses every library hello with an alert, then never answers a hand-built one: the hellos share a budget
    of two timeouts, and nothing is concluded from silence."""
    with InsecureOnlyServer(stall_raw=True) as server:
        started = time.monotonic()
        facts = collect_tls(TlsTarget(HOST, server.port, LOOPBACK), settings)
        elapsed = time.monotonic() - started
    assert facts.connectivity.status is Connectivity.HANDSHAKE_FAILED
    assert facts.raw_probed and facts.raw_hellos == ()
    assert elapsed < 2 * settings.timeout + 3
    verdict = next(c for c in TLS_CHECKS if c.id == "tls.cipher_insecure").evaluate(facts)
    assert verdict.status is Status.ERROR


@pytest.fixture(scope="module")
def null_only_openssl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real ``openssl s_server`` that accepts only TLS 1.2 with NULL-SHA256."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    pki = Pki.create(tmp_path_factory.mktemp("pki"), organization="Platscan Test")
    leaf = pki.issue("portal", LeafSpec(hosts=(HOST,), ocsp_url=None))
    port = free_port()
    cipher = "NULL-SHA256:@SECLEVEL=0"
    if subprocess.run([openssl, "ciphers", cipher], capture_output=True, check=False).returncode != 0:
        pytest.skip("this openssl has no NULL-SHA256")
    command = [openssl, "s_server", "-quiet", "-www", "-accept", f"{LOOPBACK}:{port}", "-no_tls1_3"]
    command += ["-cert", str(pki.write_chain(leaf)), "-key", str(leaf.key_path), "-cipher", cipher]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
                break
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(5)


def test_real_openssl_null_only_server(null_only_openssl: int, settings: ScanSettings) -> None:
    results = scan(null_only_openssl, settings)
    insecure = results["tls.cipher_insecure"]
    assert insecure.status is Status.FAIL, insecure.detail
    assert "TLS_RSA_WITH_NULL_SHA256 (NULL) with TLS 1.2" in insecure.detail
    assert results["tls.protocol_ssl"].status is Status.ERROR  # nothing below TLS 1.0 was chosen: not tested


# -- the parser against hostile replies --------------------------------------------------------------------


def test_parse_a_server_hello() -> None:
    reply = parse_tls_reply(server_hello(0x0301, EXPORT_RC4), TlsVersion.TLS_1_2)
    assert reply == RawServerHello(
        TlsVersion.TLS_1_2, TlsVersion.TLS_1_0, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "0x0003", 40
    )


def test_parse_needs_the_whole_message() -> None:
    whole = server_hello(0x0303, DH_ANON_AES)
    for cut in (1, 4, 5, 9, len(whole) - 1):
        assert parse_tls_reply(whole[:cut], TlsVersion.TLS_1_2) is None


def test_a_server_hello_split_over_records() -> None:
    message = server_hello(0x0303, DH_ANON_AES)[5:]
    records = b"".join(b"\x16\x03\x03" + len(p).to_bytes(2, "big") + p for p in (message[:10], message[10:]))
    reply = parse_tls_reply(records, TlsVersion.TLS_1_2)
    assert isinstance(reply, RawServerHello) and reply.suite == "TLS_DH_anon_WITH_AES_128_CBC_SHA"


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (server_hello(0x0303, 0xC02F), "suite 0xc02f, which was not offered"),
        (server_hello(0x0303, 0x00FF), "suite 0x00ff, which was not offered"),
        (server_hello(0x0304, EXPORT_RC4), "protocol version 0x0304"),
        (server_hello(0x0200, EXPORT_RC4), "protocol version 0x0200"),
        (b"\x16\x03\x01\x50\x00", "not TLS"),
        (b"\x17\x03\x03\x00\x05hello", "type 23"),
        (b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00", "type 11 instead of a ServerHello"),
        (b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03", "too short"),
        (b"\x16\x03\x03\x00\x04\x02\xff\xff\xff", "a ServerHello of"),
    ],
)
def test_hostile_tls_replies_are_invalid(reply: bytes, why: str) -> None:
    parsed = parse_tls_reply(reply, TlsVersion.TLS_1_2)
    assert isinstance(parsed, Invalid) and why in parsed.why, parsed


def test_bad_lengths_inside_the_server_hello() -> None:
    good = bytearray(server_hello(0x0303, DH_ANON_AES))
    good[5 + 4 + 34] = 40  # a session id longer than 32 bytes
    parsed = parse_tls_reply(bytes(good), TlsVersion.TLS_1_2)
    assert isinstance(parsed, Invalid) and "session id" in parsed.why
    body = bytes(server_hello(0x0303, DH_ANON_AES))[9:] + b"\x00\x09\x00"  # extensions length that lies
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    parsed = parse_tls_reply(b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message, TlsVersion.TLS_1_2)
    assert isinstance(parsed, Invalid) and "extensions" in parsed.why
    assert parse_tls_reply(server_hello(0x0303, EXPORT_RC4), TlsVersion.TLS_1_0) == Invalid(
        "a ServerHello choosing protocol version 0x0303, which was not offered"
    )


def test_an_alert_is_a_refusal() -> None:
    assert isinstance(parse_tls_reply(ALERT, TlsVersion.TLS_1_2), Refused)


def test_ssl2_replies() -> None:
    hellos = parse_ssl2_reply(ssl2_server_hello([0x010080, 0x010080]))
    assert isinstance(hellos, tuple) and [h.suite for h in hellos] == ["SSL_CK_RC4_128_WITH_MD5"]
    whole = ssl2_server_hello([0x010080])
    assert parse_ssl2_reply(whole[:-1]) is None
    assert isinstance(parse_ssl2_reply(ALERT), Refused)
    assert isinstance(parse_ssl2_reply(b"\x80\x03\x00\x00\x01"), Refused)  # SSL 2.0 ERROR
    unknown = ssl2_server_hello([0x0A0080])
    assert isinstance(parse_ssl2_reply(unknown), Invalid)
    lying = bytearray(whole)
    lying[8] = 0x7F  # the certificate length runs past the message
    assert isinstance(parse_ssl2_reply(bytes(lying)), Invalid)
    assert isinstance(parse_ssl2_reply(b"HTTP/1.1 400"), Invalid)


def test_hello_formats() -> None:
    tls12 = raw_hello.tls_client_hello(TlsVersion.TLS_1_2, HOST)
    assert tls12[:3] == b"\x16\x03\x01" and int.from_bytes(tls12[3:5], "big") == len(tls12) - 5
    version, suites = _offered_suites(tls12)
    assert version == 0x0303 and set(suites) == {*raw_hello.TLS_SUITES, 0x00FF}
    assert HOST.encode() in tls12
    ssl3 = raw_hello.tls_client_hello(TlsVersion.SSL_3_0, HOST)
    assert ssl3[1:3] == b"\x03\x00" and HOST.encode() not in ssl3  # no extensions for SSL 3.0
    ssl2 = raw_hello.ssl2_client_hello()
    assert ssl2[0] & 0x80 and ((ssl2[0] & 0x7F) << 8 | ssl2[1]) == len(ssl2) - 2


def test_modern_servers_are_not_probed(tmp_path: Path) -> None:
    """The hand-built hellos run only when sslyze could not negotiate."""
    from scanner.demo.tls_server import TlsServer, TlsServerConfig

    pki = Pki.create(tmp_path, organization="Platscan Test")
    leaf = pki.issue("portal", LeafSpec(hosts=(HOST,), ocsp_url=None))
    with TlsServer(TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path)) as server:
        facts = collect_tls(TlsTarget(HOST, server.port, LOOPBACK), ScanSettings(timeout=2, retries=0))
    assert facts.connectivity.status is Connectivity.OK
    assert not facts.raw_probed and facts.raw_hellos == ()
