"""The collector against real loopback servers: a TLS server, and the ways an endpoint can fail.

The servers and the PKI are the shared ones (``scanner.demo``, ``tests.fleet.tls_fleet``); the few
misbehaviours only these tests need are small ``ListenerBase`` subclasses below.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.tls._collect import TlsTarget, collect_tls, load_anchors
from checks.tls.base import TlsCheck
from checks.tls.facts import Connectivity, TlsFacts, TlsVersion
from scanner.demo.pki import KeyType, LeafSpec, Pki
from scanner.demo.tls_server import (
    LOOPBACK,
    ListenerBase,
    PlainHttpServer,
    SilentServer,
    TlsServer,
    TlsServerConfig,
    TrickleServer,
    http_response,
)
from scanner.facts import FactCache, Workers
from scanner.model import Endpoint, Platform, Status
from scanner.plugin import ScanContext, ScanSettings, discover_checks
from tests.fleet.nginx import free_port
from tests.fleet.tls_fleet import ResetServer, TlsFleet, start_tls_fleet

HOST = "portal.dvc.test"
#: A fatal TLS alert record: handshake_failure (40).
ALERT = bytes.fromhex("15030300020228")
TLS_CHECKS: list[TlsCheck] = [c for c in discover_checks().checks if isinstance(c, TlsCheck)]


class EagerHttpServer(ListenerBase):
    """Answers anything at once with 400 (what nginx does to a ClientHello on a plain HTTP port)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(http_response(400, "Bad Request", ""))


class AlertServer(ListenerBase):
    """Reads the ClientHello and answers every one with a fatal handshake_failure alert: a TLS server that
    accepts nothing the client offers. With ``then_reset`` only the first connection gets the alert and
    every later one is reset, as an IPS that starts blocking once it has seen a scanner."""

    def __init__(self, *, then_reset: bool = False) -> None:
        super().__init__()
        self.then_reset = then_reset
        self.connections = 0
        self._count = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        with self._count:
            self.connections += 1
            first = self.connections == 1
        if self.then_reset and not first:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return  # closed with linger 0: a TCP RST
        conn.settimeout(2)
        with contextlib.suppress(TimeoutError):
            conn.recv(65536)
        conn.sendall(ALERT)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"), organization="Platscan Test")


@pytest.fixture(scope="module")
def tls_port(pki: Pki) -> Iterator[int]:
    # EC P-256 leaf + intermediate, no OCSP responder named (so tls.ocsp_stapling has nothing to judge).
    leaf = pki.issue("portal", LeafSpec(hosts=(HOST,), key_type=KeyType.EC_P256, ocsp_url=None))
    with TlsServer(TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path)) as server:
        yield server.port


@pytest.fixture(scope="module")
def settings(pki: Pki) -> ScanSettings:
    return ScanSettings(timeout=2, retries=0, ca_bundle=pki.bundle_path)


@pytest.fixture(scope="module")
def scanned(tls_port: int, settings: ScanSettings) -> tuple[TlsFacts, float]:
    started = time.monotonic()
    facts = collect_tls(TlsTarget(HOST, tls_port, LOOPBACK), settings)
    return facts, time.monotonic() - started


def test_collect_from_a_local_tls_server(scanned: tuple[TlsFacts, float]) -> None:
    facts, elapsed = scanned
    assert facts.connectivity.status is Connectivity.OK, facts.connectivity.reason
    assert elapsed < 15
    assert facts.accepted_versions() == (TlsVersion.TLS_1_2, TlsVersion.TLS_1_3)
    assert facts.errors == ()
    assert facts.address == LOOPBACK and facts.host == HOST
    (deployment,) = facts.deployments
    assert [c.common_name for c in deployment.chain] == [HOST, "Platscan Test Issuing CA"]
    assert deployment.leaf.san_dns == (HOST,)
    assert deployment.leaf.key_type == "EC" and deployment.leaf.key_curve == "secp256r1"
    # SNI and validation used the host name although we connected to 127.0.0.1.
    assert deployment.trust.path_found and deployment.trust.strict_ok
    assert deployment.trust.anchor == "CN=Platscan Test Root CA,O=Platscan Test"
    assert "Supplied CA file" in deployment.sslyze_trusted_by
    assert (facts.heartbleed, facts.ccs_injection, facts.compression) == (False, False, False)
    assert facts.secure_renegotiation is True
    assert facts.duration > 0 and facts.sslyze_version.startswith("6.")


