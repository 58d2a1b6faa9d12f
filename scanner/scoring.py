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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from scanner.evidence import FACTS, listing
from scanner.messages import Message, Text, say
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
NOTHING_TESTED = say("scan.nothing_tested", "no check could be tested")


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
    detail: Text  # the worst result's sentence: its message, to be rendered in a report's language
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
    detail: Text


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
    untested: Mapping[str, Text] = field(default_factory=dict)
    unreachable: Text | None = None

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
            return f"Could not be assessed: {self.coverage.unreachable or NOTHING_TESTED}."
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
        said = worst.message or worst.detail
        outcomes.append(CheckOutcome(check, worst.status, worst.severity, said, len(group), facts))
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


def _unreachable(results: Sequence[Result]) -> Message | None:
    """Why the platform cannot be assessed through its web URLs (registered, and none with a single
    tested check), or None."""
    web = [r for r in results if r.endpoint.startswith(WEB_SCHEMES) and r.status != Status.SKIP]
    if not web or any(r.status != Status.ERROR for r in web):
        return None
    reasons = Counter(r.detail for r in web)
    reason, _ = reasons.most_common(1)[0]
    said = next(r.message or r.detail for r in web if r.detail == reason)
    urls = sorted({r.endpoint for r in web})
    return say(
        "scan.unreachable_platform",
        "none of its {count} web URL(s) could be tested ({url}: {reason})",
        count=len(urls),
        url=urls[0],
        reason=said,
    )


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
    untested: dict[str, Text] = {}
    for outcome in errors:
        untested.setdefault(family_of(outcome.check), outcome.detail)
    coverage = Coverage(
        tested=len(applicable) - len(errors),
        applicable=len(applicable),
        untested=untested,
        unreachable=_unreachable(results),
    )
    if coverage.tested == 0 or coverage.unreachable is not None:
        if coverage.unreachable is None:
            coverage = replace(coverage, unreachable=NOTHING_TESTED)
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
    """The next letter up and the fewest failed checks to fix for it (``_fixes_for``)."""
    if grade == "A+":
        return None, ()
    target = GRADE_ORDER[GRADE_ORDER.index(grade) + 1]
    return target, _fixes_for(outcomes, target, complete, caps) or ()


def _fixes_for(outcomes: Sequence[CheckOutcome], target: str, complete: bool, caps: Caps) -> tuple[str, ...] | None:
    """The fewest failed or warned checks to fix for the grade to reach ``target``: () when it
    already does, None when no fix list can promise it (A+ needs every check tested).

    Every cap below the target must go; then the largest deductions first, which is the fewest
    fixes that bring the score over the target band's floor.
    """
    if _reaches(outcomes, (), target, complete, caps):
        return ()
    if target == "A+" and not complete:
        return None
    failing = [o for o in outcomes if o.status in (Status.FAIL, Status.WARN)]
    fixes = [
        o for o in failing if (capped := cap_for(o, caps)) and GRADE_ORDER.index(capped) < GRADE_ORDER.index(target)
    ]
    rest = sorted((o for o in failing if o not in fixes), key=lambda o: (-o.deduction, o.check))
    for candidate in [None, *rest]:
        if candidate is not None:
            fixes.append(candidate)
        if _reaches(outcomes, {o.check for o in fixes}, target, complete, caps):
            break
    return tuple(o.check for o in fixes)


def _reaches(outcomes: Sequence[CheckOutcome], fixed: Collection[str], target: str, complete: bool, caps: Caps) -> bool:
    _, _, grade = _grade(_with_fixed(outcomes, fixed), complete, caps)
    return GRADE_ORDER.index(grade) >= GRADE_ORDER.index(target)


def _with_fixed(outcomes: Sequence[CheckOutcome], fixed: Collection[str]) -> list[CheckOutcome]:
    """``outcomes`` as they would be with the ``fixed`` checks passing: facts are counted again, so a
    deduction another check's fixed failure was already counting comes back."""
    if not fixed:
        return list(outcomes)
    passing = [replace(o, status=Status.PASS, facts=frozenset()) if o.check in fixed else o for o in outcomes]
    return _count_each_fact_once([replace(o, counted_by=None) for o in passing])


