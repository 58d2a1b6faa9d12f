"""Small page-model pieces both HTML pages show: grade badges, compliance verdicts, severity counts,
and the file name of a platform's page (the fleet page links to it, the renderer writes it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from reports.i18n import Translator
from reports.palette import grade_slug

_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def page_name(platform_id: str) -> str:
    """A platform's page file name; ids that are not safe file names get a stable hashed name."""
    if _SAFE_ID.fullmatch(platform_id) and ".." not in platform_id:
        return f"{platform_id}.html"
    return "platform-" + hashlib.sha256(platform_id.encode("utf-8")).hexdigest()[:16] + ".html"


@dataclass(frozen=True)
class Compliance:
    """How a compliance verdict is shown: label, css class, icon and sort key."""

    label: str
    css: str
    icon: str
    sort: int


def compliance_of(compliant: bool | None, t: Translator) -> Compliance:
    if compliant is True:
        return Compliance(t("compliant"), "ok", "✓", 2)
    if compliant is False:
        return Compliance(t("not_compliant"), "bad", "✗", 0)
    return Compliance(t("undetermined"), "unknown", "?", 1)


@dataclass(frozen=True)
class Badge:
    grade: str
    slug: str
    label: str  # what a screen reader says


def badge(grade: str | None, t: Translator, provisional: bool = False) -> Badge:
    """A grade badge; a provisional grade is written with a question mark and drawn dashed, so that it
    never reads as a full grade, in colour or in grayscale print."""
    if grade and provisional:
        return Badge(f"{grade}?", f"{grade_slug(grade)} provisional", t("grade_provisional", grade=grade))
    return Badge(grade or "–", grade_slug(grade), f"{t('grade')} {grade}" if grade else t("no_grade"))


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str
    count: int
