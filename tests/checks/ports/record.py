"""Record the nmap runs the ports judge tests replay (``tests/checks/ports/data/*.json``).

Run as root (the SNMP case needs a UDP scan and port 161) from the repository root::

    .venv/bin/python -m tests.checks.ports.record

Each file is one ``RawScan.to_json()`` (the XML of every nmap run, the banners, the metadata) plus
``cases``: which fleet case listened on which port.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from checks.ports._collect import PortScanTarget, is_root, scan_host
from checks.ports.facts import RawScan
from scanner.demo.pki import LeafSpec, Pki
from scanner.demo.tls_server import SilentServer, TlsServer, TlsServerConfig
from scanner.plugin import ScanSettings
from tests.fleet.nginx import free_port
from tests.fleet.ports_fleet import SnmpServer, start_ports_fleet

DATA = Path(__file__).parent / "data"
SETTINGS = ScanSettings(timeout=3, retries=0)


def record(name: str, target: PortScanTarget, cases: Mapping[str, int], seconds: float, note: str) -> None:
    raw = scan_host(target, SETTINGS, time.monotonic() + seconds)
    if not isinstance(raw, RawScan):
        raise SystemExit(f"{name}: the scan did not start: {raw}")
    doc: dict[str, Any] = {"note": note, "cases": dict(cases), **raw.to_json()}
    (DATA / f"{name}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{name}: {raw.duration:.1f} s")


@contextlib.contextmanager
def tls_server(workdir: Path) -> Iterator[int]:
    pki = Pki.create(workdir / "pki", organization="platscan ports recording")
    leaf = pki.issue("tls", LeafSpec(hosts=("tls.ports.test",)))
    config = TlsServerConfig(
        cert_chain=pki.write_chain(leaf), key=leaf.key_path, headers={"Server": "Apache/2.4.29 (Ubuntu)"}
    )
    with TlsServer(config) as server:
        yield server.port


def main() -> None:
    DATA.mkdir(exist_ok=True)
    with start_ports_fleet() as fleet:
        cases = {name: running.port for name, running in fleet.cases.items()}
        record(
            "fleet",
            PortScanTarget("fleet.ports.test", "127.0.0.1", tuple(sorted(cases.values()))),
            cases,
            60,
            "every listener of tests/fleet/ports_fleet.py on one host",
        )
    with start_ports_fleet(["web"]) as fleet, SilentServer() as silent:
        cases = {"web": fleet["web"].port, "silent": silent.port}
        record(
            "sv_timeout",
            PortScanTarget("slow.ports.test", "127.0.0.1", tuple(sorted(cases.values()))),
            cases,
            14,
            "an endpoint budget of 14 s: discovery completes; -sV gets a --host-timeout of about 5 s, which a "
            "silent listener outlasts (five probes of 3 s each), so nmap gives up on the host and lists no port",
        )
    closed = free_port()
    record(
        "closed",
        PortScanTarget("closed.ports.test", "127.0.0.1", (closed,)),
        {"closed": closed},
        30,
        "a port nobody listens on: the host answers (RST), nothing is open",
    )
    with tempfile.TemporaryDirectory() as tmp, tls_server(Path(tmp)) as port:
        record(
            "tls",
            PortScanTarget("tls.ports.test", "127.0.0.1", (port,)),
            {"https": port},
            60,
            "Python ssl HTTPS server sending 'Server: Apache/2.4.29 (Ubuntu)': nmap tunnels through TLS",
        )
    if is_root():
        with start_ports_fleet(["web"]) as fleet, SnmpServer():
            cases = {"web": fleet["web"].port, "snmp": 161}
            record(
                "snmp",
                PortScanTarget("snmp.ports.test", "127.0.0.1", (fleet["web"].port,), udp=True),
                cases,
                60,
                "udp = true, as root: an SNMPv1 agent answering community 'public' on UDP 161",
            )
    else:
        print("snmp: skipped (needs root)")


if __name__ == "__main__":
    main()
