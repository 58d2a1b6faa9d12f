"""The collector against real loopback servers: a TLS server, and the ways an endpoint can fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.tls._collect import TlsTarget, collect_tls, load_anchors
from checks.tls.facts import Connectivity, TlsFacts, TlsVersion
from scanner.facts import FactCache, Workers
from scanner.model import Endpoint, Platform, Status
from scanner.plugin import ScanContext, ScanSettings, discover_checks
from tests.checks.tls import servers
from tests.checks.tls.servers import HOST, LOOPBACK, LocalPki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return servers.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_port(pki: LocalPki) -> Iterator[int]:
    with servers.tls_server(pki) as server:
        yield server.port


@pytest.fixture(scope="module")
def settings(pki: LocalPki) -> ScanSettings:
    return ScanSettings(timeout=2, retries=0, ca_bundle=pki.ca)


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
    assert deployment.trust.anchor == "CN=Platscan Test Root,O=Platscan Test"
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
        checks = [c for c in discover_checks().checks if c.family == "tls"]
        results = {r.check: r for c in checks for r in c.run(endpoint, ctx)}
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
    facts, elapsed = _collect(servers.closed_port())
    assert facts.connectivity.status is Connectivity.REFUSED
    assert elapsed < 1


def test_silent_listener_times_out_quickly() -> None:
    with servers.silent_server() as server:
        facts, elapsed = _collect(server.port, timeout=2)
    assert facts.connectivity.status is Connectivity.SILENT
    assert "did not answer a TLS ClientHello within 2 s" in facts.connectivity.reason
    assert elapsed < 5.5  # the ClientHello wait, then one plain HTTP request: 2 x timeout


def test_plain_http_answering_at_once() -> None:
    with servers.eager_http_server() as server:
        facts, elapsed = _collect(server.port)
    assert facts.connectivity.status is Connectivity.NO_TLS
    assert "plain HTTP" in facts.connectivity.reason
    assert facts.connectivity.error and "400 Bad Request" in facts.connectivity.error
    assert elapsed < 1


def test_plain_http_waiting_for_a_request() -> None:
    with servers.patient_http_server() as server:
        facts, elapsed = _collect(server.port, timeout=1)
    assert facts.connectivity.status is Connectivity.NO_TLS
    assert facts.connectivity.error and "HTTP/1.1 200 OK" in facts.connectivity.error
    assert elapsed < 3


def test_trickling_server_is_cut_off() -> None:
    with servers.trickle_server(interval=0.3) as server:
        facts, elapsed = _collect(server.port, timeout=1)
    assert facts.connectivity.status is Connectivity.TIMEOUT
    assert "did not finish its first TLS record" in facts.connectivity.reason
    assert elapsed < 2


def test_dns_failure() -> None:
    started = time.monotonic()
    facts = collect_tls(TlsTarget("no-such-host.invalid", 443), ScanSettings(timeout=2, retries=0))
    assert facts.connectivity.status is Connectivity.DNS_FAILURE
    assert "no-such-host.invalid does not resolve" in facts.connectivity.reason
    assert time.monotonic() - started < 5


def test_anchors_are_the_system_store_plus_the_bundle(pki: LocalPki) -> None:
    system = load_anchors(None)
    with_bundle = load_anchors(pki.ca)
    assert len(system) > 50
    assert len(with_bundle) == len(system) + 1


def test_missing_ca_bundle_is_an_error(tls_port: int, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        collect_tls(
            TlsTarget(HOST, tls_port, LOOPBACK), ScanSettings(timeout=2, retries=0, ca_bundle=tmp_path / "x.pem")
        )
