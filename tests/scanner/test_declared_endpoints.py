"""Endpoints a family declares (services on registered hosts, names only looked up), the scan's DNS
servers, and the machine-wide one-session-at-a-time lock."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from scanner.engine import Job, run_scan
from scanner.family import Declared, Families, Family, PlatformSection, Report
from scanner.model import Endpoint, Result, Severity, Status
from scanner.plugin import Check, ScanContext, ScanSettings
from scanner.politeness import Busy, one_at_a_time
from scanner.registry import TargetsError, endpoints, load_targets
from scanner.resolver import Resolver


@dataclass(frozen=True)
class BoxSettings:
    domains: tuple[str, ...]


def configure_box(section: PlatformSection, report: Report) -> BoxSettings | None:
    if section.table is None:
        return None
    return BoxSettings(tuple(section.table.get("domains", [])))


def box_endpoints(settings: BoxSettings | None, hosts: tuple[str, ...]) -> Declared:
    if settings is None:
        return Declared()
    return Declared(services=tuple(f"box://{host}:2525" for host in hosts), domains=settings.domains)


def stray_endpoints(settings: Any, hosts: tuple[str, ...]) -> Declared:
    return Declared(services=("box://elsewhere.test:2525", "box://[::1]/path"))


BOX = Family(
    name="box",
    version="1",
    package="tests.scanner",
    endpoint_kinds=("service", "domain"),
    configure=configure_box,
    endpoints=box_endpoints,
)
STRAY = Family(
    name="stray", version="1", package="tests.scanner", endpoint_kinds=("service",), endpoints=stray_endpoints
)

TARGETS = """\
[scan]
timeout = 2
{scan}

[[platforms]]
id = "post"
name = "Post office"
urls = ["https://web.post.test/"]
hosts = ["mx.post.test"]
[platforms.box]
domains = ["post.test", "web.post.test"]

[[platforms]]
id = "plain"
name = "No box"
hosts = ["plain.test"]
"""


def write(tmp_path: Path, scan: str = "") -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.format(scan=scan), encoding="utf-8")
    return path


def test_a_family_declares_services_on_registered_hosts_and_names_only_looked_up(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path), families=Families(by_name={"box": BOX}))
    post, plain = targets.platforms
    assert post.services == ("box://web.post.test:2525", "box://mx.post.test:2525")
    # web.post.test is a host of the platform: its host endpoint serves; post.test is only looked up.
    assert post.domains == ("post.test",)
    assert [(e.kind, e.target) for e in endpoints(post)] == [
        ("url", "https://web.post.test/"),
        ("host", "web.post.test"),
        ("host", "mx.post.test"),
        ("service", "box://web.post.test:2525"),
        ("service", "box://mx.post.test:2525"),
        ("domain", "post.test"),
    ]
    service = endpoints(post)[3]
    assert (service.scheme, service.host, service.port) == ("box", "web.post.test", 2525)
    assert plain.services == () and plain.domains == ()


def test_a_service_off_the_platforms_hosts_is_refused_and_named(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(TargetsError) as info:
        load_targets(path, families=Families(by_name={"box": BOX, "stray": STRAY}))
    problems = [p for p in info.value.problems if "stray" in p]
    assert len(problems) == 4, info.value.problems  # two services on each of the two platforms
    assert any("'box://elsewhere.test:2525', whose host is not one of the platform's hosts" in p for p in problems)
    assert any("'box://[::1]/path', which is not a scheme://host:port URL" in p for p in problems)
    assert all(p.startswith("targets.toml:") for p in problems)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"10.0.0.1"', 'must be a non-empty list of resolver addresses, e.g. ["10.20.0.53", "10.20.0.54:5353"]'),
        ("[]", 'must be a non-empty list of resolver addresses, e.g. ["10.20.0.53", "10.20.0.54:5353"]'),
        ('["ns1.example"]', "'ns1.example' is not an IP address, address:port or [IPv6]:port"),
        ('["127.0.0.1:99999"]', "'127.0.0.1:99999' has port 99999, out of range (1-65535)"),
        ('["[::1]:x"]', "'[::1]:x' is not an IP address, address:port or [IPv6]:port"),
    ],
)
def test_bad_dns_servers_are_named_with_file_and_line(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(TargetsError) as info:
        load_targets(write(tmp_path, f"dns_servers = {value}"), families=Families(by_name={"box": BOX}))
    assert info.value.problems == [f"targets.toml:3: scan.dns_servers: {message}"]


def test_dns_servers_take_addresses_ports_and_ipv6(tmp_path: Path) -> None:
    scan = 'dns_servers = ["10.20.0.53", "10.20.0.54:5353", "[fd00::53]:53", "::1"]'
    targets = load_targets(write(tmp_path, scan), families=Families(by_name={"box": BOX}))
    assert targets.settings.dns_servers == ("10.20.0.53", "10.20.0.54:5353", "[fd00::53]:53", "::1")


class DomainCheck(Check):
    id: ClassVar[str] = "box.domain"
    title: ClassVar[str] = "Domain"
    family: ClassVar[str] = "box"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = "-"

    def applies_to(self, endpoint: Endpoint) -> bool:
        return endpoint.kind in ("domain", "service")

    def run(self, endpoint: Endpoint, ctx: ScanContext) -> list[Result]:
        return [self.result(endpoint, Status.PASS, f"{endpoint.kind} at {endpoint.address}")]


class Asked:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, host: str, timeout: float) -> Sequence[str]:
        self.names.append(host)
        if host == "post.test":
            raise OSError("no such name (NXDOMAIN)")
        return ["127.0.0.9"]


def test_a_domain_endpoint_is_never_resolved_and_a_service_gets_its_hosts_address(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path), families=Families(by_name={"box": BOX}))
    post = targets.platforms[0]
    asked = Asked()
    got: dict[str, Result] = {}

    def keep(job: Job, results: list[Result]) -> None:
        got.update({r.endpoint: r for r in results})

    run_scan([post], [DomainCheck()], ScanSettings(timeout=1), on_results=keep, resolver=Resolver(1, asked))
    assert "post.test" not in asked.names
    assert got["post.test"].status is Status.PASS and got["post.test"].detail == "domain at None"
    assert got["box://mx.post.test:2525"].detail == "service at 127.0.0.9"


def _hold(address: str, seconds: float, started: Any) -> None:
    with one_at_a_time(address, 5):
        started.set()
        time.sleep(seconds)


def test_one_session_at_a_time_holds_across_processes() -> None:
    address = f"192.0.2.{int(time.time() * 1000) % 250}"  # a name for the lock only; never contacted
    started = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(target=_hold, args=(address, 1.0, started))
    holder.start()
    try:
        assert started.wait(20)
        with pytest.raises(Busy), one_at_a_time(address, 0.2):
            pass
        begun = time.monotonic()
        with one_at_a_time(address, 10) as waited:
            assert waited > 0.3  # it waited for the other process's session to end
        assert time.monotonic() - begun < 5
    finally:
        holder.join(10)
    # A killed holder's lock is released by the kernel.
    killed = multiprocessing.get_context("spawn").Process(target=_hold, args=(address, 60.0, started))
    started.clear()
    killed.start()
    assert started.wait(20)
    killed.kill()
    killed.join(10)
    with one_at_a_time(address, 2) as waited:
        assert waited < 2