def fixes_to_reach(score: PlatformScore, target: str, caps: Caps) -> tuple[str, ...] | None:
    """The shortest list of checks whose fixing brings ``score``'s platform to ``target`` or above
    (the same rule as ``PlatformScore.fixes``, for any letter: a gate's bar, say): () when it is
    there already, None when no fix list can promise it (no grade, or A+ with checks untested)."""
    if score.grade is None:
        return None
    return _fixes_for(score.outcomes, target, score.coverage.complete, caps)


@dataclass(frozen=True)
class Fix:
    """What fixing one failed or warned check, alone, would do to the platform's grade.

    Attributes:
        points: the score with the check fixed minus the score now (one fact, one deduction, and
            the floor at 0 included: 0 when other failures keep the score at 0).
        grade: the grade with the check fixed, a cap it lifts included.
        cap: the grade this failure caps the platform at (None: it does not cap).
    """

    check: str
    points: int
    grade: str
    cap: str | None


def fix_gains(score: PlatformScore, caps: Caps) -> tuple[Fix, ...]:
    """Every failed or warned check with what fixing it alone gains, computed with the scoring rules
    themselves (``_grade``), most gained first: the better grade, then the more points, then by id."""
    if score.score is None:
        return ()
    complete = score.coverage.complete
    gains = []
    for outcome in score.outcomes:
        if outcome.status not in (Status.FAIL, Status.WARN):
            continue
        points, _, grade = _grade(_with_fixed(score.outcomes, {outcome.check}), complete, caps)
        gains.append(Fix(outcome.check, points - score.score, grade, cap_for(outcome, caps)))
    return tuple(sorted(gains, key=fix_order))


def fix_order(fix: Fix) -> tuple[int, int, str]:
    """How fixes are listed: most gained first (the better grade, then the more points), then by id."""
    return (-GRADE_ORDER.index(fix.grade), -fix.points, fix.check)


@dataclass(frozen=True)
class FamilyScore:
    """One family's share of a platform's score, like the bars of SSL Labs: 100 minus the deductions
    of the family's checks (the same table and the same once-per-fact rule as the platform's score),
    floored at 0. It shows where the points went; the grade is the platform's alone.

    Attributes:
        score: None when none of the family's applicable checks could be tested.
        failed: the family's checks that failed or warned.
        cap: the strictest cap the family's failures hold the platform's grade at (None: none binds).
    """

    family: str
    score: int | None
    tested: int
    applicable: int
    failed: int
    cap: str | None


def family_scores(score: PlatformScore) -> tuple[FamilyScore, ...]:
    """Each family with an applicable check, by name. A check's family is its id's first part (the
    plugin contract: ``<family>.<name>``), so this module still names none."""
    by_family: dict[str, list[CheckOutcome]] = {}
    for outcome in score.outcomes:
        if outcome.status != Status.SKIP:
            by_family.setdefault(family_of(outcome.check), []).append(outcome)
    out = []
    for family, outcomes in sorted(by_family.items()):
        tested = [o for o in outcomes if o.status != Status.ERROR]
        caps = [c.grade for c in score.caps if family_of(c.check) == family]
        out.append(
            FamilyScore(
                family=family,
                score=max(0, math.floor(100 - sum(o.deduction for o in outcomes) + 1e-9)) if tested else None,
                tested=len(tested),
                applicable=len(outcomes),
                failed=sum(1 for o in outcomes if o.status in (Status.FAIL, Status.WARN)),
                cap=min(caps, key=GRADE_ORDER.index) if caps else None,
            )
        )
    return tuple(out)


def family_of(check: str) -> str:
    """The family of a check id (its part before the first dot)."""
    return check.split(".", 1)[0]
