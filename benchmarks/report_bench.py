"""Benchmark: build the report view and render the HTML fleet report of a large synthetic store.

Builds (once; reused with --db) a store of N platforms x M results x S scans through
``scanner.store.Store`` in bulk: each platform has two URLs (the 28 TLS checks on each) and a host
(ports checks), statuses mostly pass with realistic shares of fail, warn, error and skip that drift
a little from scan to scan (so "new" and "fixed" are not empty), severities from the checks, and
evidence of a few hundred bytes. Then times, on the latest scan:

- ``reports.view.build()`` (queries, scoring, compliance, new/fixed, history);
- the fleet page alone, and the whole HTML report (fleet page + one page per platform);
- the CSV report;

and prints the seconds (target: build + fleet page <= 3 s) and the sizes.

Usage: .venv/bin/python benchmarks/report_bench.py [--platforms 500] [--results 60] [--scans 10] [--db FILE]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reports import csv_report, html
from reports.catalogue import installed_entries
from reports.view import build
from scanner.criteria import load_profile
from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.plugin import discover_checks
from scanner.runner import save_scores
from scanner.store import Store

PORTS_CHECKS = (
    ("ports.unexpected_open", Severity.MEDIUM),
    ("ports.cleartext_service", Severity.HIGH),
    ("ports.database_exposed", Severity.CRITICAL),
    ("ports.remote_admin_exposed", Severity.HIGH),
    ("ports.version_disclosure", Severity.LOW),
)
# Shares of statuses for a check's first verdict; then each scan flips ~5% of them.
STATUS_WEIGHTS = ((Status.PASS, 75), (Status.FAIL, 12), (Status.WARN, 2), (Status.ERROR, 3), (Status.SKIP, 8))
OWNERS = (
    "Sở Khoa học và Công nghệ",
    "Văn phòng UBND tỉnh",
    "Sở Y tế",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
    "Sở Tài chính",
)


def _evidence(rng: random.Random, host: str, check: str, status: Status) -> dict[str, Any]:
    not_after = datetime.now(UTC) + timedelta(days=rng.randint(-20, 400))
    evidence: dict[str, Any] = {
        "target": f"{host}:443",
        "address": f"10.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "certificate": {
            "subject": f"CN={host},O=UBND tinh Nghe An",
            "issuer": "CN=Government Issuing CA,O=Ban Co yeu Chinh phu",
            "not_after": not_after.isoformat(timespec="seconds"),
            "sha256": f"{rng.getrandbits(256):064x}",
            "san": [host, f"www.{host}"],
            "key": rng.choice(["RSA 2048", "RSA 3072", "EC 256"]),
        },
    }
    if check.startswith("tls.protocol") or check.startswith("tls.cipher"):
        evidence["accepted_versions"] = ["TLS 1.2", "TLS 1.3"] if status == Status.PASS else ["TLS 1.0", "TLS 1.2"]
        evidence["suites"] = [f"TLS_ECDHE_RSA_WITH_AES_{n}_GCM_SHA{s}" for n, s in ((128, 256), (256, 384))]
    if check == "tls.cert_expiring":
        evidence["days_left"] = (not_after - datetime.now(UTC)).days
    return evidence


def _checks() -> list[tuple[str, Severity]]:
    tls = [(c.id, c.severity) for c in discover_checks().checks if c.family == "tls"]
    return tls


def populate(path: Path, platforms: int, results: int, scans: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    tls = _checks()
    per_url = (results - len(PORTS_CHECKS[:4])) // 2
    tls = tls[:per_url]
    fleet = [
        Platform(
            id=f"p{i:04d}",
            name=f"Nền tảng dùng chung số {i} — Hệ thống thông tin {rng.choice(['một cửa', 'thư điện tử', 'CSDL'])}",
            owner=rng.choice(OWNERS),
            contact=f"ops@p{i:04d}.nghean.example",
            level=rng.choice((2, 3, 3, 4)),
            urls=(f"https://p{i:04d}.nghean.example/", f"https://api.p{i:04d}.nghean.example/"),
        )
        for i in range(platforms)
    ]
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    state: dict[tuple[str, str, str], Status] = {}
    criteria = load_profile("vn-baseline").criteria_by_check()
    with Store(path) as store:
        for _ in range(scans):
            scan_id = store.begin_scan("bench.toml", {"profile": "vn-baseline"}, {}, fleet)
            batch: list[Result] = []
            for platform in fleet:
                host = platform.urls[0].split("/")[2]
                units = [(url, check, sev) for url in platform.urls for check, sev in tls]
                units += [(host, check, sev) for check, sev in PORTS_CHECKS[: results - len(units)]]
                for endpoint, check, severity in units:
                    key = (platform.id, check, endpoint)
                    status = state.get(key) or rng.choices(statuses, weights)[0]
                    if rng.random() < 0.05:
                        status = rng.choices(statuses, weights)[0]
                    state[key] = status
                    batch.append(
                        Result(
                            check=check,
                            platform=platform.id,
                            endpoint=endpoint,
                            status=status,
                            severity=severity,
                            title=check,
                            detail=f"{check} on {endpoint}: {status.value}.",
                            evidence=_evidence(rng, host, check, status),
                            remediation="See the check's remediation.",
                            criteria=criteria.get(check, ()),
                            duration=rng.random(),
                        )
                    )
            store.add_results(scan_id, batch)
            save_scores(store, scan_id)
            store.finish_scan(scan_id, ScanStatus.COMPLETE)


def timed(label: str, fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - started
    print(f"{label:<42} {elapsed:7.2f} s")
    return value, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", type=int, default=500)
    parser.add_argument("--results", type=int, default=60, help="results per platform per scan")
    parser.add_argument("--scans", type=int, default=10)
    parser.add_argument("--db", type=Path, help="store to use; built if it does not exist")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if not db.exists():
            timed(
                f"populate {args.platforms} x {args.results} x {args.scans}",
                lambda: populate(db, args.platforms, args.results, args.scans),
            )
        profile = load_profile("vn-baseline")
        installed_entries()  # check discovery (entry points) is not what this measures
        with Store(db) as store:
            scan = store.scan()
            rows = store.db.execute("select count(*) from results").fetchone()[0]
            print(f"store: {db.stat().st_size / 1e6:.0f} MB, {rows} results, scan {scan.id} is the latest")
            fleet, t_build = timed("build() (view of the latest scan)", lambda: build(store, scan, profile))
        fleet_html, t_page = timed("fleet page (HTML)", lambda: html.render_fleet_page(fleet, "en", "fleet.html"))
        everything, t_all = timed("whole HTML report (fleet + platform pages)", lambda: html.render_fleet(fleet, "en"))
        csv_text, _ = timed("CSV report", lambda: csv_report.render(fleet, "en"))
        total = sum(len(text.encode()) for _, text in everything)
        print(f"{'build() + fleet page':<42} {t_build + t_page:7.2f} s   (target <= 3 s)")
        print(f"{'build() + whole HTML report':<42} {t_build + t_all:7.2f} s")
        print(
            f"fleet page: {len(fleet_html.encode()) / 1e6:.2f} MB; whole HTML report: {len(everything)} files, "
            f"{total / 1e6:.1f} MB; CSV: {len(csv_text.encode()) / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
