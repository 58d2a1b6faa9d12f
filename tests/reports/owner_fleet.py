"""A stored scan of five platforms for the owner's and the fleet page: real check ids with the
installed catalogue (caps, texts, remediation with placeholders), waivers in force, expired and
stale, a platform with its own go-live bar, a host that did not resolve, one that was unreachable.

- cong (F, 25): an expired certificate (critical, cap F), TLS 1.0/1.1 (high, cap B), no HSTS
  (high; its detail carries markup), no OCSP stapling (low; an advisory requirement), a
  security.txt warning (low); the waiver for its HSTS failure has expired.
- hcc (F, 77): exposed sensitive files (critical, cap F) and no OCSP stapling.
- dvc (B, 80): TLS 1.0/1.1 only, and its own bar ``[platforms.gate] min_grade = "A"``.
- motcua (A, partial: 14 of 17 tested): its certificate names another host (high, cap F) and its CSP is weak, both
  waived (the first lapses in 10 days); its database host did not resolve, so the ports and auth
  checks could not run, with one reason; its waiver for TLS 1.0/1.1 is stale (that check passes).
- yte (no grade): every check timed out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from reports.render import render_report
from reports.view import FleetView
from scanner.criteria import load_profile
from scanner.model import GateSettings, Platform, Result, ScanStatus, Status
from scanner.plugin import discover_checks
from scanner.runner import save_scores
from scanner.store import Store
from scanner.waivers import Waiver
from tests.reports.test_html import assert_self_contained_and_inert

PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
DNS_ERROR = "could not resolve db.motcua.nghean.example: no such name"
TODAY = dt.datetime.now(dt.UTC).date()


def url(platform: str) -> str:
    return f"https://{platform}.nghean.example/"


PLATFORMS = (
    Platform(
        id="cong",
        name="Cổng thông tin điện tử tỉnh",
        owner="Văn phòng UBND tỉnh",
        level=3,
        urls=(url("cong"),),
        hosts=("mail.cong.nghean.example",),
    ),
    Platform(id="hcc", name="Trung tâm Phục vụ hành chính công", owner="Văn phòng UBND tỉnh", urls=(url("hcc"),)),
    Platform(
        id="dvc",
        name="Cổng Dịch vụ công tỉnh",
        owner="Sở Khoa học và Công nghệ",
        urls=(url("dvc"),),
        gate=GateSettings(min_grade="A"),
    ),
    Platform(
        id="motcua",
        name="Hệ thống thông tin giải quyết TTHC",
        owner="Văn phòng UBND tỉnh",
        urls=(url("motcua"),),
        hosts=("db.motcua.nghean.example",),
    ),
    Platform(id="yte", name="Health Sector Database", owner="Department of Health", level=2, urls=(url("yte"),)),
)

#: Checks every graded platform passes unless it says otherwise.
PASSING = (
    "tls.https_available",
    "tls.protocol_ssl",
    "tls.protocol_legacy",
    "tls.cert_expired",
    "tls.cert_hostname_mismatch",
    "tls.ocsp_stapling",
    "http.hsts",
    "http.csp",
    "http.content_type_options",
    "http.sensitive_files",
    "http.security_txt",
    "http.frame_ancestors",
    "http.referrer_policy",
    "http.cookie_flags",
    "tls.cert_untrusted",
    "auth.login_https",
)
#: platform -> check -> (status, detail, endpoint or None for the platform's URL)
OUTCOMES: dict[str, dict[str, tuple[Status, str, str | None]]] = {
    "cong": {
        "tls.cert_expired": (Status.FAIL, "The certificate expired 12 days ago.", None),
        "tls.protocol_legacy": (Status.FAIL, "TLS 1.0 and TLS 1.1 are accepted.", None),
        "http.hsts": (Status.FAIL, f"No Strict-Transport-Security header ({PAYLOAD}).", None),
        "tls.ocsp_stapling": (Status.FAIL, "No OCSP staple.", None),
        "http.security_txt": (Status.WARN, "security.txt has no Expires field.", None),
        "ports.database_exposed": (Status.PASS, "No database port is open.", "mail.cong.nghean.example"),
    },
    "hcc": {
        "http.sensitive_files": (Status.FAIL, "/.git/config is readable.", None),
        "tls.ocsp_stapling": (Status.FAIL, "No OCSP staple.", None),
    },
    "dvc": {"tls.protocol_legacy": (Status.FAIL, "TLS 1.0 and TLS 1.1 are accepted.", None)},
    "motcua": {
        "tls.cert_hostname_mismatch": (Status.FAIL, "The certificate is for portal.other.example.", None),
        "http.csp": (Status.FAIL, "The CSP allows 'unsafe-inline' scripts.", None),
        "ports.database_exposed": (Status.ERROR, DNS_ERROR, "db.motcua.nghean.example"),
        "ports.unexpected_open": (Status.ERROR, DNS_ERROR, "db.motcua.nghean.example"),
        "auth.form_action_https": (Status.ERROR, DNS_ERROR, "db.motcua.nghean.example"),
    },
}


def waiver(platform: str, check: str, days: int, line: int, reason: str = "Replacement server ordered") -> Waiver:
    return Waiver(platform, check, "*", reason, "Giám đốc Sở KH&CN", TODAY + dt.timedelta(days=days), line)


WAIVERS = (
    waiver("motcua", "tls.cert_hostname_mismatch", 10, 3, f"New certificate requested {PAYLOAD}"),
    waiver("motcua", "http.*", 200, 10),
    waiver("cong", "http.hsts", -5, 17),
    waiver("motcua", "tls.protocol_legacy", 90, 24),
)


def _results() -> Iterator[Result]:
    entries = {check.id: check.entry() for check in discover_checks().checks}
    criteria = load_profile("vn-baseline").criteria_by_check()

    def result(platform: str, check: str, status: Status, detail: str, endpoint: str | None) -> Result:
        entry = entries[check]
        return Result(
            check=check,
            platform=platform,
            endpoint=endpoint or url(platform),
            status=status,
            severity=entry.severity,
            title=entry.title,
            detail=detail,
            remediation=entry.remediation,
            criteria=criteria.get(check, ()),
        )

    for platform in ("cong", "hcc", "dvc", "motcua"):
        own = OUTCOMES[platform]
        for check in PASSING:
            if check not in own:
                yield result(platform, check, Status.PASS, "Fine.", None)
        for check, (status, detail, endpoint) in own.items():
            yield result(platform, check, status, detail, endpoint)
    for check in PASSING:
        yield result("yte", check, Status.ERROR, "connection timed out after 3 seconds", None)


def build_owner_fleet(path: Path) -> Store:
    """A store at ``path`` with one complete, graded scan of ``PLATFORMS`` (the fleet's first)."""
    store = Store(path)
    catalogue = [check.entry() for check in discover_checks().checks]
    settings = {"profile": "vn-baseline", "waivers": [w.to_json() for w in WAIVERS]}
    scan_id = store.begin_scan("targets.toml", settings, {}, list(PLATFORMS), catalogue)
    store.add_results(scan_id, list(_results()))
    save_scores(store, scan_id)
    store.finish_scan(scan_id, ScanStatus.COMPLETE)
    return store


def write_pages(fleet: FleetView, workdir: Path) -> dict[str, Path]:
    """The fleet's HTML in both languages under ``workdir``: lang -> its fleet page (platform pages
    beside it), each page checked self-contained and inert."""
    files = {}
    for lang in ("en", "vi"):
        main = workdir / f"fleet.{lang}.html"
        for out in render_report("html", fleet, lang, None, main.name):
            path = workdir / out.name if out.name else main
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(out.text, encoding="utf-8")
            assert_self_contained_and_inert(out.text)
        files[lang] = main
    return files
