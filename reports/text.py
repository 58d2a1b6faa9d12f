"""Plain-text summaries for the terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reports.i18n import CheckTexts, Translator
from scanner.assessment import Assessment
from scanner.model import Result, Status
from scanner.scoring import NOTHING_TESTED, PlatformScore

_ORDER = (Status.PASS, Status.FAIL, Status.WARN, Status.ERROR, Status.SKIP)


def clip_words(text: str, width: int) -> str:
    """``text`` on one line, cut at a word boundary (never mid-word) when longer than ``width``."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0] if " " in text[: width - 1] else text[: width - 1]
    return cut.rstrip(" ,;:") + "…"


def _word(t: Translator, kind: str, value: str) -> str:
    """A status or severity as the terminal says it: the value itself in English (scripts grep
    "fail 2"), the report's word in another language."""
    return value if t.lang == "en" else t(f"{kind}.{value}").lower()


def grade_line(score: PlatformScore, texts: CheckTexts) -> str:
    """The grade as the terminal shows it, with how much was tested: never a bare letter for a
    grade on partial evidence."""
    cov, t = score.coverage, texts.t
    if score.grade is None:
        return t("term.not_assessed", reason=texts.sentence(cov.unreachable or NOTHING_TESTED))
    text = t("term.grade", grade=score.grade, score=score.score)
    if score.provisional:
        return t("term.provisional", grade=text, tested=cov.tested, applicable=cov.applicable)
    if score.partial:
        return t("term.partial", grade=text, tested=cov.tested, applicable=cov.applicable)
    return t("term.complete", grade=text, tested=cov.tested, applicable=cov.applicable)


def assessed_summary(name: str, judged: Assessment, texts: CheckTexts, worst: int = 3) -> str:
    """One platform's block: its grade and coverage (or why it has none), counts by status, its
    worst findings, and, for a platform that could not be assessed, how many checks did not run."""
    block = summary([{"id": judged.platform, "name": name}], judged.results, texts, worst)
    head, _, rest = block.partition("\n")
    lines = [head, f"    {grade_line(judged.score, texts)}"]
    if judged.score.grade is None:
        errors = sum(1 for r in judged.results if r.status == Status.ERROR)
        lines.append(f"    {texts.t('term.could_not_run', n=errors)}")
    return "\n".join([*lines, rest] if rest else lines)


def summary(
    platforms: Sequence[dict[str, object]], results: Sequence[Result], texts: CheckTexts, worst: int = 3
) -> str:
    """One block per platform: counts by status and its worst findings, in the language of ``texts``."""
    t = texts.t
    by_platform: dict[str, list[Result]] = {}
    for result in results:
        by_platform.setdefault(result.platform, []).append(result)
    lines: list[str] = []
    for platform in platforms:
        pid = str(platform["id"])
        own = by_platform.get(pid, [])
        counts = Counter(result.status for result in own)
        tally = "  ".join(f"{_word(t, 'status', status.value)} {counts.get(status, 0)}" for status in _ORDER)
        lines.append(f"{pid:<16} {clip_words(str(platform['name']), 40):<40}  {tally}")
        findings = sorted(
            (r for r in own if r.status in (Status.FAIL, Status.ERROR)),
            key=lambda r: (r.status != Status.FAIL, -r.severity.rank, r.check, r.endpoint),
        )
        for result in findings[:worst]:
            label = (
                _word(t, "severity", result.severity.value)
                if result.status == Status.FAIL
                else _word(t, "status", Status.ERROR.value)
            )
            lines.append(f"    [{label}] {result.check}: {clip_words(texts.detail(result), 90)}")
        if len(findings) > worst:
            lines.append(f"    {t('term.more', n=len(findings) - worst)}")
    return "\n".join(lines)
