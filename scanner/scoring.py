"""The one scoring function: a platform's results -> score, grade, binding caps and what lifts the grade.

The rules are tables (documented in docs/scoring.md) so they can be read, argued about and
versioned: ``SCORING_VERSION`` changes whenever a number here changes. Scores are computed from
stored results, so any old scan can be re-scored with the current rules.

- Each check counts once per platform, at its worst result across the platform's endpoints, so a
  platform with five URLs is not punished five times for one server setting.
- A failed check deducts ``WEIGHTS[severity]`` from 100; a warning deducts half of that.
- The score maps to a letter through ``BANDS``; caps in the manner of SSL Labs then limit the
  letter for findings that make a platform unacceptable whatever else is right. Each check declares
  its own caps (``Check.caps``); they reach this module as an argument, the caps of the scan being
  graded (``scanner.assessment.caps_of_scan``), so this module names no check.
- ``error`` results never count as passes: they deduct nothing, but the grade is marked partial,
  says what could not be tested, and cannot be A+. With nothing tested there is no grade.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.evidence import listing
from scanner.model import Cap, Result, Severity, Status

SCORING_VERSION = 1

WEIGHTS: Mapping[Severity, int] = {
    Severity.CRITICAL: 40,
    Severity.HIGH: 20,
    Severity.MEDIUM: 10,
    Severity.LOW: 3,
    Severity.INFO: 0,
}
WARN_FACTOR = 0.5

#: Lowest score for each letter, best first. A+ is an A with nothing failed or warned and full coverage.
BANDS: tuple[tuple[str, int], ...] = (("A", 90), ("B", 80), ("C", 65), ("D", 50), ("F", 0))
GRADE_ORDER: tuple[str, ...] = ("F", "D", "C", "B", "A", "A+")


#: check id -> its caps, strictest first (``Cap`` is part of the check contract: scanner.model).
Caps = Mapping[str, Sequence[Cap]]


# Worst first: how one check's results on several endpoints combine.
_STATUS_RANK: Mapping[Status, int] = {Status.FAIL: 0, Status.WARN: 1, Status.ERROR: 2, Status.PASS: 3, Status.SKIP: 4}


@dataclass(frozen=True)
class CheckOutcome:
    """One check's combined verdict on a platform: its worst result across endpoints."""

    check: str
    status: Status
    severity: Severity
    detail: str
    endpoints: int

    @property
    def deduction(self) -> float:
        if self.status == Status.FAIL:
            return float(WEIGHTS[self.severity])
        if self.status == Status.WARN:
            return WEIGHTS[self.severity] * WARN_FACTOR
        return 0.0


@dataclass(frozen=True)
class BindingCap:
    check: str
    grade: str
    detail: str


