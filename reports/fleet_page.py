"""The fleet overview's page model, built from a ``FleetView``: a row per platform, the fleet's totals
and charts, what is new and what was fixed since the previous scan, and expiring certificates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from reports.catalogue import Catalogue
from reports.charts import BarChart, TrendChart, grade_chart, trend_chart
from reports.i18n import CheckTexts, Translator
from reports.page_parts import Badge, Compliance, SeverityCount, badge, compliance_of, page_name
from reports.page_text import coverage_lines, severity_label
from reports.palette import GRADES, SEVERITIES, grade_rank
from reports.view import EXPIRY_WARNING_DAYS, FleetView, PlatformView
from scanner.model import Result, Severity


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
                coverage=tuple(coverage_lines(score, t)),
                partial=score.partial,
                coverage_sort=round(cov.tested / cov.applicable, 4) if cov.applicable else 0.0,
                new=len(view.new),
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
                title=texts.title(check, results[0].title),
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
            title=texts.title(check, stored[check]),
            severity=severity[check].value,
            severity_label=severity_label(severity[check], t),
            affected=tuple(sorted(affected, key=lambda a: (a.platform, a.endpoint))),
        )
        for check, affected in groups.items()
    ]
    out.sort(key=lambda g: (-Severity(g.severity).rank, g.check))
    return tuple(out)
