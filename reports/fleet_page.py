"""The fleet overview's page model, built from a ``FleetView``: a row per platform with the reason for
its grade, the fleet's totals and charts, the most common failures, what is new and what was fixed
since the previous scan, the waivers (what they hide, what expires, what is stale) and expiring
certificates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

from reports.catalogue import Catalogue
from reports.charts import BarChart, TrendChart, grade_chart, trend_chart
from reports.i18n import CheckTexts, Translator
from reports.page_parts import Badge, Compliance, SeverityCount, badge, compliance_of, page_name
from reports.page_text import coverage_lines, finding_title, severity_label
from reports.palette import GRADES, SEVERITIES, grade_rank
from reports.view import EXPIRY_WARNING_DAYS, FleetView, PlatformView
from scanner.model import Result, Severity, Status
from scanner.scoring import Caps, fix_gains
from scanner.waivers import Waiver, scan_day

#: How many of the most common failures the fleet page lists.
COMMON_FAILURES = 10


@dataclass(frozen=True)
class PlatformRow:
    id: str
    name: str
    href: str
    owner: str
    level: int
    badge: Badge
    grade_sort: int
    score: str
    score_sort: int
    compliance: Compliance
    severities: tuple[SeverityCount, ...]
    coverage: tuple[str, ...]
    partial: bool
    coverage_sort: float
    new: int
    #: Why it has its grade, in one line: the binding cap, else the fix that gains most.
    reason: str = ""
    #: Its failures a waiver covers (left out of the grade and of the severity counts).
    waived: int = 0


@dataclass(frozen=True)
class Affected:
    platform: str
    name: str
    href: str
    endpoint: str


@dataclass(frozen=True)
class ChangeGroup:
    check: str
    title: str
    severity: str
    severity_label: str
    affected: tuple[Affected, ...]


@dataclass(frozen=True)
class CommonFailure:
    """A check failing on several platforms: ``affected`` counts each platform once."""

    check: str
    title: str
    severity: str
    severity_label: str
    affected: tuple[Affected, ...]
    share: str
    waived: int


@dataclass(frozen=True)
class WaivedRow:
    """A failure a waiver covers: still a failure, an accepted risk until ``expires``."""

    platform: str
    href: str
    check: str
    title: str
    severity: str
    severity_label: str
    endpoint: str
    expires: str
    days_label: str
    soon: bool
    approved_by: str
    reason: str


@dataclass(frozen=True)
class WaiverRow:
    """A waiver as written in the waivers file (an expired or a stale one), with its line there."""

    platform: str
    href: str
    check: str
    endpoint: str
    expires: str
    approved_by: str
    reason: str
    line: str


@dataclass(frozen=True)
class Waivers:
    findings: tuple[WaivedRow, ...]
    platforms: int
    #: Waivers in force that lapse within ``EXPIRY_WARNING_DAYS`` of the scan (each counted once).
    expiring: int
    expired: tuple[WaiverRow, ...]
    stale: tuple[WaiverRow, ...]


@dataclass(frozen=True)
class CertRow:
    platform: str
    href: str
    endpoint: str
    subject: str
    expires: str
    days_left: int
    days_label: str
    expired: bool


@dataclass(frozen=True)
class FleetPage:
    title: str
    platform_count: int
    compliance: tuple[tuple[Compliance, int, str], ...]
    severities: tuple[SeverityCount, ...]
    grade_chart: BarChart
    trend: TrendChart | None
    trend_rows: tuple[tuple[str, str, tuple[int, ...]], ...]
    trend_grades: tuple[str, ...]
    previous: int | None
    new: tuple[ChangeGroup, ...]
    fixed: tuple[ChangeGroup, ...]
    certificates: tuple[CertRow, ...]
    rows: tuple[PlatformRow, ...]
    expiry_days: int = EXPIRY_WARNING_DAYS
    severity_headers: tuple[SeverityCount, ...] = field(default=())
    common: tuple[CommonFailure, ...] = ()
    waivers: Waivers = field(default_factory=lambda: Waivers((), 0, 0, (), ()))


def fleet_page(fleet: FleetView, t: Translator, texts: CheckTexts, catalogue: Catalogue, pages: str) -> FleetPage:
    hrefs = {p.id: f"{pages}/{quote(page_name(p.id))}" for p in fleet.platforms}
    names = {p.id: p.name for p in fleet.platforms}
    verdicts = [compliance_of(c, t) for c in (True, False, None)]
    tally = {c.sort: 0 for c in verdicts}
    totals = dict.fromkeys(SEVERITIES, 0)
    rows = []
    for view in fleet.platforms:
        comp = compliance_of(view.compliance.compliant, t)
        tally[comp.sort] += 1
        counts = view.severity_counts()
        for severity, n in counts.items():
            totals[severity] += n
        score = view.score
        cov = score.coverage
        rows.append(
            PlatformRow(
                id=view.id,
                name=view.name,
                href=hrefs[view.id],
                owner=view.owner,
                level=view.level,
                badge=badge(score.grade, t, score.provisional),
                grade_sort=grade_rank(score.grade),
                score="–" if score.score is None else str(score.score),
                score_sort=-1 if score.score is None else score.score,
                compliance=comp,
                severities=tuple(SeverityCount(s.value, severity_label(s, t), counts[s]) for s in SEVERITIES),
                coverage=tuple(coverage_lines(score, t, texts, short=True)),
                partial=score.partial,
                coverage_sort=round(cov.tested / cov.applicable, 4) if cov.applicable else 0.0,
                new=len(view.new),
                reason=grade_reason(view, fleet.caps, texts, t),
                waived=len(view.waived),
            )
        )
    hints = {2: "", 0: "", 1: t("undetermined_hint")}
    history = fleet.history
    return FleetPage(
        title=t("fleet_title"),
        platform_count=len(fleet.platforms),
        compliance=tuple((c, tally[c.sort], hints[c.sort]) for c in verdicts),
        severities=tuple(SeverityCount(s.value, severity_label(s, t), totals[s]) for s in SEVERITIES),
        grade_chart=grade_chart(fleet.grade_counts(), t),
        trend=trend_chart(history, t),
        trend_rows=tuple(
            (f"#{scan.id}", t.date(scan.started), tuple(counts.get(g, 0) for g in GRADES)) for scan, counts in history
        ),
        trend_grades=tuple(g if g != "-" else "–" for g in GRADES),
        previous=fleet.previous.id if fleet.previous else None,
        new=_new_groups(fleet.platforms, texts, t, hrefs),
        fixed=_fixed_groups(fleet.platforms, texts, catalogue, t, hrefs),
        certificates=tuple(
            CertRow(
                platform=c.platform,
                href=hrefs.get(c.platform, ""),
                endpoint=c.endpoint,
                subject=c.subject,
                expires=t.date(c.not_after),
                days_left=c.days_left,
                days_label=t("expired_ago", n=-c.days_left) if c.days_left < 0 else t("days_n", n=c.days_left),
                expired=c.days_left < 0,
            )
            for c in fleet.expiring
            if c.platform in names
        ),
        rows=tuple(rows),
        severity_headers=tuple(SeverityCount(s.value, severity_label(s, t), 0) for s in SEVERITIES),
        common=_common_failures(fleet.platforms, texts, t, hrefs),
        waivers=_waivers(fleet, texts, t, hrefs),
    )


def grade_reason(view: PlatformView, caps: Caps, texts: CheckTexts, t: Translator) -> str:
    """The reason for a platform's grade in one line, so that five Fs do not look alike: the cap
    that binds (the strictest), else the fix that gains most, as the owner's page lists it."""
    score = view.score
    if score.grade is None:
        return t("reason_not_assessed")
    if score.caps:
        strictest = [c for c in score.caps if c.grade == score.caps[0].grade]
        finding = f"“{finding_title(texts, strictest[0].check)}”"
        if len(strictest) > 1:
            return t("reason_capped_more", grade=strictest[0].grade, finding=finding, n=len(strictest) - 1)
        return t("reason_capped", grade=strictest[0].grade, finding=finding)
    gains = fix_gains(score, caps)
    if gains:
        top = gains[0]
        points = t("points_cost", n=top.points) if top.points else t("points_none")
        return t("reason_top", finding=f"“{finding_title(texts, top.check)}”", points=points)
    if score.grade == "A+":
        return t("reason_clean")
    return t("plus_needs_coverage") if score.partial else ""


