"""A small store built in the test: four platforms over three scans, so that grades, partial coverage,
compliance, what is new and fixed, the trend and expiring certificates all have something to show.

Scan 1 -> 2 -> 3: motcua fixes TLS 1.0/1.1 in scan 3; mail's certificate starts expiring in scan 3
(new); yte could not be reached in scan 3 (TLS not tested: partial grade); dvc stays clean apart
from OCSP stapling. Server-supplied text carries markup, which every renderer must escape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scanner.criteria import load_profile
from scanner.model import Platform, Result, ScanStatus, Severity, Status
from scanner.runner import save_scores
from scanner.store import Store

PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example/","click")'

PLATFORMS = (
    Platform(id="dvc", name="Cổng Dịch vụ công tỉnh", owner="Sở Khoa học và Công nghệ", level=3, tags=("citizen",)),
    Platform(id="motcua", name="Hệ thống thông tin giải quyết TTHC", owner="Văn phòng UBND tỉnh", level=3),
    Platform(id="mail", name="Official E-mail System", owner="Department of Science and Technology", level=3),
    Platform(id="yte", name="Health Sector Database", owner="Department of Health", level=2),
)
TLS_CHECKS = (
    ("tls.https_available", Severity.HIGH),
    ("tls.protocol_legacy", Severity.HIGH),
    ("tls.protocol_tls13", Severity.LOW),
    ("tls.cipher_cbc", Severity.LOW),
    ("tls.cert_expired", Severity.CRITICAL),
    ("tls.cert_expiring", Severity.MEDIUM),
    ("tls.cert_untrusted", Severity.HIGH),
    ("tls.ocsp_stapling", Severity.LOW),
    ("tls.cert_revoked", Severity.CRITICAL),
)


def _cert(host: str, days_left: int) -> dict[str, Any]:
    not_after = datetime.now(UTC) + timedelta(days=days_left, hours=12)
    return {
        "certificate": {
            "subject": f"CN={host},O=Nghe An Test PKI",
            "issuer": "CN=Nghe An Test Issuing CA,O=Nghe An Test PKI",
            "not_after": not_after.isoformat(timespec="seconds"),
            "sha256": f"{abs(hash(host)):064x}"[:64],
            "san": [host],
        }
    }


def _results(scan: int, criteria: Mapping[str, tuple[str, ...]]) -> list[Result]:
    out: list[Result] = []

    def add(platform: str, check: str, status: Status, detail: str, evidence: Mapping[str, Any] | None = None) -> None:
        severity = dict(TLS_CHECKS)[check]
        host = f"https://{platform}.nghean.example/"
        out.append(
            Result(
                check=check,
                platform=platform,
                endpoint=host,
                status=status,
                severity=severity,
                title=check,
                detail=detail,
                evidence=dict(evidence or {}),
                remediation="Stored remediation.\nnginx: `ssl_protocols TLSv1.2 TLSv1.3;`",
                criteria=criteria.get(check, ()),
            )
        )

    for platform in ("dvc", "motcua", "mail", "yte"):
        host = f"{platform}.nghean.example"
        if platform == "yte" and scan == 3:
            for check, _ in TLS_CHECKS:
                add(platform, check, Status.ERROR, "connection timed out after 3 seconds")
            continue
        legacy = platform == "motcua" and scan < 3
        add(platform, "tls.https_available", Status.PASS, "A TLS handshake succeeds.")
        add(
            platform,
            "tls.protocol_legacy",
            Status.FAIL if legacy else Status.PASS,
            "TLS 1.0 and TLS 1.1 are accepted." if legacy else "TLS 1.0 and TLS 1.1 are refused.",
            {"accepted_versions": ["TLS 1.0", "TLS 1.1", "TLS 1.2"] if legacy else ["TLS 1.2", "TLS 1.3"]},
        )
        add(platform, "tls.protocol_tls13", Status.PASS, "TLS 1.3 is accepted.")
        add(platform, "tls.cipher_cbc", Status.FAIL if legacy else Status.PASS, "2 CBC-mode suites accepted.")
        days = 12 if platform == "mail" and scan == 3 else 80
        add(platform, "tls.cert_expired", Status.PASS, "The certificate is valid.", _cert(host, days))
        add(
            platform,
            "tls.cert_expiring",
            Status.FAIL if days < 30 else Status.PASS,
            f"The certificate expires in {days} days.",
            _cert(host, days),
        )
        untrusted = platform == "yte"
        add(
            platform,
            "tls.cert_untrusted",
            Status.FAIL if untrusted else Status.PASS,
            f"The certificate is self-signed ('{PAYLOAD}')." if untrusted else "The chain is trusted.",
            {"subject": f"CN={PAYLOAD}", "server": FORMULA} if untrusted else {},
        )
        add(platform, "tls.ocsp_stapling", Status.PASS if platform == "dvc" else Status.FAIL, "No OCSP staple.")
        add(platform, "tls.cert_revoked", Status.SKIP, "Not tested: the server staples no OCSP response.")
    return out


def build_store(path: Path, scans: int = 3, platforms: Sequence[Platform] = PLATFORMS) -> Store:
    """A store at ``path`` with ``scans`` complete scans of ``platforms`` (graded, as a real scan is)."""
    criteria = load_profile("vn-baseline").criteria_by_check()
    store = Store(path)
    for number in range(1, scans + 1):
        scan_id = store.begin_scan("targets.toml", {"profile": "vn-baseline"}, {}, list(platforms))
        wanted = {p.id for p in platforms}
        store.add_results(scan_id, [r for r in _results(number, criteria) if r.platform in wanted])
        save_scores(store, scan_id)
        store.finish_scan(scan_id, ScanStatus.COMPLETE)
    return store
