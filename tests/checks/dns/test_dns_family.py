"""The dns family end to end: a real ``platscan scan --only dns`` subprocess against the DNS fleet
(nsd with signed, bogus, island and unsigned zones; unbound validating in front of it) and TCP
listeners on ::1 and 127.0.0.1, asserting every verdict on every case; then the same targets with
nsd itself as the resolver, which does not validate."""

from __future__ import annotations

import json
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.dns_fleet import DnsFleet

ROOT = Path(__file__).resolve().parents[3]


class _Accept(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # accept, then close: all dns.ipv6 asks is whether the port answers
        pass


class _Server6(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True


class _Server4(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def listeners() -> Iterator[dict[str, int]]:
    """ "v6": a port that answers on [::1]; "v4": one that answers on 127.0.0.1 (for the
    IPv4-mapped AAAA); "silent": a port nothing listens on at [::1]."""
    servers = [_Server6(("::1", 0), _Accept), _Server4(("127.0.0.1", 0), _Accept)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        silent = probe.getsockname()[1]
    try:
        yield {"v6": servers[0].server_address[1], "v4": servers[1].server_address[1], "silent": silent}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


ZONES = {
    "good.test": "\n".join(
        [
            '@ CAA 0 issue "ca.test"',
            "www A 127.0.0.1",
            "www AAAA ::1",
            "mapped A 127.0.0.1",
            "mapped AAAA ::ffff:127.0.0.1",
            "silent A 127.0.0.1",
            "silent AAAA ::1",
            "badcaa A 127.0.0.1",
            "badcaa AAAA ::1",
            'badcaa CAA 0 issue "ca..test"',
            "mx A 127.0.0.2",
            "@ MX 10 mx.good.test.",
        ]
    ),
    "plain.test": "www A 127.0.0.1\nweb A 127.0.0.1",
    "island.test": "www A 127.0.0.1",
    "bogus.test": "@ MX 10 mx.good.test.\nwww A 127.0.0.1",
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsFleet]:
    with DnsFleet(
        tmp_path_factory.mktemp("dns"), ZONES, signed={"good.test"}, bogus={"bogus.test"}, unpublished={"island.test"}
    ) as running:
        yield running


def targets(resolver: str, ports: dict[str, int]) -> str:
    v6, v4, silent = ports["v6"], ports["v4"], ports["silent"]
    return f"""
[scan]
timeout = 2
dns_servers = ["{resolver}"]

[[platforms]]
id = "good"
name = "Signed zone"
urls = ["https://www.good.test:{v6}/", "https://mapped.good.test:{v4}/", "https://silent.good.test:{silent}/",
        "https://badcaa.good.test:{v6}/"]

[[platforms]]
id = "plain"
name = "Unsigned zone"
urls = ["https://www.plain.test:{v4}/", "http://web.plain.test:{v4}/"]

[[platforms]]
id = "island"
name = "Signed zone without DS"
urls = ["https://www.island.test:{v4}/"]

[[platforms]]
id = "bogusweb"
name = "A web host in a bogus zone"
urls = ["https://www.bogus.test:{v4}/"]

[[platforms]]
id = "mail"
name = "Mail domains"
hosts = ["mx.good.test"]

[platforms.mail]
domains = ["good.test", "bogus.test"]
"""


Results = dict[tuple[str, str], dict[str, Any]]


def scan(workdir: Path, text: str) -> Results:
    workdir.mkdir(parents=True, exist_ok=True)
    path, db, out = workdir / "targets.toml", workdir / "scan.db", workdir / "scan.json"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(path), "--db", str(db), "--only", "dns", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 3), done.stderr
    subprocess.run(
        [sys.executable, "-m", "scanner", "report", "--db", str(db), "--format", "json", "-o", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    doc = json.loads(out.read_text(encoding="utf-8"))
    return {(r["check"], r["endpoint"]): r for p in doc["platforms"] for r in p["results"]}


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory, fleet: DnsFleet, listeners: dict[str, int]) -> Results:
    return scan(tmp_path_factory.mktemp("validating"), targets(fleet.resolver, listeners))


@pytest.fixture(scope="module")
def unvalidated(tmp_path_factory: pytest.TempPathFactory, fleet: DnsFleet, listeners: dict[str, int]) -> Results:
    return scan(tmp_path_factory.mktemp("authoritative"), targets(fleet.authoritative, listeners))


EXPECTED = {
    ("dns.dnssec", "www.good.test"): ("pass", "low"),
    ("dns.dnssec", "mapped.good.test"): ("pass", "low"),
    ("dns.dnssec", "silent.good.test"): ("pass", "low"),
    ("dns.dnssec", "badcaa.good.test"): ("pass", "low"),
    ("dns.dnssec", "mx.good.test"): ("pass", "low"),
    ("dns.dnssec", "good.test"): ("pass", "low"),  # a mail domain: a "domain" endpoint
    ("dns.dnssec", "www.plain.test"): ("warn", "low"),
    ("dns.dnssec", "web.plain.test"): ("warn", "low"),
    ("dns.dnssec", "www.island.test"): ("warn", "low"),
    ("dns.dnssec", "bogus.test"): ("fail", "critical"),
    # A host in a bogus zone does not resolve for the engine (SERVFAIL): the checks that connect are errors,
    # the dns family still judges the name (Check.needs_address is False). Its CAA and AAAA denials (NSEC)
    # are validly signed: only its A record set's signature is broken.
    ("dns.dnssec", "www.bogus.test"): ("fail", "critical"),
    ("dns.caa", "www.bogus.test"): ("warn", "low"),
    ("dns.ipv6", "www.bogus.test"): ("warn", "low"),
    ("dns.caa", "www.good.test"): ("pass", "low"),  # found at good.test, climbing
    ("dns.caa", "mapped.good.test"): ("pass", "low"),
    ("dns.caa", "silent.good.test"): ("pass", "low"),
    ("dns.caa", "badcaa.good.test"): ("fail", "low"),  # its own record set, invalid
    ("dns.caa", "www.plain.test"): ("warn", "low"),
    ("dns.caa", "www.island.test"): ("warn", "low"),
    ("dns.ipv6", "www.good.test"): ("pass", "medium"),
    ("dns.ipv6", "badcaa.good.test"): ("pass", "medium"),
    ("dns.ipv6", "mapped.good.test"): ("pass", "medium"),
    ("dns.ipv6", "silent.good.test"): ("fail", "medium"),
    ("dns.ipv6", "www.plain.test"): ("warn", "low"),
    ("dns.ipv6", "web.plain.test"): ("warn", "low"),
    ("dns.ipv6", "www.island.test"): ("warn", "low"),
}


@pytest.mark.parametrize(("check", "endpoint"), sorted(EXPECTED))
def test_verdicts_through_a_validating_resolver(validated: Results, check: str, endpoint: str) -> None:
    result = validated[(check, endpoint)]
    assert (result["status"], result["severity"]) == EXPECTED[(check, endpoint)], result["detail"]
    assert result["message"]["id"].startswith("dns."), result["message"]


def test_each_check_runs_only_where_it_applies(validated: Results) -> None:
    """DNSSEC for every name; CAA and IPv6 for URL hosts, CAA only for https ones (not web.plain.test),
    neither for a host without a URL (mx.good.test) nor a mail domain."""
    dns_results = {key for key in validated if key[0].startswith("dns.")}
    assert dns_results == set(EXPECTED)


def test_the_details_say_what_was_observed(validated: Results, listeners: dict[str, int]) -> None:
    bogus = validated[("dns.dnssec", "bogus.test")]
    assert "bogus.test MX" in bogus["detail"] and "every validating resolver refuses them" in bogus["detail"]
    assert "bogus.test MX: servfail (SERVFAIL) (with CD: answer)" in bogus["evidence"]["lookups"]
    assert "not signed" in validated[("dns.dnssec", "www.plain.test")]["detail"]
    assert "no DS record" in validated[("dns.dnssec", "www.island.test")]["detail"]
    caa = validated[("dns.caa", "www.good.test")]["evidence"]
    assert (caa["found_at"], caa["issuers"]) == ("good.test", ["ca.test"])
    assert 'issue "ca..test"' in validated[("dns.caa", "badcaa.good.test")]["detail"]
    silent = validated[("dns.ipv6", "silent.good.test")]
    assert f"[::1]:{listeners['silent']} (connection refused)" in silent["detail"]
    assert silent["key"] == f"[::1]:{listeners['silent']}"
    mapped = validated[("dns.ipv6", "mapped.good.test")]
    assert mapped["evidence"]["connections"] == [
        f"[::ffff:127.0.0.1]:{listeners['v4']} (IPv4-mapped: 127.0.0.1): connected"
    ]


def test_a_resolver_that_does_not_validate_never_passes_a_signed_zone(unvalidated: Results) -> None:
    for name in ("www.good.test", "mx.good.test", "good.test", "bogus.test"):
        result = unvalidated[("dns.dnssec", name)]
        assert result["status"] == "error", result
        assert result["detail"].startswith("The configured resolver does not validate DNSSEC"), result["detail"]
    # What needs no validation is judged the same.
    assert unvalidated[("dns.dnssec", "www.plain.test")]["status"] == "warn"
    assert unvalidated[("dns.dnssec", "www.island.test")]["status"] == "warn"
    assert unvalidated[("dns.caa", "www.good.test")]["status"] == "pass"
    assert unvalidated[("dns.ipv6", "silent.good.test")]["status"] == "fail"


def test_a_silent_resolver_is_an_error_that_costs_its_timeout(tmp_path: Path, listeners: dict[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        text = targets(f"127.0.0.1:{silent.getsockname()[1]}", listeners)
        results = scan(tmp_path, text)
    assert results, "the scan stored its results"
    assert {result["status"] for result in results.values()} == {"error"}
    mail_domain = results[("dns.dnssec", "bogus.test")]
    assert "no answer from the configured DNS resolvers in time" in mail_domain["detail"], mail_domain["detail"]