def test_judged_through_a_scan_context(tls_port: int, settings: ScanSettings) -> None:
    """The real path: ScanContext.collect in an isolated worker process, shared by every tls check."""
    platform = Platform(id="dvc", name="DVC", urls=(f"https://{HOST}:{tls_port}/",), resolve=((HOST, LOOPBACK),))
    endpoint = Endpoint.for_url(platform, platform.urls[0])
    workers = Workers(preload=["checks.tls._collect"])
    try:
        ctx = ScanContext(platform, settings, FactCache(workers), deadline=time.monotonic() + 60)
        results = {r.check: r for c in TLS_CHECKS for r in c.run(endpoint, ctx)}
    finally:
        workers.kill_all()
    assert len(results) == 28
    statuses = {check: r.status for check, r in results.items()}
    for check in (
        "tls.https_available",
        "tls.protocol_ssl",
        "tls.protocol_legacy",
        "tls.cert_untrusted",
        "tls.cert_hostname_mismatch",
        "tls.cert_chain_incomplete",
        "tls.cert_chain_order",
        "tls.cipher_insecure",
        "tls.vuln_heartbleed",
    ):
        assert statuses[check] is Status.PASS, (check, results[check].detail)
    assert statuses["tls.ocsp_stapling"] is Status.SKIP  # the leaf names no OCSP responder
    assert all(r.endpoint == endpoint.target and r.platform == "dvc" for r in results.values())


def test_http_url_maps_to_443(settings: ScanSettings) -> None:
    platform = Platform(id="x", name="X", urls=("http://portal.dvc.test:8080/",))
    endpoint = Endpoint.for_url(platform, platform.urls[0])
    assert TlsTarget.for_endpoint(endpoint).port == 443


def _collect(port: int, timeout: float = 2, host: str = HOST) -> tuple[TlsFacts, float]:
    started = time.monotonic()
    facts = collect_tls(TlsTarget(host, port, LOOPBACK), ScanSettings(timeout=timeout, retries=0))
    return facts, time.monotonic() - started


def test_closed_port_is_refused() -> None:
    facts, elapsed = _collect(free_port())
    assert facts.connectivity.status is Connectivity.REFUSED
    assert elapsed < 1


def test_silent_listener_times_out_quickly() -> None:
    with SilentServer() as server:
        facts, elapsed = _collect(server.port, timeout=2)
    assert facts.connectivity.status is Connectivity.SILENT
    assert "did not answer a TLS ClientHello within 2 s" in str(facts.connectivity.reason)
    assert elapsed < 5.5  # the ClientHello wait, then one plain HTTP request: 2 x timeout


def test_plain_http_answering_at_once() -> None:
    with EagerHttpServer() as server:
        facts, elapsed = _collect(server.port)
    assert facts.connectivity.status is Connectivity.NO_TLS
    assert "plain HTTP" in str(facts.connectivity.reason)
    assert facts.connectivity.error and "400 Bad Request" in facts.connectivity.error
    assert elapsed < 1


def test_plain_http_waiting_for_a_request() -> None:
    with PlainHttpServer() as server:  # waits for a whole request head: silent to a ClientHello
        facts, elapsed = _collect(server.port, timeout=1)
    assert facts.connectivity.status is Connectivity.NO_TLS
    assert facts.connectivity.error and "HTTP/1.1 200 OK" in facts.connectivity.error
    assert elapsed < 3


def test_trickling_server_is_cut_off() -> None:
    with TrickleServer(interval=0.3) as server:
        facts, elapsed = _collect(server.port, timeout=1)
    assert facts.connectivity.status is Connectivity.TIMEOUT
    assert "did not finish its first TLS record" in str(facts.connectivity.reason)
    assert elapsed < 2


def test_dns_failure() -> None:
    started = time.monotonic()
    facts = collect_tls(TlsTarget("no-such-host.invalid", 443), ScanSettings(timeout=2, retries=0))
    assert facts.connectivity.status is Connectivity.DNS_FAILURE
    assert "no-such-host.invalid does not resolve" in str(facts.connectivity.reason)
    assert time.monotonic() - started < 5


def test_anchors_are_the_system_store_plus_the_bundle(pki: Pki) -> None:
    system = load_anchors(None)
    with_bundle = load_anchors(pki.bundle_path)
    assert len(system) > 50
    assert len(with_bundle) == len(system) + 1


