"""What reports show, computed once from the store: grades, compliance, what changed, what expires.

Every renderer (JSON, HTML, CSV) reads these views, so a number means the same in each. Building
one costs a handful of indexed queries: the scan's results, the previous scan's verdicts (without
evidence) and the stored grades of recent scans; nothing loops over results more than once per pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scanner.assessment import assess_scan
from scanner.compliance import Compliance
from scanner.criteria import Profile
from scanner.gate import DEFAULT_MIN_GRADE
from scanner.model import CatalogueEntry, Result, Scan, ScanStatus, Severity, Status
from scanner.scoring import GRADE_ORDER, Caps, PlatformScore
from scanner.store import Store
from scanner.urls import UnusableUrl, normalize_host, parse
from scanner.waivers import Waiver

HISTORY_SCANS = 10
EXPIRY_WARNING_DAYS = 30

Key = tuple[str, str]  # (check, endpoint)


@dataclass(frozen=True)
class CertificateExpiry:
    platform: str
    endpoint: str
    subject: str
    not_after: str
    days_left: int


@dataclass(frozen=True)
class PlatformView:
    """One platform in one scan, with its grade, compliance and changes since the previous scan.

    Attributes:
        new: failing now, and not failing (or not present) in the previous scan.
        fixed: (check, endpoint, title) that failed in the previous scan and pass now.
        history: (scan id, grade) of the recent scans that included the platform, oldest first.
        waived: (check, endpoint) -> the waiver covering that failure; the grade leaves it out.
        min_grade: the grade the go-live gate asks of it: its own ``[platforms.gate] min_grade`` as
            the scan stored it, else the gate's default.
        hosts: its host names, the registered URLs' first (as ``Platform.all_hosts``); for a platform
            stored without them, the hosts of its results' endpoints.
        services: the services its families declared on its hosts (``Platform.services``), the
            endpoints of kind "service"; empty for a platform stored without them.
        domains: the names its families only look up in DNS (``Platform.domains``), the endpoints of
            kind "domain".
    """

    id: str
    name: str
    owner: str
    contact: str
    level: int
    tags: tuple[str, ...]
    score: PlatformScore
    compliance: Compliance
    results: tuple[Result, ...]
    new: tuple[Result, ...]
    fixed: tuple[tuple[str, str, str], ...]
    history: tuple[tuple[int, str | None], ...]
    certificates: tuple[CertificateExpiry, ...]
    waived: Mapping[Key, Waiver] = field(default_factory=dict)
    min_grade: str = DEFAULT_MIN_GRADE
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    @property
    def failing(self) -> tuple[Result, ...]:
        """Failed and warned results, worst first."""
        bad = [r for r in self.results if r.status in (Status.FAIL, Status.WARN)]
        return tuple(sorted(bad, key=lambda r: (r.status != Status.FAIL, -r.severity.rank, r.check, r.endpoint)))

    @property
    def errors(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.status == Status.ERROR)

    @property
    def passing(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.status in (Status.PASS, Status.SKIP))

    def severity_counts(self) -> dict[Severity, int]:
        """Failed checks (counted once per check) by severity."""
        counts = Counter(o.severity for o in self.score.outcomes if o.status == Status.FAIL)
        return {severity: counts.get(severity, 0) for severity in Severity}


@dataclass(frozen=True)
class FleetView:
    scan: Scan
    previous: Scan | None
    profile: Profile
    platforms: tuple[PlatformView, ...]
    history: tuple[tuple[Scan, Mapping[str, int]], ...]
    expired_waivers: tuple[Waiver, ...] = ()
    stale_waivers: tuple[Waiver, ...] = ()
    #: check id -> what the check said about itself when the scan ran (empty: stored before schema 4).
    catalogue: Mapping[str, CatalogueEntry] = field(default_factory=dict)
    #: The grade caps the scan is graded with (``scanner.assessment.caps_of_scan``): what-if questions
    #: ("what does fixing this gain?") are asked of the scoring with the same caps as the grade.
    caps: Caps = field(default_factory=dict)

    @property
    def expiring(self) -> tuple[CertificateExpiry, ...]:
        certs = [c for p in self.platforms for c in p.certificates if c.days_left <= EXPIRY_WARNING_DAYS]
        return tuple(sorted(certs, key=lambda c: (c.days_left, c.platform, c.endpoint)))

    def grade_counts(self) -> dict[str, int]:
        """Platforms per grade; provisional grades under "?" (they are not that letter yet), platforms
        that could not be assessed under "-"."""
        counts = Counter(("?" if p.score.provisional else p.score.grade) or "-" for p in self.platforms)
        return {grade: counts.get(grade, 0) for grade in (*reversed(GRADE_ORDER), "?", "-")}


def build(store: Store, scan: Scan, profile: Profile, platform: str | None = None) -> FleetView:
    """The view of ``scan`` (one platform of it with ``platform``), compared with the scan before it.

    Grades, compliance and waivers come from the scan's one assessment (``scanner.assessment``)."""
    rows = [row for row in store.platforms(scan.id) if platform is None or row["id"] == platform]
    settings = store.platform_settings(scan.id)
    assessed, assessment = assess_scan(store, scan.id, profile, platform)

    earlier = [s for s in store.scans() if s.id < scan.id and s.status != ScanStatus.RUNNING]
    previous = earlier[-1] if earlier else None
    before: dict[str, dict[Key, str]] = {}
    for (p, check, endpoint), (status, _) in (store.verdicts(previous.id) if previous else {}).items():
        before.setdefault(p, {})[(check, endpoint)] = status
    recent = [*earlier[-(HISTORY_SCANS - 1) :], scan]
    stored = store.stored_scores([s.id for s in recent])

    views = []
    for row in rows:
        judged = assessed[row["id"]]
        own, score = judged.results, judged.score
        assert judged.compliance is not None  # assessed with the profile
        stored[scan.id][row["id"]] = (score.score, score.grade)  # current rules for the current scan
        views.append(
            PlatformView(
                id=row["id"],
                name=row["name"],
                owner=row["owner"] or "",
                contact=row["contact"] or "",
                level=row["level"],
                tags=tuple(row["tags"]),
                score=score,
                compliance=judged.compliance,
                results=own,
                new=_new(own, before.get(row["id"])),
                fixed=_fixed(own, before.get(row["id"], {})),
                history=tuple((s.id, stored[s.id][row["id"]][1]) for s in recent if row["id"] in stored.get(s.id, {})),
                certificates=_certificates(own, scan),
                waived=judged.waived,
                min_grade=_min_grade(settings.get(row["id"], {})),
                hosts=_hosts(settings.get(row["id"], {}), own),
                services=_names(settings.get(row["id"], {}), "services"),
                domains=_names(settings.get(row["id"], {}), "domains"),
            )
        )
    # Worst first, inside a grade too: the lowest score of the Fs is the most urgent.
    views.sort(key=lambda v: (_grade_rank(v.score.grade), v.score.score or 0, v.id))
    history = tuple(
        (s, Counter(grade or "-" for _, grade in stored.get(s.id, {}).values())) for s in recent if stored.get(s.id)
    )
    return FleetView(
        scan=scan,
        previous=previous,
        profile=profile,
        platforms=tuple(views),
        history=history,
        expired_waivers=assessment.expired,
        stale_waivers=assessment.stale,
        catalogue=store.catalogue(scan.id),
        caps=assessment.caps,
    )


