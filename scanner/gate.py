"""The go-live gate's decision: does a scanned platform meet the bar?

Pure: it reads a platform's results, grade and compliance (already computed with waivers applied)
and, in baseline mode, the baseline scan's verdicts. A gate never passes because the scan failed:
a check that could not run makes the verdict "could not scan" (exit 3), not a pass.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scanner.compliance import Compliance, RequirementStatus
from scanner.model import Result, Severity, Status
from scanner.scoring import GRADE_ORDER, PlatformScore

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
        verdicts: (check, endpoint) -> (status, severity) in the baseline.
        grade: the platform's grade in the baseline.
    """

    scan_id: int
    verdicts: Mapping[tuple[str, str], tuple[str, str]]
    grade: str | None


@dataclass(frozen=True)
class GateVerdict:
    platform: str
    outcome: Outcome
    reasons: tuple[str, ...]
    blocking: tuple[Result, ...] = ()
    unscanned: tuple[Result, ...] = ()
    waived: tuple[Result, ...] = ()
    grade: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def decide(
    platform: str,
    results: Sequence[Result],
    score: PlatformScore,
    compliance: Compliance,
    bar: Bar,
    waived: Sequence[Result] = (),
    baseline: Baseline | None = None,
) -> GateVerdict:
    """The verdict for one platform; ``results`` exclude nothing, ``waived`` lists the waived ones."""
    waived_keys = {(r.check, r.endpoint) for r in waived}
    unscanned = tuple(r for r in results if r.status == Status.ERROR)
    if unscanned or score.grade is None:
        untested = sorted({f"{r.check.split('.')[0]} not tested: {r.detail}" for r in unscanned})
        return GateVerdict(
            platform,
            Outcome.COULD_NOT_SCAN,
            tuple(untested) or ("nothing could be tested",),
            unscanned=unscanned,
            grade=score.grade,
        )

    def is_new_or_worse(result: Result) -> bool:
        if baseline is None:
            return True
        before = baseline.verdicts.get((result.check, result.endpoint))
        if before is None or before[0] != Status.FAIL.value:
            return True
        return result.severity.rank > Severity(before[1]).rank

    blocking = tuple(
        r
        for r in results
        if r.status == Status.FAIL
        and r.severity.rank >= bar.fail_on.rank
        and (r.check, r.endpoint) not in waived_keys
        and is_new_or_worse(r)
    )
    reasons: list[str] = []
    if blocking:
        reasons.append(f"{len(blocking)} unwaived failure(s) at {bar.fail_on.value} or above")
    grade = score.grade
    if baseline is not None:
        floor = baseline.grade
        if floor is not None and _rank(grade) < _rank(floor):
            reasons.append(f"grade {grade} is worse than the baseline's {floor} (scan {baseline.scan_id})")
    elif _rank(grade) < _rank(bar.min_grade):
        reasons.append(f"grade {grade} is below the minimum {bar.min_grade}")
    if bar.require_compliant:
        unmet = [
            r.requirement.id
            for r in compliance.requirements
            if r.requirement.mandatory
            and r.status == RequirementStatus.NOT_MET
            and any((c, e) not in waived_keys for c in r.failing for e in _endpoints(results, c))
        ]
        untested = [
            r.requirement.id
            for r in compliance.requirements
            if r.requirement.mandatory and r.status == RequirementStatus.NOT_TESTED
        ]
        if unmet:
            reasons.append(f"not compliant at level {compliance.level}: {', '.join(unmet)} not met")
        if untested:
            reasons.append(f"compliance at level {compliance.level} not established: {', '.join(untested)} not tested")
    outcome = Outcome.BELOW_BAR if reasons else Outcome.PASSED
    notes = tuple(f"{r.check} on {r.endpoint}: warning ({r.detail})" for r in results if r.status == Status.WARN)
    return GateVerdict(
        platform,
        outcome,
        tuple(reasons),
        blocking=blocking,
        waived=tuple(waived),
        grade=grade,
        notes=notes,
    )


def _rank(grade: str | None) -> int:
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else -1


def _endpoints(results: Sequence[Result], check: str) -> list[str]:
    return [r.endpoint for r in results if r.check == check and r.status == Status.FAIL]
