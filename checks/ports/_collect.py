"""Collect the port-scan facts about one host: nmap, run once per host per scan.

Runs in a worker process (``ScanContext.collect``): the arguments and the returned ``PortScanFacts``
pickle. All network I/O of the ports family happens here; ``facts.facts_from_raw`` and the checks
are pure.

One host scan is up to four nmap runs and one read of banners, all bounded by the endpoint's
deadline:

1. **discovery**: ``nmap -sT`` (``-sS`` when asked for and root) over the platform's ``ports``,
   ``-Pn -n``, with ``--max-retries`` and ``--max-rtt-timeout`` from the settings and
   ``--host-timeout`` set to 60 % of the time left. nmap drops every port of a host that hits
   ``--host-timeout``, which is why discovery is its own run: its port list survives a slow step 2.
2. **service detection**: ``nmap -sV --version-intensity 2`` on the open ports only, with the
   STARTTLS capability scripts (smtp-commands, pop3-capabilities, imap-capabilities), bounded by
   the rest of the budget. Meanwhile the collector reads what each open port sends on connect (its
   banner) for at most two seconds. nmap waits up to 6 s for a banner and 5 s for each probe's
   answer; with a ``timeout`` below 6 s those waits are capped at ``timeout`` through a copy of
   nmap's probe file (``--versiondb``, cached in ``~/.cache/platscan``).
3. **risk probes**: on the ports step 2 could not name (not tcpwrapped), ``nmap -sV --version-intensity 8``
   with a probe file of only the probes that identify the risky classes on any port (PostgreSQL,
   MongoDB, Redis, Memcached, SQL Server, Oracle, RDP; nmap registers them for their own ports and
   rarity 4-8, so intensity 2 sends them nowhere else), each waiting at most ``RISK_PROBE_WAIT``.
   A silent listener costs about 11 s more; a service that answers or hangs up costs less.
4. **UDP** (opt-in, root): ``nmap -sU -sV -p 161`` for SNMP, concurrently with step 1.

nmap is given one IP address, never a name, range or CIDR: the registry's address from ``resolve``,
or the first address the host name resolves to (IPv4 preferred; ``-6`` for an IPv6 address). Each
nmap process is killed when it overruns its limit, and dies with the worker if the engine kills the
worker (``PR_SET_PDEATHSIG``), so nothing outlives a scan.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import ipaddress
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from checks.ports.facts import (
    MAX_BANNER_BYTES,
    NmapOutputError,
    NmapRun,
    PortFacts,
    PortScanFacts,
    RawScan,
    ScanStatus,
    describe_spec,
    facts_from_raw,
    failed_scan,
    parse_nmap_xml,
)
from checks.ports.settings import port_scan_settings, port_settings
from scanner.evidence import shorten
from scanner.files import write_atomically
from scanner.messages import Message, Text, say
from scanner.model import Endpoint, Platform
from scanner.plugin import ScanSettings
from scanner.politeness import Busy, one_at_a_time
from scanner.reasons import network_error

INSTALL_HINT = "apt-get install nmap"
#: nmap's service-detection effort (0-9). At 2 it sends the probes of rarity 1-2 (NULL, GenericLines,
#: GetRequest, SSL/TLS hellos) plus every probe registered for the port; a service it cannot name
#: costs about 26 s instead of minutes at the default 7.
VERSION_INTENSITY = 2
#: The risk probes' intensity: every probe of rarity 1 is sent; the fallback-only probes (rarity 9) are not.
RISK_PROBE_INTENSITY = 8
#: NSE scripts run with -sV: they read the STARTTLS/STLS capability of mail services (safe, default).
SERVICE_SCRIPTS = ("smtp-commands", "pop3-capabilities", "imap-capabilities")
UDP_PORTS = (161,)
#: Seconds kept back from the endpoint's deadline for the worker itself (start-up, parsing, pickling).
SAFETY_SECONDS = 2.0
#: nmap notices --host-timeout only between waits: port discovery overshoots it by up to one
#: round-trip timeout, service detection by up to one probe's wait (5-6 s). Each run gets a host
#: timeout that much shorter than its hard limit, at which it is killed.
DISCOVERY_GRACE_SECONDS = 1.5
SERVICE_GRACE_SECONDS = 6.5
#: Share of the time budget that discovery may use; service detection gets what discovery leaves.
DISCOVERY_SHARE = 0.6
MIN_DISCOVERY_SECONDS = 2.0
MIN_SERVICE_SECONDS = 4.0
#: More open ports than this is usually a firewall that accepts every connection (a tarpit): service
#: detection on all of them would only burn the budget, so it is skipped and the facts say why.
MAX_SERVICE_PORTS = 256
BANNER_WAIT_SECONDS = 2.0
BANNER_QUIET_SECONDS = 0.3
MAX_BANNER_PORTS = 64
MAX_STDERR = 400
PR_SET_PDEATHSIG = 1
#: Where nmap keeps its data files (nmap-service-probes) on Debian and in a source build.
NMAP_DATA_DIRS = ("/usr/share/nmap", "/usr/local/share/nmap")
#: nmap waits up to 6 s for a banner (the NULL probe) and 5 s for each other probe's answer; a
#: TLS service on an unusual port costs about 17 s. With a ``timeout`` below that, the waits are
#: capped at ``timeout`` through a copy of nmap's probe file (``--versiondb``).
NMAP_DEFAULT_WAIT_MS = 6000
#: The probes of the risk pass (names in nmap-service-probes), cheapest and likeliest first. Each
#: identifies a risky class nmap only probes for on its registered ports: SMBProgNeg is the probe
#: whose answers name PostgreSQL; TerminalServer is kept only as TerminalServerCookie's fallback.
RISK_PROBES = ("SMBProgNeg", "redis-server", "mongodb", "Memcache", "ms-sql-s", "oracle-tns", "TerminalServerCookie")
RISK_FALLBACKS = ("TerminalServer",)
#: Seconds each risk probe waits for an answer (capped by the settings' ``timeout``): databases and
#: RDP answer a request at once, and only a silent listener waits out every probe.
RISK_PROBE_WAIT = 1.5
#: The banner (NULL probe) was already waited for in step 2; step 3 gives it this long.
RISK_NULL_WAIT = 0.3


@dataclass(frozen=True)
class PortScanTarget:
    """One host to port-scan, with what to scan.

    Attributes:
        host: the host name (or IP literal) as registered.
        address: the address from ``resolve``; None to resolve ``host``.
        ports: "top-100", "top-1000", "all" or the port numbers (the platform's ``ports``).
        method: "connect" or "syn" (``[scan] port_scan``).
        udp: also scan ``udp_ports`` (``[scan] udp``).
        udp_ports: the UDP ports of the opt-in scan (SNMP).
        one_session: another family declared services on this host (a mail server's ports), whose
            sessions are held to one at a time (``scanner.politeness``): nmap's probes of those
            ports take their turn instead of running beside a mail session.
    """

    host: str
    address: str | None
    ports: str | tuple[int, ...] = "top-1000"
    method: str = "connect"
    udp: bool = False
    udp_ports: tuple[int, ...] = UDP_PORTS
    one_session: bool = False

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint, platform: Platform, settings: ScanSettings) -> PortScanTarget:
        scan = port_scan_settings(settings)
        return cls(
            host=endpoint.host,
            address=endpoint.address,
            ports=port_settings(platform).ports,
            method=scan.method,
            udp=scan.udp,
            one_session=any(Endpoint.for_service(platform, s).host == endpoint.host for s in platform.services),
        )

    @property
    def key(self) -> tuple[object, ...]:
        """The fact-cache key: one nmap run per host per scan (platforms sharing a host and its
        port range share it too)."""
        return ("ports", self.host, self.address, self.ports, self.method, self.udp, self.udp_ports)

    @property
    def spec(self) -> str:
        return describe_spec(self.ports)


# -- preflight ------------------------------------------------------------------------------------


def nmap_path() -> str | None:
    """nmap on PATH (python-nmap would also try /usr/bin/nmap; a scan uses what PATH says)."""
    return shutil.which("nmap")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def nmap_missing() -> Message:
    return say(
        "ports.nmap.missing",
        "nmap is not installed (not found on PATH), so the ports checks cannot run; install it with `{command}`.",
        command=INSTALL_HINT,
    )


def cannot_run(settings: ScanSettings) -> Message | None:
    """Why the ports checks cannot run here with these settings, in one sentence; None if they can."""
    if nmap_path() is None:
        return nmap_missing()
    scan = port_scan_settings(settings)
    return privilege_problem(scan.method, scan.udp)


def preflight_problem(settings: ScanSettings) -> str | None:
    """``cannot_run`` as the one line ``platscan scan`` prints before a scan."""
    problem = cannot_run(settings)
    return None if problem is None else str(problem)


def privilege_problem(method: str, udp: bool) -> Message | None:
    if is_root() or (method != "syn" and not udp):
        return None
    if method == "syn" and udp:
        return say(
            "ports.root.syn_udp",
            'A SYN scan (port_scan = "syn") and a UDP scan (udp = true) need root, and platscan runs as an '
            'ordinary user: run it as root (sudo), or set port_scan = "connect" and udp = false in [scan].',
        )
    if method == "syn":
        return say(
            "ports.root.syn",
            'A SYN scan (port_scan = "syn") needs root, and platscan runs as an ordinary user: run it as root '
            '(sudo), or set port_scan = "connect" in [scan].',
        )
    return say(
        "ports.root.udp",
        "A UDP scan (udp = true) needs root, and platscan runs as an ordinary user: run it as root (sudo), "
        "or set udp = false in [scan].",
    )


# -- nmap arguments (pure) -------------------------------------------------------------------------


def scan_address(address: str) -> str:
    """``address`` as nmap must get it: one IP address. Anything else (a name, range, CIDR) is refused."""
    return str(ipaddress.ip_address(address))


def is_ipv6(address: str) -> bool:
    return ipaddress.ip_address(address).version == 6


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def timing_args(settings: ScanSettings, host_timeout: float) -> list[str]:
    rtt = min(max(settings.timeout, 0.5), 30.0)  # nmap's per-probe round-trip limit: the settings' timeout
    return [
        "--max-retries",
        str(settings.retries),
        "--initial-rtt-timeout",
        _ms(min(1.0, rtt)),
        "--max-rtt-timeout",
        _ms(rtt),
        "--host-timeout",
        _ms(host_timeout),
    ]


def port_args(ports: str | Sequence[int]) -> list[str]:
    if ports == "top-100":
        return ["--top-ports", "100"]
    if ports == "top-1000":
        return ["--top-ports", "1000"]
    if ports == "all":
        return ["-p", "1-65535"]
    if isinstance(ports, str):
        raise ValueError(f"unknown port range {ports!r}")
    return ["-p", describe_spec(ports)]


def nmap_args(
    address: str,
    settings: ScanSettings,
    host_timeout: float,
    *,
    scan_type: str,
    ports: Sequence[str],
    intensity: int | None = None,
    versiondb: Path | None = None,
    scripts: Sequence[str] = (),
) -> list[str]:
    """The one shape of every ``nmap`` run: XML on stdout, no DNS, no host discovery, one IP ``address`` (IPv6
    with ``-6``), the settings' timing and ``host_timeout``.

    ``scan_type``: ``-sT``, ``-sS`` or ``-sU``; ``ports``: the port selection (``port_args``, or ``-p`` and a
    list); ``intensity``: service detection (``-sV``) at that version intensity, with ``versiondb`` as nmap's
    probe file when given; ``scripts``: the NSE scripts to run, with a script timeout scaled to the settings'.
    """
    version = (
        []
        if intensity is None
        else ["-sV", "--version-intensity", str(intensity), *(["--versiondb", str(versiondb)] if versiondb else [])]
    )
    nse = (
        ["--script", ",".join(scripts), "--script-timeout", _ms(max(2.0, min(2 * settings.timeout, host_timeout)))]
        if scripts
        else []
    )
    return [
        "-oX",
        "-",
        "-n",
        "-Pn",
        scan_type,
        *(["-6"] if is_ipv6(address) else []),
        *ports,
        *version,
        *nse,
        *timing_args(settings, host_timeout),
        scan_address(address),
    ]


def _tcp_scan_type(target: PortScanTarget) -> str:
    return "-sS" if target.method == "syn" else "-sT"


def discovery_args(target: PortScanTarget, address: str, settings: ScanSettings, host_timeout: float) -> list[str]:
    """``nmap`` arguments for the TCP port discovery of ``address``."""
    return nmap_args(address, settings, host_timeout, scan_type=_tcp_scan_type(target), ports=port_args(target.ports))


def service_args(
    target: PortScanTarget,
    address: str,
    ports: Sequence[int],
    settings: ScanSettings,
    host_timeout: float,
    versiondb: Path | None = None,
) -> list[str]:
    """``nmap`` arguments for service/version detection on the open TCP ``ports`` only."""
    return nmap_args(
        address,
        settings,
        host_timeout,
        scan_type=_tcp_scan_type(target),
        ports=["-p", describe_spec(ports)],
        intensity=VERSION_INTENSITY,
        versiondb=versiondb,
        scripts=SERVICE_SCRIPTS,
    )


def udp_args(
    target: PortScanTarget, address: str, settings: ScanSettings, host_timeout: float, versiondb: Path | None = None
) -> list[str]:
    """``nmap`` arguments for the opt-in UDP scan (SNMP), with service detection (needs root)."""
    return nmap_args(
        address,
        settings,
        host_timeout,
        scan_type="-sU",
        ports=["-p", describe_spec(target.udp_ports)],
        intensity=VERSION_INTENSITY,
        versiondb=versiondb,
    )


def risk_probe_args(
    target: PortScanTarget,
    address: str,
    ports: Sequence[int],
    settings: ScanSettings,
    host_timeout: float,
    versiondb: Path,
) -> list[str]:
    """``nmap`` arguments for the risk probes (``versiondb`` from ``risk_probe_db``) on ``ports``."""
    return nmap_args(
        address,
        settings,
        host_timeout,
        scan_type=_tcp_scan_type(target),
        ports=["-p", describe_spec(ports)],
        intensity=RISK_PROBE_INTENSITY,
        versiondb=versiondb,
    )


def risk_wait_ms(settings: ScanSettings) -> int:
    return round(min(RISK_PROBE_WAIT, max(0.5, settings.timeout)) * 1000)


def risk_probe_time(settings: ScanSettings) -> float:
    """Seconds the risk pass takes on a port that never answers (every probe waits in turn)."""
    return RISK_NULL_WAIT + len(RISK_PROBES) * risk_wait_ms(settings) / 1000 + 1.0


def risk_probes(text: str, wait_ms: int) -> str:
    """nmap-service-probes cut to the NULL probe and ``RISK_PROBES`` (sent on every port, waiting
    ``wait_ms``) plus ``RISK_FALLBACKS`` (never sent), keeping the header's ``Exclude``. Pure."""
    sections = re.split(r"(?m)^(?=Probe )", text)
    by_name: dict[str, str] = {}
    for section in sections[1:]:
        words = section.split(None, 3)
        if len(words) >= 3 and words[1] == "TCP":
            by_name.setdefault(words[2], section)
    wanted = [("NULL", 1, round(RISK_NULL_WAIT * 1000))]
    wanted += [(name, 1, wait_ms) for name in RISK_PROBES]
    wanted += [(name, 9, wait_ms) for name in RISK_FALLBACKS]
    out = [sections[0] if sections and not sections[0].startswith("Probe ") else ""]
    for name, rarity, wait in wanted:
        if name in by_name:
            out.append(_retimed(by_name[name], rarity, wait))
    return "".join(out)


def _retimed(section: str, rarity: int, wait_ms: int) -> str:
    """One probe section with its rarity and wait replaced and its port lists dropped (it applies
    to every port)."""
    dropped = ("rarity ", "ports ", "sslports ", "totalwaitms ", "tcpwrappedms ")
    lines: list[str] = []
    for line in section.split("\n"):
        if line.startswith(dropped):
            continue
        lines.append(line)
        if line.startswith("Probe "):
            lines += [f"rarity {rarity}", f"totalwaitms {wait_ms}"]
    return "\n".join(lines)


def probe_wait_ms(settings: ScanSettings) -> int | None:
    """The cap on nmap's per-probe waits for these settings; None to keep nmap's own (6 s / 5 s)."""
    cap = round(max(1.0, settings.timeout) * 1000)
    return cap if cap < NMAP_DEFAULT_WAIT_MS else None


def capped_probes(text: str, cap_ms: int) -> str:
    """nmap-service-probes with every probe waiting at most ``cap_ms`` for its answer. Pure."""
    out: list[str] = []
    sections = re.split(r"(?m)^(?=Probe )", text)
    for section in sections:
        lines = section.split("\n")
        if not section.startswith("Probe "):
            out.append(section)
            continue
        has_wait = any(line.startswith("totalwaitms ") for line in lines)
        fixed: list[str] = []
        for line in lines:
            if line.startswith("totalwaitms "):
                line = f"totalwaitms {min(int(line.split()[1]), cap_ms)}"
            elif line.startswith("tcpwrappedms "):
                line = f"tcpwrappedms {min(int(line.split()[1]), max(500, cap_ms - 500))}"
            fixed.append(line)
            if line.startswith("Probe ") and not has_wait:
                fixed.append(f"totalwaitms {cap_ms}")
        out.append("\n".join(fixed))
    return "".join(out)


def probe_db(cap_ms: int | None) -> Path | None:
    """A copy of nmap's probe file with capped waits, cached per user; None to use nmap's own."""
    if cap_ms is None:
        return None
    return _derived_probe_file(f"{cap_ms}ms", lambda text: capped_probes(text, cap_ms))


def risk_probe_db(wait_ms: int) -> Path | None:
    """The risk pass's probe file (``risk_probes``), cached per user; None when it cannot be made."""
    return _derived_probe_file(f"risk-{wait_ms}ms", lambda text: risk_probes(text, wait_ms))


def _derived_probe_file(tag: str, derive: Callable[[str], str]) -> Path | None:
    dirs = [os.environ.get("NMAPDIR", ""), *NMAP_DATA_DIRS]
    source = next(
        (Path(d) / "nmap-service-probes" for d in dirs if d and (Path(d) / "nmap-service-probes").is_file()), None
    )
    if source is None:
        return None
    stat = source.stat()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "platscan"
    target = cache / f"nmap-service-probes-{tag}-{stat.st_size}-{int(stat.st_mtime)}"
    if target.is_file():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = derive(source.read_text(encoding="latin-1"))
        write_atomically(target, text.encode("latin-1"), mode=0o600)
    except OSError:
        return None  # no writable cache: nmap's own waits, slower but correct
    return target


# -- running nmap --------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class NmapProcess:
    """One nmap run in the background; ``finish`` waits for it (killing it at its limit)."""

    def __init__(self, binary: str, args: Sequence[str], limit: float) -> None:
        self.args = tuple(args)
        self.started = time.monotonic()
        self.limit = limit
        # preexec_fn is only safe without other threads; in a worker process there are none.
        preexec: Callable[[], None] | None = (
            _die_with_parent if sys.platform.startswith("linux") and threading.active_count() == 1 else None
        )
        self.process = subprocess.Popen(
            [binary, *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
        )

    def finish(self) -> NmapRun:
        remaining = max(0.0, self.started + self.limit - time.monotonic())
        killed = False
        try:
            out, err = self.process.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            killed = True
            self.process.kill()
            out, err = self.process.communicate()
        return NmapRun(
            args=self.args,
            xml=out.decode("utf-8", "replace"),
            stderr=shorten(err.decode("utf-8", "replace"), MAX_STDERR),
            returncode=None if killed else self.process.returncode,
            elapsed=time.monotonic() - self.started,
            killed=killed,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.communicate(timeout=5)


# -- banners -------------------------------------------------------------------------------------


def read_banners(
    address: str,
    ports: Sequence[int],
    wait: float = BANNER_WAIT_SECONDS,
    quiet: float = BANNER_QUIET_SECONDS,
    max_bytes: int = MAX_BANNER_BYTES,
) -> dict[int, bytes]:
    """What each TCP port sends on connect without being asked, within ``wait`` seconds overall.

    A port is done when it closes, sent ``max_bytes``, or was ``quiet`` for a moment after speaking.
    Silent ports (HTTP, TLS, most databases) give b"".
    """
    family = socket.AF_INET6 if is_ipv6(address) else socket.AF_INET
    deadline = time.monotonic() + wait
    received: dict[int, bytes] = {}
    last_data: dict[int, float] = {}
    open_socks: dict[int, socket.socket] = {}
    with selectors.DefaultSelector() as selector:

        def done(port: int) -> None:
            sock = open_socks.pop(port, None)
            if sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(sock)
                sock.close()

        try:
            for port in list(ports)[:MAX_BANNER_PORTS]:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                if sock.connect_ex((address, port)) not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                    sock.close()
                    continue
                open_socks[port] = sock
                selector.register(sock, selectors.EVENT_READ, port)
            while open_socks:
                now = time.monotonic()
                if now >= deadline:
                    break
                for port in [p for p in open_socks if p in last_data and now - last_data[p] >= quiet]:
                    done(port)
                for key, _ in selector.select(min(deadline - now, quiet)):
                    port = key.data
                    sock = open_socks[port]
                    try:
                        chunk = sock.recv(max_bytes - len(received.get(port, b"")))
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        chunk = b""
                    if chunk:
                        received[port] = received.get(port, b"") + chunk
                        last_data[port] = time.monotonic()
                    if not chunk or len(received.get(port, b"")) >= max_bytes:
                        done(port)
        finally:
            for port in list(open_socks):
                done(port)
    return received


# -- the collector -------------------------------------------------------------------------------


def resolve(host: str) -> str:
    """The address to scan: the IP literal itself, else the first IPv4 address, else the first one."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, "no address")  # as the resolver says of a name without one
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET:
            return str(sockaddr[0])
    return str(infos[0][4][0])


def collect_ports(target: PortScanTarget, settings: ScanSettings, budget: float) -> PortScanFacts:
    """Port-scan one host within ``budget`` seconds and return its facts; every failure is a fact,
    not an exception. (A duration, not a deadline: a clock reading means nothing on another machine.)
    """
    started = time.monotonic()
    deadline = started + budget
    scanned_at = dt.datetime.now(dt.UTC)
    if target.one_session:
        try:
            with one_at_a_time(target.address or target.host, budget):
                outcome = scan_host(target, settings, deadline)
        except Busy:
            busy = say("ports.scan.busy", "another session with {host} held it past the time budget", host=target.host)
            outcome = (ScanStatus.FAILED, busy, target.address)
    else:
        outcome = scan_host(target, settings, deadline)
    if isinstance(outcome, RawScan):
        return facts_from_raw(outcome)
    status, reason, address = outcome
    return failed_scan(
        target.host,
        address,
        target.spec,
        target.method,
        status,
        reason,
        udp=target.udp,
        scanned_at=scanned_at,
        duration=time.monotonic() - started,
    )


#: What getaddrinfo says of a name that has no address: the usual DNS failure, said in any language.
_UNKNOWN_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})


def _resolver_error(exc: OSError | ValueError) -> Text:
    """Why ``resolve`` failed: an unknown name in words, else the resolver's own (data)."""
    if isinstance(exc, socket.gaierror):
        if exc.errno in _UNKNOWN_NAME:
            return say("ports.dns.unknown_name", "the name is not known")
        return str(exc.strerror or exc)
    if isinstance(exc, OSError):
        return network_error(exc)
    return str(exc)  # ipaddress's words on a malformed address


def scan_host(
    target: PortScanTarget, settings: ScanSettings, deadline: float
) -> RawScan | tuple[ScanStatus, Text, str | None]:
    """Run the nmap scans of one host within ``deadline``: the raw runs, or why they could not start."""
    started = time.monotonic()
    scanned_at = dt.datetime.now(dt.UTC)
    binary = nmap_path()
    if binary is None:
        return ScanStatus.FAILED, nmap_missing(), None
    problem = privilege_problem(target.method, target.udp)
    if problem:
        return ScanStatus.FAILED, problem, None
    try:
        address = scan_address(target.address) if target.address else resolve(target.host)
    except (OSError, ValueError) as exc:
        unresolved = say(
            "ports.scan.unresolved",
            "The host name {host} does not resolve ({cause}).",
            host=target.host,
            cause=_resolver_error(exc),
        )
        return ScanStatus.DNS_FAILURE, unresolved, None

    budget = deadline - started - SAFETY_SECONDS
    if budget < MIN_DISCOVERY_SECONDS:
        no_time = say("ports.scan.no_time", "No time was left in the endpoint's time budget to port-scan.")
        return ScanStatus.TIMED_OUT, no_time, address
    discovery_limit = min(budget, max(MIN_DISCOVERY_SECONDS, budget * DISCOVERY_SHARE))
    end = started + budget

    rtt = min(max(settings.timeout, 0.5), 30.0)
    versiondb = probe_db(probe_wait_ms(settings))

    def host_timeout(limit: float, grace: float) -> float:
        return max(1.0, limit - grace)

    running: list[NmapProcess] = []
    try:
        udp_proc = None
        if target.udp:
            udp_timeout = host_timeout(budget, SERVICE_GRACE_SECONDS)
            udp_proc = NmapProcess(binary, udp_args(target, address, settings, udp_timeout, versiondb), budget)
            running.append(udp_proc)
        disc_timeout = host_timeout(discovery_limit, max(DISCOVERY_GRACE_SECONDS, rtt))
        disc_proc = NmapProcess(binary, discovery_args(target, address, settings, disc_timeout), discovery_limit)
        running.append(disc_proc)
        discovery = disc_proc.finish()
        open_tcp = _open_tcp_ports(discovery)

        services = probes = None
        probes_skipped: Text = ""
        banners: dict[int, bytes] = {}
        skipped: Text = ""
        left = end - time.monotonic()
        if len(open_tcp) > MAX_SERVICE_PORTS:
            skipped = say(
                "ports.detection.tarpit",
                "Service detection was skipped: {count} ports answered as open, which usually means a firewall "
                "that accepts every connection.",
                count=len(open_tcp),
            )
            banners = read_banners(address, open_tcp, wait=min(BANNER_WAIT_SECONDS, max(0.0, left - 0.5)))
        elif open_tcp and left >= MIN_SERVICE_SECONDS:
            sv_timeout = host_timeout(left, SERVICE_GRACE_SECONDS)
            sv_proc = NmapProcess(
                binary, service_args(target, address, open_tcp, settings, sv_timeout, versiondb), left
            )
            running.append(sv_proc)
            banners = read_banners(address, open_tcp, wait=min(BANNER_WAIT_SECONDS, max(0.5, left / 4)))
            services = sv_proc.finish()
            probes, probes_skipped = _risk_pass(binary, target, address, settings, services, end, running)
        elif open_tcp:
            skipped = say(
                "ports.detection.no_time",
                "Service detection was skipped: only {seconds:.0f} s of the endpoint's time budget was left after "
                "the port scan.",
                seconds=max(0.0, left),
            )
            banners = read_banners(address, open_tcp, wait=min(BANNER_WAIT_SECONDS, max(0.0, left - 0.5)))
        udp = udp_proc.finish() if udp_proc else None
    finally:
        for proc in running:
            proc.kill()
    return RawScan(
        host=target.host,
        address=address,
        spec=target.spec,
        method=target.method,
        discovery=discovery,
        services=services,
        probes=probes,
        probes_skipped=probes_skipped,
        udp=udp,
        banners=banners,
        detection_skipped=skipped,
        scanned_at=scanned_at,
        duration=time.monotonic() - started,
    )


def _risk_pass(
    binary: str,
    target: PortScanTarget,
    address: str,
    settings: ScanSettings,
    services: NmapRun,
    end: float,
    running: list[NmapProcess],
) -> tuple[NmapRun | None, Text]:
    """Step 3 on the ports service detection left unnamed: the run, or why it did not run."""
    unnamed = unnamed_ports(services)
    if not unnamed:
        return None, ""
    left = end - time.monotonic()
    needed = risk_probe_time(settings)
    if left < needed:
        return None, say(
            "ports.probes.no_time",
            "The risk probes were not sent to {ports}: {left:.0f} s of the endpoint's time budget was left and "
            "they need up to {needed:.0f} s.",
            ports=[f"{port}/tcp" for port in unnamed],
            left=max(0.0, left),
            needed=needed,
        )
    versiondb = risk_probe_db(risk_wait_ms(settings))
    if versiondb is None:
        return None, say(
            "ports.probes.no_file", "The risk probes were not sent: nmap's nmap-service-probes file was not found."
        )
    # The probes wait in turn, so the pass needs ``needed`` whatever the number of ports; the host
    # timeout leaves one probe's wait of grace before the hard limit.
    grace = risk_wait_ms(settings) / 1000 + 1.0
    proc = NmapProcess(
        binary, risk_probe_args(target, address, unnamed, settings, max(1.0, left - grace), versiondb), left
    )
    running.append(proc)
    return proc.finish(), ""


def unnamed_ports(services: NmapRun) -> list[int]:
    """The open TCP ports service detection did not name (tcpwrapped excluded: they hang up at once)."""
    if services.killed:
        return []
    try:
        parsed = parse_nmap_xml(services.xml)
    except NmapOutputError:
        return []
    if parsed.timed_out:
        return []
    return [p.port for p in parsed.ports if p.proto == "tcp" and p.state == "open" and not _named(p)]


def _named(port: PortFacts) -> bool:
    return port.identified or port.service == "tcpwrapped"


def _open_tcp_ports(run: NmapRun) -> list[int]:
    if run.killed:
        return []
    try:
        parsed = parse_nmap_xml(run.xml)
    except NmapOutputError:
        return []
    if parsed.timed_out:
        return []
    return [p.port for p in parsed.ports if p.proto == "tcp" and p.state == "open"]
