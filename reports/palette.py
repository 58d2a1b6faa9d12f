"""How grades and severities look and sort on the HTML pages: colours, CSS class slugs, display order.

Shared by the stylesheet, the badges and the charts, so that a grade has one colour and one slug on
every page.
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.model import Severity
from scanner.scoring import GRADE_ORDER

#: Badge colours, white text on each: every pair has a contrast ratio of at least 4.5:1 (tested), and
#: the letter is always written, so a grade never depends on colour alone (grayscale print, colour blindness).
GRADE_COLOURS: Mapping[str, str] = {
    "A+": "#14532d",
    "A": "#1f7a3a",
    "B": "#4b6e14",
    "C": "#8a5a00",
    "D": "#b24a00",
    "F": "#b42318",
    "?": "#5b6470",
    "-": "#5b6470",
}


SEVERITY_COLOURS: Mapping[Severity, str] = {
    Severity.CRITICAL: "#7a1010",
    Severity.HIGH: "#b42318",
    Severity.MEDIUM: "#8a5a00",
    Severity.LOW: "#2f5d8a",
    Severity.INFO: "#5b6470",
}


#: Best first, as the fleet table and the charts list them; "?" is a provisional grade, "-" "not graded".
GRADES: tuple[str, ...] = (*reversed(GRADE_ORDER), "?", "-")


SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))


def grade_slug(grade: str | None) -> str:
    return {"A+": "aplus", "?": "provisional", "-": "none", None: "none"}.get(grade, (grade or "none").lower())


def grade_rank(grade: str | None) -> int:
    """Sort key: bigger is better; no grade sorts below F."""
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else -1
