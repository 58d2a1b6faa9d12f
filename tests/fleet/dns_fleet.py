"""The DNS fleet: test zones on a real authoritative server (nsd), behind a real validating resolver
(unbound) that trusts the test zones' key, both on free 127.0.0.1 ports.

Usage::

    zones = {
        "good.test": "www A 127.0.0.1\\nwww AAAA ::1\\n@ CAA 0 issue \\"ca.test\\"",
        "bogus.test": "www A 127.0.0.1",
        "plain.test": "www A 127.0.0.1",
    }
    with DnsFleet(tmp_path, zones, signed={"good.test", "bogus.test"}, bogus={"bogus.test"}) as fleet:
        fleet.resolver        # "127.0.0.1:PORT": unbound, validating (AD for good.test, SERVFAIL for bogus.test)
        fleet.authoritative   # "127.0.0.1:PORT": nsd, which never validates (no AD, bogus answered)
        # [scan] dns_servers = [fleet.resolver] in a targets file

Zone text is relative to the zone's name (``@`` is the apex, names without a final dot are inside
it) with a default TTL of 60 s. A zone without SOA and NS gets them (``ns.test.``). Every zone must
lie under ``test.`` (RFC 2606: never on the Internet). The fleet serves ``test.`` itself, signed:
it delegates each zone (from the closest enclosing zone given, else from ``test.``) and publishes a
DS for each signed zone, except those in ``unpublished`` (signed, DNSKEY present, no DS: an
island that validators treat as unsigned). unbound's only trust anchor is ``test.``'s key, so
the chain of trust runs as on the Internet: ``test.`` -> DS -> the zone's DNSKEY -> its records.

Signing is ldns's (``ldns-keygen``, one ECDSA P-256 key per zone as KSK and ZSK, and
``ldns-signzone`` with NSEC): dnspython 2.9 signs only with ``cryptography`` 50 or later, which
sslyze does not accept. A zone in ``bogus`` is signed, then every RRSIG over an A, AAAA, MX, TXT or CAA record set is
corrupted (one bit of the signature flipped): validators answer SERVFAIL, and an answer with CD
set (checking disabled) still carries the records.

unbound sends every query to nsd (a stub zone for ``.`` and one per zone), so nothing is ever
asked of the Internet. Both processes run in the foreground, in a session of their own, and are
killed with it on exit; startup waits (bounded) until each answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.RRSIG
import dns.rrset
import dns.zone

from tests.fleet.nginx import LOOPBACK

NSD = "/usr/sbin/nsd"
UNBOUND = "/usr/sbin/unbound"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"
PARENT = "test."
NS_NAME = "ns.test."
TTL = 60
STARTUP_SECONDS = 15.0
#: Record types whose signatures a bogus zone has corrupted (what the checks look up).
CORRUPTED = frozenset({dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.CAA})


def dns_fleet_available() -> str | None:
    """Why the fleet cannot run here (a missing program), or None."""
    missing = [path for path in (NSD, UNBOUND, LDNS_KEYGEN, LDNS_SIGNZONE) if not os.access(path, os.X_OK)]
    return f"missing {', '.join(missing)} (apt-get install nsd unbound ldnsutils)" if missing else None


def free_udp_tcp_port(host: str = LOOPBACK) -> int:
    """A port free for both UDP and TCP a moment ago (DNS listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for UDP and TCP")


class DnsFleet:
    """nsd with the test zones, and unbound validating in front of it (see the module docstring)."""

    def __init__(
        self,
        workdir: Path,
        zones: Mapping[str, str],
        *,
        signed: Collection[str] = (),
        bogus: Collection[str] = (),
        unpublished: Collection[str] = (),
    ) -> None:
        self.workdir = Path(workdir) / "dns-fleet"
        self.zones = {_absolute(name): text for name, text in zones.items()}
        self.bogus = {_absolute(name) for name in bogus}
        self.unpublished = {_absolute(name) for name in unpublished}
        self.signed = {_absolute(name) for name in signed} | self.bogus | self.unpublished
        for name in self.signed:
            if name not in self.zones:
                raise ValueError(f"{name} is not one of the zones")
        for name in self.zones:
            if name == PARENT or not name.endswith("." + PARENT):
                raise ValueError(f"zone {name} must lie under {PARENT}")
        self.auth_port = 0
        self.resolver_port = 0
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def authoritative(self) -> str:
        """nsd: a server that never validates DNSSEC (the "resolver does not validate" case)."""
        return f"{LOOPBACK}:{self.auth_port}"

    @property
    def resolver(self) -> str:
        """unbound: the validating resolver, trusting ``test.``'s key."""
        return f"{LOOPBACK}:{self.resolver_port}"

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of nsd and unbound while the fleet runs."""
        return tuple(process.pid for process in self._processes)

    def __enter__(self) -> DnsFleet:
        problem = dns_fleet_available()
        if problem:
            raise RuntimeError(problem)
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        try:
            anchor = self._write_zones()
            self.auth_port = free_udp_tcp_port()
            self._start(self._nsd_config(), self.authoritative, [NSD, "-d", "-c"], "nsd")
            self.resolver_port = free_udp_tcp_port()
            self._start(self._unbound_config(anchor), self.resolver, [UNBOUND, "-d", "-c"], "unbound")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for process in reversed(self._processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self._processes.clear()

    def query(
        self, name: str, rdtype: str, *, server: str | None = None, cd: bool = False, timeout: float = 3.0
    ) -> dns.message.Message:
        """One query (DO set, and CD when asked) to the resolver, or to ``server``; for self-tests."""
        address, _, port = (server or self.resolver).rpartition(":")
        request = dns.message.make_query(name, rdtype, want_dnssec=True)
        if cd:
            request.flags |= dns.flags.CD
        return dns.query.udp(request, address, port=int(port), timeout=timeout)

    # -- zones ------------------------------------------------------------------------------------

    def _write_zones(self) -> str:
        """Build, sign and write every zone and ``test.``; return ``test.``'s trust anchor (DS)."""
        built = {name: _parse(name, text) for name, text in self.zones.items()}
        parent_zone = _parse(PARENT, f"ns A {LOOPBACK}")
        everything = {**built, PARENT: parent_zone}
        # Children before parents: a parent's DS is made from its child's signed DNSKEY.
        for name in sorted(everything, key=lambda n: -len(dns.name.from_text(n).labels)):
            zone = everything[name]
            if name != PARENT:
                parent = everything[_enclosing(name, everything)]
                _delegate(parent, zone, None)
            if name in self.signed or name == PARENT:
                key = _sign(zone, self.workdir, corrupt=name in self.bogus)
                if name != PARENT and name not in self.unpublished:
                    _delegate(everything[_enclosing(name, everything)], zone, key)
            (self.workdir / f"{name}zone").write_text(zone.to_text(relativize=False))
        apex = dns.name.from_text(PARENT)
        dnskeys = parent_zone.find_rdataset(apex, dns.rdatatype.DNSKEY)
        ds = dns.dnssec.make_ds(apex, next(iter(dnskeys)), "SHA256")
        return f"{PARENT} DS {ds.to_text()}"

    # -- processes --------------------------------------------------------------------------------

    def _nsd_config(self) -> Path:
        work = self.workdir
        lines = [
            "server:",
            f"  ip-address: {LOOPBACK}@{self.auth_port}",
            "  do-ip6: no",
            "  server-count: 1",
            '  username: ""',
            '  chroot: ""',
            f'  zonesdir: "{work}"',
            f'  pidfile: "{work}/nsd.pid"',
            '  database: ""',
            f'  zonelistfile: "{work}/zone.list"',
            f'  xfrdfile: "{work}/xfrd.state"',
            f'  xfrdir: "{work}"',
            f'  logfile: "{work}/nsd.log"',
            "  hide-version: yes",
            "  verbosity: 1",
            "remote-control:",
            "  control-enable: no",
        ]
        for name in [PARENT, *sorted(self.zones)]:
            lines += ["zone:", f'  name: "{name}"', f'  zonefile: "{work}/{name}zone"']
        path = work / "nsd.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _unbound_config(self, anchor: str) -> Path:
        work = self.workdir
        lines = [
            "server:",
            f"  interface: {LOOPBACK}",
            f"  port: {self.resolver_port}",
            "  do-ip6: no",
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            f'  directory: "{work}"',
            f'  pidfile: "{work}/unbound.pid"',
            f'  logfile: "{work}/unbound.log"',
            "  use-syslog: no",
            "  verbosity: 1",
            "  val-log-level: 2",
            "  num-threads: 1",
            "  access-control: 127.0.0.0/8 allow",
            "  do-not-query-localhost: no",
            '  module-config: "validator iterator"',
            f'  trust-anchor: "{anchor}"',
            # unbound answers test. itself (NXDOMAIN, RFC 6761) unless told not to.
            f'  local-zone: "{PARENT}" nodefault',
            "  qname-minimisation: no",
            "  aggressive-nsec: no",
            "  val-permissive-mode: no",
            # A test's failed lookup (a server still starting) must not be answered from cache.
            "  cache-max-negative-ttl: 0",
            "  infra-host-ttl: 1",
            "  prefetch: no",
            "remote-control:",
            "  control-enable: no",
        ]
        for name in [".", PARENT, *sorted(self.zones)]:
            lines += ["stub-zone:", f'  name: "{name}"', f"  stub-addr: {LOOPBACK}@{self.auth_port}"]
        path = work / "unbound.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _start(self, config: Path, server: str, command: list[str], label: str) -> None:
        log = (self.workdir / f"{label}.out").open("wb")
        process = subprocess.Popen(
            [*command, str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._processes.append(process)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{label} exited with {process.returncode}: {self._log(label)}")
            try:
                self.query(PARENT, "SOA", server=server, timeout=0.3)
                return
            except (OSError, dns.exception.DNSException):
                time.sleep(0.1)
        raise RuntimeError(f"{label} did not answer within {STARTUP_SECONDS:g} s: {self._log(label)}")

    def _log(self, label: str) -> str:
        texts = []
        for path in (self.workdir / f"{label}.out", self.workdir / f"{label}.log"):
            if path.exists():
                texts.append(path.read_text(errors="replace")[-2000:])
        return " | ".join(texts)


def _absolute(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _parse(name: str, text: str) -> dns.zone.Zone:
    """The zone ``name`` from ``text``, with a default SOA and NS when it has none."""
    if not re.search(r"\bSOA\b", text):
        text = f"@ SOA {NS_NAME} hostmaster.test. 1 3600 600 86400 {TTL}\n@ NS {NS_NAME}\n{text}"
    return dns.zone.from_text(f"$TTL {TTL}\n{text}\n", origin=name, relativize=False, check_origin=True)


def _enclosing(name: str, zones: Mapping[str, dns.zone.Zone]) -> str:
    """The closest zone of ``zones`` that encloses ``name`` (``test.`` at the least)."""
    parent = dns.name.from_text(name).parent()
    while parent.to_text() not in zones:
        parent = parent.parent()
    return parent.to_text()


def _delegate(parent: dns.zone.Zone, child: dns.zone.Zone, key: dns.rdtypes.ANY.DNSKEY.DNSKEY | None) -> None:
    """Delegate ``child`` from ``parent`` (NS), and with ``key`` publish its DS there."""
    origin = child.origin
    assert origin is not None
    with parent.writer() as txn:
        if key is None:
            ns = child.find_rdataset(origin, dns.rdatatype.NS)
            txn.replace(origin, ns)
        else:
            ds = dns.dnssec.make_ds(origin, key, "SHA256")
            txn.replace(origin, dns.rrset.from_rdata(origin, TTL, ds))


def _sign(zone: dns.zone.Zone, workdir: Path, *, corrupt: bool) -> dns.rdtypes.ANY.DNSKEY.DNSKEY:
    """Sign ``zone`` in place with a fresh ECDSA P-256 key (ldns-keygen; one key as KSK and ZSK)
    and ldns-signzone; with ``corrupt``, break the signatures over the records the checks look up.
    Returns the DNSKEY."""
    origin = zone.origin
    assert origin is not None
    name = origin.to_text()
    keys = workdir / "keys"
    keys.mkdir(exist_ok=True)
    made = _run([LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", "-r", "/dev/urandom", name], keys)
    base = keys / made.strip().splitlines()[-1]
    unsigned, signed = workdir / f"{name}unsigned", workdir / f"{name}signed"
    unsigned.write_text(zone.to_text(relativize=False))
    now = int(time.time())
    _run(
        [
            LDNS_SIGNZONE,
            "-i",
            str(now - 3600),
            "-e",
            str(now + 30 * 86400),
            "-o",
            name,
            "-f",
            str(signed),
            *[str(unsigned), str(base)],
        ],
        workdir,
    )
    result = dns.zone.from_file(str(signed), origin=origin, relativize=False)
    if corrupt:
        _corrupt(result)
    zone.nodes.clear()
    zone.nodes.update(result.nodes)
    fields = Path(f"{base}.key").read_text().split()
    found = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, " ".join(fields[fields.index("DNSKEY") + 1 :]))
    assert isinstance(found, dns.rdtypes.ANY.DNSKEY.DNSKEY)
    return found


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _corrupt(zone: dns.zone.Zone) -> None:
    """Flip one bit of every signature over the record sets in ``CORRUPTED``."""
    for node in zone.nodes.values():
        for rdataset in list(node.rdatasets):
            if rdataset.rdtype != dns.rdatatype.RRSIG or rdataset.covers not in CORRUPTED:
                continue
            broken = []
            for rrsig in rdataset:
                assert isinstance(rrsig, dns.rdtypes.ANY.RRSIG.RRSIG)
                signature = bytearray(rrsig.signature)
                signature[len(signature) // 2] ^= 0x01
                broken.append(rrsig.replace(signature=bytes(signature)))
            node.replace_rdataset(dns.rdataset.from_rdata_list(rdataset.ttl, broken))
