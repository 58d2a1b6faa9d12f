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
- ``error`` results (a check that could not run, or never ran because the scan was stopped) never
  count as passes: they deduct nothing, but the grade is marked partial, says what could not be
  tested, and cannot be A+. Below ``PROVISIONAL_BELOW`` of the applicable checks tested the grade
  is provisional (shown as such everywhere; the gate never passes on it). A platform with nothing
  tested, or whose registered web URLs could none of them be tested at all, is not graded: it
  "could not be assessed", as SSL Labs says "Assessment failed"; the checks of its other endpoints
  (say, five port checks that passed) must not make an unreachable portal look like an A.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from scanner.evidence import FACTS, listing
from scanner.model import Cap, Result, Severity, Status

SCORING_VERSION = 2  # 2: no grade when no web URL could be tested; provisional below 80 % coverage

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
#: A grade resting on fewer than this share of the applicable checks is provisional.
PROVISIONAL_BELOW = 0.8
#: The endpoints a platform is assessed through: if it registered web URLs and none of them could be
#: tested at all, the platform is not graded.
WEB_SCHEMES = ("http://", "https://")


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
    #: The underlying facts its failures rest on (``evidence["facts"]``), and the check whose larger
    #: deduction already counts every one of them: this one then deducts nothing.
    facts: frozenset[str] = frozenset()
    counted_by: str | None = None

    @property
    def deduction(self) -> float:
        if self.counted_by is not None:
            return 0.0
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
        unreachable: the reason the platform could not be assessed (none of its web URLs could be
            tested, or nothing could), or None when it could.
    """

    tested: int
    applicable: int
    untested: Mapping[str, str] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def complete(self) -> bool:
        return self.tested == self.applicable

    @property
    def ratio(self) -> float:
        return self.tested / self.applicable if self.applicable else 0.0


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

    @property
    def assessed(self) -> bool:
        return self.grade is not None

    @property
    def provisional(self) -> bool:
        """A grade on too little evidence (below ``PROVISIONAL_BELOW`` of the checks tested)."""
        return self.grade is not None and self.coverage.ratio < PROVISIONAL_BELOW

    def explain(self) -> str:
        """One or two sentences: why this grade, and what would lift it."""
        if self.grade is None:
            return f"Could not be assessed: {self.coverage.unreachable or 'no check could be tested'}."
        parts = []
        if self.provisional:
            parts.append(
                f"Provisional: only {self.coverage.tested} of {self.coverage.applicable} applicable checks "
                f"were tested (a grade needs {PROVISIONAL_BELOW:.0%})."
            )
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
        facts = frozenset(fact for r in group if r.status in (Status.FAIL, Status.WARN) for fact in _facts_of(r))
        outcomes.append(CheckOutcome(check, worst.status, worst.severity, worst.detail, len(group), facts))
    outcomes.sort(key=lambda o: (_STATUS_RANK[o.status], -o.severity.rank, o.check))
    return _count_each_fact_once(outcomes)


def _facts_of(result: Result) -> list[str]:
    listed = result.evidence.get(FACTS)
    return [str(fact) for fact in listed] if isinstance(listed, list) else []


def _count_each_fact_once(outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    """One underlying fact, one deduction: a failure whose every fact a larger deduction of another
    check already counts (one ``Server: Apache/2.4.58`` seen by the http and the ports family)
    deducts nothing; both results stay, the second names the first."""
    counted: dict[str, str] = {}
    out: dict[str, CheckOutcome] = {}
    for outcome in sorted(outcomes, key=lambda o: (-o.deduction, o.check)):
        if outcome.facts and outcome.deduction and outcome.facts <= counted.keys():
            out[outcome.check] = replace(outcome, counted_by=counted[min(outcome.facts)])
            continue
        for fact in outcome.facts:
            counted.setdefault(fact, outcome.check)
        out[outcome.check] = outcome
    return [out[o.check] for o in outcomes]


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


def _unreachable(results: Sequence[Result]) -> str | None:
    """Why the platform cannot be assessed through its web URLs (registered, and none with a single
    tested check), or None."""
    web = [r for r in results if r.endpoint.startswith(WEB_SCHEMES) and r.status != Status.SKIP]
    if not web or any(r.status != Status.ERROR for r in web):
        return None
    reasons = Counter(r.detail for r in web)
    reason, _ = reasons.most_common(1)[0]
    urls = sorted({r.endpoint for r in web})
    return f"none of its {len(urls)} web URL(s) could be tested ({urls[0]}: {reason.rstrip('.')})"


def score_platform(results: Iterable[Result], caps: Caps) -> PlatformScore:
    """Score one platform from its results (any number of endpoints, any families).

    ``caps`` are the grade caps to apply, by check id: a stored scan is graded with the caps it ran
    with (``scanner.assessment.caps_of_scan``); results of no stored scan with the installed checks'
    (``scanner.plugin.installed_caps``). The caller always says which: scoring knows no check.
    """
    results = list(results)
    outcomes = combine(results)
    applicable = [o for o in outcomes if o.status != Status.SKIP]
    errors = [o for o in applicable if o.status == Status.ERROR]
    untested: dict[str, str] = {}
    for outcome in errors:
        untested.setdefault(outcome.check.split(".", 1)[0], outcome.detail)
    coverage = Coverage(
        tested=len(applicable) - len(errors),
        applicable=len(applicable),
        untested=untested,
        unreachable=_unreachable(results),
    )
    if coverage.tested == 0 or coverage.unreachable is not None:
        if coverage.unreachable is None:
            coverage = replace(coverage, unreachable="no check could be tested")
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
