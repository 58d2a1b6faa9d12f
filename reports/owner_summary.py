"""What a platform's owner reads first: the fixes that lift the grade, most gained first, toward the
go-live bar and toward the next letter, and a score per family (where the points went).

Every number comes from ``scanner.scoring`` (``fix_gains``, ``fixes_to_reach``, ``family_scores``),
asked with the caps the scan is graded with: this module only words and orders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reports.i18n import CheckTexts, Translator
from reports.page_text import family_name, finding_title
from reports.palette import grade_slug
from reports.view import PlatformView
from scanner.scoring import (
    GRADE_ORDER,
    Caps,
    Fix,
    PlatformScore,
    band_for,
    family_scores,
    fix_gains,
    fix_order,
    fixes_to_reach,
)


@dataclass(frozen=True)
class FixItem:
    """One check to fix, with what fixing it alone gains.

    Attributes:
        anchor: the page anchor of the check's first finding ("" when it is not on the page).
        points: the score it costs now (the score with it fixed minus the score now).
        notes: what else fixing it does: the cap it lifts, the grade it alone reaches.
    """

    check: str
    title: str
    anchor: str
    points: int
    points_label: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class FixPlan:
    """The fixes toward one letter: ``items`` in the order of what they gain; ``note`` when there is
    no list to give (already there, or no fix can promise it)."""

    kind: str  # "bar", "next" or "both"
    target: str
    heading: str
    note: str
    items: tuple[FixItem, ...]


@dataclass(frozen=True)
class FixSummary:
    plans: tuple[FixPlan, ...]
    #: Fixes in no plan that still gain points or lift a cap, most gained first.
    others: tuple[FixItem, ...]
    #: Said instead of any plan: no grade, or nothing left to fix.
    note: str = ""


@dataclass(frozen=True)
class FamilyBar:
    family: str
    title: str
    score: str
    width: int
    slug: str
    detail: str


def fix_summary(
    view: PlatformView, caps: Caps, texts: CheckTexts, t: Translator, anchors: Mapping[str, str]
) -> FixSummary:
    score = view.score
    if score.grade is None:
        return FixSummary((), (), t("fixes_not_assessed"))
    if score.grade == "A+":
        return FixSummary((), (), t("top_grade"))
    gains = {fix.check: fix for fix in fix_gains(score, caps)}

    def items(checks: Sequence[str]) -> tuple[FixItem, ...]:
        chosen = sorted((gains[c] for c in checks if c in gains), key=fix_order)
        return tuple(_item(fix, score, texts, t, anchors) for fix in chosen)

    def plan(kind: str, target: str, heading: str, checks: Sequence[str] | None) -> FixPlan:
        if checks is None:  # only A+ is out of any list's reach: it needs every check tested
            return FixPlan(kind, target, heading, t("plus_needs_coverage"), ())
        return FixPlan(kind, target, heading, "", items(checks))

    plans: list[FixPlan] = []
    bar, upcoming = view.min_grade, score.next_grade
    below_bar = _rank(score.grade) < _rank(bar)
    if not below_bar:
        plans.append(FixPlan("bar", bar, t("fixes_to_bar", grade=bar), t("meets_bar", grade=bar), ()))
    elif bar != upcoming:
        plans.append(plan("bar", bar, t("fixes_to_bar", grade=bar), fixes_to_reach(score, bar, caps)))
    if upcoming is not None:
        kind = "both" if upcoming == bar and below_bar else "next"
        plans.append(plan(kind, upcoming, t(f"fixes_to_{kind}", grade=upcoming), score.fixes or None))
    planned = {item.check for each in plans for item in each.items}
    others = tuple(
        _item(fix, score, texts, t, anchors)
        for fix in gains.values()
        if fix.check not in planned and (fix.points > 0 or fix.cap is not None)
    )
    return FixSummary(tuple(plans), others)


def _item(fix: Fix, score: PlatformScore, texts: CheckTexts, t: Translator, anchors: Mapping[str, str]) -> FixItem:
    notes = []
    if fix.cap is not None:
        notes.append(t("fix_caps", grade=fix.cap))
    if fix.grade != score.grade:
        notes.append(t("fix_alone_reaches", grade=fix.grade))
    return FixItem(
        check=fix.check,
        title=finding_title(texts, fix.check),
        anchor=anchors.get(fix.check, ""),
        points=fix.points,
        points_label=t("points_cost", n=fix.points) if fix.points else t("points_none"),
        notes=tuple(notes),
    )


def family_bars(score: PlatformScore, t: Translator) -> tuple[FamilyBar, ...]:
    """One bar per family with an applicable check, in the order the families are named."""
    out = []
    for family in family_scores(score):
        parts = [t("family_tested", tested=family.tested, applicable=family.applicable)]
        if family.failed:
            parts.append(t.count("family_failed", family.failed))
        if family.cap is not None:
            parts.append(t("fix_caps", grade=family.cap))
        out.append(
            FamilyBar(
                family=family.family,
                title=family_name(family.family, t),
                score="–" if family.score is None else str(family.score),
                width=family.score or 0,
                slug=grade_slug(band_for(family.score) if family.score is not None else None),
                detail=" · ".join(parts),
            )
        )
    return tuple(out)


def _rank(grade: str | None) -> int:
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else -1
