"""``[scan] dns_servers``: every family connects where the configured resolvers say, not the system.

A real authoritative server (nsd, ``tests/fleet/dns_fleet.py``) answers for a test zone that the
system resolver has never heard of; an HTTPS server on loopback is registered by that zone's name.
A ``platscan scan`` subprocess with ``dns_servers`` pointing at nsd reaches it (tls and http judge
it); the same targets file without ``dns_servers`` cannot resolve the name at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.demo.http_server import HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki
from scanner.dns import ServerLookup, stub_resolver
from tests.fleet.dns_fleet import DnsFleet

ZONES = {"split.test": "portal A 127.0.0.1\nportal AAAA ::1\nonlyv6 AAAA ::1"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsFleet]:
    with DnsFleet(tmp_path_factory.mktemp("dns"), ZONES) as running:
        yield running


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpSiteServer, Path]]:
    pki = Pki.create(tmp_path_factory.mktemp("pki"))
    leaf = pki.issue("portal", LeafSpec(hosts=("portal.split.test",)))
    chain = leaf.cert_path.parent / "portal-chain.pem"
    chain.write_bytes(leaf.cert_path.read_bytes() + pki.intermediate.cert_path.read_bytes())

    def handler(request: Request) -> Reply:
        return Reply(200, (("Content-Type", "text/html"), ("X-Content-Type-Options", "nosniff")), b"<p>ok</p>")

    with HttpSiteServer(handler, tls=(chain, leaf.key_path)) as server:
        yield server, pki.bundle_path


def test_the_lookup_asks_the_configured_server_on_its_port(fleet: DnsFleet) -> None:
    lookup = ServerLookup((fleet.authoritative,))
    assert lookup("portal.split.test", 5) == ["127.0.0.1", "::1"]
    assert lookup("onlyv6.split.test", 5) == ["::1"]
    with pytest.raises(OSError, match="NXDOMAIN"):
        lookup("missing.split.test", 5)
    resolver = stub_resolver((fleet.authoritative,), 5)
    assert [str(r) for r in resolver.resolve("portal.split.test", "A")] == ["127.0.0.1"]


def test_a_silent_dns_server_costs_its_timeout_and_says_so() -> None:
    import socket
    import time

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        lookup = ServerLookup((f"127.0.0.1:{silent.getsockname()[1]}",))
        started = time.monotonic()
        with pytest.raises(OSError, match="no answer from the DNS servers within 1 s"):
            lookup("portal.split.test", 1)
        assert time.monotonic() - started < 4  # A and AAAA, one timeout each at most
    finally:
        silent.close()


def scan(tmp_path: Path, targets: str) -> dict[str, dict[str, str]]:
    path = tmp_path / "targets.toml"
    path.write_text(targets, encoding="utf-8")
    db = tmp_path / "scan.db"
    subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(path), "--db", str(db), "--only", "tls.cert_expired,http", "-q"],
        check=False,
        timeout=300,
    )
    out = tmp_path / "scan.json"
    subprocess.run(
        [sys.executable, "-m", "scanner", "report", "--db", str(db), "--format", "json", "-o", str(out)],
        check=True,
        timeout=120,
    )
    doc = json.loads(out.read_text(encoding="utf-8"))
    (platform,) = doc["platforms"]
    return {r["check"]: r for r in platform["results"]}


def test_every_family_connects_where_the_configured_resolver_says(
    tmp_path: Path, fleet: DnsFleet, site: tuple[HttpSiteServer, Path]
) -> None:
    server, bundle = site
    body = f'[[platforms]]\nid = "portal"\nname = "Portal"\nurls = ["https://portal.split.test:{server.port}/"]\n'
    configured = scan(
        tmp_path, f'[scan]\ntimeout = 3\nca_bundle = "{bundle}"\ndns_servers = ["{fleet.authoritative}"]\n\n{body}'
    )
    assert configured["tls.cert_expired"]["status"] == "pass", configured["tls.cert_expired"]
    assert configured["http.content_type_options"]["status"] == "pass", configured["http.content_type_options"]

    (tmp_path / "system").mkdir()
    system = scan(tmp_path / "system", f'[scan]\ntimeout = 3\nca_bundle = "{bundle}"\n\n{body}')
    assert {r["status"] for r in system.values()} == {"error"}
    assert system["tls.cert_expired"]["detail"].startswith("does not resolve: portal.split.test")
