"""The HTML reports: the fleet overview for the security team and a remediation page per platform.

Every page is one self-contained file: inline CSS, inline SVG charts, one small inline script (table
sorting; opening folded sections for printing) allowed by its hash in a strict Content-Security-Policy,
no external asset of any kind. Everything the pages show comes from :mod:`reports.view`; this module
turns a view into plain page models (numbers, strings, geometry) and the templates only lay them out.

Templates autoescape, set explicitly (``select_autoescape`` does not treat ``*.html.j2`` as HTML), and
undefined names are errors. Server-supplied text (details, evidence, certificate subjects, headers)
only ever reaches a page as an escaped template variable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from reports.i18n import CheckText, CheckTexts, Translator
from reports.view import EXPIRY_WARNING_DAYS, FleetView, PlatformView
from scanner import __version__
from scanner.compliance import RequirementStatus
from scanner.criteria import Requirement
from scanner.model import Result, ScanStatus, Severity, Status
from scanner.scoring import GRADE_ORDER, SCORING_VERSION, PlatformScore
from scanner.waivers import Waiver

#: Badge colours, white text on each: every pair has a contrast ratio of at least 4.5:1 (tested), and
#: the letter is always written, so a grade never depends on colour alone (grayscale print, colour blindness).
GRADE_COLOURS: Mapping[str, str] = {
    "A+": "#14532d",
    "A": "#1f7a3a",
    "B": "#4b6e14",
    "C": "#8a5a00",
    "D": "#b24a00",
    "F": "#b42318",
    "-": "#5b6470",
}
SEVERITY_COLOURS: Mapping[Severity, str] = {
    Severity.CRITICAL: "#7a1010",
    Severity.HIGH: "#b42318",
    Severity.MEDIUM: "#8a5a00",
    Severity.LOW: "#2f5d8a",
    Severity.INFO: "#5b6470",
}
#: Best first, as the fleet table and the charts list them; "-" is "not graded".
GRADES: tuple[str, ...] = (*reversed(GRADE_ORDER), "-")
SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))
EVIDENCE_LIMIT = 6000
#: The compliance table lists what needs work first; within a status, in profile order.
_REQUIREMENT_ORDER = {RequirementStatus.NOT_MET: 0, RequirementStatus.NOT_TESTED: 1, RequirementStatus.MET: 2}
_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_CODE = re.compile(r"`([^`\n]+)`")
_LABEL = re.compile(r"^((?:nginx|Apache|IIS|Windows)[^:\n`]{0,40}:)", re.MULTILINE)


# ---- the environment, the script and the policy --------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _asset(name: str) -> str:
    env = environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


@cache
def script() -> str:
    """The one inline script of every page, exactly as embedded (its hash is in the CSP)."""
    text = _asset("report.js").strip()
    if "</script" in text.lower():
        raise ValueError("report.js must not contain '</script'")
    return text


def script_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


@cache
def content_security_policy() -> str:
    """Nothing loads, nothing is sent: no default source, inline styles, data: images, only our script."""
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{script_hash(script())}'; base-uri 'none'; form-action 'none'"
    )


@cache
def stylesheet() -> str:
    palette = [f"--grade-{_grade_slug(g)}: {c};" for g, c in GRADE_COLOURS.items()]
    palette += [f"--sev-{s.value}: {c};" for s, c in SEVERITY_COLOURS.items()]
    return ":root { " + " ".join(palette) + " }\n" + _asset("report.css")


@dataclass(frozen=True)
class Catalogue:
    """What the installed checks say about themselves: English texts and default severities."""

    texts: Mapping[str, CheckText]
    severities: Mapping[str, Severity]


@cache
def installed_catalogue() -> Catalogue:
    from scanner.plugin import discover_checks

    checks = discover_checks().checks
    return Catalogue(
        texts={c.id: CheckText(c.title, c.why, c.remediation) for c in checks},
        severities={c.id: c.severity for c in checks},
    )


# ---- small helpers shared by both pages ----------------------------------------------------------


def _grade_slug(grade: str | None) -> str:
    return {"A+": "aplus", "-": "none", None: "none"}.get(grade, (grade or "none").lower())


def grade_rank(grade: str | None) -> int:
    """Sort key: bigger is better; no grade sorts below F."""
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else -1


def page_name(platform_id: str) -> str:
    """A platform's page file name; ids that are not safe file names get a stable hashed name."""
    if _SAFE_ID.fullmatch(platform_id) and ".." not in platform_id:
        return f"{platform_id}.html"
    return "platform-" + hashlib.sha256(platform_id.encode("utf-8")).hexdigest()[:16] + ".html"


