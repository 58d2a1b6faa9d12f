"""One resolver per scan: tls, http and ports test the same address of a host, each name looked up once.

A real HTTPS server on loopback is registered by the name ``localhost`` (no ``resolve``), so the
system resolver answers for it; the families' real collectors (sslyze, the HTTP client, nmap) run.
A counting lookup wraps the system one (the resolver's injected lookup, not a mock of a library a
check is built on). ``nothing.invalid`` cannot resolve (RFC 6761 reserves ``.invalid``); it fails
at once on a machine without Internet.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from checks.ports._collect import nmap_path
from checks.ports.settings import PortSettings
from scanner.demo.http_server import HttpSiteServer, Reply, Request
from scanner.demo.pki import LeafSpec, Pki
from scanner.engine import Job, run_scan
from scanner.model import Platform, Result, Status
from scanner.plugin import ScanSettings, discover_checks, select_checks
from scanner.resolver import Resolver, system_lookup

CATALOGUE = discover_checks().checks
FAMILIES = ("tls", "http", "ports")


class CountingLookup:
    """The system lookup, counting the names it is asked for."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, host: str, timeout: float) -> Sequence[str]:
        with self._lock:
            self.asked[host] += 1
        return system_lookup(host, timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpSiteServer, Path]]:
    pki = Pki.create(tmp_path_factory.mktemp("pki"))
    leaf = pki.issue("localhost", LeafSpec(hosts=("localhost",)))
    chain = leaf.cert_path.parent / "localhost-chain.pem"
    chain.write_bytes(leaf.cert_path.read_bytes() + pki.intermediate.cert_path.read_bytes())

    def handler(request: Request) -> Reply:
        return Reply(200, (("Content-Type", "text/html"),), b"<html><body>ok</body></html>")

    with HttpSiteServer(handler, tls=(chain, leaf.key_path)) as site:
        yield site, pki.bundle_path


def scan(platforms: list[Platform], settings: ScanSettings, lookup: CountingLookup) -> list[Result]:
    results: list[Result] = []

    def keep(job: Job, produced: list[Result]) -> None:
        results.extend(produced)

    checks = select_checks(CATALOGUE, only=list(FAMILIES))
    run_scan(platforms, checks, settings, on_results=keep, resolver=Resolver(settings.timeout, lookup))
    return results


def addresses_by_family(results: list[Result]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for result in results:
        if "address" in result.evidence:
            out.setdefault(result.check.split(".")[0], set()).add(str(result.evidence["address"]))
    return out


def test_localhost_is_resolved_once_and_every_family_tests_its_address(server: tuple[HttpSiteServer, Path]) -> None:
    if nmap_path() is None:
        pytest.skip("nmap is not installed (apt-get install nmap)")
    site, bundle = server
    expected = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)
    assert expected, "localhost does not resolve on this machine"
    url = f"https://localhost:{site.port}/"
    platforms = [
        Platform(
            id="one",
            name="one",
            urls=(url, f"{url}second"),
            families=(("ports", PortSettings(ports=(site.port,), allowed_ports=(site.port,))),),
        ),
        Platform(
            id="two",
            name="two",
            urls=(f"{url}third",),
            hosts=("localhost",),
            families=(("ports", PortSettings(ports=(site.port,))),),
        ),
    ]
    lookup = CountingLookup()
    results = scan(platforms, ScanSettings(timeout=5, ca_bundle=bundle, concurrency=4), lookup)

    assert lookup.asked == Counter({"localhost": 1}), lookup.asked
    found = addresses_by_family(results)
    assert set(found) == set(FAMILIES), found
    assert len(set().union(*found.values())) == 1, found
    (address,) = found["tls"]
    assert address in {str(info[4][0]) for info in expected}
    assert all(r.status is not Status.ERROR for r in results if r.check == "http.hsts"), results


def test_a_name_that_does_not_resolve_is_the_same_error_in_every_family() -> None:
    lookup = CountingLookup()
    platform = Platform(id="gone", name="gone", urls=("https://nothing.invalid/",), hosts=("nothing.invalid",))
    results = scan([platform], ScanSettings(timeout=5), lookup)

    assert lookup.asked == Counter({"nothing.invalid": 1}), lookup.asked
    assert {r.check.split(".")[0] for r in results} == set(FAMILIES)
    assert {r.status for r in results} == {Status.ERROR}
    details = {r.detail for r in results}
    assert len(details) == 1 and details.pop().startswith("does not resolve: nothing.invalid"), details
    assert Counter((r.check, r.endpoint) for r in results).most_common(1)[0][1] == 1