@dataclass(frozen=True)
class Coverage:
    """How much of what applies could be tested.

    Attributes:
        tested: checks with a verdict (pass, fail or warn).
        applicable: checks that applied (everything but skip).
        untested: family -> the reason its checks could not run (first error seen).
    """

    tested: int
    applicable: int
    untested: Mapping[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.tested == self.applicable


@dataclass(frozen=True)
class PlatformScore:
    """The score of one platform, with everything needed to explain it.

    Attributes:
        score: 0-100 (None when nothing could be tested).
        grade: A+, A, B, C, D or F (None when nothing could be tested).
        band: the letter the score alone would give.
        caps: the caps that bind (hold the grade at or below its band), strictest first.
        outcomes: every check's combined outcome, worst first.
        coverage: how much could be tested.
        next_grade: the letter above ``grade`` (None at A+).
        fixes: the shortest list of checks whose fixing reaches ``next_grade``.
    """

    score: int | None
    grade: str | None
    band: str | None
    caps: tuple[BindingCap, ...]
    outcomes: tuple[CheckOutcome, ...]
    coverage: Coverage
    next_grade: str | None
    fixes: tuple[str, ...]
    version: int = SCORING_VERSION

    @property
    def partial(self) -> bool:
        return not self.coverage.complete

    def explain(self) -> str:
        """One or two sentences: why this grade, and what would lift it."""
        if self.grade is None:
            return "Not graded: no check could be tested."
        parts = []
        if self.caps:
            names = ", ".join(cap.check for cap in self.caps)
            parts.append(f"Capped at {self.grade} by {names}.")
        if self.partial:
            parts.append(f"Partial: {self.coverage.tested} of {self.coverage.applicable} applicable checks tested.")
        if self.next_grade and self.fixes:
            parts.append(f"Fix {listing(self.fixes, limit=len(self.fixes))} to reach {self.next_grade}.")
        return " ".join(parts)


def combine(results: Iterable[Result]) -> list[CheckOutcome]:
    """One outcome per check: the worst status, and among failures the highest severity."""
    by_check: dict[str, list[Result]] = {}
    for result in results:
        by_check.setdefault(result.check, []).append(result)
    outcomes = []
    for check, group in by_check.items():
        worst = min(group, key=lambda r: (_STATUS_RANK[r.status], -r.severity.rank))
        outcomes.append(CheckOutcome(check, worst.status, worst.severity, worst.detail, len(group)))
    outcomes.sort(key=lambda o: (_STATUS_RANK[o.status], -o.severity.rank, o.check))
    return outcomes


def band_for(score: float) -> str:
    for letter, floor in BANDS:
        if score >= floor:
            return letter
    return "F"


def cap_for(outcome: CheckOutcome, caps: Caps) -> str | None:
    """The grade a failed ``outcome`` is capped at under ``caps`` (None: not capped)."""
    if outcome.status != Status.FAIL:
        return None
    for cap in caps.get(outcome.check, ()):
        if outcome.severity.rank >= cap.min_severity.rank:
            return cap.grade
    return None


def _lower(a: str, b: str) -> str:
    return a if GRADE_ORDER.index(a) <= GRADE_ORDER.index(b) else b


def _grade(outcomes: Sequence[CheckOutcome], complete: bool, caps: Caps) -> tuple[int, str, str]:
    score = max(0, math.floor(100 - sum(o.deduction for o in outcomes) + 1e-9))
    band = band_for(score)
    grade = band
    for outcome in outcomes:
        capped = cap_for(outcome, caps)
        if capped:
            grade = _lower(grade, capped)
    if grade == "A" and complete and all(o.status not in (Status.FAIL, Status.WARN) for o in outcomes):
        grade = "A+"
    return score, band, grade


def score_platform(results: Iterable[Result], caps: Caps) -> PlatformScore:
    """Score one platform from its results (any number of endpoints, any families).

    ``caps`` are the grade caps to apply, by check id: a stored scan is graded with the caps it ran
    with (``scanner.assessment.caps_of_scan``); results of no stored scan with the installed checks'
    (``scanner.plugin.installed_caps``). The caller always says which: scoring knows no check.
    """
    outcomes = combine(results)
    applicable = [o for o in outcomes if o.status != Status.SKIP]
    errors = [o for o in applicable if o.status == Status.ERROR]
    untested: dict[str, str] = {}
    for outcome in errors:
        untested.setdefault(outcome.check.split(".", 1)[0], outcome.detail)
    coverage = Coverage(tested=len(applicable) - len(errors), applicable=len(applicable), untested=untested)
    if coverage.tested == 0:
        return PlatformScore(None, None, None, (), tuple(outcomes), coverage, None, ())
    score, band, grade = _grade(outcomes, coverage.complete, caps)
    binding = tuple(
        BindingCap(o.check, capped, o.detail)
        for o in outcomes
        if (capped := cap_for(o, caps)) and GRADE_ORDER.index(capped) <= GRADE_ORDER.index(band)
    )
    binding = tuple(sorted(binding, key=lambda c: (GRADE_ORDER.index(c.grade), c.check)))
    next_grade, fixes = _lift(outcomes, grade, coverage.complete, caps)
    return PlatformScore(score, grade, band, binding, tuple(outcomes), coverage, next_grade, fixes)


def _lift(
    outcomes: Sequence[CheckOutcome], grade: str, complete: bool, caps: Caps
) -> tuple[str | None, tuple[str, ...]]:
    """The next letter up and the fewest failed checks to fix for it.

    Every cap below the target must go; then the largest deductions first, which is the fewest
    fixes that bring the score over the target band's floor.
    """
    if grade == "A+":
        return None, ()
    target = GRADE_ORDER[GRADE_ORDER.index(grade) + 1]
    if target == "A+" and not complete:
        return target, ()  # A+ needs every check tested; no fix list can promise it
    failing = [o for o in outcomes if o.status in (Status.FAIL, Status.WARN)]
    fixes = [
        o for o in failing if (capped := cap_for(o, caps)) and GRADE_ORDER.index(capped) < GRADE_ORDER.index(target)
    ]
    rest = sorted((o for o in failing if o not in fixes), key=lambda o: (-o.deduction, o.check))
    for candidate in [None, *rest]:
        if candidate is not None:
            fixes.append(candidate)
        remaining = [o for o in outcomes if o not in fixes]
        if _reaches(remaining, target, complete, caps):
            return target, tuple(o.check for o in fixes)
    return target, tuple(o.check for o in fixes)


def _reaches(outcomes: Sequence[CheckOutcome], target: str, complete: bool, caps: Caps) -> bool:
    _, _, grade = _grade(outcomes, complete, caps)
    return GRADE_ORDER.index(grade) >= GRADE_ORDER.index(target)
