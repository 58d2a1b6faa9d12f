"""Benchmark: the ports family on one host and on a fleet of hosts, through platscan's CLI.

Each host is a loopback address of its own (127.0.0.2, 127.0.0.10, 127.0.0.11, …: Linux routes all of
127.0.0.0/8 to the loopback interface) with five listeners on ports of nmap's top 1000: FTP (2121),
SSH (2222), telnet (2323), MySQL (3306) and HTTP (8080), speaking enough of their protocols for nmap
to name them. Nothing else listens on those addresses unless a process bound the wildcard address;
ports found open that way are reported and left alone (they are not in the scanned list).

It times, with ``platscan scan --only ports`` (the real CLI, engine, collector workers, nmap, store):

1. one platform: a top-1000 connect scan, then service detection on the 5 open ports;
2. a fleet of N platforms (default 20), one host each, in one scan (``concurrency`` = N).

and prints both, with the slowest host's own collection time within the fleet scan (target: the family
adds no more than the slowest host's time to a fleet scan: hosts in parallel, not in series). On
loopback the listeners and all N nmap processes share the machine's cores, so each host is slower in
the fleet than alone; on a real network the hosts are other machines and the scan waits on the network.

Usage: .venv/bin/python benchmarks/ports_bench.py [--platforms 20] [--repeat 3] [--timeout 10] [--concurrency N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the listeners live in the test fleet

from tests.fleet.ports_fleet import (
    FTP_GREETING,
    SSH_GREETING,
    TELNET_GREETING,
    BannerServer,
    ftp_responder,
    http_responder,
    mysql_greeting,
    ssh_responder,
    telnet_responder,
)

SERVICES = {
    2121: lambda host: BannerServer(FTP_GREETING, ftp_responder, host=host, port=2121),
    2222: lambda host: BannerServer(SSH_GREETING, ssh_responder, host=host, port=2222),
    2323: lambda host: BannerServer(TELNET_GREETING, telnet_responder, host=host, port=2323),
    3306: lambda host: BannerServer(mysql_greeting(), host=host, port=3306),
    8080: lambda host: BannerServer(responder=http_responder(), close_after_reply=True, host=host, port=8080),
}


def addresses(count: int) -> list[str]:
    return [f"127.0.0.{10 + n}" for n in range(count)]


@contextlib.contextmanager
def hosts(addrs: list[str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for addr in addrs:
            for start in SERVICES.values():
                try:
                    stack.enter_context(start(addr))
                except OSError as exc:
                    raise SystemExit(
                        f"cannot listen on {addr}: {exc} (is the port taken on the wildcard address?)"
                    ) from None
        yield


def write_targets(path: Path, addrs: list[str], timeout: float, concurrency: int) -> Path:
    lines = [
        "[scan]",
        f"timeout = {timeout:g}",
        "retries = 1",
        f"concurrency = {concurrency}",
        "endpoint_timeout = 180",
    ]
    for n, addr in enumerate(addrs):
        host = f"bench{n}.ports.test"
        lines += [
            "",
            "[[platforms]]",
            f'id = "bench{n}"',
            f'name = "Benchmark platform {n}"',
            f'hosts = ["{host}"]',
            'ports = "top-1000"',
            "allowed_ports = [8080]",
            f'resolve = {{ "{host}" = "{addr}" }}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_scan(targets: Path, db: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "scanner", "scan", str(targets), "--db", str(db), "--only", "ports", "--quiet"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def host_times(db: Path) -> dict[str, tuple[float, int, str]]:
    """endpoint -> (its collection time, open ports found, service detection), from the stored results."""
    out: dict[str, tuple[float, int, str]] = {}
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select endpoint, max(duration), max(case when check_id = 'ports.unexpected_open' then evidence end) "
            "from results group by endpoint"
        ).fetchall()

    for endpoint, duration, evidence in rows:
        doc = json.loads(evidence or "{}")
        out[endpoint] = (float(duration), len(doc.get("open_ports", [])), str(doc.get("service_detection", "?")))
    return out


def foreign_ports(addr: str) -> list[int]:
    """Ports of SERVICES something else already answers on at ``addr`` (a wildcard listener)."""
    taken = []
    for port in SERVICES:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((addr, port)) == 0:
                taken.append(port)
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=10, help="[scan] timeout (10: nmap's own probe waits)")
    parser.add_argument("--concurrency", type=int, help="[scan] concurrency (default: one per platform)")
    args = parser.parse_args()
    concurrency = args.concurrency or max(8, args.platforms)
    fleet = addresses(args.platforms)
    taken = foreign_ports("127.0.0.2") + [p for a in fleet for p in foreign_ports(a)]
    if taken:
        raise SystemExit(f"other processes answer on the benchmark's ports {sorted(set(taken))}; free them first")
    with tempfile.TemporaryDirectory(prefix="platscan-ports-bench-") as tmp:
        work = Path(tmp)
        single_targets = write_targets(work / "single.toml", ["127.0.0.2"], args.timeout, concurrency)
        fleet_targets = write_targets(work / "fleet.toml", fleet, args.timeout, concurrency)
        singles, fleets, slowest = [], [], []
        with hosts(["127.0.0.2", *fleet]):
            for attempt in range(args.repeat):
                singles.append(run_scan(single_targets, work / f"single{attempt}.db"))
                db = work / f"fleet{attempt}.db"
                fleets.append(run_scan(fleet_targets, db))
                per_host = host_times(db)
                slowest.append(max(t for t, _, _ in per_host.values()))
                found = {n for _, n, _ in per_host.values()}
                detection = {d for _, _, d in per_host.values()}
                if found != {len(SERVICES)} or detection != {"complete"}:
                    raise SystemExit(f"unexpected scan result: open ports {found}, service detection {detection}")
        single_hosts = host_times(work / f"single{args.repeat - 1}.db")
    one, many, worst = statistics.median(singles), statistics.median(fleets), statistics.median(slowest)
    (host_collect,) = [t for t, _, _ in single_hosts.values()]
    print(f"ports family, timeout = {args.timeout:g} s, concurrency = {concurrency} (median of {args.repeat}):")
    print(
        f"  1 platform: top-1000 + -sV on {len(SERVICES)} open ports   {one:6.2f} s   "
        f"runs: {', '.join(f'{t:.2f}' for t in singles)}   (its nmap collection: {host_collect:.2f} s)"
    )
    print(
        f"  {args.platforms} platforms, one host each            {many:6.2f} s   "
        f"runs: {', '.join(f'{t:.2f}' for t in fleets)}"
    )
    print(f"  slowest host's collection within the fleet scan {worst:6.2f} s")
    print(
        f"  fleet wall time - slowest host = {many - worst:+.2f} s "
        f"(target: hosts in parallel, the family costs about its slowest host; in series it would be "
        f"~{one * args.platforms:.0f} s)"
    )
    print(f"  fleet / single platform alone = {many / one:.2f}")


if __name__ == "__main__":
    main()