def _common_failures(
    platforms: Sequence[PlatformView], texts: CheckTexts, t: Translator, hrefs: Mapping[str, str]
) -> tuple[CommonFailure, ...]:
    """The checks failing on most platforms (waived failures too: they are still there), worst first
    among equals; on a first scan as on any other."""
    failing: dict[str, dict[str, Result]] = {}
    waived: dict[str, set[str]] = {}
    for view in platforms:
        for result in view.results:
            if result.status != Status.FAIL:
                continue
            worst = failing.setdefault(result.check, {}).get(view.id)
            if worst is None or result.severity.rank > worst.severity.rank:
                failing[result.check][view.id] = result
            if (result.check, result.endpoint) in view.waived:
                waived.setdefault(result.check, set()).add(view.id)
    names = {p.id: p.name for p in platforms}
    out = []
    for check, by_platform in failing.items():
        severity = max((r.severity for r in by_platform.values()), key=lambda s: s.rank)
        first = next(iter(by_platform.values()))
        out.append(
            CommonFailure(
                check=check,
                title=finding_title(texts, check, first.title),
                severity=severity.value,
                severity_label=severity_label(severity, t),
                affected=tuple(
                    Affected(p, names.get(p, p), hrefs.get(p, ""), r.endpoint) for p, r in sorted(by_platform.items())
                ),
                share=t("common_share", n=len(by_platform), total=len(platforms)),
                waived=len(waived.get(check, ())),
            )
        )
    out.sort(key=lambda c: (-len(c.affected), -Severity(c.severity).rank, c.check))
    return tuple(out[:COMMON_FAILURES])


