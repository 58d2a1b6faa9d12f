"""The ports collector: nmap's arguments, preflight, and live scans of loopback listeners (own ports only)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.ports import _collect
from checks.ports._collect import (
    INSTALL_HINT,
    PortScanTarget,
    capped_probes,
    collect_ports,
    discovery_args,
    preflight_problem,
    probe_wait_ms,
    risk_probe_args,
    scan_address,
    service_args,
    udp_args,
)
from checks.ports.base import PortsCheck
from checks.ports.facts import Detection, PortScanFacts, ScanStatus
from checks.ports.settings import PortScanSettings, PortSettings
from scanner.demo.tls_server import SilentServer
from scanner.facts import FactCache, Workers
from scanner.model import Endpoint, Platform, Status
from scanner.plugin import ScanContext, ScanSettings, discover_checks
from tests.fleet.nginx import free_port
from tests.fleet.ports_fleet import start_ports_fleet

SETTINGS = ScanSettings(timeout=3, retries=0)
PORTS_CHECKS = [c for c in discover_checks().checks if isinstance(c, PortsCheck)]
needs_nmap = pytest.mark.skipif(_collect.nmap_path() is None, reason=f"nmap is not installed ({INSTALL_HINT})")


# -- arguments (pure) ------------------------------------------------------------------------------


def test_discovery_is_a_connect_scan_of_one_address_by_default() -> None:
    args = discovery_args(PortScanTarget("h.test", None), "192.0.2.7", SETTINGS, 60)
    assert args[-1] == "192.0.2.7" and "-sT" in args and "-sS" not in args
    assert args[:4] == ["-oX", "-", "-n", "-Pn"]
    assert args[args.index("--top-ports") + 1] == "1000"
    assert args[args.index("--host-timeout") + 1] == "60000ms"
    assert args[args.index("--max-retries") + 1] == "0"
    assert args[args.index("--max-rtt-timeout") + 1] == "3000ms"
    assert "-sV" not in args and "-6" not in args


def test_port_ranges_and_scan_types() -> None:
    def args(**kw: object) -> list[str]:
        return discovery_args(PortScanTarget("h.test", None, **kw), "2001:db8::7", SETTINGS, 30)  # type: ignore[arg-type]

    assert "-6" in args() and args()[-1] == "2001:db8::7"
    assert "-sS" in args(method="syn") and "-sT" not in args(method="syn")
    assert args(ports="top-100")[args(ports="top-100").index("--top-ports") + 1] == "100"
    assert args(ports="all")[args(ports="all").index("-p") + 1] == "1-65535"
    assert args(ports=(22, 80, 81, 82, 443))[args(ports=(22, 80, 81, 82, 443)).index("-p") + 1] == "22,80-82,443"


@pytest.mark.parametrize("bad", ["10.0.0.0/24", "10.0.0.1-20", "host.example", "-iL", "10.0.0.*", ""])
def test_nmap_is_only_ever_given_one_address(bad: str) -> None:
    with pytest.raises(ValueError):
        scan_address(bad)
    with pytest.raises(ValueError):
        discovery_args(PortScanTarget("h.test", None), bad, SETTINGS, 30)


def test_service_detection_only_on_the_open_ports() -> None:
    args = service_args(PortScanTarget("h.test", None), "192.0.2.7", [8081, 22], SETTINGS, 20, Path("/x/probes"))
    assert args[args.index("-p") + 1] == "22,8081"
    assert "-sV" in args and args[args.index("--version-intensity") + 1] == "2"
    assert args[args.index("--versiondb") + 1] == "/x/probes"
    assert "smtp-commands" in args[args.index("--script") + 1]
    udp = udp_args(PortScanTarget("h.test", None, udp=True), "192.0.2.7", SETTINGS, 20)
    assert "-sU" in udp and udp[udp.index("-p") + 1] == "161"


_TIMING = "--max-retries 1 --initial-rtt-timeout 1000ms --max-rtt-timeout 3000ms"
_SCRIPTS = "--script smtp-commands,pop3-capabilities,imap-capabilities"


@pytest.mark.parametrize(
    ("method", "address", "service", "udp", "risk"),
    [
        (
            "connect",
            "192.0.2.7",
            f"-oX - -n -Pn -sT -p 22-23,8081 -sV --version-intensity 2 --versiondb /x/probes {_SCRIPTS} "
            f"--script-timeout 6000ms {_TIMING} --host-timeout 20000ms 192.0.2.7",
            f"-oX - -n -Pn -sU -p 161 -sV --version-intensity 2 {_TIMING} --host-timeout 20000ms 192.0.2.7",
            f"-oX - -n -Pn -sT -p 6380,9999 -sV --version-intensity 8 --versiondb /x/risk {_TIMING} "
            "--host-timeout 12500ms 192.0.2.7",
        ),
        (
            "syn",
            "2001:db8::7",
            f"-oX - -n -Pn -sS -6 -p 22-23,8081 -sV --version-intensity 2 --versiondb /x/probes {_SCRIPTS} "
            f"--script-timeout 6000ms {_TIMING} --host-timeout 20000ms 2001:db8::7",
            f"-oX - -n -Pn -sU -6 -p 161 -sV --version-intensity 2 {_TIMING} --host-timeout 20000ms 2001:db8::7",
            f"-oX - -n -Pn -sS -6 -p 6380,9999 -sV --version-intensity 8 --versiondb /x/risk {_TIMING} "
            "--host-timeout 12500ms 2001:db8::7",
        ),
    ],
)
def test_the_nmap_command_lines_are_pinned(method: str, address: str, service: str, udp: str, risk: str) -> None:
    """The exact command lines of the service, UDP and risk-probe runs: one argument builder makes all of them."""
    target = PortScanTarget("h.test", None, method=method, udp=True)
    settings = ScanSettings(timeout=3, retries=1)
    got_service = service_args(target, address, [8081, 22, 23], settings, 20, Path("/x/probes"))
    assert " ".join(got_service) == service
    assert " ".join(udp_args(target, address, settings, 20)) == udp
    assert " ".join(risk_probe_args(target, address, [6380, 9999], settings, 12.5, Path("/x/risk"))) == risk
    # Without a probe file of its own, and with little time left, the script timeout stays at its 2 s floor.
    short = service_args(target, address, [8081], settings, 1.5)
    assert "--versiondb" not in short and short[short.index("--script-timeout") + 1] == "2000ms"


def test_probe_waits_follow_the_timeout() -> None:
    assert probe_wait_ms(ScanSettings(timeout=3)) == 3000
    assert probe_wait_ms(ScanSettings(timeout=10)) is None  # nmap's own 6 s / 5 s
    text = (
        "Exclude T:9100\nProbe TCP NULL q||\ntotalwaitms 6000\ntcpwrappedms 3000\nmatch a m|x|\n\n"
        "Probe TCP Get q|G|\nrarity 1\n"
    )
    capped = capped_probes(text, 2000)
    assert capped.startswith("Exclude T:9100\n")
    assert "totalwaitms 6000" not in capped and capped.count("totalwaitms 2000") == 2
    assert "tcpwrappedms 1500" in capped and "match a m|x|" in capped


# -- preflight -------------------------------------------------------------------------------------


def test_nmap_missing_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    problem = preflight_problem(ScanSettings())
    assert problem is not None and "nmap is not installed" in problem and "apt-get install nmap" in problem
    assert "\n" not in problem
    facts = collect_ports(PortScanTarget("h.test", "127.0.0.1", (1,)), SETTINGS, 10)
    assert facts.status is ScanStatus.FAILED and "apt-get install nmap" in str(facts.reason)


def test_syn_and_udp_need_root(monkeypatch: pytest.MonkeyPatch) -> None:
    if _collect.nmap_path() is None:
        pytest.skip("nmap is not installed")
    monkeypatch.setattr(_collect, "is_root", lambda: False)
    assert preflight_problem(ScanSettings()) is None
    syn = preflight_problem(ScanSettings(families=(("ports", PortScanSettings(method="syn")),)))
    assert syn is not None and "SYN scan" in syn and "needs root" in syn and 'port_scan = "connect"' in syn
    udp = preflight_problem(ScanSettings(families=(("ports", PortScanSettings(udp=True)),)))
    assert udp is not None and "UDP scan" in udp and "udp = false" in udp
    both = preflight_problem(ScanSettings(families=(("ports", PortScanSettings(method="syn", udp=True)),)))
    assert both is not None and "SYN scan" in both and "UDP scan" in both
    facts = collect_ports(PortScanTarget("h.test", "127.0.0.1", (1,), method="syn"), SETTINGS, 9)
    assert facts.status is ScanStatus.FAILED and "needs root" in str(facts.reason)
    monkeypatch.setattr(_collect, "is_root", lambda: True)
    assert preflight_problem(ScanSettings(families=(("ports", PortScanSettings(method="syn", udp=True)),))) is None


def test_checks_report_the_preflight_problem_as_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    platform = Platform(id="p", name="P", hosts=("h.ports.test",), resolve=(("h.ports.test", "127.0.0.1"),))
    endpoint = Endpoint.for_host(platform, "h.ports.test")
    ctx = ScanContext(platform, SETTINGS, FactCache(Workers()), deadline=time.monotonic() + 10)
    for check in PORTS_CHECKS:
        assert check.preflight(SETTINGS) == preflight_problem(SETTINGS)
        (result,) = check.run(endpoint, ctx)
        assert result.status is Status.ERROR and "apt-get install nmap" in result.detail, check.id


# -- live scans ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet_scan() -> Iterator[tuple[dict[str, int], int, PortScanFacts, float]]:
    if _collect.nmap_path() is None:
        pytest.skip("nmap is not installed")
    with start_ports_fleet(["ssh", "ftp", "web", "redis_open", "mysql"]) as fleet:
        ports = {name: running.port for name, running in fleet.cases.items()}
        closed = free_port()
        started = time.monotonic()
        target = PortScanTarget("fleet.ports.test", "127.0.0.1", (*sorted(ports.values()), closed))
        facts = collect_ports(target, SETTINGS, 60)
        yield ports, closed, facts, time.monotonic() - started


def test_live_scan_finds_and_names_the_listeners(fleet_scan: tuple[dict[str, int], int, PortScanFacts, float]) -> None:
    ports, closed, facts, _ = fleet_scan
    assert closed not in {p.port for p in facts.ports}
    assert facts.status is ScanStatus.COMPLETE and facts.detection is Detection.COMPLETE, facts.reason
    by_port = {p.port: p for p in facts.open_ports}
    assert sorted(by_port) == sorted(ports.values())  # the closed port is not open
    assert facts.closed >= 1
    assert (by_port[ports["ssh"]].service, by_port[ports["ssh"]].version) == ("ssh", "7.4")
    assert by_port[ports["ftp"]].product == "ProFTPD"
    assert by_port[ports["mysql"]].service == "mysql"
    assert by_port[ports["web"]].service == "http"
    assert by_port[ports["redis_open"]].responses[0].data == b"+PONG\r\n"
    assert by_port[ports["ssh"]].banner == b"SSH-2.0-OpenSSH_7.4\r\n"
    assert all("127.0.0.1" in command for command in facts.commands)


def test_live_scan_is_quick_with_short_probe_waits(
    fleet_scan: tuple[dict[str, int], int, PortScanFacts, float],
) -> None:
    # an HTTP port waits out one banner read (the 3 s timeout), the rest answer at once
    assert fleet_scan[3] < 15


@pytest.mark.slow
@needs_nmap
def test_a_host_scan_is_bounded_by_the_endpoint_budget() -> None:
    """A silent service makes -sV try every probe; the scan still ends inside the endpoint's budget,
    keeps the ports discovery found, says that detection timed out, and leaves no nmap behind."""
    with start_ports_fleet(["ssh"]) as fleet, SilentServer() as silent:
        ssh = fleet["ssh"].port
        budget = 8.0
        started = time.monotonic()
        facts = collect_ports(PortScanTarget("slow.ports.test", "127.0.0.1", (ssh, silent.port)), SETTINGS, budget)
        elapsed = time.monotonic() - started
        assert elapsed < budget, elapsed
        assert facts.status is ScanStatus.COMPLETE
        assert sorted(p.port for p in facts.open_ports) == sorted([ssh, silent.port])
        assert facts.detection is Detection.TIMED_OUT
        # the banner read does not depend on nmap: the version is still seen
        assert next(p for p in facts.open_ports if p.port == ssh).banner.startswith(b"SSH-2.0-OpenSSH_7.4")
        assert _nmap_processes(str(silent.port)) == []


def _nmap_processes(needle: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nmap") and any(needle.encode() in a for a in argv):
            found.append(int(cmdline.parent.name))
    return found


_ORPHAN_SCRIPT = """
import sys, time
from checks.ports._collect import NmapProcess, nmap_path
proc = NmapProcess(nmap_path(), ["-n", "-Pn", "-sT", "-sV", "-p", sys.argv[1], "127.0.0.1"], 120)
print(proc.process.pid, flush=True)
time.sleep(120)
"""


@needs_nmap
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_nmap_dies_with_a_killed_collector() -> None:
    with SilentServer() as silent:
        child = subprocess.Popen(
            [sys.executable, "-c", _ORPHAN_SCRIPT, str(silent.port)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            nmap_pid = int(child.stdout.readline())
            assert _alive(nmap_pid)
            child.send_signal(signal.SIGKILL)
            child.wait(5)
            deadline = time.monotonic() + 5
            while _alive(nmap_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(nmap_pid), "nmap outlived the collector that started it"
        finally:
            if child.poll() is None:
                child.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def _ipv6_banner(banner: bytes) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.bind(("::1", 0))
    except OSError:
        sock.close()
        pytest.skip("no IPv6 loopback")
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), conn:
                conn.sendall(banner)
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    conn.recv(64)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join(2)


@needs_nmap
def test_ipv6_address_is_scanned_with_dash_6() -> None:
    with _ipv6_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        facts = collect_ports(PortScanTarget("::1", None, (port,)), SETTINGS, 30)
    assert facts.status is ScanStatus.COMPLETE, facts.reason
    assert facts.address == "::1" and all(" -6 " in command for command in facts.commands)
    (found,) = facts.open_ports
    assert (found.port, found.service, found.product) == (port, "ssh", "OpenSSH")


@needs_nmap
def test_a_host_that_accepts_everything_is_not_service_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_collect, "MAX_SERVICE_PORTS", 1)  # stands for a tarpit answering on every port
    with start_ports_fleet(["ssh", "web"]) as fleet:
        ports = (fleet["ssh"].port, fleet["web"].port)
        facts = collect_ports(PortScanTarget("tarpit.ports.test", "127.0.0.1", ports), SETTINGS, 30)
    assert facts.detection is Detection.SKIPPED and "accepts every connection" in str(facts.detection_reason)
    assert len(facts.commands) == 1 and sorted(p.port for p in facts.open_ports) == sorted(ports)
    assert next(p for p in facts.open_ports if p.port == ports[0]).banner.startswith(b"SSH-2.0")


def test_dns_failure_is_a_fact() -> None:
    if _collect.nmap_path() is None:
        pytest.skip("nmap is not installed")
    started = time.monotonic()
    facts = collect_ports(PortScanTarget("no-such-host.invalid", None, (22,)), SETTINGS, 20)
    assert facts.status is ScanStatus.DNS_FAILURE and "no-such-host.invalid does not resolve" in str(facts.reason)
    assert time.monotonic() - started < 10


def test_no_time_left_is_a_timeout() -> None:
    if _collect.nmap_path() is None:
        pytest.skip("nmap is not installed")
    facts = collect_ports(PortScanTarget("h.test", "127.0.0.1", (1,)), SETTINGS, 1)
    assert facts.status is ScanStatus.TIMED_OUT and "No time was left" in str(facts.reason)


@needs_nmap
def test_judged_through_a_scan_context_in_a_worker() -> None:
    """The real path: one collection in an isolated worker, shared by the five checks of the host."""
    with start_ports_fleet(["telnet"]) as fleet:
        port = fleet["telnet"].port
        platform = Platform(
            id="p",
            name="P",
            hosts=("telnet.ports.test",),
            resolve=(("telnet.ports.test", "127.0.0.1"),),
            families=(("ports", PortSettings(ports=(port,), allowed_ports=(port,))),),
        )
        endpoint = Endpoint.for_host(platform, "telnet.ports.test")
        workers = Workers(preload=["checks.ports._collect"])
        try:
            ctx = ScanContext(platform, SETTINGS, FactCache(workers), deadline=time.monotonic() + 60)
            results = {r.check: r for check in PORTS_CHECKS for r in check.run(endpoint, ctx)}
        finally:
            workers.kill_all()
    assert {check: r.status.value for check, r in results.items()} == {
        "ports.unexpected_open": "pass",
        "ports.cleartext_service": "fail",
        "ports.database_exposed": "pass",
        "ports.remote_admin_exposed": "fail",
        "ports.version_disclosure": "pass",
    }
    assert results["ports.cleartext_service"].severity.value == "critical"
    assert all(r.endpoint == "telnet.ports.test" and r.platform == "p" for r in results.values())
    assert os.environ.get("PATH")  # the scan used the caller's PATH to find nmap
