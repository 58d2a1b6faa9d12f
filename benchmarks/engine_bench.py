"""Benchmark: what the scan engine adds on top of the tools it drives, on local servers only.

Everything runs on loopback: HTTPS sites (pure-Python test servers with certificates from a test CA,
the security headers of ``http_bench.py``) on 127.0.0.1 and other 127.x addresses, and the sslyze
CLI and ``platscan scan`` as subprocesses. In one run it measures:

1. one TLS+HTTP endpoint: ``platscan scan --only tls`` (a one-platform targets file) against
   sslyze's own CLI with the scan commands platscan's TLS family runs (``tls_bench.SSLYZE_COMMANDS``)
   on the same endpoint, alternating, median of ``--repeat``. Target: ratio <= 1.3.
2. the same endpoint with ``platscan scan --only tls,http`` against the same sslyze time. Target: <= 1.5.
3. scheduling: a fleet of ``--platforms`` platforms (default 50), every family (tls, http, ports,
   auth: its anonymous checks need no credentials), each platform on its own 127.0.1.x address with
   its own HTTPS site (and, when port 80 can be bound, a plain-HTTP twin that redirects to it). Every
   platform is quick but one: each port scan covers only ``--closed-port`` (closed, so nmap's
   service detection has nothing to probe; the test servers' open ports would each cost nmap -sV
   20-40 s of probe timeouts, as they name no service nmap knows), and the slow platform, registered
   last, also has ``--slow-port``: a listener that accepts and never sends a byte, so -sV waits out
   every probe on it (about 27 s at the default timeout). At platscan's default concurrency
   (``--concurrency`` to change it), measured: (a) the slow platform alone (``--platform``) and
   (b) the whole fleet, each on a fresh SQLite --db, then (c) the fleet again on the database of
   (b): a scheduled re-scan, where the engine knows from the last complete scan how long each
   endpoint took and starts the longest first (in (b) it only has the families' typical durations,
   equal for every platform, so it keeps registry order and starts the slow platform last). Target
   for both fleet scans: fleet wall / slow platform alone <= 1.15 (the fleet does not end waiting
   for its one slow platform). Per fleet run it prints, from the stored results, the slow
   platform's time, when it started and its place in the finishing order.

With ``--with-tls-bench`` it also runs ``tls_bench.py``'s 20-endpoint comparison (its functions, in
this process) and adds that ratio (target <= 1.3). The table at the end gives each measurement with
platscan's time, the peer's time, the ratio and its target. The exit status is 0 whatever the
numbers (it is a measurement).

Usage: .venv/bin/python benchmarks/engine_bench.py [--repeat 3] [--platforms 50] [--fleet-repeat 1]
       [--timeout 10] [--concurrency N] [--slow-port 7999] [--closed-port 7998]
       [--with-tls-bench]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, when it is not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benchmarks, for their helpers

import http_bench
import tls_bench

from scanner.demo.http_server import HttpSiteServer
from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import ListenerBase, SilentServer, TlsServerConfig
from scanner.plugin import ScanSettings

SINGLE_ADDRESS = "127.0.2.1"
FLEET_NETWORK = "127.0.1."  # platform n listens on 127.0.1.(n + 1)


@dataclass(frozen=True)
class Site:
    """One running platform site: its host name, address, HTTPS port and plain-HTTP twin (port 80) if any."""

    host: str
    address: str
    port: int
    twin: bool


@dataclass(frozen=True)
class Row:
    label: str
    platscan: float
    peer: float | None
    peer_label: str
    target: float

    @property
    def ratio(self) -> float:
        return self.platscan / self.peer if self.peer else float("nan")


class Contacts:
    """When each host's servers were connected to, in ``time.perf_counter`` seconds: the scan engine
    stores no start times, so a platform's first and last contact tell when it was scanned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.times: dict[str, list[float]] = {}

    def watch(self, server: ListenerBase, host: str) -> None:
        handle = server.handle

        def noted(conn: socket.socket) -> None:
            with self._lock:
                self.times.setdefault(host, []).append(time.perf_counter())
            handle(conn)

        server.handle = noted  # type: ignore[method-assign]

    def clear(self) -> None:
        with self._lock:
            self.times.clear()

    def span(self, host: str, since: float) -> tuple[float, float]:
        """(first, last) contact with ``host``, in seconds after ``since``."""
        with self._lock:
            times = self.times.get(host) or [float("nan")]
            return min(times) - since, max(times) - since


