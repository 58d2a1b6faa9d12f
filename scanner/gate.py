"""The go-live gate's decision: does a scanned platform meet the bar?

Pure: it reads a platform's results, grade and compliance (already computed with waivers applied)
and, in baseline mode, the baseline scan's verdicts. A gate never passes because the scan failed:
a check that could not run makes the verdict "could not scan" (exit 3), not a pass.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.compliance import Compliance, RequirementStatus
from scanner.messages import Message, say
from scanner.model import Result, Severity, Status
from scanner.scoring import GRADE_ORDER, NOTHING_TESTED, PlatformScore

DEFAULT_MIN_GRADE = "B"
DEFAULT_FAIL_ON = Severity.HIGH


class Outcome(enum.IntEnum):
    """The gate's exit codes."""

    PASSED = 0
    BELOW_BAR = 1
    USAGE = 2
    COULD_NOT_SCAN = 3


@dataclass(frozen=True)
class Bar:
    """What a platform must meet: a minimum grade, no unwaived failure at or above ``fail_on``,
    and optionally compliance with the criteria at its level."""

    min_grade: str = DEFAULT_MIN_GRADE
    fail_on: Severity = DEFAULT_FAIL_ON
    require_compliant: bool = False


@dataclass(frozen=True)
class Baseline:
    """An earlier scan to compare with: only what is new or worse than it fails the gate.

    Attributes:
        scan_id: the baseline scan.
        failures: (check, endpoint) -> the failure accepted as known debt (failures that were only
            waived in the baseline are not: when the waiver lapses they count as new). A check gives
            one result per endpoint; what it found is that result's ``key``.
        grade: the platform's grade in the baseline; the gate fails if it gets worse.
    """

    scan_id: int
    failures: Mapping[tuple[str, str], Result]
    grade: str

    def accepts(self, result: Result) -> bool:
        """Whether ``result`` is a failure the baseline already had, no worse.

        A finding is its identity (check, endpoint, key), never its detail sentence, which an upgrade
        may reword. A baseline failure stored without a key (a scan from before findings had keys)
        is taken to be the same finding as any key now: its key cannot be told, and failing every
        baselined gate on the upgrade is what identities exist to prevent. The next baseline carries
        keys. A key that was recorded and differs is a different finding (a new port, a new path).
        """
        before = self.failures.get((result.check, result.endpoint))
        if before is None or result.severity.rank > before.severity.rank:
            return False
        return not before.key or result.key == before.key


@dataclass(frozen=True)
class GateVerdict:
    platform: str
    outcome: Outcome
    reasons: tuple[Message, ...]  # messages: the terminal and the CI files word them in their language
    blocking: tuple[Result, ...] = ()
    waived: tuple[Result, ...] = ()
    grade: str | None = None
    notes: tuple[Message, ...] = field(default_factory=tuple)