def rich_text(text: str) -> Markup:
    """Remediation text: escaped, `code` spans as <code>, server product labels ("nginx:") in bold.

    The result keeps its line breaks (the template shows it with ``white-space: pre-wrap``).
    """
    escaped = str(escape(text))
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    escaped = _LABEL.sub(r"<strong>\1</strong>", escaped)
    return Markup(escaped)  # built from escaped text only


def evidence_text(evidence: Mapping[str, Any], t: Translator) -> str:
    text = json.dumps(evidence, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > EVIDENCE_LIMIT:
        text = text[:EVIDENCE_LIMIT] + "\n… " + t("evidence_truncated", n=EVIDENCE_LIMIT)
    return text


def family_name(family: str, t: Translator) -> str:
    try:
        return t(f"family.{family}")
    except KeyError:
        return family.upper()


def severity_label(severity: Severity, t: Translator) -> str:
    return t(f"severity.{severity.value}")


def status_label(status: Status, t: Translator) -> str:
    return t(f"status.{status.value}")


def coverage_lines(score: PlatformScore, t: Translator) -> list[str]:
    cov = score.coverage
    if cov.complete:
        return [t("coverage_full", tested=cov.tested, applicable=cov.applicable)]
    lines = [t("coverage_partial", tested=cov.tested, applicable=cov.applicable)]
    lines += [
        t("family_untested", family=family_name(family, t), reason=reason.rstrip("."))
        for family, reason in sorted(cov.untested.items())
    ]
    return lines


def explanation(score: PlatformScore, texts: CheckTexts, t: Translator) -> list[str]:
    """Why this grade and what lifts it, as sentences in the report's language (mirrors ``explain()``)."""
    if score.grade is None:
        return [t("not_graded_long")]

    def named(checks: Iterable[str]) -> str:
        return t.join([f"“{texts.title(c)}” ({c})" for c in checks])

    sentences = []
    by_grade: dict[str, list[str]] = {}
    for cap in score.caps:
        by_grade.setdefault(cap.grade, []).append(cap.check)
    for grade, checks in by_grade.items():
        sentences.append(t("capped", grade=grade, checks=named(checks)))
    if score.caps and score.band and score.band != score.grade:
        sentences.append(t("band_note", band=score.band))
    if score.next_grade and score.fixes:
        sentences.append(t("fix_to_reach", checks=named(score.fixes), grade=score.next_grade))
    elif score.next_grade == "A+" and score.partial:
        sentences.append(t("plus_needs_coverage"))
    if score.grade == "A+":
        sentences.append(t("top_grade"))
    return sentences


@dataclass(frozen=True)
class Compliance:
    """How a compliance verdict is shown: label, css class, icon and sort key."""

    label: str
    css: str
    icon: str
    sort: int


def compliance_of(compliant: bool | None, t: Translator) -> Compliance:
    if compliant is True:
        return Compliance(t("compliant"), "ok", "✓", 2)
    if compliant is False:
        return Compliance(t("not_compliant"), "bad", "✗", 0)
    return Compliance(t("undetermined"), "unknown", "?", 1)


@dataclass(frozen=True)
class Badge:
    grade: str
    slug: str
    label: str  # what a screen reader says


def badge(grade: str | None, t: Translator) -> Badge:
    return Badge(grade or "–", _grade_slug(grade), f"{t('grade')} {grade}" if grade else t("no_grade"))


@dataclass(frozen=True)
class Meta:
    label: str
    value: str


def scan_meta(fleet: FleetView, t: Translator) -> list[Meta]:
    scan = fleet.scan
    then = scan.scoring_version if scan.scoring_version is not None else "–"
    scoring = (
        f"v{SCORING_VERSION}" if then == SCORING_VERSION else t("scoring_version_value", now=SCORING_VERSION, then=then)
    )
    previous = t("scan_number", id=fleet.previous.id) if fleet.previous else t("no_previous_scan")
    return [
        Meta(t("scan"), f"#{scan.id}"),
        Meta(t("started"), t.datetime(scan.started)),
        Meta(t("finished"), t.datetime(scan.finished)),
        Meta(t("status"), t(f"scan_status.{scan.status.value}")),
        Meta(t("previous_scan"), previous),
        Meta(t("profile"), f"{fleet.profile.id} {fleet.profile.version}".strip()),
        Meta(t("platscan_version"), scan.platscan_version),
        Meta(t("scoring_version"), scoring),
    ]


def _footer(fleet: FleetView, t: Translator) -> str:
    return t(
        "generated_by",
        version=__version__,
        scan=fleet.scan.id,
        scoring=SCORING_VERSION,
        profile=f"{fleet.profile.id} {fleet.profile.version}".strip(),
    )


def _page_context(fleet: FleetView, t: Translator) -> dict[str, Any]:
    incomplete = None
    if fleet.scan.status != ScanStatus.COMPLETE:
        incomplete = t("scan_incomplete_note", status=t(f"scan_status.{fleet.scan.status.value}"))
    return {
        "lang": t.lang,
        "t": t,
        "csp": content_security_policy(),
        "css": Markup(stylesheet()),  # our own file
        "script": Markup(script()),  # our own file, hashed into the CSP
        "meta": scan_meta(fleet, t),
        "footer": _footer(fleet, t),
        "incomplete": incomplete,
        "generator": f"platscan {__version__}",
    }


# ---- charts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    slug: str
    count: int
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per grade (best first)."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    bar_x: int
    bar_height: int
    description: str


def grade_chart(counts: Mapping[str, int], t: Translator) -> BarChart:
    rows = [(g, counts.get(g, 0)) for g in GRADES if g != "-" or counts.get(g, 0)]
    top = max((n for _, n in rows), default=0) or 1
    bar_x, span, step, bar_height = 44, 250, 30, 20
    bars = tuple(
        Bar(label=g if g != "-" else "–", slug=_grade_slug(g), count=n, y=8 + i * step, width=round(span * n / top, 1))
        for i, (g, n) in enumerate(rows)
    )
    described = ", ".join(f"{b.label}: {b.count}" for b in bars)
    return BarChart(
        bars=bars,
        width=bar_x + span + 50,
        height=16 + len(bars) * step - (step - bar_height),
        bar_x=bar_x,
        bar_height=bar_height,
        description=t("grade_distribution_desc", counts=described),
    )


@dataclass(frozen=True)
class Segment:
    label: str
    slug: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Column:
    scan: int
    label: str
    date: str
    x: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class TrendChart:
    """Stacked columns, one per scan (oldest first), best grade on top."""

    columns: tuple[Column, ...]
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    column_width: int
    ticks: tuple[tuple[int, float], ...]
    legend: tuple[tuple[str, str], ...]
    grades: tuple[str, ...]


def trend_chart(history: Sequence[tuple[Any, Mapping[str, int]]], t: Translator) -> TrendChart | None:
    if len(history) < 2:
        return None
    present = [g for g in GRADES if any(counts.get(g, 0) for _, counts in history)]
    top = max(sum(counts.values()) for _, counts in history) or 1
    plot_top, plot_bottom, left, column_width, gap = 12, 172, 44, 46, 38
    scale = (plot_bottom - plot_top) / top
    columns = []
    for index, (scan, counts) in enumerate(history):
        y = float(plot_bottom)
        segments = []
        for grade in reversed(present):  # worst at the bottom
            n = counts.get(grade, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            label = grade if grade != "-" else "–"
            segments.append(Segment(label, _grade_slug(grade), n, round(y, 1), round(height, 1)))
        columns.append(
            Column(
                scan=scan.id,
                label=f"#{scan.id}",
                date=t.date(scan.started),
                x=left + index * (column_width + gap),
                total=sum(counts.values()),
                segments=tuple(segments),
            )
        )
    step = _nice_step(top)
    ticks = tuple((v, round(plot_bottom - v * scale, 1)) for v in range(0, top + 1, step))
    return TrendChart(
        columns=tuple(columns),
        width=left + len(columns) * (column_width + gap) + 8,
        height=plot_bottom + 40,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        column_width=column_width,
        ticks=ticks,
        legend=tuple((g if g != "-" else "–", _grade_slug(g)) for g in present),
        grades=tuple(present),
    )


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 5:
            return step
    return max(1, top // 5)


# ---- the fleet page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str
    count: int


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
                badge=badge(score.grade, t),
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


# ---- the platform page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RequirementRef:
    id: str
    title: str


@dataclass(frozen=True)
class CheckRef:
    id: str
    title: str


@dataclass(frozen=True)
class RequirementRow:
    id: str
    title: str
    current: str
    legacy: str
    mandatory: bool
    status: str
    status_label: str
    icon: str
    failing: tuple[CheckRef, ...]
    untested: tuple[CheckRef, ...]


@dataclass(frozen=True)
class Finding:
    anchor: str
    check: str
    title: str
    status: str
    status_label: str
    severity: str
    severity_label: str
    endpoint: str
    detail: str
    evidence: str
    why: str
    requirements: tuple[RequirementRef, ...]
    remediation: Markup
    new: bool
    waiver: str = ""


def waiver_text(waiver: Waiver | None, t: Translator) -> str:
    if waiver is None:
        return ""
    return t("waived_by").format(
        approved_by=waiver.approved_by, expires=waiver.expires.isoformat(), reason=waiver.reason
    )


@dataclass(frozen=True)
class SeverityGroup:
    severity: str
    label: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class ResultRow:
    check: str
    title: str
    endpoint: str
    status: str
    status_label: str
    detail: str


@dataclass(frozen=True)
class PlatformPage:
    id: str
    name: str
    owner: str
    contact: str
    level: int
    tags: tuple[str, ...]
    badge: Badge
    score: str
    explanation: tuple[str, ...]
    coverage: tuple[str, ...]
    partial: bool
    compliance: Compliance
    compliance_caption: str
    requirements: tuple[RequirementRow, ...]
    not_testable: tuple[tuple[str, str], ...]
    severities: tuple[SeverityCount, ...]
    groups: tuple[SeverityGroup, ...]
    finding_count: int
    errors: tuple[ResultRow, ...]
    passing: tuple[ResultRow, ...]
    skipped: tuple[ResultRow, ...]
    history: tuple[tuple[str, Badge], ...]
    fleet_href: str | None


def platform_page(
    view: PlatformView,
    fleet: FleetView,
    t: Translator,
    texts: CheckTexts,
    fleet_href: str | None,
) -> PlatformPage:
    requirements = {r.id: r for r in fleet.profile.requirements}
    new = {(r.check, r.endpoint) for r in view.new}

    def req_title(requirement: Requirement) -> str:
        return requirement.title_vi if t.lang == "vi" and requirement.title_vi else requirement.title

    def ref(check: str) -> CheckRef:
        return CheckRef(check, texts.title(check))

    groups: dict[Severity, list[Finding]] = {}
    for index, result in enumerate(view.failing):
        text = texts.get(result.check, result.title, result.remediation)
        groups.setdefault(result.severity, []).append(
            Finding(
                anchor=f"finding-{index + 1}",
                check=result.check,
                title=text.title,
                status=result.status.value,
                status_label=status_label(result.status, t),
                severity=result.severity.value,
                severity_label=severity_label(result.severity, t),
                endpoint=result.endpoint,
                detail=result.detail,
                evidence=evidence_text(result.evidence, t),
                why=text.why,
                requirements=tuple(
                    RequirementRef(rid, req_title(requirements[rid]) if rid in requirements else "")
                    for rid in result.criteria
                ),
                remediation=rich_text(text.remediation),
                new=(result.check, result.endpoint) in new,
                waiver=waiver_text(view.waived.get((result.check, result.endpoint)), t),
            )
        )

    def rows(results: Iterable[Result]) -> tuple[ResultRow, ...]:
        return tuple(
            ResultRow(
                r.check, texts.title(r.check, r.title), r.endpoint, r.status.value, status_label(r.status, t), r.detail
            )
            for r in sorted(results, key=lambda r: (r.check, r.endpoint))
        )

    counts = view.severity_counts()
    score = view.score
    not_testable = tuple(
        (item.title_vi if t.lang == "vi" else item.title, item.current)
        for item in fleet.profile.not_testable
        if view.level in item.levels
    )
    return PlatformPage(
        not_testable=not_testable,
        id=view.id,
        name=view.name,
        owner=view.owner,
        contact=view.contact,
        level=view.level,
        tags=view.tags,
        badge=badge(score.grade, t),
        score="–" if score.score is None else str(score.score),
        explanation=tuple(explanation(score, texts, t)),
        coverage=tuple(coverage_lines(score, t)),
        partial=score.partial,
        compliance=compliance_of(view.compliance.compliant, t),
        compliance_caption=t(
            "compliance_caption", profile=f"{fleet.profile.id} {fleet.profile.version}".strip(), level=view.level
        ),
        requirements=tuple(
            RequirementRow(
                id=r.requirement.id,
                title=req_title(r.requirement),
                current=r.requirement.current,
                legacy=r.requirement.legacy,
                mandatory=r.requirement.mandatory,
                status=r.status.value,
                status_label=t(f"req.{r.status.value}"),
                icon={RequirementStatus.MET: "✓", RequirementStatus.NOT_MET: "✗"}.get(r.status, "?"),
                failing=tuple(ref(c) for c in r.failing),
                untested=tuple(ref(c) for c in r.untested),
            )
            for r in sorted(view.compliance.requirements, key=lambda r: _REQUIREMENT_ORDER[r.status])
        ),
        severities=tuple(SeverityCount(s.value, severity_label(s, t), counts[s]) for s in SEVERITIES),
        groups=tuple(SeverityGroup(s.value, severity_label(s, t), tuple(groups[s])) for s in SEVERITIES if s in groups),
        finding_count=len(view.failing),
        errors=rows(view.errors),
        passing=rows(r for r in view.results if r.status == Status.PASS),
        skipped=rows(r for r in view.results if r.status == Status.SKIP),
        history=tuple((f"#{scan_id}", badge(grade, t)) for scan_id, grade in view.history),
        fleet_href=fleet_href,
    )


# ---- entry points --------------------------------------------------------------------------------


def pages_directory(main_name: str) -> str:
    """Where the platform pages of the fleet report ``main_name`` go, relative to it."""
    stem = main_name.rsplit(".", 1)[0] if "." in main_name else main_name
    return f"{stem or 'fleet'}-platforms"


def render_fleet_page(
    fleet: FleetView, lang: str = "en", main_name: str = "fleet.html", catalogue: Catalogue | None = None
) -> str:
    """The fleet overview page alone (its platform links point into ``pages_directory(main_name)``)."""
    t = Translator(lang)
    catalogue = catalogue or installed_catalogue()
    texts = CheckTexts(lang, catalogue.texts)
    page = fleet_page(fleet, t, texts, catalogue, quote(pages_directory(main_name)))
    template = environment().get_template("fleet.html.j2")
    return template.render(**_page_context(fleet, t), title=t("fleet_title"), page=page)


def render_fleet(
    fleet: FleetView, lang: str = "en", main_name: str = "fleet.html", catalogue: Catalogue | None = None
) -> list[tuple[str | None, str]]:
    """The fleet page (name None) and one page per platform, as (name relative to the fleet page, HTML)."""
    t = Translator(lang)
    catalogue = catalogue or installed_catalogue()
    texts = CheckTexts(lang, catalogue.texts)
    pages = pages_directory(main_name)
    out: list[tuple[str | None, str]] = [(None, render_fleet_page(fleet, lang, main_name, catalogue))]
    template = environment().get_template("platform.html.j2")
    base = _page_context(fleet, t)
    back = "../" + quote(main_name)
    for view in fleet.platforms:
        page = platform_page(view, fleet, t, texts, back)
        title = f"{view.name} — {t('platform_kicker')}"
        out.append((f"{pages}/{page_name(view.id)}", template.render(**base, title=title, page=page)))
    return out


def render_platform(fleet: FleetView, platform: str, lang: str = "en", catalogue: Catalogue | None = None) -> str:
    """The remediation page of one platform, on its own (no link back to a fleet page)."""
    t = Translator(lang)
    catalogue = catalogue or installed_catalogue()
    texts = CheckTexts(lang, catalogue.texts)
    found = [p for p in fleet.platforms if p.id == platform]
    if not found:
        raise ValueError(f"scan {fleet.scan.id} has no platform {platform!r}")
    view = found[0]
    page = platform_page(view, fleet, t, texts, None)
    return (
        environment()
        .get_template("platform.html.j2")
        .render(**_page_context(fleet, t), title=f"{view.name} — {t('platform_kicker')}", page=page)
    )
