"""A platform's remediation page model, built from its ``PlatformView``, in the order an owner acts on
it: the grade and why (with a score per family), the fixes that lift it most, the findings by
severity with how to fix each (snippets in the platform's own names), its services and domains
(``reports.services_section``), the compliance table with the met requirements folded, and what
erred, passed or was skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from markupsafe import Markup

from reports.catalogue import installed_entries, rules_of
from reports.i18n import CheckTexts, Translator
from reports.owner_summary import FamilyBar, FixSummary, family_bars, fix_summary
from reports.page_parts import Badge, Compliance, SeverityCount, badge, compliance_of
from reports.page_text import (
    coverage_lines,
    evidence_text,
    explanation,
    rich_text,
    severity_label,
    status_label,
    waiver_text,
)
from reports.palette import SEVERITIES
from reports.placeholders import endpoint_host, fill
from reports.services_section import ServicesSection, services_section
from reports.view import FleetView, PlatformView
from scanner.compliance import RequirementStatus
from scanner.criteria import Requirement
from scanner.model import Result, Severity, Status

#: The compliance table lists what needs work first; within a status, in profile order.
_REQUIREMENT_ORDER = {RequirementStatus.NOT_MET: 0, RequirementStatus.NOT_TESTED: 1, RequirementStatus.MET: 2}


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
    #: Only an authorised ``platscan scan --active`` can test it: no scheduled scan ever will.
    needs_active: bool = False
    #: How the verdict is drawn: an advisory requirement not met is not a mandatory failure.
    css: str = "unknown"


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
    #: Captions of the requirements not met or not tested, and of the met ones (folded).
    requirement_captions: tuple[str, str]
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
    fixes: FixSummary
    families: tuple[FamilyBar, ...]
    min_grade: str
    #: What the families found on the services and DNS names they declared; None when they declared none.
    services: ServicesSection | None = None


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

    installed = installed_entries()

    def ref(check: str, failed: bool = True) -> CheckRef:
        """A check named in a compliance row: by its finding where it failed, by its neutral title
        where it was not tested (nothing was observed). A check the scan did not run (an active
        one) takes the installed check's title, never its bare id."""
        entry = installed.get(check)
        stored = entry.title if entry is not None else ""
        return CheckRef(check, texts.failure(check, stored) if failed else texts.title(check, stored))

    first_host = view.hosts[0] if view.hosts else None
    groups: dict[Severity, list[Finding]] = {}
    result_anchors: dict[tuple[str, str, str], str] = {}
    for index, result in enumerate(view.failing):
        text = texts.get(result.check, result.title, result.remediation)
        anchor = f"finding-{index + 1}"
        result_anchors.setdefault((result.check, result.endpoint, result.key), anchor)
        groups.setdefault(result.severity, []).append(
            Finding(
                anchor=anchor,
                check=result.check,
                title=text.failure,
                status=result.status.value,
                status_label=status_label(result.status, t),
                severity=result.severity.value,
                severity_label=severity_label(result.severity, t),
                endpoint=result.endpoint,
                detail=texts.detail(result),
                evidence=evidence_text(result.evidence, t),
                why=text.why,
                requirements=tuple(
                    RequirementRef(rid, req_title(requirements[rid]) if rid in requirements else "")
                    for rid in result.criteria
                ),
                remediation=rich_text(fill(text.remediation, view.id, endpoint_host(result.endpoint) or first_host)),
                new=(result.check, result.endpoint) in new,
                waiver=waiver_text(view.waived.get((result.check, result.endpoint)), t),
            )
        )

    def rows(results: Iterable[Result]) -> tuple[ResultRow, ...]:
        return tuple(
            ResultRow(
                r.check,
                texts.title(r.check, r.title),
                r.endpoint,
                r.status.value,
                status_label(r.status, t),
                texts.detail(r),
            )
            for r in sorted(results, key=lambda r: (r.check, r.endpoint))
        )

    counts = view.severity_counts()
    score = view.score
    profile = f"{fleet.profile.id} {fleet.profile.version}".strip()
    anchors: dict[str, str] = {}
    for group in groups.values():
        for finding in group:
            anchors.setdefault(finding.check, finding.anchor)
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
        badge=badge(score.grade, t, score.provisional),
        score="–" if score.score is None else str(score.score),
        explanation=tuple(explanation(score, texts, t)),
        coverage=tuple(coverage_lines(score, t, texts)),
        partial=score.partial,
        compliance=compliance_of(view.compliance.compliant, t),
        requirement_captions=(
            t("requirements_open_caption", profile=profile, level=view.level),
            t("requirements_met_caption", profile=profile, level=view.level),
        ),
        requirements=tuple(
            RequirementRow(
                id=r.requirement.id,
                title=req_title(r.requirement),
                current=r.requirement.current,
                legacy=r.requirement.legacy,
                mandatory=r.requirement.mandatory,
                status=r.status.value,
                status_label=t(_verdict_key(r.status, r.requirement.mandatory)),
                icon=_icon(r.status, r.requirement.mandatory),
                failing=tuple(ref(c) for c in r.failing),
                untested=tuple(ref(c, failed=False) for c in r.untested),
                needs_active=bool(r.needs_active),
                css=_verdict_css(r.status, r.requirement.mandatory),
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
        fixes=fix_summary(view, fleet.caps, texts, t, anchors),
        families=family_bars(score, t),
        min_grade=view.min_grade,
        services=services_section(view, t, texts, _family_of(fleet), result_anchors),
    )


def _family_of(fleet: FleetView) -> Callable[[str], str]:
    """check id -> its family, as the scan's catalogue says (a check id starts with its family's name)."""
    families = {entry.check: entry.family for entry in rules_of(fleet)}
    return lambda check: families.get(check) or check.split(".", 1)[0]


def _verdict_key(status: RequirementStatus, mandatory: bool) -> str:
    if status == RequirementStatus.NOT_MET and not mandatory:
        return "req.advisory_not_met"
    return f"req.{status.value}"


def _verdict_css(status: RequirementStatus, mandatory: bool) -> str:
    if status == RequirementStatus.MET:
        return "ok"
    if status == RequirementStatus.NOT_MET:
        return "bad" if mandatory else "advisory"
    return "unknown"


def _icon(status: RequirementStatus, mandatory: bool) -> str:
    if status == RequirementStatus.MET:
        return "✓"
    if status == RequirementStatus.NOT_MET:
        return "✗" if mandatory else "○"
    return "?"
