"""A platform's remediation page model, built from its ``PlatformView``: the grade and why, the
compliance table, the findings by severity with how to fix each, and what passed, erred or was skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from reports.i18n import CheckTexts, Translator
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
        badge=badge(score.grade, t, score.provisional),
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
                needs_active=bool(r.needs_active),
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
