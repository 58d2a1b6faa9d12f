"""The risk pass: risky services on ports nmap does not register them for are still named.

Live tests start real servers (redis-server, and PostgreSQL when installed) on free loopback ports
speaking their real protocols, never a fake of them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.ports import _collect
from checks.ports._collect import RISK_FALLBACKS, RISK_PROBES, PortScanTarget, collect_ports, risk_probes
from checks.ports.facts import Detection, NmapRun, PortScanFacts, RawScan, facts_from_raw
from checks.ports.policy import classify
from checks.ports.services import DatabaseExposed
from scanner.demo.tls_server import SilentServer
from scanner.model import Status
from scanner.plugin import ScanSettings
from tests.fleet.nginx import free_port

SETTINGS = ScanSettings(timeout=3, retries=0)
BUDGET = 90.0
needs_nmap = pytest.mark.skipif(_collect.nmap_path() is None, reason="nmap is not installed")


# -- the probe file (pure) ----------------------------------------------------------------------------

PROBES = """# header
Exclude T:9100-9107

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-|

Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|
rarity 1
ports 80

Probe TCP SMBProgNeg q|\\0\\0|
rarity 4
ports 445,5432
match postgresql m|^E| p/PostgreSQL DB/

Probe TCP redis-server q|*1\\r\\n$4\\r\\ninfo\\r\\n|
rarity 8
ports 6379
match redis m|^\\$\\d+| p/Redis key-value store/