def _min_grade(settings: Mapping[str, Any]) -> str:
    gate = settings.get("gate")
    wanted = gate.get("min_grade") if isinstance(gate, Mapping) else None
    return wanted if wanted in GRADE_ORDER else DEFAULT_MIN_GRADE


def _hosts(settings: Mapping[str, Any], results: Sequence[Result]) -> tuple[str, ...]:
    urls, hosts = settings.get("urls") or [], settings.get("hosts") or []
    if not urls and not hosts:  # stored without them: the endpoints its results name
        urls = sorted({r.endpoint for r in results if "://" in r.endpoint})
        hosts = sorted({r.endpoint for r in results if "://" not in r.endpoint})
    seen: dict[str, None] = {}
    for url in urls:
        try:
            seen[parse(str(url)).host] = None
        except UnusableUrl:
            continue
    for host in hosts:
        seen[normalize_host(str(host))] = None
    return tuple(seen)


def _names(settings: Mapping[str, Any], field: str) -> tuple[str, ...]:
    """A stored list of endpoint targets (``services``, ``domains``), as the scan stored it."""
    value = settings.get(field)
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def _grade_rank(grade: str | None) -> int:
    return GRADE_ORDER.index(grade) if grade else -1


def _new(results: Sequence[Result], before: Mapping[Key, str] | None) -> tuple[Result, ...]:
    if before is None:
        return ()  # a platform's first scan has nothing "new": everything is
    return tuple(
        r for r in results if r.status == Status.FAIL and before.get((r.check, r.endpoint)) != Status.FAIL.value
    )


def _fixed(results: Sequence[Result], before: Mapping[Key, str]) -> tuple[tuple[str, str, str], ...]:
    now = {(r.check, r.endpoint): r for r in results}
    out = []
    for (check, endpoint), status in before.items():
        current = now.get((check, endpoint))
        if status == Status.FAIL.value and current is not None and current.status == Status.PASS:
            out.append((check, endpoint, current.title))
    return tuple(sorted(out))


def _certificates(results: Sequence[Result], scan: Scan) -> tuple[CertificateExpiry, ...]:
    """Every certificate the results name in their evidence, with the days it has left.

    The evidence field ``certificate`` (with ``not_after``, ``subject`` and ``sha256``) is a
    convention any family can use for the certificate an endpoint serves (the tls family's
    certificate checks do): the report names no check to find them.
    """
    when = datetime.fromisoformat(scan.started)
    found: dict[tuple[str, str], CertificateExpiry] = {}
    for r in results:
        cert = r.evidence.get("certificate")
        if not isinstance(cert, Mapping) or not isinstance(cert.get("not_after"), str):
            continue
        try:
            not_after = datetime.fromisoformat(cert["not_after"])
        except ValueError:
            continue
        key = (r.endpoint, str(cert.get("sha256", cert["not_after"])))
        found[key] = CertificateExpiry(
            platform=r.platform,
            endpoint=r.endpoint,
            subject=str(cert.get("subject", "")),
            not_after=cert["not_after"],
            days_left=int((not_after - when) / timedelta(days=1)),  # whole days, towards zero: "expired 10 days ago"
        )
    return tuple(found.values())
