"""Compliance of one platform with a criteria profile at the platform's security level."""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from scanner.criteria import Profile, Requirement
from scanner.model import Result, Status
from scanner.scoring import combine


class RequirementStatus(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NOT_TESTED = "not_tested"


@dataclass(frozen=True)
class RequirementResult:
    """One applicable requirement's state, with the checks behind it.

    Attributes:
        requirement: the requirement from the profile.
        status: met (every check that ran passed), not met (a check failed) or not tested
            (a check could not run, or none of its checks were in the scan).
        failing: checks that failed.
        untested: checks that errored or did not run.
        needs_active: the untested checks that are active: only an authorised ``platscan scan
            --active`` can evidence them, so no scheduled (passive) scan or gate ever will.
    """

    requirement: Requirement
    status: RequirementStatus
    failing: tuple[str, ...] = ()
    untested: tuple[str, ...] = ()
    needs_active: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compliance:
    """Compliance at ``level``: every applicable requirement, and the overall answer.

    ``compliant`` is True when every mandatory requirement is met, False when one is not met, and
    None when none failed but some could not be tested: a scanner must not claim what it did not see.
    """

    level: int
    requirements: tuple[RequirementResult, ...]
    compliant: bool | None

    def count(self, status: RequirementStatus) -> int:
        return sum(1 for r in self.requirements if r.status == status)


def assess(
    profile: Profile, level: int, results: Iterable[Result], active: Collection[str] = frozenset()
) -> Compliance:
    """Compliance at ``level``; ``active`` names the active checks (``needs_active``)."""
    outcomes = {o.check: o for o in combine(results)}
    assessed = []
    for requirement in profile.requirements:
        if level not in requirement.levels:
            continue
        failing = tuple(c for c in requirement.checks if c in outcomes and outcomes[c].status == Status.FAIL)
        untested = tuple(c for c in requirement.checks if c not in outcomes or outcomes[c].status == Status.ERROR)
        ran = [c for c in requirement.checks if c in outcomes and outcomes[c].status != Status.SKIP]
        if failing:
            status = RequirementStatus.NOT_MET
        elif untested or not ran:
            status = RequirementStatus.NOT_TESTED
        else:
            status = RequirementStatus.MET
        needs_active = tuple(c for c in untested if c in active and c not in outcomes)
        assessed.append(RequirementResult(requirement, status, failing, untested, needs_active))
    mandatory = [r for r in assessed if r.requirement.mandatory]
    compliant: bool | None
    if any(r.status == RequirementStatus.NOT_MET for r in mandatory):
        compliant = False
    elif any(r.status == RequirementStatus.NOT_TESTED for r in mandatory):
        compliant = None
    else:
        compliant = True
    return Compliance(level=level, requirements=tuple(assessed), compliant=compliant)