Probe TCP TerminalServer q|\\x03|
rarity 6
ports 3389
"""


def test_risk_probe_file_sends_the_risk_probes_on_every_port() -> None:
    text = risk_probes(PROBES, 1500)
    assert "Exclude T:9100-9107" in text  # printers stay excluded
    assert "GetRequest" not in text  # step 2 sent it already
    assert "ports " not in text and "sslports" not in text
    for name in ("SMBProgNeg", "redis-server"):
        section = text.split(f"Probe TCP {name} ", 1)[1].split("\nProbe ", 1)[0]
        assert "rarity 1\ntotalwaitms 1500\n" in section
        assert "match" in section  # its answers are still matched
    fallback = text.split("Probe TCP TerminalServer ", 1)[1]
    assert "rarity 9" in fallback  # above --version-intensity 8: kept for matching, never sent
    assert "totalwaitms 300" in text.split("Probe TCP NULL", 1)[1].split("\nProbe ", 1)[0]
    assert set(RISK_FALLBACKS).isdisjoint(RISK_PROBES)


def _run(xml: str) -> NmapRun:
    return NmapRun(args=("-sT",), xml=xml)


def _xml(*ports: str) -> str:
    return (
        '<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" start="0" version="7.93">'
        '<scaninfo type="connect" protocol="tcp" numservices="1" services="1"/>'
        '<host><status state="up" reason="user-set"/><address addr="127.0.0.1" addrtype="ipv4"/><hostnames/>'
        "<ports>" + "".join(ports) + "</ports></host>"
        '<runstats><finished time="1" timestr="x" elapsed="1" exit="success"/>'
        '<hosts up="1" down="0" total="1"/></runstats></nmaprun>'
    )


def _port(number: int, service: str) -> str:
    method = "probed" if service != "unknown" else "table"
    return (
        f'<port protocol="tcp" portid="{number}"><state state="open" reason="syn-ack"/>'
        f'<service name="{service}" method="{method}" conf="10"/></port>'
    )


def test_unprobed_unnamed_ports_leave_detection_incomplete() -> None:
    """When the risk pass could not run, a database check cannot pass: it is an error with why."""
    raw = RawScan(
        host="h",
        address="127.0.0.1",
        spec="15432",
        method="connect",
        discovery=_run(_xml(_port(15432, "unknown"))),
        services=_run(_xml(_port(15432, "unknown"))),
        probes_skipped="the risk probes were not sent to 15432/tcp: 3 s of the endpoint's time budget was left",
    )
    facts = facts_from_raw(raw)
    assert facts.detection is Detection.SKIPPED
    verdict = DatabaseExposed().evaluate(facts, ())
    assert verdict.status is Status.ERROR and "risk probes were not sent" in str(verdict.detail)


def test_a_port_the_risk_probes_name_takes_their_facts() -> None:
    raw = RawScan(
        host="h",
        address="127.0.0.1",
        spec="15432",
        method="connect",
        discovery=_run(_xml(_port(15432, "unknown"))),
        services=_run(_xml(_port(15432, "unknown"))),
        probes=_run(_xml(_port(15432, "postgresql"))),
    )
    facts = facts_from_raw(raw)
    assert facts.detection is Detection.COMPLETE
    assert facts.open_ports[0].service == "postgresql"
    assert DatabaseExposed().evaluate(facts, ()).status is Status.FAIL


# -- live: real databases on unusual ports ------------------------------------------------------------


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {seconds} s")


@contextlib.contextmanager
def _server(args: list[str], port: int, cwd: str | None = None) -> Iterator[int]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def real_redis() -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/bootstrap installs it)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with tempfile.TemporaryDirectory() as work, _server(args, port, cwd=work):
        yield port


@contextlib.contextmanager
def real_postgres() -> Iterator[int | None]:
    """A PostgreSQL server on a free port, or None where it is not installed. PostgreSQL refuses to
    run as root, so under root it runs as nobody."""
    postgres, initdb = shutil.which("postgres"), shutil.which("initdb")
    runuser = shutil.which("runuser")
    as_root = os.geteuid() == 0
    if postgres is None or initdb is None or (as_root and runuser is None):
        yield None
        return
    prefix = [runuser or "", "-u", "nobody", "--"] if as_root else []
    with tempfile.TemporaryDirectory() as work:
        if as_root:
            os.chmod(work, 0o777)
        data = Path(work) / "data"
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        port = free_port()
        args = [*prefix, postgres, "-D", str(data), "-p", str(port), "-k", work, "-c", "listen_addresses=127.0.0.1"]
        with _server(args, port):
            yield port


@pytest.fixture(scope="module")
def risky_scan() -> Iterator[tuple[int, int | None, int, PortScanFacts, float]]:
    if _collect.nmap_path() is None:
        pytest.skip("nmap is not installed")
    with real_redis() as redis, real_postgres() as postgres, SilentServer() as silent:
        ports = sorted(p for p in (redis, postgres, silent.port) if p is not None)
        started = time.monotonic()
        facts = collect_ports(PortScanTarget("db.ports.test", "127.0.0.1", tuple(ports)), SETTINGS, BUDGET)
        yield redis, postgres, silent.port, facts, time.monotonic() - started


@pytest.mark.slow
@needs_nmap
def test_databases_on_unusual_ports_fail_database_exposed(
    risky_scan: tuple[int, int | None, int, PortScanFacts, float],
) -> None:
    redis, postgres, _, facts, _ = risky_scan
    assert facts.detection is Detection.COMPLETE, facts.detection_reason
    verdict = DatabaseExposed().evaluate(facts, ())
    assert verdict.status is Status.FAIL, verdict.detail
    assert "Redis" in str(verdict.detail) and f"{redis}/tcp" in str(verdict.detail)
    by_port = {p.port: p for p in facts.open_ports}
    assert by_port[redis].service == "redis"
    if postgres is not None:
        assert "PostgreSQL" in str(verdict.detail) and f"{postgres}/tcp" in str(verdict.detail)
        assert by_port[postgres].service == "postgresql" and by_port[postgres].identified


@pytest.mark.slow
@needs_nmap
def test_a_silent_listener_stays_unknown_within_the_budget(
    risky_scan: tuple[int, int | None, int, PortScanFacts, float],
) -> None:
    _, _, silent, facts, elapsed = risky_scan
    port = next(p for p in facts.open_ports if p.port == silent)
    assert not port.identified and classify(port).kind is None
    assert elapsed < BUDGET
    # step 2 waits out its probes (about 26 s), the risk pass about 11 s more
    assert elapsed < 50, elapsed