def platscan_command() -> list[str]:
    """The ``platscan`` console script beside this Python (the command users run), else ``-m scanner``."""
    script = Path(sys.executable).with_name("platscan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "scanner"]


def sites(
    pki: Pki, hosts: list[tuple[str, str]], stack: contextlib.ExitStack, contacts: Contacts | None = None
) -> list[Site]:
    """An HTTPS site per (host name, address) on a port the OS picks, stopped with ``stack``; with a
    plain-HTTP twin on port 80 of its address when that port can be bound (root, and no wildcard
    listener on :80), so that the http family's plain-HTTP probe reaches a server of ours. With
    ``contacts``, every connection to a host's servers is noted there."""
    leaf = pki.issue("engine-bench", LeafSpec(hosts=tuple(host for host, _ in hosts)))
    config = TlsServerConfig(cert_chain=pki.write_chain(leaf), key=leaf.key_path, ciphers=tls_bench.MODERN)
    running = []
    for host, address in hosts:
        page = http_bench.site(host, 0, True)
        https = stack.enter_context(HttpSiteServer(page, context=config.context(), host=address))
        if contacts:
            contacts.watch(https, host)
        try:
            plain = stack.enter_context(HttpSiteServer(http_bench.site(host, https.port, False), host=address, port=80))
            twin = True
            if contacts:
                contacts.watch(plain, host)
        except OSError:
            twin = False
        running.append(Site(host, address, https.port, twin))
    return running


def url(site: Site) -> str:
    return f"https://{site.host}:{site.port}/"


def write_single_targets(path: Path, pki: Pki, site: Site) -> Path:
    lines = [
        "[scan]",
        "timeout = 5",
        f'ca_bundle = "{pki.bundle_path}"',
        "",
        "[[platforms]]",
        'id = "single"',
        f'name = "{site.host}"',
        f'urls = ["{url(site)}"]',
        f'resolve = {{ "{site.host}" = "{site.address}" }}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_fleet_targets(
    path: Path, pki: Pki, running: list[Site], ports: tuple[int, int], timeout: float, concurrency: int | None
) -> Path:
    """The fleet's targets file, the slow platform last. ``ports`` is (the closed port every
    platform's port scan covers, the silent port the last platform's scan also covers)."""
    closed, silent = ports
    lines = ["[scan]", f"timeout = {timeout:g}", f'ca_bundle = "{pki.bundle_path}"']
    if concurrency is not None:
        lines.append(f"concurrency = {concurrency}")
    for n, site in enumerate(running):
        scanned = [closed] + ([silent] if n == len(running) - 1 else [])
        allowed = [site.port] + ([80] if site.twin else [])
        lines += [
            "",
            "[[platforms]]",
            f'id = "{platform_id(site)}"',
            f'name = "Benchmark platform {n}"',
            f'urls = ["{url(site)}"]',
            f"ports = {scanned}",
            f"allowed_ports = {allowed}",
            f'resolve = {{ "{site.host}" = "{site.address}" }}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def platform_id(site: Site) -> str:
    return site.host.split(".")[0]


@dataclass(frozen=True)
class ScanTimes:
    """From the stored results of a database's last scan: each platform's time (its slowest
    endpoint's slowest family: an endpoint's families run at once, a family's checks one after the
    other) and the platforms in the order their last result was stored."""

    platforms: dict[str, float]
    finish_order: list[str]


def scan_times(db: Path) -> ScanTimes:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (scan_id,) = conn.execute("select max(id) from scans").fetchone()
        rows = conn.execute(
            "select platform_id, endpoint, check_id, duration, id from results where scan_id = ? order by id",
            [scan_id],
        ).fetchall()
    family_sums: dict[tuple[str, str, str], float] = {}
    last_stored: dict[str, int] = {}
    for platform, endpoint, check, duration, row_id in rows:
        key = (platform, endpoint, check.split(".")[0])
        family_sums[key] = family_sums.get(key, 0.0) + float(duration or 0.0)
        last_stored[platform] = row_id
    platforms: dict[str, float] = {}
    for (platform, _, _), seconds in family_sums.items():
        platforms[platform] = max(platforms.get(platform, 0.0), seconds)
    return ScanTimes(platforms, sorted(last_stored, key=last_stored.__getitem__))


def scan(targets: Path, db: Path, *options: str) -> float:
    command = [*platscan_command(), "scan", str(targets), "--db", str(db), "--quiet", *options]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=900)
    return time.perf_counter() - started


def runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def measure_single(work: Path, pki: Pki, repeat: int) -> list[Row]:
    """Measurements 1 and 2: one endpoint, platscan --only tls and --only tls,http against the sslyze CLI."""
    with contextlib.ExitStack() as stack:
        (site,) = sites(pki, [("single.bench.test", SINGLE_ADDRESS)], stack)
        targets = write_single_targets(work / "single.toml", pki, site)
        sslyze = [sys.executable, "-m", "sslyze", "--quiet", *tls_bench.SSLYZE_COMMANDS]
        sslyze += [f"--certinfo_ca_file={pki.bundle_path}", f"{site.host}:{site.port}{{{site.address}}}"]
        peer, tls, tls_http = [], [], []
        for attempt in range(repeat):
            peer.append(tls_bench.time_command(sslyze))
            tls.append(scan(targets, work / f"single-tls-{attempt}.db", "--only", "tls"))
            tls_http.append(scan(targets, work / f"single-tls-http-{attempt}.db", "--only", "tls,http"))
        twin = "with its plain-HTTP twin on :80" if site.twin else "nothing on :80"
        print(f"1 endpoint ({url(site)} on {site.address}, {twin}), median of {repeat}:")
        print(f"  sslyze CLI                  {statistics.median(peer):6.2f} s   runs: {runs(peer)}")
        print(f"  platscan --only tls         {statistics.median(tls):6.2f} s   runs: {runs(tls)}")
        print(f"  platscan --only tls,http    {statistics.median(tls_http):6.2f} s   runs: {runs(tls_http)}")
        s = statistics.median(peer)
        return [
            Row("1 endpoint: --only tls", statistics.median(tls), s, "sslyze CLI", 1.3),
            Row("1 endpoint: --only tls,http", statistics.median(tls_http), s, "sslyze CLI", 1.5),
        ]


def measure_fleet(
    work: Path,
    pki: Pki,
    count: int,
    repeat: int,
    timeout: float,
    concurrency: int | None,
    closed_port: int,
    slow_port: int,
) -> list[Row]:
    """Measurement 3: the slow platform alone, the whole fleet on a fresh database, and the fleet
    again on that database (a scheduled re-scan, with the first scan's durations as history)."""
    hosts = [(f"plat{n}.fleet.test", f"{FLEET_NETWORK}{n + 1}") for n in range(count)]
    with contextlib.ExitStack() as stack:
        contacts = Contacts()
        running = sites(pki, hosts, stack, contacts)
        slow_site = running[-1]  # registered last: scheduling in registry order would start it last
        try:
            contacts.watch(stack.enter_context(SilentServer(host=slow_site.address, port=slow_port)), slow_site.host)
        except OSError as exc:
            raise SystemExit(f"cannot listen on {slow_site.address}:{slow_port}: {exc} (try --slow-port)") from None
        targets = write_fleet_targets(work / "fleet.toml", pki, running, (closed_port, slow_port), timeout, concurrency)
        slow_id = platform_id(slow_site)
        alone: list[float] = []
        fleets: dict[str, list[float]] = {"first": [], "again": []}
        details: dict[str, list[tuple[ScanTimes, dict[str, tuple[float, float]]]]] = {"first": [], "again": []}
        alone_longest: list[float] = []
        for attempt in range(repeat):
            db = work / f"slow-{attempt}.db"
            alone.append(scan(targets, db, "--platform", slow_id))
            alone_longest.append(scan_times(db).platforms[slow_id])
            db = work / f"fleet-{attempt}.db"
            for run in ("first", "again"):  # "again": the same database, so the engine has history
                contacts.clear()
                began = time.perf_counter()
                fleets[run].append(scan(targets, db))
                spans = {platform_id(site): contacts.span(site.host, began) for site in running}
                details[run].append((scan_times(db), spans))
        twins = sum(site.twin for site in running)
        used_slots = concurrency or ScanSettings().concurrency
        used = f"{concurrency} (--concurrency)" if concurrency else f"{used_slots} (platscan's default)"
        print(
            f"fleet of {count} platforms on {FLEET_NETWORK}1-{count} (tls, http, ports, auth; timeout = {timeout:g} s, "
            f"concurrency = {used}), median of {repeat}:"
        )
        print(
            f"  each platform: its HTTPS site{f' and {twins} plain-HTTP twins on :80' if twins else ''}; its port scan "
            f"covers only port {closed_port} (closed: nothing for -sV to probe)"
        )
        print(
            f"  the slow one, {slow_id} (registered last): its port scan also covers port {slow_port}, "
            f"a listener that accepts and never answers"
        )
        print(
            f"  {'(a) slow platform alone':<36} {statistics.median(alone):6.2f} s   runs: {runs(alone)}"
            f"   (its checks: {statistics.median(alone_longest):.2f} s)"
        )
        labels = {"first": "(b) fleet, first scan (no history)", "again": "(c) fleet, re-scan (scheduled)"}
        for run, label in labels.items():
            print(f"  {label:<36} {statistics.median(fleets[run]):6.2f} s   runs: {runs(fleets[run])}")
            for times, spans in details[run]:
                quick = [seconds for platform, seconds in times.platforms.items() if platform != slow_id]
                last = times.finish_order[-1]
                print(
                    f"      {slow_id}: checks {times.platforms[slow_id]:.1f} s, its servers contacted "
                    f"{spans[slow_id][0]:.1f}-{spans[slow_id][1]:.1f} s after the start, results stored "
                    f"{times.finish_order.index(slow_id) + 1} of {len(times.finish_order)}"
                )
                print(
                    f"      the other {len(quick)}: checks {min(quick):.1f}-{max(quick):.1f} s each, "
                    f"{sum(quick):.0f} s in all ({sum(quick) / max(1, used_slots - 1):.1f} s on "
                    f"{used_slots - 1} slots); stored last: {last} "
                    f"(contacted {spans[last][0]:.1f}-{spans[last][1]:.1f} s)"
                )
        peer = statistics.median(alone)
        return [
            Row(
                f"fleet of {count}, 1st scan / slow alone", statistics.median(fleets["first"]), peer, "slow alone", 1.15
            ),
            Row(
                f"fleet of {count}, re-scan / slow alone", statistics.median(fleets["again"]), peer, "slow alone", 1.15
            ),
        ]


def measure_tls_bench(work: Path, count: int, repeat: int) -> Row:
    """tls_bench.py's comparison: ``count`` endpoints, one sslyze process against platscan --only tls."""
    with tls_bench.endpoints(work / "tls-bench", count) as (pki, running):
        targets = tls_bench.write_targets(work / "tls-bench.toml", pki, running)
        sslyze = [sys.executable, "-m", "sslyze", "--quiet", *tls_bench.SSLYZE_COMMANDS]
        sslyze += [f"--certinfo_ca_file={pki.bundle_path}", *(f"{h}:{p}{{127.0.0.1}}" for h, p in running)]
        peer, ours = [], []
        for attempt in range(repeat):
            peer.append(tls_bench.time_command(sslyze))
            ours.append(scan(targets, work / f"tls-bench-{attempt}.db", "--only", "tls"))
        print(f"tls_bench: {count} endpoints on 127.0.0.1, median of {repeat}:")
        print(f"  sslyze CLI           {statistics.median(peer):6.2f} s   runs: {runs(peer)}")
        print(f"  platscan --only tls  {statistics.median(ours):6.2f} s   runs: {runs(ours)}")
        p, s = statistics.median(ours), statistics.median(peer)
        return Row(f"{count} endpoints: --only tls", p, s, "sslyze CLI", 1.3)


def print_table(rows: list[Row]) -> None:
    header = f"{'measurement':<38} {'platscan s':>10} {'peer s':>8}  {'peer':<20} {'ratio':>6} {'target':>8}  ok"
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        peer = f"{row.peer:8.2f}" if row.peer else f"{'-':>8}"
        ok = "ok" if row.ratio <= row.target else "NOT OK"
        print(
            f"{row.label:<38} {row.platscan:10.2f} {peer}  {row.peer_label:<20} {row.ratio:6.2f} "
            f"{'<= ' + format(row.target, 'g'):>8}  {ok}"
        )


def port_free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((address, port)) != 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of measurements 1 and 2 (median)")
    parser.add_argument("--platforms", type=int, default=50, help="platforms in the fleet (at most 250)")
    parser.add_argument("--fleet-repeat", type=int, default=1, help="runs of measurement 3 (median)")
    parser.add_argument("--timeout", type=float, default=10, help="the fleet's [scan] timeout (platscan's default)")
    parser.add_argument("--concurrency", type=int, help="the fleet's [scan] concurrency (default: platscan's, 8)")
    parser.add_argument("--slow-port", type=int, default=7999, help="the slow platform's silent port")
    parser.add_argument("--closed-port", type=int, default=7998, help="a closed port: every platform's port scan")
    parser.add_argument("--with-tls-bench", action="store_true", help="also run tls_bench.py's 20-endpoint ratio")
    args = parser.parse_args()
    if not 1 <= args.platforms <= 250:
        parser.error("--platforms must be 1-250")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.closed_port == args.slow_port:
        parser.error("--closed-port and --slow-port must differ")
    if not port_free(f"{FLEET_NETWORK}{args.platforms}", args.slow_port):
        raise SystemExit(f"something already answers on port {args.slow_port}; pick another --slow-port")
    addresses = [f"{FLEET_NETWORK}{n + 1}" for n in range(args.platforms)]
    if not all(port_free(address, args.closed_port) for address in addresses):
        raise SystemExit(f"something answers on port {args.closed_port}; pick another --closed-port")
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="platscan-engine-bench-") as tmp:
        work = Path(tmp)
        pki = Pki.create(work / "pki", organization="platscan engine benchmark")
        rows += measure_single(work, pki, args.repeat)
        rows += measure_fleet(
            work,
            pki,
            args.platforms,
            args.fleet_repeat,
            args.timeout,
            args.concurrency,
            args.closed_port,
            args.slow_port,
        )
        if args.with_tls_bench:
            rows.append(measure_tls_bench(work, 20, args.repeat))
    print_table(rows)
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)")
    if not args.with_tls_bench:
        print("20-endpoint TLS ratio: add --with-tls-bench, or run")
        print("  .venv/bin/python benchmarks/tls_bench.py --memory-endpoints 0")


if __name__ == "__main__":
    main()