def _waivers(fleet: FleetView, texts: CheckTexts, t: Translator, hrefs: Mapping[str, str]) -> Waivers:
    day = scan_day(fleet.scan.started)
    findings: list[tuple[date, WaivedRow]] = []
    expiring: set[Waiver] = set()
    for view in fleet.platforms:
        by_key = {(r.check, r.endpoint): r for r in view.results}
        for key, waiver in view.waived.items():
            result = by_key[key]
            left = (waiver.expires - day).days
            if left <= EXPIRY_WARNING_DAYS:
                expiring.add(waiver)
            row = WaivedRow(
                platform=view.id,
                href=hrefs.get(view.id, ""),
                check=result.check,
                title=finding_title(texts, result.check, result.title),
                severity=result.severity.value,
                severity_label=severity_label(result.severity, t),
                endpoint=result.endpoint,
                expires=t.date(waiver.expires.isoformat()),
                days_label=t("days_n", n=left),
                soon=left <= EXPIRY_WARNING_DAYS,
                approved_by=waiver.approved_by,
                reason=waiver.reason,
            )
            findings.append((waiver.expires, row))
    # The first to lapse first: its findings are about to count again.
    findings.sort(key=lambda f: (f[0], -Severity(f[1].severity).rank, f[1].platform, f[1].check, f[1].endpoint))

    def rows(waivers: Sequence[Waiver]) -> tuple[WaiverRow, ...]:
        return tuple(
            WaiverRow(
                platform=w.platform,
                href=hrefs.get(w.platform, ""),
                check=w.check,
                endpoint=w.endpoint,
                expires=t.date(w.expires.isoformat()),
                approved_by=w.approved_by,
                reason=w.reason,
                line=t("waiver_line", n=w.line) if w.line else "",
            )
            for w in waivers
        )

    return Waivers(
        findings=tuple(row for _, row in findings),
        platforms=len({row.platform for _, row in findings}),
        expiring=len(expiring),
        expired=rows(fleet.expired_waivers),
        stale=rows(fleet.stale_waivers),
    )


def _new_groups(
    platforms: Sequence[PlatformView], texts: CheckTexts, t: Translator, hrefs: Mapping[str, str]
) -> tuple[ChangeGroup, ...]:
    groups: dict[str, list[Result]] = {}
    for view in platforms:
        for result in view.new:
            groups.setdefault(result.check, []).append(result)
    names = {p.id: p.name for p in platforms}
    out = []
    for check, results in groups.items():
        worst = max(results, key=lambda r: r.severity.rank).severity
        out.append(
            ChangeGroup(
                check=check,
                title=finding_title(texts, check, results[0].title),
                severity=worst.value,
                severity_label=severity_label(worst, t),
                affected=tuple(
                    Affected(r.platform, names.get(r.platform, r.platform), hrefs.get(r.platform, ""), r.endpoint)
                    for r in sorted(results, key=lambda r: (r.platform, r.endpoint))
                ),
            )
        )
    out.sort(key=lambda g: (-Severity(g.severity).rank, g.check))
    return tuple(out)


def _fixed_groups(
    platforms: Sequence[PlatformView],
    texts: CheckTexts,
    catalogue: Catalogue,
    t: Translator,
    hrefs: Mapping[str, str],
) -> tuple[ChangeGroup, ...]:
    groups: dict[str, list[Affected]] = {}
    stored: dict[str, str] = {}
    severity: dict[str, Severity] = {}
    for view in platforms:
        if not view.fixed:
            continue
        current = {(r.check, r.endpoint): r for r in view.results}
        for check, endpoint, title in view.fixed:
            groups.setdefault(check, []).append(Affected(view.id, view.name, hrefs.get(view.id, ""), endpoint))
            stored.setdefault(check, title)
            now = current.get((check, endpoint))
            if check not in severity:
                severity[check] = catalogue.severities.get(check) or (now.severity if now else Severity.INFO)
    out = [
        ChangeGroup(
            check=check,
            title=finding_title(texts, check, stored[check]),
            severity=severity[check].value,
            severity_label=severity_label(severity[check], t),
            affected=tuple(sorted(affected, key=lambda a: (a.platform, a.endpoint))),
        )
        for check, affected in groups.items()
    ]
    out.sort(key=lambda g: (-Severity(g.severity).rank, g.check))
    return tuple(out)