def test_missing_ca_bundle_is_an_error(tls_port: int, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        collect_tls(
            TlsTarget(HOST, tls_port, LOOPBACK), ScanSettings(timeout=2, retries=0, ca_bundle=tmp_path / "x.pem")
        )


# -- resets and TLS rejections ----------------------------------------------------------------------


def _verdicts(facts: TlsFacts, scheme: str = "https") -> dict[str, tuple[Status, str]]:
    return {c.id: (v.status, str(v.detail)) for c in TLS_CHECKS for v in [c.evaluate(facts, scheme)]}


@pytest.mark.parametrize("read_first", [False, True], ids=["at-once", "after-the-hello"])
def test_a_resetting_server_is_not_reached_not_a_finding(read_first: bool) -> None:
    with ResetServer(read_first=read_first) as server:
        facts, elapsed = _collect(server.port)
    assert facts.connectivity.status is Connectivity.RESET, facts.connectivity
    assert "reset the connection" in str(facts.connectivity.reason)
    assert facts.connectivity.error and "ConnectionResetError" in facts.connectivity.error
    assert elapsed < 1  # the probe, then sslyze's attempts: each reset at once
    verdicts = _verdicts(facts)
    assert {status for status, _ in verdicts.values()} == {Status.ERROR}
    detail = verdicts["tls.https_available"][1]
    assert detail.startswith(f"Could not scan {HOST}:{server.port}: The server on port {server.port} reset the")
    # On a plain http:// URL the policy for an endpoint not reached applies: no TLS reached on 443.
    assert _verdicts(facts, "http")["tls.https_available"][0] is Status.FAIL


def test_a_tls_alert_is_a_failed_handshake() -> None:
    """A server that answers every ClientHello with a TLS alert speaks TLS and offers nothing usable: a finding."""
    with AlertServer() as server:
        facts, elapsed = _collect(server.port)
        connections = server.connections
    assert facts.connectivity.status is Connectivity.HANDSHAKE_FAILED, facts.connectivity
    assert elapsed < 2
    assert connections > 2  # the probe, sslyze's attempts, and the second probe that rules a reset out
    verdicts = _verdicts(facts)
    assert verdicts["tls.https_available"][0] is Status.FAIL
    # The rest could not be tested (no handshake): error, never a skip that coverage would count as tested.
    assert {status for check, (status, _) in verdicts.items() if check != "tls.https_available"} == {Status.ERROR}


def test_an_ips_that_resets_after_the_first_hello_is_not_reached() -> None:
    """The probe gets a TLS answer, every later connection is reset: sslyze's failure is the resets' doing."""
    with AlertServer(then_reset=True) as server:
        facts, _ = _collect(server.port)
    assert facts.connectivity.status is Connectivity.RESET, facts.connectivity
    assert "answered the first TLS ClientHello, then reset" in str(facts.connectivity.reason)
    assert {status for status, _ in _verdicts(facts).values()} == {Status.ERROR}


# -- fleet cases ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFleet]:
    with start_tls_fleet(tmp_path_factory.mktemp("fleet"), ["cross_signed_expired", "reset"]) as running:
        yield running


def _fleet_facts(fleet: TlsFleet, name: str) -> TlsFacts:
    endpoint = fleet[name]
    settings = ScanSettings(timeout=2, retries=0, ca_bundle=fleet.ca_bundle)
    return collect_tls(TlsTarget(endpoint.host, endpoint.port, LOOPBACK), settings)


def test_expired_cross_signed_root_is_not_on_the_trust_path(fleet: TlsFleet) -> None:
    endpoint = fleet["cross_signed_expired"]
    # The premise: a verifying client accepts this chain (it stops at the trusted root).
    context = ssl.create_default_context(cafile=str(fleet.ca_bundle))
    with (
        socket.create_connection(endpoint.address, timeout=3) as raw,
        context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
    ):
        assert tls.version()

    facts = _fleet_facts(fleet, "cross_signed_expired")
    (deployment,) = facts.deployments
    _, intermediate, cross = deployment.chain
    assert cross.not_after < facts.scanned_at and cross.subject == intermediate.issuer and not cross.self_signed
    assert deployment.sent_path == (0, 1, 2)  # the issuer links run through the expired copy...
    assert deployment.trust.path == deployment.validation_path == (0, 1)  # ...the trust path does not
    verdicts = _verdicts(facts)
    wrong = {check: got for check, got in verdicts.items() if got[0].value != endpoint.expect[check]}
    assert wrong == {}
    expired = verdicts["tls.cert_expired"][1]
    assert "The server also sends 'Platscan Fleet Root CA', which expired on" in expired
    assert "clients do not need it" in expired


def test_reset_fleet_case(fleet: TlsFleet) -> None:
    facts = _fleet_facts(fleet, "reset")
    assert facts.connectivity.status is Connectivity.RESET
    assert {status.value for status, _ in _verdicts(facts).values()} == set(fleet["reset"].expect.values())