def decide(
    platform: str,
    results: Sequence[Result],
    score: PlatformScore,
    compliance: Compliance,
    bar: Bar,
    waived: Sequence[Result] = (),
    baseline: Baseline | None = None,
    gate_cannot_run: Collection[str] = (),
) -> GateVerdict:
    """The verdict for one platform.

    ``results`` exclude nothing; ``waived`` lists the waived ones; ``gate_cannot_run`` names checks
    the gate never runs (active checks), whose requirements it cannot judge.
    """
    waived_keys = {(r.check, r.endpoint) for r in waived}
    unscanned = [r for r in results if r.status == Status.ERROR]
    if unscanned or score.grade is None:
        # Never a pass on what was not tested: a provisional grade, or none at all, is not a verdict.
        by_text = {f"{r.check.split('.')[0]} {r.detail}": r for r in unscanned}
        untested = [
            say(
                "gate.family_untested",
                "{family} not tested: {reason}",
                family=r.check.split(".")[0],
                reason=r.message or r.detail,
            )
            for _, r in sorted(by_text.items())
        ]
        if score.grade is None:
            reason = score.coverage.unreachable or NOTHING_TESTED
            untested.insert(0, say("gate.not_assessed", "could not be assessed: {reason}", reason=reason))
        elif score.provisional:
            untested.insert(
                0,
                say(
                    "gate.provisional",
                    "grade {grade} is provisional: {tested} of {applicable} applicable checks tested",
                    grade=score.grade,
                    tested=score.coverage.tested,
                    applicable=score.coverage.applicable,
                ),
            )
        return GateVerdict(platform, Outcome.COULD_NOT_SCAN, tuple(untested), grade=score.grade)

    def is_new_or_worse(result: Result) -> bool:
        return baseline is None or not baseline.accepts(result)

    blocking = tuple(
        r
        for r in results
        if r.status == Status.FAIL
        and r.severity.rank >= bar.fail_on.rank
        and (r.check, r.endpoint) not in waived_keys
        and is_new_or_worse(r)
    )
    reasons: list[Message] = []
    if blocking:
        reasons.append(
            say(
                "gate.blocking",
                "{count} unwaived failure(s) at {severity} or above",
                count=len(blocking),
                severity=bar.fail_on.value,
            )
        )
    grade = score.grade
    if baseline is not None:
        if _rank(grade) < _rank(baseline.grade):
            reasons.append(
                say(
                    "gate.worse_than_baseline",
                    "grade {grade} is worse than the baseline's {baseline} (scan {scan})",
                    grade=str(grade),
                    baseline=str(baseline.grade),
                    scan=baseline.scan_id,
                )
            )
    elif _rank(grade) < _rank(bar.min_grade):
        reasons.append(
            say(
                "gate.below_minimum",
                "grade {grade} is below the minimum {minimum}",
                grade=str(grade),
                minimum=bar.min_grade,
            )
        )
    notes: list[Message] = []
    if bar.require_compliant:
        failing_at: dict[str, list[str]] = {}
        for r in results:
            if r.status == Status.FAIL and (r.check, r.endpoint) not in waived_keys:
                failing_at.setdefault(r.check, []).append(r.endpoint)
        unmet: list[str] = []
        not_established: list[str] = []
        needs_active: list[str] = []
        for req in compliance.requirements:
            if not req.requirement.mandatory or req.status == RequirementStatus.MET:
                continue
            if any(check in failing_at for check in req.failing):
                unmet.append(req.requirement.id)
            elif req.untested and all(check in gate_cannot_run for check in req.untested):
                needs_active.append(req.requirement.id)
            elif req.untested or req.status == RequirementStatus.NOT_TESTED:
                # A waiver covers the failures, but what has not run is still not established.
                not_established.append(req.requirement.id)
        if unmet:
            reasons.append(
                say(
                    "gate.not_compliant",
                    "not compliant at level {level}: {requirements} not met",
                    level=compliance.level,
                    requirements=unmet,
                )
            )
        if not_established:
            reasons.append(
                say(
                    "gate.compliance_untested",
                    "compliance at level {level} not established: {requirements} not tested",
                    level=compliance.level,
                    requirements=not_established,
                )
            )
        if needs_active:
            notes.append(
                say(
                    "gate.needs_active",
                    "{requirements} rest on active checks, which the gate never runs: "
                    "judge them with an authorised `platscan scan --active`",
                    requirements=needs_active,
                )
            )
    outcome = Outcome.BELOW_BAR if reasons else Outcome.PASSED
    notes.extend(
        say(
            "gate.warning",
            "{check} on {endpoint}: warning ({detail})",
            check=r.check,
            endpoint=r.endpoint,
            detail=r.message or r.detail,
        )
        for r in results
        if r.status == Status.WARN
    )
    return GateVerdict(
        platform,
        outcome,
        tuple(reasons),
        blocking=blocking,
        waived=tuple(waived),
        grade=grade,
        notes=tuple(notes),
    )


def _rank(grade: str | None) -> int:
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else -1
