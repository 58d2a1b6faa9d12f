"""The sentences and labels the HTML pages say about checks, grades and findings, in the report's language.

Apart from the page models so that both pages word the same thing the same way; ``rich_text`` is the
one place where check texts become markup, and it builds that markup from escaped text only.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from reports.i18n import CheckTexts, Translator
from reports.text import clip_words
from scanner.family import discover_families
from scanner.model import Severity, Status
from scanner.scoring import PlatformScore
from scanner.waivers import Waiver

EVIDENCE_LIMIT = 6000


_CODE = re.compile(r"`([^`\n]+)`")


_LABEL = re.compile(r"^((?:nginx|Apache|IIS|Windows)[^:\n`]{0,40}:)", re.MULTILINE)


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
    """The family's own title in the report's language (a family no longer installed: its name)."""
    return _family_titles(t.lang).get(family, family)


@functools.cache
def _family_titles(lang: str) -> Mapping[str, str]:
    return {name: family.title_in(lang) for name, family in discover_families().by_name.items()}


def severity_label(severity: Severity, t: Translator) -> str:
    return t(f"severity.{severity.value}")


def status_label(status: Status, t: Translator) -> str:
    return t(f"status.{status.value}")


def coverage_lines(score: PlatformScore, t: Translator, texts: CheckTexts, short: bool = False) -> list[str]:
    """How much was tested, and per reason the families it stopped; ``short`` (the fleet table's
    narrow column) clips a long reason at a word, and the platform's own page says it whole."""
    cov = score.coverage
    if cov.complete:
        return [t("coverage_full", tested=cov.tested, applicable=cov.applicable)]
    said = texts.sentence(cov.unreachable or "")
    if score.grade is None:
        lines = [t("not_assessed", reason=said.rstrip("."))]
    elif score.provisional:
        lines = [t("coverage_provisional", tested=cov.tested, applicable=cov.applicable)]
    else:
        lines = [t("coverage_partial", tested=cov.tested, applicable=cov.applicable)]
    # One line per reason, naming its families: a name that did not resolve stops every family at
    # once, and saying so four times hides the one thing to fix.
    by_reason: dict[str, list[str]] = {}
    for family, reason in sorted(cov.untested.items()):
        by_reason.setdefault(texts.sentence(reason).rstrip("."), []).append(family_name(family, t))
    for reason, families in by_reason.items():
        if reason and reason in said:  # the first line gave it already
            lines.append(t("family_untested_short", family=t.join(families)))
        elif short:
            lines.append(t("family_untested", family=t.join(families), reason=clip_words(reason, 72)))
        else:
            lines.append(t("family_untested", family=t.join(families), reason=reason))
    return lines


def finding_title(texts: CheckTexts, check: str, stored_title: str = "") -> str:
    """How the pages name a failure of ``check``: the one place that picks the wording (its
    failing-state sentence, "The certificate has expired"; the title for a scan stored without)."""
    return texts.failure(check, stored_title)


def explanation(score: PlatformScore, texts: CheckTexts, t: Translator) -> list[str]:
    """Why this grade and what lifts it, as sentences in the report's language (mirrors ``explain()``)."""
    if score.grade is None:
        return [t("not_assessed", reason=texts.sentence(score.coverage.unreachable or "").rstrip("."))]

    def named(checks: Iterable[str]) -> str:
        return t.join([f"“{finding_title(texts, c)}” ({c})" for c in checks])

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


def waiver_text(waiver: Waiver | None, t: Translator) -> str:
    if waiver is None:
        return ""
    return t("waived_by").format(
        approved_by=waiver.approved_by, expires=waiver.expires.isoformat(), reason=waiver.reason
    )
